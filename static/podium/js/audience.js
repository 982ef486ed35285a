// The audience view's entry script: keys, touch, overview, contents, help, blackout, following the presenter,
// and the Run buttons (runs/), which hear every slide the attendee moves to and tell their stored slide.

import { toggleDialog, wireDialog } from "./deck/dialogs.js";
import { followTalk } from "./deck/follow.js";
import { bindDeckKeys } from "./deck/keys.js";
import { Overview } from "./deck/overview.js";
import { startLiveReload } from "./deck/reload.js";
import { deckConfig, pageReady, startSlideShow } from "./deck/page.js";
import { slideInHash } from "./deck/slideshow.js";
import { startRoom } from "./rooms/member.js";
import { startRuns } from "./runs/index.js";
import { TERMINAL_KEY, startTerminalPanel } from "./terminal/panel.js";

const config = deckConfig();
const viewport = document.getElementById("viewport");
const numberLabel = document.getElementById("slide-number");
const progressBar = document.getElementById("progress-bar");
const announcer = document.getElementById("announcer");
const blackoutCover = document.getElementById("blackout");
const pill = document.getElementById("follow-pill");
const pillText = pill.querySelector(".pill-text");
const toc = document.getElementById("toc");
const help = document.getElementById("help");
const tocLinks = Array.from(toc.querySelectorAll("a[data-goto]"));

// The Run buttons, started last (below); until then a slide shown is not reported as the attendee's progress.
let runs = null;

// Where the presenter is; whether this screen snaps to it.
const follow = {
  live: Boolean(config.talk.live),
  slide: config.talk.slide,
  following: true,
  connected: false,
};

function announce(text) {
  announcer.textContent = text;
}

function updatePill() {
  pill.hidden = !follow.live;
  pill.classList.toggle("paused", !follow.following);
  pill.classList.toggle("offline", follow.following && !follow.connected);
  if (!follow.following) {
    pillText.textContent = "Following paused — press F to rejoin";
    pill.title = "Go back to the presenter's slide (F)";
  } else if (!follow.connected) {
    pillText.textContent = "Following — reconnecting…";
    pill.title = "The connection to the presenter dropped; trying again";
  } else {
    pillText.textContent = "Following";
    pill.title = "This screen follows the presenter; click to look around on your own";
  }
}

function slideChanged(number, previous, source) {
  const count = show.count;
  numberLabel.textContent = `${number} / ${count}`;
  progressBar.style.width = `${(100 * number) / count}%`;
  for (const link of tocLinks) {
    if (Number(link.dataset.goto) === number) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  announce(`Slide ${number} of ${count}: ${show.title(number)}`);
  if (runs) runs.slideShown(number);
  if (source === "user" && follow.live) {
    // Wandering off pauses following; coming back to the presenter's slide resumes it.
    const wasFollowing = follow.following;
    follow.following = number === follow.slide;
    if (wasFollowing && !follow.following) {
      announce(`Slide ${number} of ${count}: ${show.title(number)}. Following paused; press F to rejoin.`);
    }
  }
  updatePill();
}

const { show, move } = startSlideShow({ onChange: slideChanged });

function rejoin() {
  follow.following = true;
  show.go(follow.slide, { source: "follow" });
  announce(`Following the presenter: slide ${follow.slide} of ${show.count}.`);
  updatePill();
}

// Who blacked the screen out: "me" (B on this page) or "presenter" (their blackout message).
let blackoutBy = null;

function setBlackout(on, by = "me") {
  blackoutBy = on ? by : null;
  blackoutCover.hidden = !on;
  announce(on ? "Screen blacked out. Press B to show the slide." : `Slide ${show.current} of ${show.count}: ${show.title(show.current)}`);
}

const overview = new Overview(document.getElementById("overview"), document.getElementById("overview-grid"), show, {
  onPick: (number) => show.go(number, { source: "user" }),
});
for (const dialog of document.querySelectorAll("dialog")) wireDialog(dialog);
for (const link of tocLinks) link.addEventListener("click", () => toc.close());

function openToc() {
  toggleDialog(toc);
  const current = toc.open && toc.querySelector("a[aria-current]");
  if (current) {
    current.focus();
    current.scrollIntoView({ block: "center" });
  }
}

const actions = {
  prev: () => move("prev"),
  next: () => move("next"),
  overview: () => overview.open(),
  toc: openToc,
  help: () => toggleDialog(help),
};
for (const button of document.querySelectorAll(".deck-nav [data-action]")) {
  button.addEventListener("click", () => actions[button.dataset.action]());
}
pill.addEventListener("click", () => {
  if (follow.following) {
    follow.following = false;
    updatePill();
    announce("Following paused; press F to rejoin.");
  } else {
    rejoin();
  }
});
blackoutCover.addEventListener("click", () => setBlackout(false));

function openPresenter() {
  window.open(`${config.presenterUrl}#/${show.current}`, `podium-presenter-${config.slug}`);
}

bindDeckKeys({
  move,
  dialogKey(dialog, event) {
    if (dialog === overview.dialog) return overview.handleKey(event);
    if ((dialog === help && (event.key === "?" || event.key === "h")) || (dialog === toc && event.key === "t")) {
      dialog.close();
      return false; // closed, but the key itself is not ours to swallow
    }
    return false;
  },
  handlers: {
    Escape: () => overview.open(),
    t: openToc,
    "?": () => toggleDialog(help),
    h: () => toggleDialog(help),
    b: () => setBlackout(blackoutCover.hidden),
    ".": () => setBlackout(blackoutCover.hidden),
    f: () => follow.live && rejoin(),
    p: openPresenter,
    [TERMINAL_KEY]: () => terminal && terminal.toggle(),
  },
});

// Touch: a horizontal swipe changes the slide.
let touchStart = null;
viewport.addEventListener(
  "touchstart",
  (event) => {
    touchStart = event.touches.length === 1 ? { x: event.touches[0].clientX, y: event.touches[0].clientY } : null;
  },
  { passive: true },
);
viewport.addEventListener(
  "touchend",
  (event) => {
    if (!touchStart) return;
    const touch = event.changedTouches[0];
    const dx = touch.clientX - touchStart.x;
    const dy = touch.clientY - touchStart.y;
    touchStart = null;
    if (Math.abs(dx) > 50 && Math.abs(dx) > 1.5 * Math.abs(dy)) move(dx < 0 ? "next" : "prev");
  },
  { passive: true },
);

// First slide: a live talk puts late joiners on the presenter's slide; otherwise the URL decides.
const start = follow.live ? follow.slide : (slideInHash() ?? 1);
// A self-paced learner coming back lands on their stored slide (runs/progress.js), unless the URL or a live talk says otherwise.
let storedSlideUsed = follow.live || slideInHash() !== null;
function storedSlide(number) {
  if (storedSlideUsed || follow.live) return;
  storedSlideUsed = true;
  if (show.current === start) show.go(number, { source: "start", history: "replace" });
}
show.go(start, { source: "start", history: "replace" });
show.hideOthers();
if (config.talk.blackout) setBlackout(true, "presenter");
updatePill();

followTalk(config.followUrl, {
  onConnection(open) {
    follow.connected = open;
    updatePill();
  },
  onPosition(message) {
    // A (re)connect tells the whole state again: a presenter blackout lifted meanwhile must not linger.
    if ("presenter" in message && blackoutBy === "presenter") setBlackout(false);
    follow.slide = message.slide;
    if (typeof message.live === "boolean") follow.live = message.live;
    if (follow.live && follow.following) show.go(message.slide, { source: "follow" });
    updatePill();
  },
  onBlackout: (on) => setBlackout(on, "presenter"),
});

runs = startRuns(config.runs, { onStoredSlide: storedSlide });
const terminal = startTerminalPanel(config.terminal);
startRoom(config.room);
startLiveReload(config.reload, { isFollowing: () => follow.live && follow.following });
pageReady();
