// Watching an attendee's terminal from the dashboard: a read-only xterm.js in a dialog, on the watch socket
// (rooms/terminal_consumers.py). Closing the dialog stops watching; the attendee's page shows meanwhile that
// the presenter watches.
//
// The screen has the attendee's size in characters (the server says it first, then after each resize), so a
// full-screen program (vim, top) is drawn as the attendee sees it; the font shrinks or grows so that the whole
// screen fits the dialog.

import { loadXterm } from "../runs/terminal.js";
import { connectTerminal } from "../terminal/session.js";

const dialog = document.getElementById("watch-dialog");
const host = document.getElementById("watch-host");
const status = document.getElementById("watch-status");
const sizeNote = document.getElementById("watch-size");
const FONT = { min: 7, max: 18, start: 14 };
let current = null;

dialog.addEventListener("close", () => {
  if (current) current.stop();
  current = null;
});
window.addEventListener("resize", () => current && current.scale());

/** The font size at which `term`'s columns and rows fill the host (FitAddon measures what fits at a size). */
function scaleFont(term, fit) {
  for (let tries = 0; tries < 4; tries += 1) {
    const room = fit.proposeDimensions();
    if (!room || !Number.isFinite(room.cols) || !Number.isFinite(room.rows)) return;
    const factor = Math.min(room.cols / term.cols, room.rows / term.rows);
    const size = Math.max(FONT.min, Math.min(FONT.max, Math.floor(term.options.fontSize * factor * 2) / 2));
    if (size === term.options.fontSize) return;
    term.options.fontSize = size;
  }
}

/** Open the dialog on `member`'s terminal ({id, name}); `config` is the dashboard's settings. */
export async function watchTerminal(config, member) {
  document.getElementById("watch-title").textContent = `${member.name}'s terminal`;
  status.textContent = "";
  sizeNote.textContent = "";
  host.textContent = "";
  host.hidden = false;
  dialog.showModal();
  const xterm = await loadXterm(config.terminal);
  if (!xterm) {
    status.textContent = "The terminal (xterm.js) is not installed on this server.";
    return;
  }
  const term = new xterm.Terminal({
    disableStdin: true,
    cursorBlink: false,
    scrollback: 10000,
    fontSize: FONT.start,
    fontFamily: getComputedStyle(document.documentElement).getPropertyValue("--font-mono").trim() || "monospace",
    theme: { background: "#0d1016", foreground: "#e9edf3", selectionBackground: "#3a4a66" },
  });
  const fit = new xterm.FitAddon();
  term.loadAddon(fit);
  term.open(host);
  fit.fit(); // until the server says the attendee's size
  let shown = false;
  const session = connectTerminal(config.watchUrl.replace("MEMBER", member.id), term, {
    readOnly: true,
    on: {
      status: (text) => (status.textContent = text),
      ready() {
        status.textContent = "";
        shown = true;
      },
      watched: () => {},
      ended(message) {
        status.textContent = message;
        if (!shown) host.hidden = true; // nothing to watch: no empty screen under the sentence
      },
      size(cols, rows) {
        // After what came before it is drawn: those bytes were written for the earlier size.
        term.write(new Uint8Array(0), () => {
          term.resize(cols, rows);
          scaleFont(term, fit);
          sizeNote.textContent = `Their screen: ${cols} × ${rows} characters.`;
        });
      },
    },
  });
  window.podiumWatched = term; // for tests: the buffer is readable from the console
  current = {
    scale: () => scaleFont(term, fit),
    stop() {
      session.close();
      term.dispose();
    },
  };
}
