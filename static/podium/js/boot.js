// The first script of the live deck pages, loaded as a plain script (not a module) in <head>. A file,
// because the Content-Security-Policy (config/csp.py) runs no inline script. It does two things:
//
// 1. Puts the "js" class on <html> before the first paint, so the page never flashes its no-script layout.
// 2. Loads the page again when one of Podium's own scripts or stylesheets failed to load. A laptop whose
//    network changes while the page loads (Wi-Fi roaming, a VPN coming up, a docking station) has the
//    browser cancel every request in flight (Chromium: net::ERR_NETWORK_CHANGED); one missing module leaves
//    the deck without its scripts, and a browser never fetches a module again that failed in this page.
//    Elements marked data-reload-on-error count (third-party files such as xterm.js have fallbacks of their
//    own). At most RELOADS loads in a row, with a growing pause; then a notice says what happened.
document.documentElement.classList.add("js");

(() => {
  const RELOADS = 3;
  const key = `podium-reloads:${window.location.pathname}`;
  const stored = (value) => {
    try {
      if (value === undefined) return Number(window.sessionStorage.getItem(key) || 0);
      if (value === 0) window.sessionStorage.removeItem(key);
      else window.sessionStorage.setItem(key, String(value));
    } catch {
      // Storage refused (private mode, full): count nothing, so reload at most once.
    }
    return RELOADS;
  };
  let failed = false;

  function notice() {
    const box = document.createElement("div");
    box.className = "load-failed";
    box.setAttribute("role", "alert");
    box.textContent =
      "This page did not load completely (the network may have changed while it loaded). Reload the page to try again.";
    document.body.prepend(box);
  }

  window.addEventListener(
    "error",
    (event) => {
      const element = event.target;
      if (failed || !(element instanceof Element) || !element.hasAttribute("data-reload-on-error")) return;
      failed = true;
      const loads = stored();
      if (loads < RELOADS) {
        stored(loads + 1);
        window.setTimeout(() => window.location.reload(), 250 * (loads + 1));
      } else if (document.body) {
        notice();
      } else {
        document.addEventListener("DOMContentLoaded", notice, { once: true });
      }
    },
    true, // load errors do not bubble: listen while they go down to the element
  );
  window.addEventListener("load", () => {
    if (!failed) stored(0);
  });
})();
