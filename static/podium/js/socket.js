// A websocket that reconnects by itself, with backoff, when it drops: the follow socket (deck/follow.js) and
// the runs socket (runs/connection.js) are both one of these.

// A binary frame is a run's output (sandbox/protocol.py, output_frame): a line of JSON, then the text as UTF-8.
const NEWLINE = 10;
const utf8 = new TextDecoder();

function binaryMessage(buffer) {
  const bytes = new Uint8Array(buffer);
  const end = bytes.indexOf(NEWLINE);
  if (end < 0) return null;
  const message = JSON.parse(utf8.decode(bytes.subarray(0, end)));
  if (message && typeof message === "object") message.data = utf8.decode(bytes.subarray(end + 1));
  return message;
}

// Closes that no retry can mend: the talk, deck or room does not exist; this browser may not see it.
const CLOSE_FOR_GOOD = new Set([4403, 4404]);

/**
 * Connects to `path` on this host. `onMessage(msg)` gets every message (JSON text, or a binary output frame);
 * `onStatus(state)` gets "open", "closed" (a retry is scheduled) or "gone" (the server closed with 4404 or
 * 4403: the talk, deck or room does not exist, or this browser may not see it; no retry).
 */
export class ReconnectingSocket {
  constructor(path, { onMessage, onStatus }) {
    this.path = path;
    this.onMessage = onMessage;
    this.onStatus = onStatus;
    this.attempt = 0;
    this.socket = null;
    this.retryTimer = null;
    this.connect();
    // A laptop waking up: try at once rather than waiting out the backoff.
    window.addEventListener("online", () => this.retryNow());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.retryNow();
    });
  }

  get open() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  connect() {
    this.retryTimer = null;
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${window.location.host}${this.path}`);
    socket.binaryType = "arraybuffer"; // read at once, so messages stay in the order they came
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.attempt = 0;
      this.onStatus("open");
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = typeof event.data === "string" ? JSON.parse(event.data) : binaryMessage(event.data);
      } catch {
        return;
      }
      if (message && typeof message === "object") this.onMessage(message);
    });
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (CLOSE_FOR_GOOD.has(event.code)) {
        this.onStatus("gone");
        return;
      }
      this.onStatus("closed");
      this.scheduleRetry();
    });
  }

  scheduleRetry() {
    // 0.5 s, 1 s, 2 s ... capped at 15 s, with jitter so a room of laptops does not reconnect in step.
    const ceiling = Math.min(15000, 500 * 2 ** this.attempt);
    this.attempt += 1;
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.retryTimer = window.setTimeout(() => this.connect(), delay);
  }

  retryNow() {
    if (this.retryTimer === null) return;
    window.clearTimeout(this.retryTimer);
    this.connect();
  }

  /** Send a JSON message; false when the socket is not open (the caller decides what to keep). */
  send(message) {
    if (!this.open) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }
}
