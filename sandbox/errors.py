"""Errors of the sandbox layer: one message for the learner, one for the log.

Modelled on docker-py's hierarchy: callers catch `SandboxError` and show
`user_message`; `str(error)` (the log message) may carry technical detail.
"""

from __future__ import annotations


class SandboxError(Exception):
    """Base of every sandbox failure."""

    user_message = "Your sandbox had a problem. Try again, or reset your sandbox."

    def __init__(self, log_message: str = "", *, user_message: str | None = None) -> None:
        super().__init__(log_message or self.user_message)
        if user_message is not None:
            self.user_message = user_message


class SandboxUnavailable(SandboxError):
    """The backend cannot serve sandboxes at all (no engine, no image, no cluster)."""

    user_message = "Sandboxes are not available on this server right now."


class SandboxNotFound(SandboxError):
    """The sandbox the state points at does not exist (any more)."""

    user_message = "Your sandbox is gone; it will be created again on your next run."


class SandboxNotStarted(SandboxNotFound):
    """The sandbox was gone when a run was to start in it: nothing of the run ran, so it may be tried again."""


class SandboxLimitReached(SandboxError):
    """A limit refused the request (too many sandboxes, too many runs at once, code too long)."""

    user_message = "A limit was reached."


class RunRefused(Exception):
    """A request of the runs websocket the pipeline will not accept; `code` and `message` go to the browser as they are.

    Not a SandboxError: nothing went wrong in a sandbox, the request itself
    (a block that does not exist, a limit) is refused before any is touched.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
