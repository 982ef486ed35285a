// Live reload for authors (deck/live_reload.py): while the deck file is edited, this page reloads itself on
// the same slide (the slide is in the address, #/N), or shows the deck's errors (file, line, message) over
// the slides instead of a broken deck. Only when the server has PODIUM_LIVE_RELOAD on: the page settings then
// carry `reload.url`. A follower of a live talk is never reloaded by surprise: they get a notice to reload.

import { ReconnectingSocket } from "../socket.js";

function overlayElement() {
  const overlay = document.createElement("div");
  overlay.className = "reload-overlay";
  overlay.id = "reload-overlay";
  overlay.setAttribute("role", "alert");
  overlay.hidden = true;
  const title = document.createElement("h2");
  title.textContent = "The deck has errors";
  const list = document.createElement("ul");
  const note = document.createElement("p");
  note.textContent = "Fix the deck file and save it: this page reloads by itself.";
  overlay.append(title, list, note);
  document.body.append(overlay);
  return { overlay, list };
}

function noticeElement() {
  const notice = document.createElement("button");
  notice.type = "button";
  notice.className = "reload-notice";
  notice.hidden = true;
  notice.textContent = "The deck changed — reload to see it";
  notice.addEventListener("click", () => window.location.reload());
  document.body.append(notice);
  return notice;
}

/**
 * Start listening for changes of this page's deck. `settings` is the page settings' `reload` (null: off);
 * `isFollowing()` says whether this page follows a live talk right now (then no reload by surprise).
 */
export function startLiveReload(settings, { isFollowing = () => false } = {}) {
  if (!settings || !settings.url) return;
  const { overlay, list } = overlayElement();
  const notice = noticeElement();
  // The version the page was made from: a save before the socket connects is a change too.
  let version = typeof settings.version === "string" ? settings.version : null;

  const showErrors = (errors) => {
    list.replaceChildren(
      ...errors.map((error) => {
        const item = document.createElement("li");
        const where = document.createElement("code");
        where.textContent = `${error.file}:${error.line}`;
        item.append(where, `: ${error.message}`);
        return item;
      }),
    );
    overlay.hidden = errors.length === 0;
  };

  const changed = (errors) => {
    if (errors.length) {
      showErrors(errors);
    } else if (isFollowing()) {
      notice.hidden = false;
    } else {
      window.location.reload();
    }
  };

  new ReconnectingSocket(settings.url, {
    onMessage(message) {
      if (message.type !== "deck.version" && message.type !== "deck.changed") return;
      const errors = Array.isArray(message.errors) ? message.errors : [];
      const isNew = version !== null && message.version !== version;
      version = message.version;
      // A reconnect after a change missed while away counts as a change too.
      if (message.type === "deck.changed" || isNew) changed(errors);
      else showErrors(errors);
    },
    onStatus() {},
  });
}
