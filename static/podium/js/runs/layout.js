// Output panels change a slide's height: fit its type again (once per frame) and keep a running panel in view.

import { fitSlide } from "../deck/stage.js";

/** A `layout(block)` function: call it whenever a block's panel, editor or output changed size. */
export function slideLayout() {
  const toFit = new Map(); // slide -> the active block to keep in view there, or null
  function fitPending() {
    for (const [slide, block] of toFit) {
      fitSlide(slide);
      if (block) keepInView(block);
    }
    toFit.clear();
  }
  return function layout(block) {
    if (!toFit.size) window.requestAnimationFrame(fitPending);
    toFit.set(block.slide, block.active ? block : toFit.get(block.slide) || null);
  };
}

/** Scroll an overfull slide so a growing output panel stays in view (offsets ignore the stage's scaling). */
function keepInView(block) {
  const body = block.slide.querySelector(".slide-body");
  if (!body || body.scrollHeight <= body.clientHeight) return;
  let top = 0;
  for (let node = block.panel; node && node !== body; node = node.offsetParent) top += node.offsetTop;
  const bottom = top + block.panel.offsetHeight;
  if (bottom > body.scrollTop + body.clientHeight) body.scrollTop = bottom - body.clientHeight;
}
