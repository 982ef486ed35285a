// Which move a key press asks for, shared by the audience and presenter views.

import { openDialog } from "./dialogs.js";

/** True when the key goes to a text field (typing a slide number must not also move the slide). */
export function isTyping(target) {
  if (!target || !(target instanceof Element)) return false;
  // A read-only field takes no typing (the run output terminal's own textarea): slide keys still work.
  if (target.readOnly === true) return false;
  return target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
}

/** True when Space/Enter would press a focused button or follow a link: let the browser do that. */
export function isActivation(event) {
  const target = event.target;
  if (!(target instanceof Element)) return false;
  return (event.key === " " || event.key === "Enter") && target.closest("button, a[href], summary") !== null;
}

/** "next", "prev", "first", "last" or null for a keydown event. */
export function moveFor(event) {
  if (event.altKey || event.ctrlKey || event.metaKey) return null;
  switch (event.key) {
    case "ArrowRight":
    case "ArrowDown":
    case "PageDown":
      return "next";
    case "ArrowLeft":
    case "ArrowUp":
    case "PageUp":
      return "prev";
    case " ":
    case "Spacebar":
      return event.shiftKey ? "prev" : "next";
    case "Home":
      return "first";
    case "End":
      return "last";
    default:
      return null;
  }
}

/** The slide number a move leads to from `current` in a deck of `count` slides. */
export function targetOf(move, current, count) {
  if (move === "next") return Math.min(count, current + 1);
  if (move === "prev") return Math.max(1, current - 1);
  if (move === "first") return 1;
  if (move === "last") return count;
  return current;
}

/**
 * Listen for the deck's keys on the whole page, the same way in every view.
 *
 * While a dialog is open, `dialogKey(dialog, event)` gets the key first (true = handled) and Escape
 * closes it; otherwise arrows/space/PgUp/PgDn/Home/End call `move(kind)` and a plain key found in
 * `handlers` (lower-cased letters, "?", ".", "Escape") calls its function. Keys typed into a field or
 * pressing a focused button are left to the browser.
 */
export function bindDeckKeys({ move, handlers, dialogKey = () => false }) {
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented) return;
    const dialog = openDialog();
    if (dialog) {
      if (event.key === "Escape") {
        event.preventDefault();
        dialog.close();
      } else if (dialogKey(dialog, event)) {
        event.preventDefault();
      }
      return;
    }
    if (isTyping(event.target) || isActivation(event)) return;
    const kind = moveFor(event);
    if (kind) {
      event.preventDefault();
      move(kind);
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    if (key in handlers) {
      event.preventDefault();
      handlers[key]();
    }
  });
}
