// Following the talk: the follow websocket of the audience and presenter views, and the one place its messages are read.

import { ReconnectingSocket } from "../socket.js";

/**
 * Follow the talk on its websocket, which reconnects by itself (socket.js); one place reads the talk's messages.
 * `onConnection(open)` hears every connect and drop; `onPosition(message)` every position with a slide number
 * (the first one after a connect also carries `presenter` and `live`); `onBlackout(on)` the presenter blacking out
 * the screens or showing them again; `onError(message)` a move the server refused. Returns the socket, to send on.
 */
export function followTalk(url, { onConnection, onPosition, onBlackout, onError = () => {} }) {
  return new ReconnectingSocket(url, {
    onStatus: (state) => onConnection(state === "open"),
    onMessage(message) {
      if (message.type === "position" && Number.isInteger(message.slide)) onPosition(message);
      else if (message.type === "blackout") onBlackout(Boolean(message.on));
      else if (message.type === "error") onError(message);
    },
  });
}
