// The attendee's terminal panel at the bottom of a deck page (audience and presenter views): a shell in their
// own sandbox (session.js), opened with its button or the ` key.
//
// Keys while the terminal has focus all go to the shell (Esc too: vim needs it); Shift+Esc leaves the
// terminal, and ` (outside it) or the close button closes the panel. Copy: select, then Ctrl+Shift+C (or the
// browser's menu); paste: Ctrl+Shift+V or Shift+Insert. The font follows the window's height (A− / A+ adjust
// it); the screen-reader mode (xterm.js screenReaderMode) is a checkbox. A reload within the server's keep
// time reopens the panel on the same shell, scrollback included.

import { loadXterm } from "../runs/terminal.js";
import { connectTerminal } from "./session.js";

export const TERMINAL_KEY = "`";
const THEME = {
  background: "#0d1016",
  foreground: "#e9edf3",
  cursor: "#f2c46d",
  cursorAccent: "#0d1016",
  selectionBackground: "#3a4a66",
};
const MIN_SHARE = 0.15;
const MAX_SHARE = 0.8;

// The reader's choices (size, font, screen reader) last across pages; whether the panel is open, per tab.
const stored = {
  area: (key) => (key.startsWith("open:") ? window.sessionStorage : window.localStorage),
  get(key, fallback) {
    try {
      const value = stored.area(key).getItem(`podium-terminal:${key}`);
      return value === null ? fallback : JSON.parse(value);
    } catch {
      return fallback;
    }
  },
  set(key, value) {
    try {
      stored.area(key).setItem(`podium-terminal:${key}`, JSON.stringify(value));
    } catch {
      // storage refused: the setting lasts for this page only
    }
  },
};

/**
 * This browser tab's id (kept across reloads, as sessionStorage is per tab): the server lets a socket of the tab
 * take the place of the tab's earlier one, which a dropped network may have left open there. `renew` makes a new
 * one.
 */
function tabId(renew = false) {
  const key = "podium-terminal:tab";
  const fresh = () =>
    Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
  try {
    let id = renew ? null : window.sessionStorage.getItem(key);
    if (!id) {
      id = fresh();
      window.sessionStorage.setItem(key, id);
    }
    return id;
  } catch {
    return fresh(); // storage refused: a reload is then a new tab to the server
  }
}

const TAB_CHANNEL = "podium-terminal-tabs";
const TAB_ASK_MS = 150;

/**
 * The tab id this page may use, asked for once among this browser's pages. A copy of a tab (the browser's
 * Duplicate copies its sessionStorage, the id with it) would otherwise take the terminal of the tab it copies:
 * a page asks the others (BroadcastChannel) whether one holds its id, and one that does answers, so the copy
 * takes a new id. A reload asks too, and nobody answers: the page before it is gone.
 * Returns { id(): Promise of the id, renew(): a new id, now }.
 */
function tabClaim() {
  let held = null;
  let channel = null;
  try {
    channel = new BroadcastChannel(TAB_CHANNEL);
  } catch {
    // no BroadcastChannel: as before, a copy of a tab shares its id until its first takeover
  }
  if (channel) {
    channel.addEventListener("message", ({ data }) => {
      if (held && data && data.ask === held) channel.postMessage({ holds: held });
    });
  }
  const claimed = new Promise((resolve) => {
    const wanted = tabId();
    if (!channel) {
      held = wanted;
      resolve(held);
      return;
    }
    const answered = ({ data }) => {
      if (!data || data.holds !== wanted) return;
      finish(tabId(true));
    };
    const timer = setTimeout(() => finish(wanted), TAB_ASK_MS);
    function finish(id) {
      clearTimeout(timer);
      channel.removeEventListener("message", answered);
      held = id;
      resolve(id);
    }
    channel.addEventListener("message", answered);
    channel.postMessage({ ask: wanted });
  });
  return {
    id: () => claimed.then(() => held),
    renew() {
      held = tabId(true);
      return held;
    },
  };
}

/** The font size for a window of this height, in CSS pixels, before the reader's own adjustment. */
function baseFontSize() {
  return Math.max(12, Math.min(22, Math.round(window.innerHeight / 48)));
}

/**
 * Start the terminal panel of the page: `config` is the view's `terminal` settings (url, slug, assets,
 * unavailable). Returns { toggle(), open(), close() } or null when the page has no terminal.
 */
export function startTerminalPanel(config) {
  const panel = document.getElementById("term-panel");
  if (!config || !panel) return null;
  const host = panel.querySelector(".term-host");
  const status = panel.querySelector(".term-status");
  const watched = panel.querySelector(".term-watched");
  const reader = panel.querySelector(".term-sr");
  const grip = panel.querySelector(".term-grip");
  const reopen = panel.querySelector(".term-reopen");
  const buttons = Array.from(document.querySelectorAll("[data-terminal-toggle]"));
  const openKey = `open:${config.slug}`;
  const tabs = tabClaim();
  let term = null;
  let fit = null;
  let session = null;
  let share = stored.get("share", 1 / 3);
  let fontStep = stored.get("font", 0);

  reader.checked = stored.get("screenReader", false);

  function layout() {
    const height = panel.hidden ? 0 : Math.round(window.innerHeight * share);
    panel.style.height = `${height}px`;
    document.body.style.setProperty("--terminal-height", `${height}px`);
    refit();
  }

  function refit() {
    if (!term || panel.hidden) return;
    term.options.fontSize = baseFontSize() + fontStep;
    const size = fit.proposeDimensions();
    if (size && Number.isFinite(size.cols) && (size.cols !== term.cols || size.rows !== term.rows)) {
      term.resize(Math.max(2, size.cols), Math.max(2, size.rows));
    }
  }

  function say(text) {
    status.textContent = text || "";
  }

  async function open() {
    panel.hidden = false;
    for (const button of buttons) button.setAttribute("aria-expanded", "true");
    stored.set(openKey, true);
    layout();
    if (session) {
      term.focus();
      return;
    }
    reopen.hidden = true;
    if (config.unavailable) {
      say(config.unavailable);
      return;
    }
    const [xterm, tab] = await Promise.all([loadXterm(config.assets), tabs.id()]);
    if (!xterm) {
      say("The terminal (xterm.js) is not installed on this server.");
      return;
    }
    if (term) term.dispose();
    host.textContent = "";
    term = new xterm.Terminal({
      cursorBlink: true,
      scrollback: 10000,
      fontFamily: getComputedStyle(document.documentElement).getPropertyValue("--font-mono").trim() || "monospace",
      fontSize: baseFontSize() + fontStep,
      theme: THEME,
      screenReaderMode: reader.checked,
      allowProposedApi: false,
    });
    fit = new xterm.FitAddon();
    term.loadAddon(fit);
    term.open(host);
    term.attachCustomKeyEventHandler(keyInTerminal);
    if (term.textarea) term.textarea.setAttribute("aria-label", "Terminal: a shell in your sandbox. Shift+Escape leaves it.");
    refit();
    term.onResize(({ cols, rows }) => session && session.resize(cols, rows));
    say("Opening…");
    session = connectTerminal(config.url, term, {
      tab,
      on: {
        status: say,
        ready: () => say(""),
        watched(count) {
          watched.hidden = count === 0;
        },
        ended(message, reason) {
          // A copy of this tab holds the attach now: opening the terminal here again must not take it back.
          if (reason === "replaced") tabs.renew();
          say(message);
          // What is left is a picture of the shell: no cursor, no keys; "Open again" starts over.
          term.options.disableStdin = true;
          term.options.cursorBlink = false;
          term.options.cursorStyle = "underline";
          term.options.cursorInactiveStyle = "none";
          reopen.hidden = false;
          if (panel.contains(document.activeElement)) reopen.focus();
          watched.hidden = true;
          session = null;
          stored.set(openKey, false);
        },
      },
    });
    window.podiumTerminal = term; // for tests and the curious: the buffer is readable from the console
    term.focus();
  }

  function close() {
    if (session) session.close();
    session = null;
    if (term) term.dispose();
    term = null;
    host.textContent = "";
    panel.hidden = true;
    watched.hidden = true;
    say("");
    stored.set(openKey, false);
    for (const button of buttons) button.setAttribute("aria-expanded", "false");
    layout();
    if (buttons[0]) buttons[0].focus();
  }

  function leave() {
    // Out of the terminal, to the panel's own controls: from there Tab, or the deck's keys, go on.
    panel.querySelector(".term-close").focus();
  }

  /** xterm.js asks before handling a key: false keeps it from the shell (the browser's default then runs). */
  function keyInTerminal(event) {
    if (event.type !== "keydown") return true;
    if (event.key === "Escape" && event.shiftKey) {
      event.preventDefault();
      leave();
      return false;
    }
    const chord = event.ctrlKey && event.shiftKey && !event.altKey;
    if (chord && (event.key === "C" || event.key === "c")) {
      const text = term.getSelection();
      if (text && navigator.clipboard) navigator.clipboard.writeText(text).catch(() => {});
      event.preventDefault();
      return false;
    }
    if ((chord && (event.key === "V" || event.key === "v")) || (event.shiftKey && event.key === "Insert")) {
      return false; // the browser pastes into xterm.js's textarea, which sends it as typed
    }
    return true;
  }

  // Keys typed in the panel are the shell's (or the panel's), never the deck's: no slide moves, no Run. Out of
  // the terminal itself (on the panel's buttons), ` still closes the panel.
  panel.addEventListener("keydown", (event) => {
    event.stopPropagation();
    const inShell = event.target instanceof Element && event.target.closest(".term-host");
    if (!inShell && event.key === TERMINAL_KEY && !event.ctrlKey && !event.altKey && !event.metaKey) {
      event.preventDefault();
      close();
    }
  });

  for (const button of buttons) button.addEventListener("click", () => (panel.hidden ? open() : close()));
  panel.querySelector(".term-close").addEventListener("click", close);
  reopen.addEventListener("click", () => open());
  panel.querySelector(".term-smaller").addEventListener("click", () => font(-1));
  panel.querySelector(".term-larger").addEventListener("click", () => font(1));
  reader.addEventListener("change", () => {
    stored.set("screenReader", reader.checked);
    if (term) term.options.screenReaderMode = reader.checked;
  });

  function font(step) {
    fontStep = Math.max(-6, Math.min(12, fontStep + step));
    stored.set("font", fontStep);
    refit();
  }

  // The grip resizes the panel: drag it, or focus it and use ↑ / ↓.
  grip.addEventListener("pointerdown", (event) => {
    grip.setPointerCapture(event.pointerId);
    const move = (moved) => {
      share = Math.max(MIN_SHARE, Math.min(MAX_SHARE, 1 - moved.clientY / window.innerHeight));
      layout();
    };
    const up = () => {
      grip.removeEventListener("pointermove", move);
      stored.set("share", share);
    };
    grip.addEventListener("pointermove", move);
    grip.addEventListener("pointerup", up, { once: true });
  });
  grip.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowUp" && event.key !== "ArrowDown") return;
    event.preventDefault();
    share = Math.max(MIN_SHARE, Math.min(MAX_SHARE, share + (event.key === "ArrowUp" ? 0.05 : -0.05)));
    stored.set("share", share);
    layout();
  });
  window.addEventListener("resize", layout);
  new ResizeObserver(() => refit()).observe(host);

  if (stored.get(openKey, false)) open(); // a reload: back to the same shell
  return {
    toggle: () => (panel.hidden ? open() : close()),
    open,
    close,
  };
}
