"""Rehearsal: run a whole deck, block by block, in a fresh sandbox, and report it like a test run.

A deck is a program: its Run blocks must succeed in order on a fresh sandbox,
or the workshop fails in front of a room. `deck_rehearse` creates a sandbox
through a backend (the same backends, run kinds and runner as a click on
Run, without the database or the websocket), runs every runnable block in
deck order and, after a block with a `!check`, the check; it writes one line
per step as it goes (`slide 7 block 0 (line 123) ... ok 1.2s`) and, for a
failure, the deck line and the last lines of output. A step the sandbox
cannot run (Kubernetes without a cluster, Docker in a Kubernetes sandbox
without an engine) is SKIPPED with the reason, never passed. The sandbox is
labelled with its own install name (PODIUM_INSTANCE + "-rehearsal") so the
server's reconcile and cull never take it away mid-rehearsal, and is
destroyed at the end unless kept.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings

from deck.parsed import Check, CodeBlock, Deck
from sandbox.backends.base import Backend, RunRequest, SandboxSpec
from sandbox.blocks import run_kind_for
from sandbox.checks import OutputTail, check_execute
from sandbox.errors import SandboxError

TAIL_LINES = 15
OUTPUT_LINES_VERBOSE = 200
KUBECTL = re.compile(r"(?<![\w./-])kubectl(?![\w.-])")
DOCKER = re.compile(r"(?<![\w./-])docker(?:-compose)?(?![\w.-])")
NO_CLUSTER = "no Kubernetes cluster configured"
NO_NAMESPACE = "the cluster gave the sandbox no namespace (see above)"
NO_ENGINE = "no Docker engine in the Kubernetes sandbox (PODIUM_K8S_DOCKER is off)"

Write = Callable[[str], None]


@dataclass
class Step:
    """One thing the rehearsal runs: a runnable block, or a check (of a block, or of a slide)."""

    slide: int
    line: int
    kind: str  # a run kind ("shell", "build", ...) or "check"
    code: str
    block: CodeBlock | None = None  # the block run, or the block a check belongs to
    check: Check | None = None  # set for a check step

    @property
    def label(self) -> str:
        """How the report names it: `slide 7 block 0 (line 123)`, `slide 7 block 0 check (line 130)`."""
        if self.check is None:
            return f"slide {self.slide} block {self.block.index} (line {self.line})"
        owner = f"block {self.check.block_index} check" if self.check.block_index is not None else "check"
        return f"slide {self.slide} {owner} (line {self.line})"


@dataclass
class StepResult:
    """How a step went: "ok", "failed" or "skipped", with the reason or message and the output's tail."""

    step: Step
    status: str
    seconds: float = 0.0
    detail: str = ""  # "exit 1", "timed out after 120 s", the skip's reason, the check's message
    output: OutputTail | None = None
    exit_code: int | None = None
    timed_out: bool = False


@dataclass
class RehearsalReport:
    """Every step's result, and why the rehearsal could not even start (`unusable`), if it could not."""

    results: list[StepResult] = field(default_factory=list)
    unusable: str = ""
    deck_errors: int = 0
    seconds: float = 0.0

    def count(self, status: str) -> int:
        """How many steps ended with `status`."""
        return sum(result.status == status for result in self.results)

    @property
    def failed(self) -> bool:
        """Whether the deck failed its rehearsal (a step failed, the deck has errors, or nothing could run)."""
        return bool(self.unusable or self.deck_errors or self.count("failed"))


def rehearsal_steps(*, deck: Deck, first_slide: int = 1) -> list[Step]:
    """The steps of `deck` from slide `first_slide` on, in deck order: each runnable block, then its check."""
    steps: list[Step] = []
    for slide in deck.slides[first_slide - 1 :]:
        found: list[Step] = []
        for block in slide.blocks:
            kind = run_kind_for(block=block)
            if kind is not None:
                found.append(Step(slide=slide.number, line=block.line, kind=kind, code=block.text, block=block))
        for check in slide.checks:
            block = slide.blocks[check.block_index] if check.block_index is not None else None
            found.append(
                Step(slide=slide.number, line=check.line, kind="check", code=check.command, block=block, check=check)
            )
        steps.extend(sorted(found, key=lambda step: step.line))
    return steps


def step_skip_reason(*, step: Step, backend: Backend, state: dict) -> str:
    """Why the sandbox `state` of `backend` cannot run `step` ("" when it can).

    Kubernetes needs the Kubernetes backend, or a Docker sandbox that got a
    namespace on the configured cluster (PODIUM_KUBECONFIG); Docker needs the
    Docker backend, or a Kubernetes sandbox with an engine beside it. Shell
    code and checks need whichever of the two they call (`kubectl`, `docker`).
    """
    shell = step.kind in ("shell", "check")
    needs_cluster = step.kind == "apply" or (shell and KUBECTL.search(step.code) is not None)
    needs_engine = step.kind == "build" or (shell and DOCKER.search(step.code) is not None)
    about = backend.describe(state=state)
    if needs_cluster and not about.namespace:
        return NO_NAMESPACE if about.cluster else NO_CLUSTER
    if needs_engine and not about.engine:
        return NO_ENGINE
    return ""


def rehearsal_spec(*, deck: Deck) -> SandboxSpec:
    """A new sandbox for one rehearsal of `deck`, under an install name the server's reconcile leaves alone."""
    return SandboxSpec(
        sandbox_id=uuid.uuid4().hex,
        attendee_id="rehearsal",
        talk=deck.slug,
        instance=f"{settings.PODIUM_INSTANCE}-rehearsal",
    )


def deck_rehearse(
    *,
    deck: Deck,
    backend: Backend,
    write: Write,
    shown: str,
    first_slide: int = 1,
    keep: bool = False,
    timeout: float | None = None,
    failfast: bool = False,
    verbose: bool = False,
) -> RehearsalReport:
    """Rehearse `deck` in a fresh sandbox of `backend`, writing the report through `write` as it goes.

    `shown` is how the deck file is named in the report (`FILE:LINE`);
    `first_slide` skips the slides before it; `timeout` (seconds, default
    PODIUM_RUN_TIMEOUT) applies to each block and check; `failfast` stops at
    the first failure; `verbose` writes every step's output. The sandbox is
    destroyed at the end (also on Ctrl+C) unless `keep`. BLOCKS for the
    whole rehearsal.
    """
    started = time.monotonic()
    report = RehearsalReport()
    timeout = timeout or settings.PODIUM_RUN_TIMEOUT
    for problem in deck.problems:
        write(f"{shown}:{problem.line}: {problem.message}\n")
    report.deck_errors = sum(problem.level == "error" for problem in deck.problems)
    steps = rehearsal_steps(deck=deck, first_slide=first_slide)
    if first_slide > 1:
        write(f"Starting at slide {first_slide}: what slides 1 to {first_slide - 1} make is not in the sandbox.\n")
    if not steps:
        write(f"{shown}: nothing to rehearse (no runnable block from slide {first_slide} on).\n")
        report.seconds = time.monotonic() - started
        return report
    problem = backend.check()
    if problem:
        report.unusable = f"The {backend.name} backend cannot make sandboxes: {problem}"
        return report
    spec = rehearsal_spec(deck=deck)
    write(f"Rehearsing {shown} ({len(steps)} steps) in a fresh {backend.name} sandbox…\n")
    state: dict = {}
    try:
        try:
            state = backend.ensure(spec=spec, state={}, progress=lambda message: write(f"  {message}\n"))
        except SandboxError as exc:
            report.unusable = f"The sandbox could not be created: {exc.user_message} ({exc})"
            return report
        except BaseException:  # Ctrl+C while it was being made: remove what was made so far, by name
            state = _state_by_name(backend, spec)
            raise
        _steps_run(
            steps,
            backend=backend,
            state=state,
            report=report,
            write=write,
            shown=shown,
            timeout=timeout,
            failfast=failfast,
            verbose=verbose,
        )
    finally:
        if keep and state:
            write(f"Kept the sandbox: {sandbox_describe(backend=backend, state=state)}\n")
        else:
            _destroy(backend, state, write)
        report.seconds = time.monotonic() - started
    return report


def _steps_run(
    steps: list[Step],
    *,
    backend: Backend,
    state: dict,
    report: RehearsalReport,
    write: Write,
    shown: str,
    timeout: float,
    failfast: bool,
    verbose: bool,
) -> None:
    skipped_blocks: set[str] = set()
    for step in steps:
        write(f"{step.label} ... ")
        reason = step_skip_reason(step=step, backend=backend, state=state)
        if not reason and step.check is not None and step.block is not None and step.block.block_id in skipped_blocks:
            reason = "its block was skipped"
        if reason:
            if step.check is None:
                skipped_blocks.add(step.block.block_id)
            result = StepResult(step=step, status="skipped", detail=reason)
        else:
            try:
                if step.check is not None:
                    result = _check_step(step, backend=backend, state=state, timeout=timeout)
                else:
                    result = _block_step(step, backend=backend, state=state, timeout=timeout)
            except KeyboardInterrupt:
                write("interrupted\n")
                raise
        report.results.append(result)
        write(result_line(result) + "\n")
        if result.status == "failed":
            write(failure_detail(result, shown=shown))
        elif verbose and result.output is not None:
            write(_indented(result.output.last_lines(OUTPUT_LINES_VERBOSE)))
        if failfast and result.status == "failed":
            write("Stopping at the first failure (--failfast).\n")
            return


def _block_step(step: Step, *, backend: Backend, state: dict, timeout: float) -> StepResult:
    output = OutputTail()
    request = RunRequest(
        run_id=f"rehearse-{uuid.uuid4().hex[:16]}",
        kind=step.kind,
        code=step.code,
        options={str(key): str(value) for key, value in step.block.options.items()},
        timeout=timeout,
        output_cap=settings.PODIUM_RUN_OUTPUT_CAP,
    )
    began = time.monotonic()
    try:
        result = backend.execute(state=state, request=request, on_output=output.add, should_stop=lambda: False)
    except SandboxError as exc:
        return StepResult(step, "failed", time.monotonic() - began, f"sandbox error: {exc.user_message}", output)
    seconds = time.monotonic() - began
    ending = {"exit_code": result.exit_code, "timed_out": result.timed_out}
    if result.timed_out:
        return StepResult(step, "failed", seconds, f"timed out after {timeout:g} s", output, **ending)
    if result.exit_code != 0:
        return StepResult(step, "failed", seconds, f"exit {result.exit_code}", output, **ending)
    return StepResult(step, "ok", seconds, "", output, **ending)


def _check_step(step: Step, *, backend: Backend, state: dict, timeout: float) -> StepResult:
    began = time.monotonic()
    try:
        result = check_execute(backend=backend, state=state, check=step.check, timeout=timeout)
    except SandboxError as exc:
        return StepResult(step, "failed", time.monotonic() - began, f"sandbox error: {exc.user_message}")
    output = OutputTail()
    output.add("stdout", result.output.encode())
    status = "ok" if result.done else "failed"
    seconds = time.monotonic() - began
    return StepResult(step, status, seconds, result.message, output, result.exit_code, result.timed_out)


def result_line(result: StepResult) -> str:
    """The end of a step's line: `ok 1.2s`, `FAILED (exit 1) 0.3s`, `SKIPPED (reason)`, a check's message."""
    if result.status == "skipped":
        return f"SKIPPED ({result.detail})"
    seconds = f"{result.seconds:.1f}s"
    if result.step.check is not None:
        word = "ok" if result.status == "ok" else "FAILED (not yet)"
        return f"{word} {seconds}: {result.detail}"
    if result.status == "ok":
        return f"ok {seconds}"
    return f"FAILED ({result.detail}) {seconds}"


def failure_detail(result: StepResult, *, shown: str) -> str:
    """The deck line of a failed step, the first line of its code, and the last lines of its output."""
    first = next((line.strip() for line in result.step.code.splitlines() if line.strip()), "")
    lines = [f"    {shown}:{result.step.line}: {first[:100]}\n"]
    tail = result.output.last_lines(TAIL_LINES) if result.output is not None else []
    if tail:
        lines.append("    last line of output:\n" if len(tail) == 1 else f"    last {len(tail)} lines of output:\n")
        lines.append(_indented(tail))
    else:
        lines.append("    (no output)\n")
    return "".join(lines)


def _indented(lines: list[str]) -> str:
    return "".join(f"    | {line}\n" for line in lines)


def rehearsal_summary(report: RehearsalReport) -> str:
    """`12 passed, 0 failed, 3 skipped (no Kubernetes cluster configured) in 41.3s`, and any deck errors."""
    passed, failed, skipped = report.count("ok"), report.count("failed"), report.count("skipped")
    text = f"{passed} passed, {failed} failed, {skipped} skipped"
    reasons = list(dict.fromkeys(r.detail for r in report.results if r.status == "skipped"))
    if reasons:
        text += f" ({'; '.join(reasons)})"
    if report.deck_errors:
        text += f"; the deck has {report.deck_errors} error{'s' if report.deck_errors != 1 else ''} (listed above)"
    return f"{text} in {report.seconds:.1f}s"


def rehearsal_failures(report: RehearsalReport, *, shown: str) -> list[str]:
    """One line per failed step, pytest's short summary style: `FAILED slide 7 block 0 (FILE:LINE): exit 1`."""
    return [
        f"FAILED {r.step.label.split(' (')[0]} ({shown}:{r.step.line}): {r.detail}"
        for r in report.results
        if r.status == "failed"
    ]


def sandbox_describe(*, backend: Backend, state: dict) -> str:
    """How to get into a kept sandbox, and how to remove it (as its backend describes it)."""
    about = backend.describe(state=state)
    if not about.remove:
        return f"its state is {state}"
    enter = f"enter it with `{about.enter}`; " if about.enter else ""
    return f"{enter}remove it with `{about.remove}`"


def _state_by_name(backend: Backend, spec: SandboxSpec) -> dict:
    """The state of a sandbox whose creation was interrupted, from the names its backend gives it."""
    return backend.state_by_name(spec=spec)


def _destroy(backend: Backend, state: dict, write: Write) -> None:
    if not state:  # a failed ensure cleans up after itself
        return
    try:
        backend.destroy(state=state)
    except SandboxError as exc:
        write(f"The sandbox could not be removed: {exc.user_message} ({exc})\n")
