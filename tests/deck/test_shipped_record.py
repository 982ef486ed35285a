"""The shipped deck's committed record (`deck rehearse --record`) still describes the deck: every runnable
block and check is in it with its current code, every one passed, and the export embeds them."""

from __future__ import annotations

import dataclasses
import re

from deck.drift import step_compare
from deck.export import deck_export_html
from deck.masks import output_masked
from deck.parser import deck_parse
from deck.recorded import code_hash, record_load, record_path, step_name
from sandbox.rehearse_record import deck_masks
from tests.conftest import ROOT

DECK = ROOT / "slides" / "intro-docker-kubernetes.md"


def test_every_runnable_block_and_check_is_recorded_with_its_current_code():
    deck = deck_parse(path=DECK)
    recording = record_load(record_path(DECK))
    assert recording is not None, "record it: manage.py deck rehearse slides/intro-docker-kubernetes.md --record"
    runnable = [block for slide in deck.slides for block in slide.blocks if block.runnable]
    missing = [f"{DECK.name}:{block.line}" for block in runnable if recording.for_block(block) is None]
    assert missing == [], "blocks changed since the record: run `deck rehearse … --record` again"
    checks = [check for slide in deck.slides for check in slide.checks]
    for check in checks:
        step = recording.steps[step_name(block=None, check=check)]
        assert step.code == code_hash(check.command), f"{DECK.name}:{check.line} changed since the record"
    assert len(recording.steps) == len(runnable) + len(checks)
    assert {step.status for step in recording.steps.values()} == {"ok"}  # nothing skipped: both halves ran


def test_the_offline_export_carries_the_recorded_outputs():
    deck = deck_parse(path=DECK, inline_images=True)
    recording = record_load(record_path(DECK))
    html = deck_export_html(deck=deck, recording=recording)
    assert html.count('class="recorded-output"') == sum(b.runnable for s in deck.slides for b in s.blocks)
    assert "deployment &quot;12factor&quot; successfully rolled out" in html


def test_the_apply_steps_taken_a_moment_earlier_or_later_are_not_drift():
    # `kubectl get` right after an apply shows how far the cluster got: pods Pending or ContainerCreating, a
    # Deployment with 0 or 2 replicas up to date. A loaded CI machine saw the first where the record has the
    # second; the steps' masks must make both the same output.
    deck = deck_parse(path=DECK)
    recording = record_load(record_path(DECK))
    masks = deck_masks(deck)
    blocks = [
        block
        for slide in deck.slides
        for block in slide.blocks
        if "kubectl apply -f k8s/12factor-deployment.yaml" in block.text
        or "kubectl apply -f k8s/mysql-deployment.yaml" in block.text
    ]
    assert len(blocks) == 2
    for block in blocks:
        applied = re.search(r"k8s/(\w+)-deployment\.yaml", block.text).group(1)  # its own lines vary, no other's
        recorded = list(recording.for_block(block).output)
        earlier = [
            re.sub(r"\b(\d+/\d+)\s+\d+\s+\d+\b", r"\1  0  0", line.replace("ContainerCreating", "Pending"))
            if re.search(rf"/{applied}(?!-dbinit)\b", line)
            else line
            for line in recorded
        ]
        assert earlier != recorded, f"{DECK.name}:{block.line}: the record shows no such state to vary"
        extra = masks.get(block.block_id, [])
        assert output_masked(earlier, extra=extra) == output_masked(recorded, extra=extra), f"{DECK.name}:{block.line}"


POD_UP = re.compile(r"\b\d+/\d+(\s+)(?:Pending|ContainerCreating|PodInitializing|Running)\b")


def test_every_step_taken_when_its_pods_got_less_or_further_is_not_drift():
    # A CI run's scale-up step (slide 48) listed the two new pods Pending where the record has them
    # ContainerCreating, and a rehearsal's rollout can see fewer "Waiting for" lines: how busy the cluster
    # was, not a change of the deck. Every recorded step, varied so, must compare equal.
    deck = deck_parse(path=DECK)
    recording = record_load(record_path(DECK))
    masks = deck_masks(deck)
    varied = 0
    for name, recorded in recording.steps.items():
        for state in ("0/1\\1Pending", "0/1\\1ContainerCreating", "0/1\\1Running", "1/1\\1Running"):
            output = tuple(
                POD_UP.sub(state, line) for line in recorded.output if not line.startswith("Waiting for deployment")
            )
            if output == recorded.output:
                continue
            varied += 1
            now = dataclasses.replace(recorded, output=output)
            drift = step_compare(recorded=recorded, now=now, masks=masks.get(name, []))
            assert drift is None, f"{DECK.name}:{recorded.line}: {drift}"
    assert varied >= 10, "the record shows fewer pods starting than the deck's Kubernetes half makes"
