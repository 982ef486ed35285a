"""`deck rehearse --record` and `--compare` on the real Docker backend: a record beside the deck, drift at a line.

The deck prints what changes on every run (the date, the sandbox's host name, a temporary file's random
name under the block's own `mask=`): a second rehearsal still matches its record; an edited block drifts.
"""

from __future__ import annotations

import json

import pytest

from deck.recorded import record_load, record_path
from tests.sandbox.runs_support import rehearse

DECK = """\
# Recorded outputs

```bash
echo "hello from the deck"
date
hostname
```

```bash mask="tmp\\.[A-Za-z0-9]+"
mktemp
seq 3
```

```check message="Three lines"
test "$(seq 3 | wc -l)" = 3
```
"""


@pytest.fixture
def deck_file(tmp_path):
    path = tmp_path / "recorded-demo.md"
    path.write_text(DECK, encoding="utf-8")
    return path


@pytest.mark.docker
def test_record_then_compare_is_clean_and_an_edited_block_drifts_at_its_line(docker_rehearsal, deck_file):
    status, out, _ = rehearse(deck_file, "--record")
    assert status == 0, out
    record = record_path(deck_file)
    assert record.name == "recorded-demo.recorded.json"
    assert f"Recorded 3 steps in {record}." in out

    # Stable and diff-friendly: sorted keys, one output line per item, steps in deck order.
    text = record.read_text(encoding="utf-8")
    data = json.loads(text)
    assert text == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert data["backend"] == "docker" and data["deck"] == "recorded-demo.md"
    assert [(s["step"], s["line"], s["exit_code"]) for s in data["steps"]] == [
        ("s1b0", 3, 0),
        ("s1b1", 9, 0),
        ("s1b1/check", 14, 0),
    ]
    assert data["steps"][0]["output"][0] == "hello from the deck"
    assert data["steps"][1]["output"][1:] == ["1", "2", "3"]
    assert data["steps"][2]["detail"] == "Three lines"

    # A second rehearsal in a new sandbox: another date, host name and temporary file, and no drift.
    status, out, _ = rehearse(deck_file, "--compare")
    assert status == 0, out
    assert "No drift: 3 steps match the record of" in out
    assert "DRIFT" not in out

    # One block's text changes: drift reported at that block's line, with what changed.
    deck_file.write_text(DECK.replace('"hello from the deck"', '"hello from the edited deck"'), encoding="utf-8")
    status, out, err = rehearse(deck_file, "--compare")
    assert status == 1
    assert (
        f"DRIFT slide 1 block 0 ({deck_file}:3): output differs from the record "
        "(its code changed since the record)" in out
    )
    assert "    | -hello from the deck" in out and "    | +hello from the edited deck" in out
    assert "1 drift from the record of" in out
    assert f"{deck_file} drifted from its record" in err
    assert [line for line in out.splitlines() if line.startswith("DRIFT")] == [
        f"DRIFT slide 1 block 0 ({deck_file}:3): output differs from the record (its code changed since the record)"
    ]
    # Comparing never rewrites the record.
    assert record_load(record).steps["s1b0"].output[0] == "hello from the deck"


# -- what does not need a real sandbox (LocalBackend) ---------------------------------------------------------
@pytest.fixture
def local_rehearsal(settings, tmp_path):
    settings.PODIUM_SANDBOX_BACKEND = "sandbox.backends.local.LocalBackend"
    settings.PODIUM_LOCAL_SANDBOX_ROOT = str(tmp_path / "sandboxes")
    settings.PODIUM_KUBECONFIG = ""


def test_a_failed_rehearsal_is_not_recorded(local_rehearsal, deck_file):
    deck_file.write_text(DECK.replace("seq 3\n", "seq 3\nfalse\n"), encoding="utf-8")
    status, out, _ = rehearse(deck_file, "--record")
    assert status == 1
    assert "Not recorded: the rehearsal failed" in out
    assert not record_path(deck_file).exists()


def test_compare_without_a_record_says_how_to_make_one(local_rehearsal, deck_file):
    status, _, err = rehearse(deck_file, "--compare")
    assert status == 2
    assert f"{record_path(deck_file)}: no record to compare with" in err
    assert f"deck rehearse {deck_file} --record" in err


def test_a_broken_record_is_named_with_its_line(local_rehearsal, deck_file):
    record_path(deck_file).write_text('{"format": 1,\n "steps": [}\n', encoding="utf-8")
    status, _, err = rehearse(deck_file, "--compare")
    assert status == 2
    assert f"{record_path(deck_file)}:2: the record is not valid JSON" in err


def test_record_keeps_the_whole_deck(local_rehearsal, deck_file):
    deck_file.write_text(DECK + "\n---\n\n# Two\n\n```bash\necho two\n```\n", encoding="utf-8")
    status, _, err = rehearse(deck_file, "--record", "--from", "2")
    assert status == 2 and "--record keeps the whole deck: leave out --from" in err
