// The presenter's runs, live for the room: on a follower's page, a read-only panel under the block the
// presenter ran, with its status, elapsed time and output as it streams. The follower's own Run button and
// output panel stay theirs; this panel only watches (messages presenter.run.*, see sandbox/broadcast.py).

import { badgeText, elapsedText, element } from "./run_block.js";

export class PresenterRuns {
  /** `blocks` is the page's RunBlocks; `page` gives terminal(host, options) and layout(panel). */
  constructor(blocks, page) {
    this.blocks = blocks;
    this.page = page;
    this.panels = new Map(); // block id -> PresenterPanel
    window.setInterval(() => {
      for (const panel of this.panels.values()) if (panel.active) panel.tick();
    }, 200);
  }

  panelFor(message) {
    const block = this.blocks.get(message.block);
    if (!block) return null; // a block this page does not have (another version of the deck)
    if (!this.panels.has(block.id)) this.panels.set(block.id, new PresenterPanel(block, this.page));
    return this.panels.get(block.id);
  }

  started(message) {
    const panel = this.panelFor(message);
    if (panel) panel.started(message.run);
  }

  output(message) {
    for (const panel of this.panels.values()) {
      if (panel.run === message.run) panel.outputChunk(message.seq, message.data);
    }
  }

  finished(message) {
    const panel = this.panelFor(message);
    if (panel) panel.finished(message);
  }

  /** `history`'s "presenter": the presenter's last finished run of each block, shown again after a reload. */
  history(runs) {
    for (const run of Array.isArray(runs) ? runs : []) {
      const panel = this.panelFor(run);
      if (panel && !panel.active) panel.restore(run);
    }
  }
}

class PresenterPanel {
  constructor(block, page) {
    this.page = page;
    this.id = block.id;
    this.slide = block.slide;
    this.run = null;
    this.seq = 0;
    this.state = "idle";
    this.since = null;
    this.duration = null;
    this.exitCode = null;
    this.output = null;
    this.panel = element("div", "run-panel presenter-run");
    this.panel.setAttribute("role", "region");
    this.panel.setAttribute("aria-label", `The presenter's run of block ${block.id}`);
    const status = element("div", "run-status");
    const announce = element("span", "run-announce");
    announce.setAttribute("role", "status");
    announce.setAttribute("aria-atomic", "true");
    this.label = element("span", "presenter-run-label", "Presenter's run");
    this.badge = element("span", "run-badge");
    this.message = element("span", "run-message");
    announce.append(this.label, this.badge, this.message);
    this.elapsed = element("span", "run-elapsed");
    this.elapsed.title = "Elapsed time";
    status.append(announce, this.elapsed);
    this.outputHost = element("div", "run-output");
    this.outputHost.hidden = true;
    this.panel.append(status, this.outputHost);
    block.panel.after(this.panel);
  }

  get active() {
    return this.state === "running";
  }

  started(runId) {
    if (this.run === runId) return;
    this.run = runId;
    this.seq = 0;
    this.exitCode = null;
    this.duration = null;
    this.since = Date.now();
    if (this.output) this.output.clear();
    this.outputHost.hidden = true;
    this.state = "running";
    this.render("");
  }

  outputChunk(seq, data) {
    if (Number.isInteger(seq)) {
      if (seq <= this.seq) return;
      this.seq = seq;
    }
    if (!data) return;
    this.outputHost.hidden = false;
    if (!this.output) {
      this.output = this.page.terminal(this.outputHost, {
        label: `Output of the presenter's run of block ${this.id}`,
        onResize: () => this.page.layout(this),
      });
    }
    this.output.write(data);
  }

  finished(event) {
    if (this.run !== event.run) this.started(event.run); // joined after it started: the end still shows
    this.state = event.status;
    this.exitCode = event.exit_code;
    this.duration = event.duration_ms;
    this.since = null;
    const missed = Number.isInteger(event.seq) && event.seq > this.seq;
    const note = missed ? "Its output began before this page was connected: only the rest is shown." : "";
    this.render([event.message || "", note].filter(Boolean).join(" "));
  }

  restore(run) {
    this.run = null;
    this.started(run.run);
    this.outputChunk(null, run.output);
    this.finished({ ...run, seq: undefined });
  }

  render(text) {
    this.panel.hidden = false;
    this.panel.dataset.runState = this.state;
    this.badge.dataset.state = this.state;
    this.badge.textContent = badgeText(this.state, this.exitCode);
    this.message.textContent = text;
    this.tick();
    this.page.layout(this);
  }

  tick() {
    this.elapsed.textContent = elapsedText(this);
  }
}
