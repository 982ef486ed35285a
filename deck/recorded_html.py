"""A block's recorded output as HTML: what the live page shows when the block cannot run, and the offline export.

One `<figure>` under the block, labelled "recorded" and dated, with the exit
code and duration, and the output as text (escaped; never markup). The live
page hides it while runs work and shows it when there is no engine or a run
failed for a reason that is not the attendee's code; the export always shows it.
"""

from __future__ import annotations

from html import escape

from deck.recorded import RecordedStep, Recording


def _ending(step: RecordedStep) -> str:
    if step.timed_out:
        return "timed out"
    return f"exit {step.exit_code}" if step.exit_code is not None else step.status


def recorded_html(*, step: RecordedStep, recording: Recording, hidden: bool = False) -> str:
    """The `<figure class="recorded-output">` of `step` from `recording` (hidden when `hidden`)."""
    lines = list(step.output)
    if step.dropped:
        lines.insert(0, f"[… {step.dropped} earlier lines not recorded]")
    text = "\n".join(lines) if lines else "(no output)"
    label = f"Recorded output of block {step.step}, {recording.date}"
    caption = (
        f'<span class="recorded-badge">recorded</span> '
        f'<span class="recorded-when">on {escape(recording.date)}</span> · '
        f'<span class="recorded-ending">{escape(_ending(step))} · {step.seconds:.1f} s</span>'
    )
    why = "What this block printed when the deck was rehearsed and recorded; not a run of yours."
    return (
        f'<figure class="recorded-output" data-recorded="{escape(step.step)}" '
        f'data-recorded-at="{escape(recording.recorded_at)}" aria-label="{escape(label)}" title="{why}"'
        f"{' hidden' if hidden else ''}>"
        f"<figcaption>{caption}</figcaption>"
        f'<pre class="recorded-text">{escape(text)}</pre></figure>'
    )
