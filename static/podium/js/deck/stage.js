// The 16:9 stage: scale it to fit its box, and shrink slides whose content would overflow.

export const STAGE_WIDTH = 1280;
export const STAGE_HEIGHT = 720;

/** Keep `stage` scaled to the largest size that fits inside `box` (letterboxed), on every resize. */
export function fitStage(box, stage) {
  const update = () => {
    const scale = Math.min(box.clientWidth / STAGE_WIDTH, box.clientHeight / STAGE_HEIGHT);
    stage.style.setProperty("--stage-scale", String(Math.max(scale, 0.05)));
  };
  new ResizeObserver(update).observe(box);
  update();
  return update;
}

function overflows(body) {
  if (body.scrollHeight > body.clientHeight + 1 || body.scrollWidth > body.clientWidth + 1) return true;
  for (const pre of body.querySelectorAll("pre")) {
    if (pre.scrollWidth > pre.clientWidth + 1) return true;
  }
  return false;
}

/**
 * Shrink a slide's type (the --fit variable every size hangs on) until its content fits,
 * so a long code block stays whole on screen instead of being cut off. Below `floor` the
 * type would be too small to read: the slide then keeps that size and scrolls (class "overfull").
 */
export function fitSlide(slide, floor = 0.6) {
  const body = slide.querySelector(".slide-body");
  if (!body) return 1;
  slide.style.removeProperty("--fit");
  slide.classList.remove("overfull");
  if (!overflows(body)) return 1;
  slide.style.setProperty("--fit", String(floor));
  if (overflows(body)) {
    slide.classList.add("overfull");
    return floor;
  }
  let low = floor;
  let high = 1;
  for (let step = 0; step < 7; step += 1) {
    const middle = (low + high) / 2;
    slide.style.setProperty("--fit", middle.toFixed(3));
    if (overflows(body)) high = middle;
    else low = middle;
  }
  slide.style.setProperty("--fit", low.toFixed(3));
  return low;
}

/** Fit every slide now, and again when one of its pictures finishes loading. */
export function fitSlides(slides, floor = 0.6) {
  for (const slide of slides) {
    fitSlide(slide, floor);
    for (const img of slide.querySelectorAll("img")) {
      if (!img.complete) img.addEventListener("load", () => fitSlide(slide, floor), { once: true });
    }
  }
  // Pictures without a size in the markup change the layout when they arrive: measure again then.
  if (document.readyState !== "complete") {
    window.addEventListener("load", () => slides.forEach((slide) => fitSlide(slide, floor)), { once: true });
  }
}

/** A copy of a slide to show elsewhere (next-slide panel, overview): no ids, nothing focusable. */
export function slideCopy(slide) {
  const copy = slide.cloneNode(true);
  copy.removeAttribute("id");
  for (const element of copy.querySelectorAll("[id]")) element.removeAttribute("id");
  copy.classList.add("is-current");
  copy.setAttribute("inert", "");
  copy.setAttribute("aria-hidden", "true");
  return copy;
}
