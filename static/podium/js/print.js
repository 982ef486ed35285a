// The print view's entry script: shrink overfull slides like the live view does, fit the pages to the window on screen.
// Paper is read up close and cannot scroll, so a page may use smaller type than the projector.

import { fitSlides } from "./deck/stage.js";

const sheets = document.querySelector(".sheets");
const button = document.getElementById("print-button");

fitSlides(Array.from(document.querySelectorAll(".sheet .slide")), 0.35);

function zoomToWindow() {
  const sheet = document.querySelector(".sheet");
  if (!sheet) return;
  sheets.style.setProperty("--screen-zoom", "1");
  const width = sheet.offsetWidth + 48;
  sheets.style.setProperty("--screen-zoom", String(Math.min(1, window.innerWidth / width)));
}
zoomToWindow();
window.addEventListener("resize", zoomToWindow);
button.addEventListener("click", () => window.print());
