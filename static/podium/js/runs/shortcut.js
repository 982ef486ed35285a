// Ctrl+Enter (Cmd+Enter on a Mac) runs the block that has focus or is being edited; elsewhere, the first
// runnable block of the current slide.

export const SHORTCUT = "Ctrl+Enter";

/** Listen for the shortcut on the whole page; `blocks` is the page's RunBlocks. */
export function bindRunShortcut(blocks) {
  // Capture phase, so it works from the editor and before the slide keys.
  document.addEventListener(
    "keydown",
    (event) => {
      if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey) || event.altKey || event.shiftKey) return;
      if (document.querySelector("dialog[open]")) return;
      if (event.target instanceof Element && event.target.closest(".term-panel")) return; // the shell's keys
      const block = shortcutTarget(blocks, event.target);
      if (!block) return;
      event.preventDefault();
      event.stopPropagation();
      block.start();
    },
    true,
  );
}

function shortcutTarget(blocks, target) {
  const current = document.querySelector("#stage > .slide.is-current");
  if (!current) return null;
  const inside = target instanceof Element ? target.closest(".code-block[data-runnable='true']") : null;
  if (inside && current.contains(inside) && blocks.get(inside.dataset.block)) return blocks.get(inside.dataset.block);
  const first = current.querySelector(".code-block[data-runnable='true']");
  return first ? blocks.get(first.dataset.block) : null;
}
