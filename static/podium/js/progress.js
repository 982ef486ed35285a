// Progress on the audience page: steps done (runnable blocks whose last run is ok, checks passed) and the stored slide.
//
// runs.js owns the runs websocket and calls these hooks; audience.js reports slide changes with a "podium:slide"
// event and hears the learner's stored slide through "podium:stored-slide" (see sandbox/consumers.py, `history`).
// Done steps are marked with an attribute, never with inserted elements, so the run controls keep their layout.

export function startProgress(send) {
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
  document.addEventListener("podium:slide", (event) => {
    if (event.detail.slide === lastSlide) return;
    lastSlide = event.detail.slide;
    send({ type: "progress", slide: lastSlide });
  });

  return {
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
      if (Number.isInteger(message.slide)) {
        document.dispatchEvent(new CustomEvent("podium:stored-slide", { detail: { slide: message.slide } }));
      }
    },
  };
}
