// One terminal socket with an xterm.js terminal on it: the protocol of sandbox/terminal_protocol.py.
//
// Output arrives as binary frames and goes to xterm.js as bytes (it decodes UTF-8 across frames); once
// xterm.js has drawn a frame, its size counts as shown, and once "ack_every" bytes (from terminal.ready) are
// shown they are acknowledged ("ack"), so the server never runs more than its window ahead of this page (flow
// control) while a keystroke's small echo costs no ack. Keystrokes and pastes go back as binary frames; a
// resize as JSON.

const encoder = new TextEncoder();

// A dropped socket (network, server restart) is tried again at these intervals; an end the server said is final.
const RETRY_MS = [500, 1000, 2000, 4000, 8000];
const CLOSE_TRY_AGAIN = 4503; // config/websocket.py: the server could not set the socket up; it says why first

/**
 * Connect `term` (an xterm.js Terminal) to the terminal socket at `path`. `readOnly`: keys are never sent.
 * `tab`: this browser tab's id, so that a new socket of the tab takes the place of its earlier one on the server.
 * `on.status(text)`, `on.ready()`, `on.watched(count)`, `on.ended(message, reason)` report to the panel, and
 * `on.size(cols, rows)` (watching) the watched terminal's size. Returns { resize(cols, rows), close() }.
 */
export function connectTerminal(path, term, { readOnly = false, tab = null, on }) {
  let socket = null;
  let ended = false;
  let closedByPage = false;
  let attempt = 0;
  let size = { cols: term.cols, rows: term.rows };
  let ready = false;
  let early = []; // keys typed before the shell was attached, sent once it is
  let ackEvery = 1; // bytes shown before they are acknowledged (the server says, in terminal.ready)
  let shown = 0; // bytes shown and not acknowledged yet

  const send = (message) => {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  };

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${scheme}//${window.location.host}${path}`);
    socket.binaryType = "arraybuffer";
    const mine = socket;
    socket.addEventListener("open", () => {
      shown = 0;
      on.status(attempt ? "Reattaching to your shell…" : "Opening…");
      const opening = { type: "open", cols: size.cols, rows: size.rows };
      if (tab) opening.tab = tab;
      send(opening);
    });
    socket.addEventListener("message", (event) => {
      if (typeof event.data !== "string") {
        const bytes = new Uint8Array(event.data);
        term.write(bytes, () => {
          if (socket !== mine) return; // shown after a reconnect: the new socket owes the server nothing
          shown += bytes.length;
          if (shown >= ackEvery) {
            send({ type: "ack", bytes: shown });
            shown = 0;
          }
        });
        return;
      }
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      handle(message);
    });
    socket.addEventListener("close", (event) => {
      if (socket !== mine) return;
      socket = null;
      ready = false;
      if (ended || closedByPage) return;
      const delay = RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)];
      attempt += 1;
      // 4503: the server said why (its database did not answer in time) just before; that sentence stays.
      if (event.code !== CLOSE_TRY_AGAIN) on.status("The connection dropped; reattaching…");
      window.setTimeout(() => {
        if (!ended && !closedByPage) {
          term.reset(); // the server sends the scrollback and the screen again
          connect();
        }
      }, delay);
    });
  }

  function handle(message) {
    switch (message.type) {
      case "terminal.status":
        on.status(message.message);
        break;
      case "terminal.ready":
        attempt = 0;
        ready = true;
        ackEvery = Math.max(1, Number(message.ack_every) || 1);
        for (const bytes of early) socket.send(bytes);
        early = [];
        on.ready();
        on.watched(message.watching || 0);
        break;
      case "terminal.watched":
        on.watched(message.watching || 0);
        break;
      case "terminal.size":
        if (on.size) on.size(message.cols, message.rows);
        break;
      case "terminal.ended":
        ended = true;
        on.ended(message.message, message.reason);
        break;
      case "error":
        on.status(message.message);
        break;
      default:
        break;
    }
  }

  if (!readOnly) {
    const type = (bytes) => {
      if (ready && socket && socket.readyState === WebSocket.OPEN) socket.send(bytes);
      else if (!ended) early.push(bytes);
    };
    term.onData((data) => type(encoder.encode(data)));
    term.onBinary((data) => type(Uint8Array.from(data, (c) => c.charCodeAt(0))));
  }
  connect();

  return {
    resize(cols, rows) {
      size = { cols, rows };
      send({ type: "resize", cols, rows });
    },
    close() {
      closedByPage = true;
      if (socket) socket.close(1000);
      socket = null;
    },
  };
}
