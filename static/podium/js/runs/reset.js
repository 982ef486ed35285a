// "Reset my sandbox" in the help panel (workshop/_sandbox_tools.html), with a confirmation, and what the
// server says while it resets.

/** Wire the button; `send(message)` returns false when it could not be sent. */
export function resetControl(send) {
  const button = document.getElementById("sandbox-reset");
  const label = document.getElementById("sandbox-reset-status");
  const control = {
    busy: false,
    /** A setup status sentence while the sandbox is made again. */
    status(text) {
      if (label) label.textContent = text;
    },
    /** The server's answer: the sandbox is fresh (`ok`), or why not. */
    done(text, ok) {
      control.busy = false;
      if (button) button.disabled = false;
      if (label) {
        label.textContent = text;
        label.dataset.state = ok ? "ok" : "error";
      }
    },
  };
  if (button) {
    button.addEventListener("click", () => {
      const sure = window.confirm(
        "Reset your sandbox? Everything you made in it (files, containers, images) is thrown away, and runs still going are stopped.",
      );
      if (!sure) return;
      if (!send({ type: "reset" })) {
        control.done("Not connected to the server right now; try again in a moment.", false);
        return;
      }
      control.busy = true;
      button.disabled = true;
      label.dataset.state = "busy";
      control.status("Resetting your sandbox…");
    });
  }
  return control;
}
