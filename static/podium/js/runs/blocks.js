// The runnable blocks of a page and which run belongs to which: the server's run messages find their block here.

import { RunBlock } from "./run_block.js";

const DROPPED = "The connection to the server dropped before it answered; try again.";

export class RunBlocks {
  /**
   * One RunBlock per root (a `.code-block` with its server-rendered Run button). `page` gives what a block
   * needs: shortcut, send(message) -> bool, layout(block), terminal(host, options).
   */
  constructor(roots, page) {
    this.blocks = new Map(); // block id -> RunBlock
    this.byRun = new Map(); // run id -> RunBlock
    this.waiting = null; // the block whose run request the server has not answered yet
    const blockPage = {
      ...page,
      send: (message) => {
        if (!page.send(message)) return false;
        if (message.type === "run") this.waiting = this.get(message.block);
        return true;
      },
    };
    for (const root of roots) {
      if (root.querySelector(".run-button")) this.blocks.set(root.dataset.block, new RunBlock(root, blockPage));
    }
    // The elapsed time of running blocks counts on screen.
    window.setInterval(() => {
      for (const block of this.blocks.values()) if (block.active) block.tick();
    }, 200);
  }

  get(id) {
    return this.blocks.get(id) || null;
  }

  get anyActive() {
    return Array.from(this.blocks.values()).some((block) => block.active);
  }

  /** The block of a message naming a run (and usually its block). */
  of(message) {
    return this.byRun.get(message.run) || this.get(message.block);
  }

  /** `run.accepted`: the server took a run of this attendee's (from this page, or another page of theirs). */
  accepted(message) {
    const block = this.get(message.block);
    if (!block) return;
    if (this.waiting === block) this.waiting = null;
    this.byRun.set(message.run, block);
    block.accepted(message.run);
  }

  /** `sandbox.progress`: a setup status sentence, shown on every block waiting for its sandbox; false when none waits. */
  setupStatus(text) {
    let shown = false;
    for (const block of this.blocks.values()) {
      if (block.state === "queued" || block.state === "requesting") {
        block.setupStatus(text);
        shown = true;
      }
    }
    return shown;
  }

  started(message) {
    const block = this.of(message);
    if (block && block.run === message.run) block.started();
  }

  output(message) {
    const block = this.byRun.get(message.run);
    if (block && block.run === message.run) block.outputChunk(message.seq, message.data);
  }

  /** `run.finished`, first half: the block whose run this is (now bound to it), or null when it is none of ours. */
  finishing(message) {
    const block = this.of(message);
    if (!block || (block.run && block.run !== message.run)) return null;
    this.byRun.set(message.run, block);
    block.run = message.run;
    return block;
  }

  /** `history`: the last stored run of each block. */
  history(message) {
    for (const run of Array.isArray(message.runs) ? message.runs : []) {
      const block = this.get(run.block);
      if (!block) continue;
      this.byRun.set(run.run, block);
      block.restoreRun(run);
    }
  }

  /** An `error` about a block (named, or the one waiting for an answer); false when it is about none. */
  refused(message) {
    const block = (message.block && this.get(message.block)) || this.waiting;
    if (block && block.state === "requesting") {
      this.waiting = null;
      block.refused(message.message);
    } else if (block && message.block) {
      block.refused(message.message);
    } else {
      return false;
    }
    return true;
  }

  /** The connection dropped: a run request still unanswered will never be. */
  dropped() {
    for (const block of this.blocks.values()) {
      if (block.state === "requesting") block.refused(DROPPED);
    }
    this.waiting = null;
  }
}
