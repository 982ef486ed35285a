// The presenter's elapsed-time timer; kept in localStorage so a reload does not lose the talk's time.

function pad(value) {
  return String(value).padStart(2, "0");
}

/** "01:02:03" for a number of milliseconds: the talk's time as the presenter's clock-like display shows it. */
export function formatTimer(ms) {
  const seconds = Math.floor(ms / 1000);
  return `${pad(Math.floor(seconds / 3600))}:${pad(Math.floor((seconds % 3600) / 60))}:${pad(seconds % 60)}`;
}

export class Timer {
  constructor(storageKey) {
    this.key = storageKey;
    this.state = { running: false, since: 0, banked: 0 };
    try {
      const saved = JSON.parse(window.localStorage.getItem(this.key) || "null");
      if (saved && typeof saved.banked === "number") this.state = saved;
    } catch {
      // A private window may refuse storage; the timer then simply starts fresh.
    }
  }

  get running() {
    return this.state.running;
  }

  elapsed() {
    return this.state.banked + (this.state.running ? Date.now() - this.state.since : 0);
  }

  start() {
    if (this.state.running) return;
    this.state = { running: true, since: Date.now(), banked: this.state.banked };
    this.save();
  }

  pause() {
    if (!this.state.running) return;
    this.state = { running: false, since: 0, banked: this.elapsed() };
    this.save();
  }

  reset() {
    this.state = { running: false, since: 0, banked: 0 };
    this.save();
  }

  save() {
    try {
      window.localStorage.setItem(this.key, JSON.stringify(this.state));
    } catch {
      // See the constructor: no storage, no persistence.
    }
  }
}
