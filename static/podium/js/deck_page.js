// What the audience and presenter views do alike: read the page's settings, show the deck on its stage, follow the talk.

import { FollowSocket } from "./follow.js";
import { targetOf } from "./keys.js";
import { SlideShow } from "./slideshow.js";
import { fitSlides, fitStage } from "./stage.js";

/** The settings the view wrote into the page as JSON (deck/views.py): slug, follow URL, where the talk stands, runs. */
export function deckConfig() {
  return JSON.parse(document.getElementById("deck-config").textContent);
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

/**
 * Follow the talk on its websocket, which reconnects by itself (follow.js); one place reads the talk's messages.
 * `onConnection(open)` hears every connect and drop; `onPosition(message)` every position with a slide number
 * (the first one after a connect also carries `presenter` and `live`); `onBlackout(on)` the presenter blacking out
 * the screens or showing them again; `onError(message)` a move the server refused. Returns the socket, to send on.
 */
export function followTalk(url, { onConnection, onPosition, onBlackout, onError = () => {} }) {
  return new FollowSocket(url, {
    onStatus: (state) => onConnection(state === "open"),
    onMessage(message) {
      if (message.type === "position" && Number.isInteger(message.slide)) onPosition(message);
      else if (message.type === "blackout") onBlackout(Boolean(message.on));
      else if (message.type === "error") onError(message);
    },
  });
}
