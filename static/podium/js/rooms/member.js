// An audience page's room: who I am in it, "Ask for help", the presenter's notes, and the room closing.
// The room socket (rooms/protocol.py) says where this browser stands; outside a room nothing shows.

import { ReconnectingSocket } from "../socket.js";

const ui = document.getElementById("room-ui");
const who = document.getElementById("room-who");
const notes = document.getElementById("room-notes");
const helpButton = document.getElementById("room-help");
const dialog = document.getElementById("room-help-dialog");
const form = document.getElementById("room-help-form");
const text = document.getElementById("room-help-text");
const leave = document.getElementById("room-leave");

/** Connect the page's room line, with `config` the view's `room` settings ({url}). */
export function startRoom(config) {
  if (!config || !ui) return;
  let hand = null;
  const socket = new ReconnectingSocket(config.url, {
    onMessage: (message) => handlers[message.type]?.(message),
    onStatus() {},
  });

  function note(words, { urgent = false } = {}) {
    const box = document.createElement("div");
    box.className = `room-note${urgent ? " urgent" : ""}`;
    box.setAttribute("role", urgent ? "alert" : "status");
    const said = document.createElement("p");
    said.textContent = words;
    const close = document.createElement("button");
    close.type = "button";
    close.className = "room-link";
    close.textContent = "Dismiss";
    close.addEventListener("click", () => box.remove());
    box.append(said, close);
    notes.append(box);
  }

  function showHand() {
    helpButton.setAttribute("aria-pressed", String(hand !== null));
    if (hand === null) helpButton.textContent = "Ask for help";
    else helpButton.textContent = hand.status === "on-my-way" ? "Help is on the way — lower hand" : "Hand raised — lower";
  }

  const handlers = {
    room(message) {
      if (message.status === "none") {
        ui.hidden = true;
        return;
      }
      ui.hidden = false;
      who.textContent = `Room ${message.code.slice(0, 3)}-${message.code.slice(3)} · ${message.name}`;
      leave.action = `/join/${message.code}/leave/`;
      hand = message.hand;
      showHand();
    },
    help(message) {
      hand = message.hand;
      showHand();
    },
    note: (message) => note(`Note from the presenter: ${message.text}`),
    "room.closed"(message) {
      note(message.message, { urgent: true });
      helpButton.hidden = true;
      leave.hidden = true;
    },
    "room.left"(message) {
      note(message.message, { urgent: true });
      helpButton.hidden = true;
      leave.hidden = true;
    },
    error: (message) => note(message.message),
  };

  helpButton.addEventListener("click", () => {
    if (hand !== null) {
      socket.send({ type: "help.lower" });
      return;
    }
    text.value = "";
    dialog.showModal();
    text.focus();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!socket.send({ type: "help", text: text.value })) note("Not connected: try again in a moment.");
    dialog.close();
  });
  document.getElementById("room-help-cancel").addEventListener("click", () => dialog.close());
}
