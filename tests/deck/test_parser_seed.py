"""The seed deck (the Landslide original of the shipped deck) parses the way Landslide shows it."""

from __future__ import annotations

from pathlib import Path

import pytest

from deck.parser import deck_parse

SEED = Path("/work/shared/seed/intro-docker-kubernetes.md")
if not SEED.exists():  # the repository's own copy, when the shared folder is not mounted
    SEED = Path(__file__).parent / "fixtures" / "seed-intro-docker-kubernetes.md"

# Counted by hand from the seed: 38 rules outside code (one of them `----`), none around an empty slide.
SEED_TITLES = [
    "Intro to Docker, Kubernetes",
    "Caveats",
    "Outline",
    "Technology trends for Cloud Native",
    "Dockers and Kubernetes",
    "Containers and Docker",
    "Kubernetes and infrastructure",
    "Application to migrate",
    "Migration from app to Kubernetes",
    "Migration from app to Kubernetes",
    "Migration from app to Kubernetes",
    "Migration from app to Kubernetes",
    "Docker",
    "Migrate to Docker",
    "Kubernetes",
    "Kubernetes",
    "Pods",
    "Labels and Selectors",
    "Quick Recap",
    "Mysql Community image",
    "12factor-dbinit Docker file",
    "12factor Docker file",
    "In Kubernetes",
    "ConfigMaps",
    "Define : Mysql Service",
    "Define : Mysql Deployment",
    "Define : Mysql Deployment - 2",
    "Define : Mysql Deployment - 3",
    "ConfigMap - Container links",
    "Extra Material",
    "Industry Trends",
    "12 factors apps",
    "12 factor applications",
    "12 factor applications",
    "Highlights",
    "Highlights",
    "Highlights",
    "Beyond 12 factors",
    "Docker compose",
]
SEED_NOTES = {
    4: "By API's Native, we mean",
    11: "Present database (dbsetup.sql)",
    12: "Draw on the board. point out issues.",
    14: "Talk about Build pipelines.",
    21: "Copies current directory (application) to current directory",
    22: "Runs python app.py from /src directory",
}


@pytest.fixture(scope="module")
def seed():
    return deck_parse(path=SEED, include_root=SEED.parent)


def test_seed_slide_count_and_titles(seed):
    assert [slide.title for slide in seed.slides] == SEED_TITLES
    assert seed.title == "Intro to Docker, Kubernetes"


def test_seed_presenter_notes_land_in_notes(seed):
    with_notes = {slide.number: slide.notes_html for slide in seed.slides if slide.notes_html}
    assert sorted(with_notes) == sorted(SEED_NOTES)
    for number, phrase in SEED_NOTES.items():
        assert phrase in with_notes[number].replace("&#x27;", "'").replace("&#39;", "'")
        assert phrase not in seed.slides[number - 1].html
    assert all("Presenter notes" not in slide.html for slide in seed.slides)


def test_seed_section_slides(seed):
    sections = [slide.title for slide in seed.slides if slide.is_section]
    assert sections == [
        "Intro to Docker, Kubernetes",
        "Dockers and Kubernetes",
        "Application to migrate",
        "Docker",
        "Kubernetes",
        "Extra Material",
        "12 factors apps",
    ]


def test_seed_code_blocks(seed):
    service = seed.slides[24].blocks[0]  # "Define : Mysql Service": its `---` is code, not a slide break
    assert (service.lexer, service.line, service.action) == ("yaml", 322, "Apply")
    assert service.text.startswith("---\napiVersion: v1\nkind: Service")
    dbinit = seed.slides[20].blocks[0]
    assert (dbinit.lexer, dbinit.line, dbinit.action) == ("docker", 228, "Build")
    assert seed.slides[8].blocks[0].line == 82
    assert seed.problems == []


def test_seed_slide_lines(seed):
    assert [seed.slides[i].line for i in (0, 1, 30, 31, 36, 38)] == [1, 5, 442, 451, 511, 541]
