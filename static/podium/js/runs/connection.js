// The runs websocket of a page: a reconnecting socket that asks for the stored runs on every connect, and
// keeps what the page sends before the first connection is open (a click right after the page loaded).

import { ReconnectingSocket } from "../socket.js";

export class RunsConnection {
  constructor(url) {
    this.url = url;
    this.socket = null;
    this.everOpen = false;
    this.early = []; // sent before the socket first opened
  }

  /**
   * Connect. `onOpen()` runs on every (re)connect before the page's `history` request and the early messages
   * go out; `onDrop(gone)` when the connection closed (`gone`: the deck is not on the server any more);
   * `onMessage(message)` for every message.
   */
  connect({ onOpen, onDrop, onMessage }) {
    this.socket = new ReconnectingSocket(this.url, {
      onStatus: (state) => {
        if (state === "open") {
          this.everOpen = true;
          onOpen();
          this.socket.send({ type: "history" });
          for (const message of this.early.splice(0)) this.socket.send(message);
          return;
        }
        // A request in flight when the connection dropped got no answer and never will.
        this.early.length = 0;
        onDrop(state === "gone");
      },
      onMessage,
    });
  }

  /** Send now; false when the socket is not open. */
  send(message) {
    return this.socket !== null && this.socket.send(message);
  }

  /** Send now, or keep it for the first connection while that is still being made; false once a connection dropped. */
  sendSoon(message) {
    if (this.send(message)) return true;
    if (this.everOpen) return false;
    this.early.push(message);
    return true;
  }
}
