// One runnable code block on a slide: its Run and Edit buttons, its editor, and the output panel under it.

const ACTIVE = new Set(["requesting", "queued", "running", "cancelling"]);

// What the badge says for each state of a run (the presenter's run panel, presenter_run.js, says the same).
export function badgeText(state, exitCode) {
  switch (state) {
    case "requesting":
    case "queued":
      return "starting";
    case "running":
      return "running";
    case "cancelling":
      return "cancelling";
    case "ok":
      return "exit 0";
    case "failed":
      return exitCode === null || exitCode === undefined ? "failed" : `exit ${exitCode}`;
    case "timed_out":
      return "timed out";
    case "cancelled":
      return "cancelled";
    case "refused":
      return "not run";
    default:
      return "error";
  }
}

/** A run's elapsed time as its status line shows it: "0.4 s", "12 s", "2:05". */
export function formatElapsed(ms) {
  const seconds = Math.max(0, ms) / 1000;
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.floor(seconds)} s`;
  const whole = Math.floor(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}

/** What a run's elapsed-time field says: counting while `active` (from `since`), then the stored `duration`. */
export function elapsedText({ since, active, duration }) {
  if (since !== null && active) return formatElapsed(Date.now() - since);
  if (duration !== null && duration !== undefined) return formatElapsed(duration);
  return "";
}

export function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export class RunBlock {
  /**
   * `root` is the block's `.code-block` element with its server-rendered `.run-bar`.
   * `page` gives: shortcut (words), send(message) -> bool, terminal(host, options) -> output, layout(block).
   */
  constructor(root, page) {
    this.root = root;
    this.page = page;
    this.id = root.dataset.block;
    this.slide = root.closest(".slide");
    this.runButton = root.querySelector(".run-button");
    this.editButton = root.querySelector("[data-run-edit]");
    this.action = this.runButton.dataset.actionWord || "Run";
    this.available = !this.runButton.disabled;
    this.highlight = root.querySelector(".highlight");
    // The deck's recorded output (server-rendered when the deck has a record): shown from the start when Run
    // is unavailable on this server, else only while the last run failed for the server's reason ("error").
    this.recorded = root.querySelector("[data-recorded]");
    this.recordedAlways = this.recorded !== null && !this.recorded.hidden;
    this.original = (this.highlight ? this.highlight.textContent : "").replace(/\n$/, "");
    this.code = this.original;
    this.state = "idle";
    this.run = null;
    this.seq = 0;
    this.since = null; // when the elapsed time counts from (ms, Date.now clock)
    this.output = null;
    this.hasOutput = false;
    this.build();
    this.runButton.addEventListener("click", () => this.start());
    this.editButton.addEventListener("click", () => this.toggleEditor());
  }

  build() {
    const label = `${this.action} block ${this.id}`;
    // The editor (hidden until Edit), and the attendee's version shown when it is closed.
    this.editor = element("textarea", "run-editor");
    this.editor.spellcheck = false;
    this.editor.hidden = true;
    this.editor.setAttribute("autocapitalize", "off");
    this.editor.setAttribute("autocomplete", "off");
    this.editor.setAttribute("aria-label", `Code of this block, editable (${this.page.shortcut} runs it)`);
    this.editor.addEventListener("input", () => this.edited());
    this.editedView = element("pre", "run-edited-code");
    this.editedView.hidden = true;
    this.foot = element("div", "run-foot");
    this.foot.hidden = true;
    this.editedBadge = element("span", "run-edited-badge", "edited");
    const hint = element("span", "run-foot-hint", "Your version runs only in your own sandbox.");
    this.restoreButton = element("button", "run-small-button", "Restore original");
    this.restoreButton.type = "button";
    this.restoreButton.addEventListener("click", () => this.restore());
    this.foot.append(this.editedBadge, hint, this.restoreButton);

    // The output panel: a status line, then the terminal.
    this.panel = element("div", "run-panel");
    this.panel.hidden = true;
    const status = element("div", "run-status");
    this.announce = element("span", "run-announce");
    this.announce.setAttribute("role", "status");
    this.announce.setAttribute("aria-atomic", "true");
    this.badge = element("span", "run-badge");
    this.message = element("span", "run-message");
    this.announce.append(this.badge, this.message);
    this.elapsed = element("span", "run-elapsed");
    this.elapsed.title = "Elapsed time";
    this.cancelButton = element("button", "run-small-button run-cancel", "Cancel");
    this.cancelButton.type = "button";
    this.cancelButton.hidden = true;
    this.cancelButton.title = "Stop this run (its processes are killed in your sandbox)";
    this.cancelButton.addEventListener("click", () => this.cancel());
    // Left: the state and its sentence (read out when they change); right: the time and Cancel.
    status.append(this.announce, this.elapsed, this.cancelButton);
    this.outputHost = element("div", "run-output");
    this.outputHost.hidden = true;
    this.panel.append(status, this.outputHost);
    this.panel.setAttribute("aria-label", `Output of ${label}`);
    this.panel.setAttribute("role", "region");

    const after = this.root.querySelector("[data-run-unavailable]") || this.root.querySelector("[data-run-bar]");
    (this.highlight || after).after(this.editor, this.editedView);
    after.after(this.foot, this.panel);
  }

  get active() {
    return ACTIVE.has(this.state);
  }

  get editedCode() {
    return this.code !== this.original ? this.code : null;
  }

  // -- editing ---------------------------------------------------------------------------------
  toggleEditor(open = this.editor.hidden) {
    if (open) {
      this.editor.value = this.code;
      this.editor.rows = Math.max(2, this.code.split("\n").length);
      this.editor.hidden = false;
      if (this.highlight) this.highlight.hidden = true;
      this.editedView.hidden = true;
      this.editor.focus();
    } else {
      this.editor.hidden = true;
      this.showCode();
      this.editButton.focus();
    }
    this.editButton.setAttribute("aria-pressed", String(open));
    this.editButton.textContent = open ? "Done" : "Edit";
    this.showFoot();
    this.page.layout(this);
  }

  edited() {
    this.code = this.editor.value;
    this.editor.rows = Math.max(2, this.code.split("\n").length);
    this.showFoot();
    this.page.layout(this);
  }

  restore() {
    this.code = this.original;
    if (!this.editor.hidden) {
      this.editor.value = this.code;
      this.editor.rows = Math.max(2, this.code.split("\n").length);
      this.editor.focus();
    } else {
      this.showCode();
      this.editButton.focus();
    }
    this.showFoot();
    this.page.layout(this);
  }

  /** The attendee's own version from a stored run (after a reload), shown instead of the deck's. */
  adopt(code) {
    if (typeof code !== "string" || code === this.code || !this.editor.hidden) return;
    this.code = code;
    this.showCode();
    this.showFoot();
  }

  showCode() {
    const mine = this.editedCode !== null;
    if (this.highlight) this.highlight.hidden = mine;
    this.editedView.hidden = !mine;
    if (mine) this.editedView.textContent = this.code;
  }

  showFoot() {
    const mine = this.editedCode !== null;
    this.foot.hidden = !mine && this.editor.hidden;
    this.editedBadge.hidden = !mine;
    this.restoreButton.hidden = !mine;
    this.root.classList.toggle("is-edited", mine);
  }

  // -- running ---------------------------------------------------------------------------------
  /** Click on Run (or the shortcut): ask the server to run this block, with the attendee's version if edited. */
  start() {
    if (!this.available || this.active) return;
    const message = { type: "run", block: this.id };
    if (this.editedCode !== null) message.code = this.editedCode;
    if (!this.page.send(message)) {
      this.finish("refused", {
        message: "Not connected to the server right now; it is reconnecting. Try again in a moment.",
      });
      return;
    }
    this.run = null;
    this.seq = 0;
    this.exitCode = null;
    this.duration = null;
    this.since = Date.now();
    this.clearOutput();
    this.setState("requesting", "Asking the server…");
  }

  cancel() {
    if (!this.run || !this.active) return;
    if (this.page.send({ type: "cancel", run: this.run })) this.setState("cancelling", "Stopping the run…");
  }

  /** The server took the run (this page's click, or another page of the same attendee). */
  accepted(runId) {
    if (this.run !== runId) {
      this.run = runId;
      this.seq = 0;
      this.clearOutput();
    }
    this.since = this.since && this.state === "requesting" ? this.since : Date.now();
    this.setState("queued", "Waiting for your sandbox…");
  }

  /** A sentence about the sandbox being set up, while this block waits for it. */
  setupStatus(text) {
    if (this.state === "queued" || this.state === "requesting") this.setState(this.state, text);
  }

  started() {
    this.since = Date.now();
    this.setState("running", "");
  }

  /** A chunk of output; `seq` numbers them 1, 2, 3… so a repeat is dropped and a gap is noticed. */
  outputChunk(seq, data) {
    if (Number.isInteger(seq)) {
      if (seq <= this.seq) return;
      this.seq = seq;
    }
    if (this.state === "queued" || this.state === "requesting") this.started();
    this.write(data);
  }

  /** The run ended; true when output went missing on the way (the caller then asks for the stored copy). */
  finished(event) {
    this.finish(event.status, event);
    return Number.isInteger(event.seq) && event.seq > this.seq;
  }

  /** The last run of this block, as stored (after a reload, or to fill a gap). */
  restoreRun(run) {
    if (this.state === "requesting") return; // a newer run is on its way
    if (run.code) this.adopt(run.code);
    const live = run.status === "queued" || run.status === "running";
    if (live && this.run === run.run && this.active) return; // streaming here already
    this.run = run.run;
    this.seq = 0;
    this.clearOutput();
    if (run.output) this.write(run.output);
    if (live) {
      this.since = Date.parse(run.created_at) || Date.now();
      if (run.status === "queued") this.setState("queued", "Waiting for your sandbox…");
      else this.setState("running", "");
    } else {
      this.finish(run.status, run);
    }
  }

  /** The server refused or could not take this block's run: say why, next to the block. */
  refused(text) {
    this.finish("refused", { message: text });
  }

  finish(status, { exit_code: exitCode = null, duration_ms: duration = null, message = "", truncated = false } = {}) {
    const words = [];
    if (message) words.push(message);
    else if (truncated) words.push("Output truncated: the rest was dropped.");
    if ((status === "ok" || status === "failed") && !this.hasOutput) words.push("No output.");
    this.state = status;
    this.exitCode = exitCode;
    this.duration = duration;
    this.since = null;
    this.render(words.join(" "));
  }

  setState(state, text) {
    this.state = state;
    this.render(text);
  }

  render(text) {
    this.panel.hidden = false;
    if (this.recorded && !this.recordedAlways) this.recorded.hidden = this.state !== "error";
    this.root.dataset.runState = this.state;
    this.badge.dataset.state = this.state;
    this.badge.textContent = badgeText(this.state, this.exitCode);
    this.message.textContent = text;
    this.cancelButton.hidden = !(this.run && (this.state === "queued" || this.state === "running"));
    // Not `disabled` while running: a disabled button drops the keyboard focus on the floor.
    if (this.active) this.runButton.setAttribute("aria-disabled", "true");
    else this.runButton.removeAttribute("aria-disabled");
    this.tick();
    this.page.layout(this);
  }

  /** Update the elapsed time: counting while active, the stored duration once finished. */
  tick() {
    this.elapsed.textContent = elapsedText(this);
  }

  // -- output ----------------------------------------------------------------------------------
  write(text) {
    if (!text) return;
    this.hasOutput = true;
    // Shown before the terminal opens in it: xterm measures its host.
    this.panel.hidden = false;
    this.outputHost.hidden = false;
    if (!this.output) {
      this.output = this.page.terminal(this.outputHost, {
        label: `Output of ${this.action} block ${this.id}`,
        onResize: () => this.page.layout(this),
      });
    }
    this.output.write(text);
  }

  clearOutput() {
    this.hasOutput = false;
    if (this.output) this.output.clear();
    this.outputHost.hidden = true;
  }
}
