// The output panel of one run: an xterm.js terminal that grows with its output, or plain text without xterm.

// Sizes are in the slide's own pixels (the stage is 1280x720 and scaled as a whole).
const FONT_SIZE = 16;
const LINE_HEIGHT = 1.15;
const MAX_SHARE = 0.4; // of the slide's height: the terminal stops growing there and scrolls
const SLIDE_HEIGHT = 720;
const SCROLLBACK = 10000;

// Colours of the dark slide theme, so ANSI colours stay readable on the code panel's background.
const THEME = {
  background: "#0d1016",
  foreground: "#e9edf3",
  cursor: "#0d1016",
  selectionBackground: "#3a4a66",
  black: "#1d2129",
  red: "#f28b82",
  green: "#81c995",
  yellow: "#f2c46d",
  blue: "#8ab4f8",
  magenta: "#d7aefb",
  cyan: "#78d9ec",
  white: "#e9edf3",
  brightBlack: "#7d889c",
  brightRed: "#ff9d94",
  brightGreen: "#a8dab5",
  brightYellow: "#fdd663",
  brightBlue: "#aecbfa",
  brightMagenta: "#e9d2fd",
  brightCyan: "#a1e4f2",
  brightWhite: "#ffffff",
};

// CSI and OSC escape sequences, for the plain-text fallback.
const ANSI = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]/g;

let loading = null;

/**
 * The page's output panels: `ready` settles once xterm.js loaded (or is known to be missing); `open(host, options)`
 * then makes an xterm.js terminal in `host`, or plain text with `missingNote` when xterm.js is not there.
 */
export function terminals(assets, missingNote) {
  let xterm = null;
  const ready = loadXterm(assets).then((lib) => {
    xterm = lib;
  });
  return {
    ready,
    open(host, options) {
      if (xterm) return new XtermOutput(xterm, host, options);
      return new PlainOutput(host, { ...options, note: missingNote });
    },
  };
}

/**
 * Load xterm.js once for the page: {Terminal, FitAddon}, or null when it is not installed
 * (`assets` null) or its files do not load; the caller then uses plain text.
 */
export function loadXterm(assets) {
  if (!assets) return Promise.resolve(null);
  if (!loading) {
    loading = Promise.all([import(assets.module), import(assets.fit)])
      .then(([xterm, fit]) => ({ Terminal: xterm.Terminal, FitAddon: fit.FitAddon }))
      .catch((error) => {
        console.warn("xterm.js did not load; run output is shown as plain text.", error);
        return null;
      });
  }
  return loading;
}

/** Output rendered by xterm.js: ANSI colours, \n as a new line, scrollback; grows up to MAX_SHARE of the slide. */
export class XtermOutput {
  constructor(xterm, host, { label, onResize }) {
    this.host = host;
    this.onResize = onResize;
    this.maxRows = Math.max(4, Math.floor((SLIDE_HEIGHT * MAX_SHARE) / Math.ceil(FONT_SIZE * LINE_HEIGHT)));
    this.term = new xterm.Terminal({
      convertEol: true,
      disableStdin: true,
      cursorBlink: false,
      cursorInactiveStyle: "none",
      scrollback: SCROLLBACK,
      fontFamily: getComputedStyle(document.documentElement).getPropertyValue("--font-mono").trim() || "monospace",
      fontSize: FONT_SIZE,
      lineHeight: LINE_HEIGHT,
      theme: THEME,
      rows: 1,
      cols: 80,
    });
    this.fit = new xterm.FitAddon();
    this.term.loadAddon(this.fit);
    this.term.open(host);
    // Output only: keys go to the page (slide keys, Ctrl+Enter), never to the terminal; copying still works.
    this.term.attachCustomKeyEventHandler(() => false);
    if (this.term.textarea) {
      this.term.textarea.readOnly = true;
      this.term.textarea.setAttribute("aria-label", label);
    }
    this.term.write("\u001b[?25l"); // no cursor: nobody types here
    this.fitWidth();
  }

  /** Columns from the panel's width (the stage's width never changes, so once is enough). */
  fitWidth() {
    const size = this.fit.proposeDimensions();
    if (size && Number.isFinite(size.cols) && size.cols !== this.term.cols) this.term.resize(size.cols, this.term.rows);
  }

  write(text) {
    this.term.write(text, () => this.grow());
  }

  /** Everything at once (a stored run after a reload). */
  replace(text) {
    this.clear();
    if (text) this.write(text);
  }

  clear() {
    this.term.reset();
    this.term.write("\u001b[?25l");
    this.setRows(1);
  }

  grow() {
    const buffer = this.term.buffer.active;
    // Every line written plus the cursor's (xterm keeps the cursor's row on screen: one row fewer would
    // push the first line into the scrollback).
    const lines = buffer.baseY + buffer.cursorY + 1;
    this.setRows(Math.min(this.maxRows, lines));
  }

  setRows(rows) {
    if (rows === this.term.rows) return;
    this.term.resize(this.term.cols, rows);
    this.term.scrollToBottom();
    this.onResize();
  }
}

/** Output as plain text in a <pre> (xterm.js missing): escape sequences removed, scrolls past the same height. */
export class PlainOutput {
  constructor(host, { label, onResize, note }) {
    this.onResize = onResize;
    const message = document.createElement("p");
    message.className = "run-terminal-missing";
    message.textContent = note;
    this.pre = document.createElement("pre");
    this.pre.className = "run-plain";
    this.pre.tabIndex = 0;
    this.pre.setAttribute("aria-label", label);
    host.append(message, this.pre);
  }

  write(text) {
    const atBottom = this.pre.scrollTop + this.pre.clientHeight >= this.pre.scrollHeight - 4;
    this.pre.textContent += text.replace(ANSI, "").replace(/\r\n/g, "\n");
    if (atBottom) this.pre.scrollTop = this.pre.scrollHeight;
    this.onResize();
  }

  replace(text) {
    this.pre.textContent = "";
    if (text) this.write(text);
    else this.onResize();
  }

  clear() {
    this.replace("");
  }
}
