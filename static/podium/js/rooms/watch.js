// Watching an attendee's terminal from the dashboard: a read-only xterm.js in a dialog, on the watch socket
// (rooms/terminal_consumers.py). Closing the dialog stops watching; the attendee's page shows meanwhile that
// the presenter watches.

import { loadXterm } from "../runs/terminal.js";
import { connectTerminal } from "../terminal/session.js";

const dialog = document.getElementById("watch-dialog");
const host = document.getElementById("watch-host");
const status = document.getElementById("watch-status");
let current = null;

dialog.addEventListener("close", () => {
  if (current) current.stop();
  current = null;
});

/** Open the dialog on `member`'s terminal ({id, name}); `config` is the dashboard's settings. */
export async function watchTerminal(config, member) {
  document.getElementById("watch-title").textContent = `${member.name}'s terminal`;
  status.textContent = "";
  host.textContent = "";
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
    fontSize: 14,
    fontFamily: getComputedStyle(document.documentElement).getPropertyValue("--font-mono").trim() || "monospace",
    theme: { background: "#0d1016", foreground: "#e9edf3", selectionBackground: "#3a4a66" },
  });
  const fit = new xterm.FitAddon();
  term.loadAddon(fit);
  term.open(host);
  fit.fit();
  const session = connectTerminal(config.watchUrl.replace("MEMBER", member.id), term, {
    readOnly: true,
    on: {
      status: (text) => (status.textContent = text),
      ready: () => (status.textContent = ""),
      watched: () => {},
      ended: (message) => (status.textContent = message),
    },
  });
  window.podiumWatched = term; // for tests: the buffer is readable from the console
  current = {
    stop() {
      session.close();
      term.dispose();
    },
  };
}
