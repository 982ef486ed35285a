// The Run buttons of a deck page (audience or presenter): connect the runs websocket and hand each message
// to the module it is for. The protocol is documented with the server's side, in sandbox/protocol.py.
//
// The server knows who is asking from the session cookie only; this page sends run / cancel / reset / check /
// progress / history and shows what comes back:
//   blocks.js     which block a run message is for (each a RunBlock, run_block.js, with terminal.js output)
//   checks.js     "Check my work"           progress.js  steps done, the slide an attendee is on
//   reset.js      "Reset my sandbox"        notice.js    what belongs to no block
//   catch_up.js   "Catch me up to this slide" (audience page): progress, the step it stopped at, cancel
//   layout.js     slides refitted as panels grow;        shortcut.js  Ctrl+Enter
//   presenter_run.js  the presenter's runs, watched read-only under their blocks (followers' pages only)

import { RunBlocks } from "./blocks.js";
import { catchUpControl } from "./catch_up.js";
import { startChecks } from "./checks.js";
import { RunsConnection } from "./connection.js";
import { slideLayout } from "./layout.js";
import { pageNotice } from "./notice.js";
import { PresenterRuns } from "./presenter_run.js";
import { startProgress } from "./progress.js";
import { resetControl } from "./reset.js";
import { SHORTCUT, bindRunShortcut } from "./shortcut.js";
import { terminals } from "./terminal.js";

/**
 * Start the Run buttons of the page, with `config` the view's `runs` settings (url, terminal, terminalMissing).
 * `onStoredSlide(number)` hears the slide stored for this attendee. Returns `{ slideShown(number) }` for the page
 * to report the attendee's moves, or null when the page has nothing to run or check.
 */
export function startRuns(config, { onStoredSlide } = {}) {
  const roots = Array.from(document.querySelectorAll("#stage .code-block[data-runnable='true']"));
  const hasChecks = document.querySelector("#stage .step-check [data-check-button]") !== null;
  if (!config || !(roots.length || hasChecks)) return null;

  const connection = new RunsConnection(config.url);
  const send = (message) => connection.sendSoon(message);
  // The buttons work at once; messages are handled once the terminal is loaded (or known to be missing).
  const output = terminals(config.terminal, config.terminalMissing);
  const notice = pageNotice();
  const reset = resetControl((message) => connection.send(message));
  const catchUp = catchUpControl(send); // a press right after the page loaded goes once the socket opens
  const layout = slideLayout();
  const terminal = (host, options) => output.open(host, options);
  const blocks = new RunBlocks(roots, { shortcut: SHORTCUT, send, layout, terminal });
  const watched = new PresenterRuns(blocks, { layout, terminal });
  const checks = startChecks(send);
  const progress = startProgress(send, { onStoredSlide });

  const handlers = {
    "run.accepted": (message) => blocks.accepted(message),
    "sandbox.progress"(message) {
      const shown = blocks.setupStatus(message.message);
      if (reset.busy || !shown) reset.status(message.message);
    },
    "run.started": (message) => blocks.started(message),
    "run.output": (message) => blocks.output(message),
    "run.finished"(message) {
      const block = blocks.finishing(message);
      if (!block) return;
      progress.runFinished(message.block, message.status);
      // Output lost on the way (this page reconnected mid-run): the stored copy is complete.
      if (block.finished(message)) connection.send({ type: "history" });
    },
    "presenter.run.started": (message) => watched.started(message),
    "presenter.run.output": (message) => watched.output(message),
    "presenter.run.finished": (message) => watched.finished(message),
    "check.result"(message) {
      checks.result(message);
      progress.checkResult(message.block, message.done === true);
    },
    "sandbox.reset": (message) => reset.done(message.message, message.status === "ok"),
    "catchup.progress": (message) => catchUp?.progress(message),
    "catchup.finished": (message) => catchUp?.finished(message),
    history(message) {
      blocks.history(message);
      watched.history(message.presenter);
      progress.history(message);
      catchUp?.history(message.catchup);
    },
    error(message) {
      if (catchUp?.refused(message) || checks.refused(message) || blocks.refused(message)) return;
      notice.show(message.message, { forMoment: true });
    },
  };

  connection.connect({
    onOpen: () => notice.hide(),
    onDrop(gone) {
      checks.dropped();
      blocks.dropped();
      catchUp?.dropped();
      if (gone) notice.show("This deck is not on the server any more: Run does not work here.");
      else if (blocks.anyActive) {
        notice.show("The connection to the server dropped; reconnecting… Running code goes on in your sandbox.");
      }
    },
    onMessage(message) {
      const handler = handlers[message.type];
      // Chained on one settled promise, so messages are still handled in the order they came.
      if (handler) output.ready.then(() => handler(message));
    },
  });
  bindRunShortcut(blocks);

  return { slideShown: (number) => progress.slideShown(number) };
}
