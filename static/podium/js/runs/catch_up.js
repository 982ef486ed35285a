// "Catch me up to this slide" (audience page, beside the slide controls): the server resets the attendee's
// sandbox and runs the deck's blocks of every slide before this one, in order, each as a run shown under its
// block (sandbox/catch_up.py); this control asks for it, shows "Catching up: step 7 of 12 — …" as it goes,
// the step it stopped at, or that it is done, and cancels it. Every page of the attendee hears the same.

const NOT_CONNECTED = "Not connected to the server right now; try again in a moment.";

/** The number of the slide on screen (the stage marks it `.is-current`). */
function currentSlide() {
  const match = /^slide-(\d+)$/.exec(document.querySelector("#stage .slide.is-current")?.id || "");
  return match ? Number(match[1]) : 1;
}

/** The runnable blocks of the slides before slide `number` on this page (what catching up will run). */
function stepsBefore(number) {
  let count = 0;
  for (const block of document.querySelectorAll("#stage .code-block[data-runnable='true']")) {
    const slide = /^s(\d+)b\d+$/.exec(block.dataset.block || "");
    if (slide && Number(slide[1]) < number) count += 1;
  }
  return count;
}

/** Wire the control; `send(message)` returns false when it could not be sent. Null when the page has none. */
export function catchUpControl(send) {
  const box = document.getElementById("catch-up");
  if (!box) return null;
  const button = document.getElementById("catch-up-button");
  const panel = document.getElementById("catch-up-panel");
  const status = document.getElementById("catch-up-status");
  const cancel = document.getElementById("catch-up-cancel");
  const close = document.getElementById("catch-up-close");
  const unavailable = button.disabled; // no engine on the server: the button says why in its tooltip
  let busy = false;
  let answered = false; // the server has said something about the catch-up this page asked for

  function show(text, state) {
    panel.hidden = false;
    panel.dataset.state = state;
    status.textContent = text;
    cancel.hidden = state !== "busy";
    close.hidden = state === "busy";
    button.disabled = unavailable || state === "busy";
  }

  function hide() {
    panel.hidden = true;
    button.disabled = unavailable;
  }

  button.addEventListener("click", () => {
    if (busy) return;
    const slide = currentSlide();
    const count = stepsBefore(slide);
    if (!count) {
      show(`Nothing to catch up on: no slide before slide ${slide} has code to run.`, "error");
      return;
    }
    const steps = count === 1 ? "the 1 step" : `the ${count} steps`;
    const sure = window.confirm(
      `Catch up to slide ${slide}? Your sandbox is reset first (everything you made in it is thrown away), ` +
        `then ${steps} of the slides before this one run in it, in order.`,
    );
    if (!sure) return;
    if (!send({ type: "catchup", slide })) {
      show(NOT_CONNECTED, "error");
      return;
    }
    busy = true;
    answered = false;
    show(`Catching up to slide ${slide}…`, "busy");
  });
  cancel.addEventListener("click", () => {
    if (!send({ type: "catchup-cancel" })) show(NOT_CONNECTED, "busy");
    else status.textContent = "Cancelling…";
  });
  close.addEventListener("click", () => {
    hide();
    button.focus();
  });
  box.hidden = false;

  return {
    /** `catchup.progress`, or the catch-up going on that `history` tells. */
    progress(message) {
      busy = true;
      answered = true;
      show(message.message, "busy");
    },
    /** `catchup.finished`: done, or the step it stopped at. */
    finished(message) {
      busy = false;
      show(message.message, message.status === "ok" ? "ok" : "error");
      if (message.status !== "ok") close.focus();
    },
    /** An `error` about catching up (a second press, a limit); false when it is about something else. */
    refused(message) {
      if (message.catchup !== true) return false;
      if (busy && message.code === "busy") {
        answered = true; // this page is showing the one going on
        return true;
      }
      busy = false;
      show(message.message, "error");
      return true;
    },
    /** The connection dropped: a press the server never answered will not be. */
    dropped() {
      if (!busy || answered) return;
      busy = false;
      show("The connection to the server dropped before it answered; try again.", "error");
    },
    /** `history`: the catch-up going on (or null) after a (re)connect. */
    history(state) {
      if (state && typeof state === "object") this.progress(state);
      else if (busy) {
        busy = false;
        show("Catching up ended while this page was reconnecting: each block shows how its step went.", "ok");
      }
    },
  };
}
