// What the audience and presenter views do alike: read the page's settings, show the deck on its stage.

import { targetOf } from "./keys.js";
import { SlideShow } from "./slideshow.js";
import { fitSlides, fitStage } from "./stage.js";

/**
 * The settings the view wrote into the page as JSON (workshop/views.py): slug, follow URL, where the talk
 * stands, and `runs` (the runs websocket, whether Run works, the terminal's files).
 */
export function deckConfig() {
  document.documentElement.classList.add("js"); // boot.js may not have loaded (see there)
  return JSON.parse(document.getElementById("deck-config").textContent);
}

/** Say the page's scripts are running (html[data-scripts="ready"]): for tests and tools that drive the page. */
export function pageReady() {
  document.documentElement.dataset.scripts = "ready";
}

/**
 * The slides of #stage as a SlideShow: the stage kept scaled to #viewport, every slide shrunk to fit it.
 * Also returns `move(kind)`, which takes a key's or button's move ("next", "prev", "first", "last") as the user's own.
 */
export function startSlideShow({ onChange }) {
  const stage = document.getElementById("stage");
  const show = new SlideShow(stage, { onChange });
  fitStage(document.getElementById("viewport"), stage);
  fitSlides(show.slides);
  function move(kind) {
    show.go(targetOf(kind, show.current, show.count), { source: "user" });
  }
  return { show, move };
}
