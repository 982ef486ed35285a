// The projected join screen: how many are in the room, kept live (asked every pollMs).

const config = JSON.parse(document.getElementById("screen-config").textContent);
const count = document.getElementById("join-count");

async function ask() {
  try {
    const response = await fetch(config.countUrl, { cache: "no-store" });
    if (response.ok) {
      const room = await response.json();
      const waiting = room.waiting ? ` · ${room.waiting} waiting` : "";
      count.textContent = !room.open
        ? "This room is closed."
        : `${room.admitted} ${room.admitted === 1 ? "person" : "people"} in the room${waiting}${room.locked ? " · locked" : ""}`;
    }
  } catch {
    // The count stays as it was; the next ask may work.
  }
  window.setTimeout(ask, config.pollMs);
}

ask();
