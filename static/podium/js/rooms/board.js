// How the dashboard says things: ages from moments, and the rows of the roster, radar and help queue as DOM.
// Words carry every state; colours only repeat them (UI.md: colour is never the only signal).

export function age(iso, now = Date.now()) {
  if (!iso) return "—";
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export const RUN_WORDS = {
  ok: "ok",
  failed: "failed",
  timed_out: "timed out",
  cancelled: "cancelled",
  error: "error",
  queued: "queued",
  running: "running",
};

const ATTENTION_WORDS = { help: "hand raised", failing: "failing", sandbox: "sandbox failed", waiting: "waiting" };

export function element(tag, { className, text, attrs } = {}) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  return node;
}

export function button(text, onClick, className = "button small") {
  const node = element("button", { className, text, attrs: { type: "button" } });
  node.addEventListener("click", onClick);
  return node;
}

/** Fill (or refill) the cells of one roster row. `act(kind, row)` runs a row action. */
export function fillRow(tr, row, act) {
  tr.dataset.attention = row.attention || "fine";
  tr.replaceChildren();
  const name = element("th", { attrs: { scope: "row" } });
  name.append(element("span", { text: row.name }));
  if (row.attention) name.append(element("span", { className: "tag", text: ATTENTION_WORDS[row.attention] }));
  const steps = element("td", { className: "steps" });
  const bar = element("progress", { attrs: { max: String(row.steps || 1), value: String(row.stepsDone) } });
  bar.setAttribute("aria-hidden", "true");
  steps.append(bar, element("span", { text: ` ${row.stepsDone}/${row.steps}` }));
  const last = element("td", { className: "last-run" });
  if (row.lastRun) {
    last.append(
      element("span", { className: `run-word run-${row.lastRun.status}`, text: RUN_WORDS[row.lastRun.status] }),
      element("span", { className: "hint", text: ` ${row.lastRun.block} · ` }),
      element("span", { className: "hint", text: age(row.lastRun.at), attrs: { "data-since": row.lastRun.at } }),
    );
  } else {
    last.textContent = "—";
  }
  const idle = element("td", { text: age(row.activeAt), attrs: { "data-since": row.activeAt || "" } });
  const hand = element("td", { text: row.hand ? (row.hand.status === "open" ? "✋ raised" : "on the way") : "" });
  const actions = element("td", { className: "row-actions" });
  actions.append(
    button("Note", () => act("note", row)),
    button("Terminal", () => act("terminal", row)),
    button("Reset", () => act("reset", row)),
    button("Remove", () => act("remove", row)),
  );
  tr.append(
    name,
    element("td", { text: row.status === "waiting" ? "waiting" : row.slide ?? "—" }),
    steps,
    last,
    element("td", { text: row.sandbox }),
    idle,
    hand,
    actions,
  );
}

/** One radar group: "7 × line — slide 16", who is in it (each opens their output), and "Send a hint". */
export function radarItem(group, act) {
  const item = element("li", { className: "radar-group" });
  const head = element("p", { className: "radar-head" });
  head.append(
    element("strong", { text: `${group.count} ×` }),
    " ",
    element("code", { text: group.line || "(no output)" }),
    element("span", { className: "hint", text: ` — slide ${group.slide ?? "?"} · ${group.kind} ${group.step}` }),
  );
  const who = element("p", { className: "radar-who" });
  for (const member of group.members) {
    who.append(button(member.name, () => act("output", { member: member.id, step: group.step }), "link-button"), " ");
  }
  item.append(head, who, button("Send a hint", () => act("hint", group)));
  return item;
}

export function helpItem(hand, act) {
  const item = element("li", { className: "help-item", attrs: { "data-status": hand.status } });
  const head = element("p");
  head.append(
    element("strong", { text: hand.name }),
    element("span", { className: "hint", text: ` · slide ${hand.slide ?? "?"} · ` }),
    element("span", { className: "hint", text: age(hand.since), attrs: { "data-since": hand.since } }),
    element("span", { className: "tag", text: hand.status === "open" ? "waiting" : "on my way" }),
  );
  item.append(head);
  if (hand.text) item.append(element("p", { className: "help-text", text: hand.text }));
  const buttons = element("p", { className: "dash-buttons" });
  if (hand.status === "open") buttons.append(button("On my way", () => act("on-my-way", hand)));
  buttons.append(button("Done", () => act("done", hand)));
  item.append(buttons);
  return item;
}
