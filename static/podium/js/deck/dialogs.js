// Small helpers for the <dialog> panels (overview, contents, help).

/** Close buttons and a click on the backdrop close the dialog. */
export function wireDialog(dialog) {
  for (const button of dialog.querySelectorAll("[data-action='close']")) {
    button.addEventListener("click", () => dialog.close());
  }
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) {
      // A click on the padding of a full-window dialog is still inside it; only the backdrop closes.
      const box = dialog.getBoundingClientRect();
      const inside =
        event.clientX >= box.left && event.clientX <= box.right && event.clientY >= box.top && event.clientY <= box.bottom;
      if (!inside) dialog.close();
    }
  });
}

/** The open modal dialog, if any. */
export function openDialog() {
  return document.querySelector("dialog[open]");
}

/** Open `dialog` (closing any other first); a second press of its key closes it. */
export function toggleDialog(dialog) {
  const open = openDialog();
  if (open === dialog) {
    dialog.close();
    return;
  }
  if (open) open.close();
  dialog.showModal();
}
