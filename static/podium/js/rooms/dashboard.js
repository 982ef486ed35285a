// The instructor's dashboard: the board from the dashboard socket (rooms/protocol.py), drawn in place.
// Rows keep their place while the pointer is over the table, so a button never moves under it; the order
// (who needs attention first) is applied when the pointer leaves.

import { ReconnectingSocket } from "../socket.js";
import { age, element, fillRow, helpItem, radarItem } from "./board.js";
import { watchTerminal } from "./watch.js";

const config = JSON.parse(document.getElementById("dashboard-config").textContent);
const body = document.getElementById("roster-body");
const table = body.closest("table");
const counts = document.getElementById("dash-counts");
const said = document.getElementById("dash-said");
const radar = document.getElementById("radar");
const helpQueue = document.getElementById("help-queue");
const lockButton = document.getElementById("lock-button");
const outputDialog = document.getElementById("output-dialog");
const noteDialog = document.getElementById("note-dialog");
const noteForm = document.getElementById("note-form");
const noteFor = document.getElementById("note-for");
const noteText = document.getElementById("note-text");

const rows = new Map(); // member id -> <tr>
const drawn = new Map(); // member id -> the row's data as last drawn (JSON): unchanged rows are left alone
let order = [];
let noteTo = "all";
let board = null;

const socket = new ReconnectingSocket(config.url, {
  onMessage: (message) => handlers[message.type]?.(message),
  onStatus(state) {
    if (state === "closed") counts.textContent = "Offline — reconnecting…";
    if (state === "gone") counts.textContent = "This room cannot be shown here: open it from the presenter's browser.";
  },
});

function send(message) {
  if (!socket.send(message)) say("Not connected: try again in a moment.");
}

function say(text) {
  said.textContent = text;
}

function act(kind, target) {
  if (kind === "note") return openNote({ member: target.id }, `To ${target.name}`);
  if (kind === "hint") return openNote({ step: target.step, line: target.line }, `To the ${target.count} in this group`);
  if (kind === "output") return send({ type: "output", ...target });
  if (kind === "terminal") return watchTerminal(config, target);
  if (kind === "reset" && window.confirm(`Reset ${target.name}'s sandbox? What runs there now is lost.`)) {
    return send({ type: "member.reset", member: target.id });
  }
  if (kind === "remove" && window.confirm(`Remove ${target.name} from the room? They cannot join it again.`)) {
    return send({ type: "member.remove", member: target.id });
  }
  if (kind === "on-my-way" || kind === "done") return send({ type: "help.update", help: target.id, status: kind });
  return undefined;
}

function openNote(to, label) {
  noteTo = to;
  noteFor.textContent = label;
  noteText.value = "";
  noteDialog.showModal();
  noteText.focus();
}

noteForm.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!noteText.value.trim()) return;
  send({ type: "note", text: noteText.value, to: noteTo });
  noteDialog.close();
});
document.getElementById("note-cancel").addEventListener("click", () => noteDialog.close());
document.getElementById("note-all-button").addEventListener("click", () => openNote("all", "To everyone"));
lockButton.addEventListener("click", () => send({ type: "room.lock", on: lockButton.getAttribute("aria-pressed") !== "true" }));
document.getElementById("close-button").addEventListener("click", () => {
  if (window.confirm("Close the room? Every attendee's sandbox is removed; their progress is kept.")) {
    send({ type: "room.close" });
  }
});

function drawRoster(roster) {
  const seen = new Set();
  for (const row of roster) {
    seen.add(row.id);
    let tr = rows.get(row.id);
    if (!tr) {
      tr = element("tr", { attrs: { "data-member": row.id } });
      rows.set(row.id, tr);
      body.append(tr);
    }
    const data = JSON.stringify(row);
    if (drawn.get(row.id) !== data) {
      fillRow(tr, row, act);
      drawn.set(row.id, data);
    }
  }
  for (const [id, tr] of rows) {
    if (!seen.has(id)) {
      tr.remove();
      rows.delete(id);
      drawn.delete(id);
    }
  }
  order = roster.map((row) => row.id);
  if (!table.matches(":hover")) applyOrder();
  document.getElementById("roster-empty").hidden = roster.length > 0;
}

function applyOrder() {
  // Moving rows makes the browser lay the whole table out again: only when the order changed.
  const shown = [...body.querySelectorAll("tr[data-member]")].map((tr) => tr.dataset.member);
  if (shown.length === order.length && shown.every((id, index) => id === order[index])) return;
  for (const id of order) {
    const tr = rows.get(id);
    if (tr) body.append(tr);
  }
}
table.addEventListener("mouseleave", applyOrder);

const handlers = {
  board(message) {
    board = message;
    const room = message.room;
    const capacity = room.capacity ? ` of ${room.capacity}` : "";
    const state = !room.open ? "closed" : room.locked ? "locked" : "open";
    const pool = room.pool.size ? ` · pool ${room.pool.ready}/${room.pool.size} ready` : "";
    counts.textContent = `${room.admitted}${capacity} in · ${room.waiting} waiting · ${state}${pool}`;
    lockButton.setAttribute("aria-pressed", String(room.locked));
    lockButton.textContent = room.locked ? "Unlock" : "Lock";
    drawRoster(message.roster);
    radar.replaceChildren(...message.radar.map((group) => radarItem(group, act)));
    document.getElementById("radar-empty").hidden = message.radar.length > 0;
    helpQueue.replaceChildren(...message.help.map((hand) => helpItem(hand, act)));
    document.getElementById("help-empty").hidden = message.help.length > 0;
  },
  output(message) {
    document.getElementById("output-title").textContent =
      `${message.name} · ${message.step} · ${message.status}${message.exitCode != null ? ` (exit ${message.exitCode})` : ""}`;
    document.getElementById("output-text").textContent = message.output || "(no output)";
    outputDialog.showModal();
  },
  done: (message) => say(message.message),
  error: (message) => say(message.message),
};

// Ages move on their own between boards.
window.setInterval(() => {
  if (!board) return;
  for (const node of document.querySelectorAll("[data-since]")) {
    if (node.dataset.since) node.textContent = age(node.dataset.since);
  }
}, 1000);
