// The overview: a grid of thumbnails of every slide; click or Enter to go there.

import { slideCopy } from "./stage.js";

export class Overview {
  constructor(dialog, grid, show, { onPick }) {
    this.dialog = dialog;
    this.grid = grid;
    this.show = show;
    this.onPick = onPick;
    this.thumbs = [];
  }

  build() {
    if (this.thumbs.length) return;
    for (const slide of this.show.slides) {
      const number = Number(slide.dataset.slide);
      const button = document.createElement("button");
      button.type = "button";
      button.className = "thumb";
      button.dataset.goto = String(number);
      button.setAttribute("aria-label", `Slide ${number}: ${slide.dataset.title}`);
      const frame = document.createElement("span");
      frame.className = "thumb-frame";
      frame.append(slideCopy(slide));
      const caption = document.createElement("span");
      caption.className = "thumb-caption";
      const numberText = document.createElement("b");
      numberText.textContent = String(number);
      caption.append(numberText, slide.dataset.title);
      button.append(frame, caption);
      button.addEventListener("click", () => this.pick(number));
      this.grid.append(button);
      this.thumbs.push(button);
    }
  }

  get isOpen() {
    return this.dialog.open;
  }

  open() {
    this.build();
    this.thumbs.forEach((thumb, index) => {
      const current = index + 1 === this.show.current;
      thumb.classList.toggle("is-current", current);
      if (current) thumb.setAttribute("aria-current", "page");
      else thumb.removeAttribute("aria-current");
    });
    this.dialog.showModal();
    const thumb = this.thumbs[this.show.current - 1];
    if (thumb) {
      thumb.focus();
      thumb.scrollIntoView({ block: "center" });
    }
  }

  close() {
    this.dialog.close();
  }

  pick(number) {
    this.close();
    this.onPick(number);
  }

  columns() {
    if (this.thumbs.length < 2) return 1;
    const top = this.thumbs[0].offsetTop;
    const index = this.thumbs.findIndex((thumb) => thumb.offsetTop !== top);
    return index === -1 ? this.thumbs.length : index;
  }

  /** Arrow keys move between thumbnails; Home/End jump to the ends. True when the key was used. */
  handleKey(event) {
    const index = this.thumbs.indexOf(document.activeElement);
    const from = index === -1 ? this.show.current - 1 : index;
    const steps = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: this.columns(), ArrowUp: -this.columns() };
    let to = null;
    if (event.key in steps) to = from + steps[event.key];
    else if (event.key === "Home") to = 0;
    else if (event.key === "End") to = this.thumbs.length - 1;
    if (to === null) return false;
    to = Math.min(Math.max(0, to), this.thumbs.length - 1);
    this.thumbs[to].focus();
    this.thumbs[to].scrollIntoView({ block: "nearest" });
    return true;
  }
}
