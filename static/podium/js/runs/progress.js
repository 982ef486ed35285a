// An attendee's progress through the deck: steps done (runnable blocks whose last run is ok, checks passed),
// the slide they are on (sent to the server) and the slide stored for them (in `history`, see sandbox/protocol.py).
//
// runs/index.js owns the runs websocket and calls these hooks; the audience page tells `slideShown` and hears
// the stored slide through `onStoredSlide`. Done steps are marked with an attribute, never with inserted
// elements, so the run controls keep their layout.

/** `send(message)` returns false when it could not be sent; `onStoredSlide(number)` hears the stored slide. */
export function startProgress(send, { onStoredSlide = () => {} } = {}) {
  const steps = new Map(); // step id (block id or check id) -> the element marked done
  for (const block of document.querySelectorAll("#stage .code-block[data-runnable='true']")) {
    steps.set(block.dataset.block, block);
  }
  for (const control of document.querySelectorAll("#stage .step-check[data-check]")) {
    steps.set(control.dataset.check, control);
  }
  const done = new Set();
  const summary = document.getElementById("progress-steps");

  function show() {
    if (summary) summary.textContent = steps.size ? `${done.size} of ${steps.size} steps done` : "";
  }

  function mark(id, isDone) {
    const element = steps.get(id);
    if (!element) return;
    if (isDone) {
      done.add(id);
      element.dataset.stepDone = "true";
    } else {
      done.delete(id);
      delete element.dataset.stepDone;
    }
    show();
  }
  show();

  let lastSlide = null;

  return {
    /** The attendee moved to slide `number`: the server keeps it, for their next visit and the dashboard. */
    slideShown(number) {
      if (number === lastSlide) return;
      lastSlide = number;
      send({ type: "progress", slide: lastSlide });
    },
    runFinished(block, status) {
      mark(block, status === "ok");
    },
    checkResult(id, isDone) {
      mark(id, isDone);
    },
    history(message) {
      for (const run of Array.isArray(message.runs) ? message.runs : []) mark(run.block, run.status === "ok");
      const checks = message.checks && typeof message.checks === "object" ? message.checks : {};
      for (const [id, check] of Object.entries(checks)) mark(id, check.done === true);
      if (Number.isInteger(message.slide)) onStoredSlide(message.slide);
    },
  };
}
