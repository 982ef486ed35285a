// Which slide is showing: one `.is-current` slide in the stage, mirrored in the URL as #/N.

/** The slide number in a `#/7` fragment, or null. */
export function slideInHash(hash = window.location.hash) {
  const match = /^#\/(\d+)$/.exec(hash);
  return match ? Number(match[1]) : null;
}

export class SlideShow {
  /**
   * `onChange(number, previous, source)` runs after every change; `source` says who moved:
   * "user" (keys, buttons, links, back/forward), "follow" (the presenter), or "start".
   */
  constructor(stage, { onChange }) {
    this.slides = Array.from(stage.querySelectorAll(":scope > .slide"));
    for (const slide of this.slides) slide.classList.remove("is-current");
    this.count = this.slides.length;
    this.current = 0;
    this.onChange = onChange;
    // Back/forward and #/N links move the slide too.
    const fromUrl = () => {
      const number = slideInHash();
      if (number !== null) this.go(number, { source: "user", history: "none" });
    };
    window.addEventListener("hashchange", fromUrl);
    window.addEventListener("popstate", fromUrl);
  }

  slide(number) {
    return this.slides[number - 1];
  }

  title(number) {
    const slide = this.slide(number);
    return slide ? slide.dataset.title : "";
  }

  /** Show slide `number` (clamped to the deck); false when nothing changed. */
  go(number, { source = "user", history = "push" } = {}) {
    const target = Math.min(Math.max(1, Math.round(number) || 1), this.count);
    if (this.count === 0) return false;
    if (history !== "none") this.setUrl(target, history);
    if (target === this.current) return false;
    const previous = this.current;
    if (previous) {
      const old = this.slide(previous);
      old.classList.remove("is-current");
      old.setAttribute("inert", "");
    }
    const slide = this.slide(target);
    slide.classList.add("is-current");
    slide.removeAttribute("inert");
    this.current = target;
    this.onChange(target, previous, source);
    return true;
  }

  setUrl(number, mode) {
    const fragment = `#/${number}`;
    if (window.location.hash === fragment) return;
    if (mode === "replace") window.history.replaceState(null, "", fragment);
    else window.history.pushState(null, "", fragment);
  }

  /** Mark every slide but the current one inert, so hidden slides hold no focusable links. */
  hideOthers() {
    this.slides.forEach((slide, index) => {
      if (index + 1 !== this.current) slide.setAttribute("inert", "");
    });
  }
}
