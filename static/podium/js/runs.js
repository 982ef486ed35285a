// The Run buttons of a deck page (audience or presenter): one runs websocket, one RunBlock per runnable block.
//
// The server knows who is asking from the session cookie only; this page sends
// run / cancel / reset / history and shows what comes back (see sandbox/consumers.py).
// Shortcut: Ctrl+Enter (or Cmd+Enter) runs the block that has focus or is being
// edited; elsewhere, the first runnable block of the current slide.

import { startChecks } from "./checks.js";
import { startProgress } from "./progress.js";
import { FollowSocket } from "./follow.js";
import { RunBlock } from "./run_block.js";
import { fitSlide } from "./stage.js";
import { PlainOutput, XtermOutput, loadXterm } from "./terminal.js";

const SHORTCUT = "Ctrl+Enter";

const config = JSON.parse(document.getElementById("deck-config").textContent).runs;
const roots = Array.from(document.querySelectorAll("#stage .code-block[data-runnable='true']"));
const hasChecks = document.querySelector("#stage .step-check [data-check-button]") !== null;
if (config && (roots.length || hasChecks)) startRuns(config, roots);

function startRuns(config, roots) {
  const blocks = new Map(); // block id -> RunBlock
  const byRun = new Map(); // run id -> RunBlock
  let waiting = null; // the block whose run request the server has not answered yet
  let socket = null;
  let everOpen = false;
  const early = []; // sent before the socket first opened (a click right after the page loaded)
  // The buttons work at once; messages are handled once the terminal is loaded (or known to be missing).
  let xterm = null;
  const terminalReady = loadXterm(config.terminal).then((lib) => {
    xterm = lib;
  });
  const notice = pageNotice();
  const reset = resetControl();

  // Output panels change the slide's height: fit its type again (once per frame), keep a running panel in view.
  const toFit = new Map();
  function layout(block) {
    if (!toFit.size) window.requestAnimationFrame(fitPending);
    toFit.set(block.slide, block.active ? block : toFit.get(block.slide) || null);
  }
  function fitPending() {
    for (const [slide, block] of toFit) {
      fitSlide(slide);
      if (block) keepInView(block);
    }
    toFit.clear();
  }

  const page = {
    shortcut: SHORTCUT,
    send(message) {
      const sent = socket !== null && socket.send(message);
      if (!sent) {
        if (everOpen) return false;
        early.push(message); // the first connection is still being made
      }
      if (message.type === "run") waiting = blocks.get(message.block) || null;
      return true;
    },
    layout,
    terminal(host, options) {
      if (xterm) return new XtermOutput(xterm, host, options);
      return new PlainOutput(host, { ...options, note: config.terminalMissing });
    },
  };
  for (const root of roots) {
    if (root.querySelector(".run-button")) blocks.set(root.dataset.block, new RunBlock(root, page));
  }
  // "Check my work" controls (checks.js): same socket; their answers and errors come back through `handlers`.
  const checks = startChecks((message) => page.send(message));
  const progress = startProgress((message) => page.send(message));

  window.setInterval(() => {
    for (const block of blocks.values()) if (block.active) block.tick();
  }, 200);

  function blockOf(message) {
    return byRun.get(message.run) || blocks.get(message.block) || null;
  }

  const handlers = {
    "run.accepted"(message) {
      const block = blocks.get(message.block);
      if (!block) return;
      if (waiting === block) waiting = null;
      byRun.set(message.run, block);
      block.accepted(message.run);
    },
    "sandbox.progress"(message) {
      let shown = false;
      for (const block of blocks.values()) {
        if (block.state === "queued" || block.state === "requesting") {
          block.progress(message.message);
          shown = true;
        }
      }
      if (reset.busy || !shown) reset.status(message.message);
    },
    "run.started"(message) {
      const block = blockOf(message);
      if (block && block.run === message.run) block.started();
    },
    "run.output"(message) {
      const block = byRun.get(message.run);
      if (block && block.run === message.run) block.outputChunk(message.seq, message.data);
    },
    "run.finished"(message) {
      const block = blockOf(message);
      if (!block || (block.run && block.run !== message.run)) return;
      byRun.set(message.run, block);
      block.run = message.run;
      progress.runFinished(message.block, message.status);
      // Output lost on the way (this page reconnected mid-run): the stored copy is complete.
      if (block.finished(message)) socket.send({ type: "history" });
    },
    "check.result"(message) {
      checks.result(message);
      progress.checkResult(message.block, message.done === true);
    },
    "sandbox.reset"(message) {
      reset.done(message.message, message.status === "ok");
    },
    history(message) {
      for (const run of Array.isArray(message.runs) ? message.runs : []) {
        const block = blocks.get(run.block);
        if (!block) continue;
        byRun.set(run.run, block);
        block.restoreRun(run);
      }
      progress.history(message);
    },
    error(message) {
      if (checks.refused(message)) return;
      const block = (message.block && blocks.get(message.block)) || waiting;
      if (block && block.state === "requesting") {
        waiting = null;
        block.refused(message.message);
      } else if (block && message.block) {
        block.refused(message.message);
      } else {
        notice.show(message.message, { forMoment: true });
      }
    },
  };

  socket = new FollowSocket(config.url, {
    onStatus(state) {
      if (state === "open") {
        everOpen = true;
        notice.hide();
        socket.send({ type: "history" });
        for (const message of early.splice(0)) socket.send(message);
        return;
      }
      // A request in flight when the connection dropped got no answer and never will.
      early.length = 0;
      checks.dropped();
      for (const block of blocks.values()) {
        if (block.state === "requesting") block.refused("The connection to the server dropped before it answered; try again.");
      }
      waiting = null;
      if (state === "gone") notice.show("This deck is not on the server any more: Run does not work here.");
      else if (Array.from(blocks.values()).some((block) => block.active)) {
        notice.show("The connection to the server dropped; reconnecting… Running code goes on in your sandbox.");
      }
    },
    onMessage(message) {
      const handler = handlers[message.type];
      // Chained on one settled promise, so messages are still handled in the order they came.
      if (handler) terminalReady.then(() => handler(message));
    },
  });

  reset.onReset = () => socket.send({ type: "reset" });

  // Ctrl+Enter (Cmd+Enter on a Mac): capture phase, so it works from the editor and before the slide keys.
  document.addEventListener(
    "keydown",
    (event) => {
      if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey) || event.altKey || event.shiftKey) return;
      if (document.querySelector("dialog[open]")) return;
      const block = shortcutTarget(event.target);
      if (!block) return;
      event.preventDefault();
      event.stopPropagation();
      block.start();
    },
    true,
  );

  function shortcutTarget(target) {
    const current = document.querySelector("#stage > .slide.is-current");
    if (!current) return null;
    const inside = target instanceof Element ? target.closest(".code-block[data-runnable='true']") : null;
    if (inside && current.contains(inside) && blocks.has(inside.dataset.block)) return blocks.get(inside.dataset.block);
    const first = current.querySelector(".code-block[data-runnable='true']");
    return first ? blocks.get(first.dataset.block) || null : null;
  }
}

/** Scroll an overfull slide so a growing output panel stays in view (offsets ignore the stage's scaling). */
function keepInView(block) {
  const body = block.slide.querySelector(".slide-body");
  if (!body || body.scrollHeight <= body.clientHeight) return;
  let top = 0;
  for (let node = block.panel; node && node !== body; node = node.offsetParent) top += node.offsetTop;
  const bottom = top + block.panel.offsetHeight;
  if (bottom > body.scrollTop + body.clientHeight) body.scrollTop = bottom - body.clientHeight;
}

/** A line at the top of the window for what belongs to no block (connection trouble, a missing session). */
function pageNotice() {
  const box = document.createElement("div");
  box.className = "run-notice";
  box.setAttribute("role", "alert");
  box.hidden = true;
  document.body.append(box);
  let timer = null;
  const notice = {
    /** Show `text`; `forMoment` ones go away by themselves, connection trouble stays until it is over. */
    show(text, { forMoment = false } = {}) {
      window.clearTimeout(timer);
      box.textContent = text;
      box.hidden = false;
      if (forMoment) timer = window.setTimeout(() => notice.hide(), 10000);
    },
    hide() {
      window.clearTimeout(timer);
      box.hidden = true;
      box.textContent = "";
    },
  };
  return notice;
}

/** "Reset my sandbox" in the help panel, with a confirmation, and what the server says while it resets. */
function resetControl() {
  const button = document.getElementById("sandbox-reset");
  const label = document.getElementById("sandbox-reset-status");
  const control = {
    busy: false,
    onReset: null,
    status(text) {
      if (label) label.textContent = text;
    },
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
      if (!sure || !control.onReset) return;
      if (!control.onReset()) {
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
