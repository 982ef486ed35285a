// A line at the top of the window for what belongs to no block (connection trouble, a missing session).

export function pageNotice() {
  const box = document.createElement("div");
  box.className = "run-notice";
  box.setAttribute("role", "alert");
  box.hidden = true;
  document.body.append(box);
  let timer = null;
  const notice = {
    /** Show `text`; `forMoment` ones go away by themselves, connection trouble stays until it is over. */
    show(text, { forMoment = false } = {}) {
      window.clearTimeout(timer);
      box.textContent = text;
      box.hidden = false;
      if (forMoment) timer = window.setTimeout(() => notice.hide(), 10000);
    },
    hide() {
      window.clearTimeout(timer);
      box.hidden = true;
      box.textContent = "";
    },
  };
  return notice;
}
