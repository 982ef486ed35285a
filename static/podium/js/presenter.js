// The presenter view's entry script: current and next slide, notes, timer, clock; every move drives the
// followers. The presenter's Run buttons (runs/) run code in the presenter's own sandbox.

import { toggleDialog, wireDialog } from "./deck/dialogs.js";
import { followTalk } from "./deck/follow.js";
import { bindDeckKeys } from "./deck/keys.js";
import { deckConfig, pageReady, startSlideShow } from "./deck/page.js";
import { startLiveReload } from "./deck/reload.js";
import { slideInHash } from "./deck/slideshow.js";
import { fitStage, slideCopy } from "./deck/stage.js";
import { Timer, formatTimer } from "./deck/timer.js";
import { startRuns } from "./runs/index.js";
import { TERMINAL_KEY, startTerminalPanel } from "./terminal/panel.js";

const config = deckConfig();
const nextStage = document.getElementById("next-stage");
const nextEnd = document.getElementById("next-end");
const notesScroll = document.getElementById("notes-scroll");
const notes = Array.from(document.querySelectorAll(".notes[data-slide]"));
const numberLabel = document.getElementById("slide-number");
const statusLabel = document.getElementById("status");
const gotoForm = document.getElementById("goto-form");
const gotoInput = document.getElementById("goto-input");
const blackoutButton = document.getElementById("blackout-button");
const blackoutNote = document.getElementById("blackout-note");
const help = document.getElementById("help");

const talk = {
  canDrive: null, // unknown until the socket says
  connected: false,
  firstConnect: true,
  pending: [], // gotos sent whose echo has not come back yet
  dirty: false, // moved while the socket was down
  blackout: Boolean(config.talk.blackout),
};
let socket = null;

function showStatus() {
  let text;
  if (!talk.connected) text = talk.canDrive === null ? "Connecting…" : "Offline — reconnecting…";
  else if (talk.canDrive) text = "Live — the audience follows";
  else text = "View only — this browser may not move the talk";
  statusLabel.textContent = text;
  statusLabel.dataset.state = !talk.connected ? "offline" : talk.canDrive ? "live" : "view-only";
}

function sendGoto(number) {
  if (talk.canDrive && socket && socket.send({ type: "goto", slide: number })) talk.pending.push(number);
  else talk.dirty = true;
}

function slideChanged(number, previous, source) {
  numberLabel.textContent = `${number} / ${show.count}`;
  gotoInput.placeholder = String(number);
  for (const block of notes) block.hidden = Number(block.dataset.slide) !== number;
  notesScroll.scrollTop = 0;
  nextStage.replaceChildren();
  const next = show.slide(number + 1);
  if (next) nextStage.append(slideCopy(next));
  nextEnd.hidden = Boolean(next);
  nextStage.hidden = !next;
  if (source === "user") sendGoto(number);
}

const { show, move } = startSlideShow({ onChange: slideChanged });
fitStage(document.getElementById("next-viewport"), nextStage);

function showBlackout() {
  blackoutButton.setAttribute("aria-pressed", String(talk.blackout));
  blackoutButton.textContent = talk.blackout ? "Show slide" : "Black out";
  blackoutNote.hidden = !talk.blackout;
}

function toggleBlackout() {
  const on = !talk.blackout;
  if (socket && talk.canDrive && socket.send({ type: "blackout", on })) {
    talk.blackout = on; // the broadcast confirms it
    showBlackout();
  }
}

// Timer and clock.
const timer = new Timer(`podium.timer.${config.slug}`);
const elapsedLabel = document.getElementById("elapsed");
const clockLabel = document.getElementById("clock");
const clockFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
function tick() {
  elapsedLabel.textContent = formatTimer(timer.elapsed());
  elapsedLabel.classList.toggle("running", timer.running);
  clockLabel.textContent = clockFormat.format(new Date());
}
document.getElementById("timer-start").addEventListener("click", () => {
  timer.start();
  tick();
});
document.getElementById("timer-pause").addEventListener("click", () => {
  timer.pause();
  tick();
});
document.getElementById("timer-reset").addEventListener("click", () => {
  timer.reset();
  tick();
});
tick();
window.setInterval(tick, 500);

gotoForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const number = gotoInput.valueAsNumber;
  if (Number.isInteger(number) && number >= 1 && number <= show.count) {
    show.go(number, { source: "user" });
    gotoInput.value = "";
    gotoInput.blur();
  } else {
    gotoInput.setCustomValidity(`Type a slide number from 1 to ${show.count}.`);
    gotoInput.reportValidity();
  }
});
gotoInput.addEventListener("input", () => gotoInput.setCustomValidity(""));
gotoInput.addEventListener("keydown", (event) => {
  if (event.key === "Escape") gotoInput.blur();
});
blackoutButton.addEventListener("click", toggleBlackout);
wireDialog(help);
for (const button of document.querySelectorAll("[data-action='help']")) {
  button.addEventListener("click", () => toggleDialog(help));
}

bindDeckKeys({
  move,
  dialogKey(dialog, event) {
    if (event.key !== "?" && event.key !== "h") return false;
    dialog.close();
    return true;
  },
  handlers: {
    b: toggleBlackout,
    ".": toggleBlackout,
    g: () => gotoInput.focus(),
    "?": () => toggleDialog(help),
    h: () => toggleDialog(help),
    j: openJoinScreen,
    [TERMINAL_KEY]: () => terminal && terminal.toggle(),
  },
});

// J: the room's join screen, in a window of its own to drag onto the projector (when a room is open).
function openJoinScreen() {
  if (config.room?.screen) window.open(config.room.screen, "podium-join-screen");
}

function joined(message) {
  // The first message of every connection: where the talk is, and whether this browser may drive it.
  talk.canDrive = Boolean(message.presenter);
  talk.pending = [];
  if (!talk.canDrive) {
    show.go(message.slide, { source: "remote" });
  } else if (talk.firstConnect && !hashGiven) {
    show.go(message.slide, { source: "remote" });
    if (!message.live) sendGoto(show.current); // opening the presenter view starts the talk
  } else if (talk.dirty || !message.live || message.slide !== show.current) {
    sendGoto(show.current); // this screen is where the presenter is: the talk catches up
  }
  talk.dirty = false;
  talk.firstConnect = false;
}

function moved(message) {
  const index = talk.pending.indexOf(message.slide);
  if (index !== -1) {
    talk.pending.splice(0, index + 1); // our own move coming back
    return;
  }
  // Another presenter window moved the talk: keep both screens together.
  if (talk.pending.length === 0) show.go(message.slide, { source: "remote" });
}

const hashGiven = slideInHash() !== null;
show.go(slideInHash() ?? config.talk.slide, { source: "start", history: "replace" });
show.hideOthers();
showBlackout();
showStatus();

socket = followTalk(config.followUrl, {
  onConnection(open) {
    talk.connected = open;
    showStatus();
  },
  onPosition(message) {
    if ("presenter" in message) joined(message);
    else moved(message);
    showStatus();
  },
  onBlackout(on) {
    talk.blackout = on;
    showBlackout();
  },
  onError(message) {
    talk.pending = [];
    if (message.code === "forbidden") talk.canDrive = false;
    showStatus();
    statusLabel.textContent = message.message;
  },
});

startRuns(config.runs);
const terminal = startTerminalPanel(config.terminal);
startLiveReload(config.reload);
pageReady();
