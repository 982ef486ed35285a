// The wait list's page: asks where this person stands every pollMs, says it, and opens the deck once admitted.
// A failed request (conference Wi-Fi) says so and keeps asking; nothing spins without words.

const config = JSON.parse(document.getElementById("wait-config").textContent);
const status = document.getElementById("wait-status");

async function ask() {
  let answer;
  try {
    const response = await fetch(config.statusUrl, { headers: { Accept: "application/json" }, cache: "no-store" });
    answer = await response.json();
  } catch {
    status.textContent = "No answer from the server; trying again…";
    window.setTimeout(ask, config.pollMs);
    return;
  }
  status.dataset.status = answer.status;
  status.textContent = answer.message;
  if (answer.status === "admitted" && answer.deckUrl) {
    window.location.assign(answer.deckUrl);
  } else if (answer.status === "waiting") {
    window.setTimeout(ask, config.pollMs);
  }
}

window.setTimeout(ask, config.pollMs);
