// "Check my work": one control per step check of the deck (server-rendered in workshop/_check_control.html).
//
// A click sends {"type": "check", "block": ID} on the runs websocket; the server runs the check in the
// attendee's own sandbox and answers {"type": "check.result", "block", "done", "message", "hints"?} (to every
// open page of that attendee), or an error carrying "check": ID. runs/index.js owns the socket and hands both
// here. "hints" (the deck's hint=, and hint2= after enough failures in a row) show under the control.

const NOT_CONNECTED = "Not connected to the server right now; it is reconnecting. Try again in a moment.";

class CheckControl {
  constructor(root, send) {
    this.root = root;
    this.send = send;
    this.id = root.dataset.check;
    this.button = root.querySelector("[data-check-button]");
    this.result = root.querySelector("[data-check-result]");
    this.badge = root.querySelector("[data-check-badge]");
    this.message = root.querySelector("[data-check-message]");
    this.hints = root.querySelector("[data-check-hints]");
    this.busy = false;
    this.button.addEventListener("click", () => this.start());
  }

  start() {
    if (this.busy || this.button.disabled) return;
    if (!this.send({ type: "check", block: this.id })) {
      this.show("error", "not checked", NOT_CONNECTED);
      return;
    }
    this.busy = true;
    this.button.setAttribute("aria-disabled", "true");
    this.show("checking", "checking", "Looking at your sandbox…");
  }

  answered(done, text, hints) {
    this.busy = false;
    this.button.removeAttribute("aria-disabled");
    this.show(done ? "done" : "not-yet", done ? "done" : "not yet", text || "");
    this.showHints(done ? [] : hints);
  }

  showHints(hints) {
    if (!this.hints) return;
    const texts = Array.isArray(hints) ? hints.filter((hint) => typeof hint === "string" && hint) : [];
    this.hints.replaceChildren(
      ...texts.map((hint) => {
        const item = document.createElement("li");
        item.textContent = hint;
        return item;
      }),
    );
    this.hints.hidden = texts.length === 0;
  }

  refused(text) {
    this.busy = false;
    this.button.removeAttribute("aria-disabled");
    this.show("error", "not checked", text);
  }

  show(state, word, text) {
    this.root.dataset.checkState = state;
    this.result.hidden = false;
    this.badge.dataset.state = state;
    this.badge.textContent = word;
    this.message.textContent = text;
  }
}

/**
 * Wire every "Check my work" control of the page; `send(message)` returns false when it could not be sent.
 * Returns what runs/index.js calls: result(message), refused(message) -> bool (true when it was a check's),
 * dropped() when the connection went away with checks unanswered.
 */
export function startChecks(send) {
  const checks = new Map();
  for (const root of document.querySelectorAll("#stage .step-check[data-check]")) {
    if (root.querySelector("[data-check-button]")) checks.set(root.dataset.check, new CheckControl(root, send));
  }
  return {
    result(message) {
      const check = checks.get(message.block);
      if (check) check.answered(message.done === true, message.message, message.hints);
    },
    refused(message) {
      const check = message.check ? checks.get(message.check) : null;
      if (!check) return false;
      check.refused(message.message);
      return true;
    },
    dropped() {
      for (const check of checks.values()) {
        if (check.busy) check.refused("The connection to the server dropped before it answered; try again.");
      }
    },
  };
}
