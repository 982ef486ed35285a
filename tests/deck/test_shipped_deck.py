"""The shipped deck: `deck check` is clean, every seed slide is kept in order, the seed's mistakes are fixed.

The deck shows the workshop's real files through includes, so these tests also
catch a material file that was renamed or shortened under the deck's feet.
"""

from __future__ import annotations

import re
import textwrap
import xml.etree.ElementTree as etree
from html.parser import HTMLParser
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from deck.parsed import CodeBlock, Deck, Slide
from deck.parser import deck_parse

ROOT = Path(__file__).resolve().parents[2]
DECK = ROOT / "slides" / "intro-docker-kubernetes.md"
SEED = ROOT.parent / "shared" / "seed" / "intro-docker-kubernetes.md"
if not SEED.is_file():  # the repository's own copy, when the shared folder is not beside the clone
    SEED = ROOT / "tests" / "deck" / "fixtures" / "seed-intro-docker-kubernetes.md"

# Seed titles whose typos the shipped deck fixes.
TITLE_FIXES = {
    "Dockers and Kubernetes": "Docker and Kubernetes",
    "12 factors apps": "12 factor apps",
}

MATERIAL = [
    "sample_app/app.py",
    "sample_app/requirements.txt",
    "sample_app/dbsetup.sql",
    "sample_app/load-db.sh",
    "sample_app/Dockerfile",
    "sample_app/Dockerfile.dbinit",
    "sample_app/docker-compose.yml",
    "sample_app/compose.env",
    "sample_app/run_docker",
    "sample_app/run_compose",
    "k8s/db-config.yaml",
    "k8s/db-secret.yaml",
    "k8s/mysql-service.yaml",
    "k8s/mysql-deployment.yaml",
    "k8s/12factor-dbinit-job.yaml",
    "k8s/12factor-deployment.yaml",
    "k8s/12factor-service.yaml",
]

# The workshop's story, step by step, as the runnable blocks must do it in deck order (issue 6):
# (what the step is, a pattern the block's text matches).
STORY = [
    ("build the app image", r"docker build .*--tag 12factor:1\.0"),
    ("build the dbinit image", r"docker build .*Dockerfile\.dbinit .*--tag 12factor-dbinit:1\.0"),
    ("start MySQL", r"docker run --detach --name mysql\b"),
    ("load the database", r"docker run --rm .*12factor-dbinit:1\.0"),
    ("run the app", r"docker run --detach --name 12factor\b[\s\S]*--publish 5000:5000"),
    ("GET /users", r"curl .*localhost:5000/users"),
    ("remove the plain containers before Compose takes port 5000", r"docker rm --force 12factor mysql"),
    ("Compose up", r"docker-compose up --detach"),
    ("GET /users from Compose", r"curl .*localhost:5000/users"),
    ("Compose down", r"docker-compose down"),
    ("the ConfigMap", r"kind: ConfigMap"),
    ("the Secret", r"kind: Secret"),
    ("the MySQL Service", r"kind: Service[\s\S]*name: mysql\n"),
    ("the MySQL Deployment", r"kubectl apply -f k8s/mysql-deployment\.yaml"),
    ("the dbinit Job", r"kubectl apply -f k8s/12factor-dbinit-job\.yaml"),
    ("the app's Service", r"kind: Service[\s\S]*name: twelvefactor\n"),
    ("the app's Deployment", r"kubectl apply -f k8s/12factor-deployment\.yaml"),
    ("GET /users through the Service", r"service/twelvefactor[\s\S]*curl .*/users"),
    ("scale up", r"kubectl scale deployment/12factor --replicas=4"),
    ("scale down", r"kubectl scale deployment/12factor --replicas=2"),
    ("a pod dies and comes back", r"kubectl delete \$victim[\s\S]*kubectl rollout status deployment/12factor"),
]


@pytest.fixture(scope="module")
def deck() -> Deck:
    return deck_parse(path=DECK, include_root=ROOT, asset_url="/decks/intro-docker-kubernetes/assets/")


@pytest.fixture(scope="module")
def seed() -> Deck:
    assert SEED.is_file(), f"the seed deck is missing: neither shared/seed/ nor the repo's copy at {SEED}"
    return deck_parse(path=SEED, include_root=ROOT)


def runnable_blocks(deck: Deck) -> list[tuple[Slide, CodeBlock]]:
    """Every block with a Run/Apply/Build/Query button, in deck order."""
    return [(slide, block) for slide in deck.slides for block in slide.blocks if block.runnable]


def shell_commands(block: CodeBlock) -> list[str]:
    """The block's command lines, continuation lines (`\\`) joined, comments and blank lines dropped."""
    joined = re.sub(r"\\\n\s*", " ", block.text)
    return [line.strip() for line in joined.split("\n") if line.strip() and not line.strip().startswith("#")]


def slide_titled(deck: Deck, title: str) -> Slide:
    matches = [slide for slide in deck.slides if slide.title == title]
    assert len(matches) == 1, f"expected one slide titled {title!r}, found {len(matches)}"
    return matches[0]


def seed_matches(seed: Deck, deck: Deck) -> list[tuple[Slide, Slide]]:
    """Pair each seed slide with the shipped slide that keeps it: titles in the same order, new slides in between."""
    pairs = []
    shipped = iter(deck.slides)
    for old in seed.slides:
        title = TITLE_FIXES.get(old.title, old.title)
        new = next((slide for slide in shipped if slide.title == title), None)
        assert new is not None, f"seed slide {old.number} {title!r} is missing or out of order in the shipped deck"
        pairs.append((old, new))
    return pairs


class SourceCollector(HTMLParser):
    """Every `src` (and `srcset`) attribute value in a piece of HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.sources += [value or "" for name, value in attrs if name in {"src", "srcset"}]


def test_deck_check_is_clean(deck: Deck) -> None:
    assert [str(problem) for problem in deck.problems] == []
    out = StringIO()
    call_command("deck", "check", str(DECK), stdout=out, stderr=out)


def test_every_seed_slide_is_kept_in_order(seed: Deck, deck: Deck) -> None:
    pairs = seed_matches(seed, deck)
    assert len(pairs) == len(seed.slides)
    for old, new in pairs:
        assert new.is_section == old.is_section, f"slide {new.number} {new.title!r}: section slides stay section slides"


def test_seed_presenter_notes_are_kept(seed: Deck, deck: Deck) -> None:
    for old, new in seed_matches(seed, deck):
        if old.notes_html.strip():
            assert new.notes_html.strip(), f"slide {new.number} {new.title!r} lost the seed's presenter notes"


def test_trends_notes_are_there_with_typos_fixed(deck: Deck) -> None:
    notes = slide_titled(deck, "Technology trends for Cloud Native").notes_html
    assert "Cattle can be replaced by any other in the herd" in notes
    assert "assume any part will go down, but will come back up" in notes
    assert "developed by Heroku" in notes


def test_no_typos_left_from_the_seed() -> None:
    text = DECK.read_text(encoding="utf-8")
    for typo in ["dependancies", "seperate", "but but", "the heard", "likley", "compse", "Dockers and"]:
        assert typo not in text, typo


def test_no_removed_deployment_api_anywhere(deck: Deck) -> None:
    assert "extensions/v1beta1" not in DECK.read_text(encoding="utf-8")
    for slide in deck.slides:
        assert "extensions/v1beta1" not in slide.html + slide.notes_html, slide.title
        for block in slide.blocks:
            assert "extensions/v1beta1" not in block.text, block.block_id
    parts = [b for s in deck.slides for b in s.blocks if b.include == "k8s/mysql-deployment.yaml"]
    assert "apiVersion: apps/v1" in "\n".join(block.text for block in parts)
    assert "selector:" in "\n".join(block.text for block in parts)


def test_requirements_block_installs_on_python3(deck: Deck) -> None:
    blocks = [b for s in deck.slides for b in s.blocks if b.include == "sample_app/requirements.txt"]
    assert blocks, "no slide shows sample_app/requirements.txt"
    for block in blocks:
        assert not re.search(r"^\s*mysql-python\b", block.text, re.IGNORECASE | re.MULTILINE), block.text
        assert not block.runnable, "a requirements file is not something to run"


def test_password_lives_in_a_secret(deck: Deck) -> None:
    configmaps = slide_titled(deck, "ConfigMaps")
    secrets = slide_titled(deck, "Secrets")
    titles = [slide.title for slide in deck.slides]
    assert titles.index("ConfigMaps") < titles.index("Secrets") < titles.index("Define : Mysql Deployment")
    assert [(b.include, b.action) for b in secrets.blocks] == [("k8s/db-secret.yaml", "Apply")]
    assert "kind: Secret" in secrets.blocks[0].text
    config_text = "\n".join(b.text for b in configmaps.blocks)
    assert "kind: ConfigMap" in config_text
    assert "password" not in config_text.split("data:", 1)[1]
    links = "\n".join(b.text for b in slide_titled(deck, "ConfigMap - Container links").blocks)
    assert "secretKeyRef" in links
    assert re.search(r"MYSQL_ROOT_PASSWORD\s+valueFrom:\s+secretKeyRef:", links)


def test_every_include_shows_the_current_file(deck: Deck) -> None:
    included = set()
    for slide in deck.slides:
        for block in slide.blocks:
            if block.include is None:
                continue
            included.add(block.include)
            path = ROOT / block.include
            assert path.is_file(), f"slide {slide.number}: include {block.include} does not exist"
            lines = path.read_text(encoding="utf-8").rstrip("\n").split("\n")
            if "lines" in block.options:
                first, _, last = block.options["lines"].partition("-")
                lines = lines[int(first) - 1 : int(last or first)]
            # A line range is shown dedented (flush left); the content is otherwise the file's.
            want = textwrap.dedent("\n".join(lines)) if "lines" in block.options else "\n".join(lines)
            assert block.text.strip("\n") == want.strip("\n"), f"{block.block_id} {block.include}"
    assert set(MATERIAL) <= included, f"not shown on any slide: {sorted(set(MATERIAL) - included)}"


def test_fragments_and_scripts_do_not_run(deck: Deck) -> None:
    for slide in deck.slides:
        for block in slide.blocks:
            if "lines" in block.options:
                assert not block.runnable, f"{block.block_id}: part of a file cannot be run or applied"
            if block.lexer == "docker" and block.include:
                assert block.action == "Build", block.block_id


def test_no_image_loads_from_the_internet(deck: Deck) -> None:
    sources = []
    for slide in deck.slides:
        collector = SourceCollector()
        collector.feed(slide.html + slide.notes_html)
        sources += collector.sources
    remote = [src for src in sources if re.match(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", src, re.IGNORECASE)]
    assert remote == []
    assert any(src.endswith("images/release.svg") for src in sources), sources


def test_release_diagram_is_a_local_svg_without_outside_references() -> None:
    path = DECK.parent / "images" / "release.svg"
    svg = etree.parse(path).getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    text = " ".join(svg.itertext())
    for stage in ["Build", "Release", "Run"]:
        assert stage in text
    hrefs = [value for element in svg.iter() for name, value in element.attrib.items() if name.endswith("href")]
    assert all(value.startswith("#") for value in hrefs), hrefs
    assert "12factor.net" in DECK.read_text(encoding="utf-8").split("images/release.svg", 1)[1][:300]


def test_line_ranges_still_show_the_intended_part(deck: Deck) -> None:
    # The material files change; a shifted range would show half a manifest.
    def part(title: str, index: int = 0) -> list[str]:
        lines = slide_titled(deck, title).blocks[index].text.strip("\n").split("\n")
        return [line.strip() for line in lines]

    core = [b for s in deck.slides for b in s.blocks if b.include == "sample_app/app.py"][0].text.strip("\n")
    assert core.lstrip().startswith('@app.get("/users")'), core
    assert "def print_ver" in core and core.rstrip().endswith('return jsonify({"status": "ok"})'), core
    definition = part("Define : Mysql Deployment")
    assert definition[0] == "apiVersion: apps/v1" and "kind: Deployment" in definition
    assert definition[-1] == "environ: dev" and "spec:" not in definition
    replicas = part("Define : Mysql Deployment - 2")
    assert replicas[0] == "spec:" and "selector:" in replicas and "matchLabels:" in replicas
    assert replicas[-1].startswith("version:") and "containers:" not in replicas
    pods = part("Define : Mysql Deployment - 3")
    assert pods[:2] == ["spec:", "containers:"] and pods[-1] == "containerPort: 3306"
    links = part("ConfigMap - Container links")
    assert links[0] == "env:" and links[-1] == "key: database.name"
    script = part("Migrate to Docker : run_docker")
    assert script[0].startswith("# A user-defined network") and script[-1].startswith("curl --fail")
    assert any(line.startswith("docker run --rm") for line in script)
    compose = part("Run with Docker Compose")
    assert compose[0] == "image: 12factor:1.0" and "depends_on:" in compose
    assert compose[-1] == "condition: service_completed_successfully"
    job = part("Define : dbinit Job")
    assert job[:2] == ["apiVersion: batch/v1", "kind: Job"] and job[-1] == "activeDeadlineSeconds: 900"
    job_pod = part("Define : dbinit Job", 1)
    assert job_pod[:2] == ["spec:", "restartPolicy: Never"] and job_pod[-1] == "imagePullPolicy: IfNotPresent"
    app = part("Define : 12factor Deployment")
    assert app[:2] == ["apiVersion: apps/v1", "kind: Deployment"] and "replicas: 2" in app
    assert app[-1].startswith("version:") and "containers:" not in app
    container = part("Define : 12factor Deployment - 2")
    assert container[0] == "spec:" and "runAsNonRoot: true" in container and "image: 12factor:1.0" in container
    assert container[-1] == "key: database.host"
    password = part("Define : 12factor Deployment - 2", 1)
    assert password[0] == "- name: DATABASE_PASSWORD" and "secretKeyRef:" in password
    assert password[-1] == "key: database.password"
    probes = part("Define : 12factor Deployment - 3")
    assert probes[0] == "ports:" and "path: /healthz" in probes and "path: /version" in probes
    assert probes[-1] == "timeoutSeconds: 3" and "resources:" not in probes


def test_the_whole_story_runs_from_the_slides_in_order(deck: Deck) -> None:
    texts = [block.text for _, block in runnable_blocks(deck)]
    position = 0
    for step, pattern in STORY:
        found = next((i for i in range(position, len(texts)) if re.search(pattern, texts[i])), None)
        assert found is not None, f"no runnable block from block #{position} on does the step {step!r} ({pattern})"
        position = found  # the next step may be in the same block, never in an earlier one


def test_blocks_never_wait_forever(deck: Deck) -> None:
    # A block that starts a server or waits must end by itself: the run has a time limit and a room waits.
    for slide, block in runnable_blocks(deck):
        where = f"slide {slide.number} {slide.title!r} {block.block_id}"
        for command in shell_commands(block):
            if command.startswith("docker run"):
                assert "--detach" in command or "--rm" in command, f"{where}: {command}"
            if "docker-compose up" in command:
                assert "--detach" in command, f"{where}: {command}"
            if "port-forward" in command:
                assert command.endswith("&") or ">/dev/null &" in command, f"{where}: {command}"
            if re.search(r"kubectl (rollout status|wait)\b", command):
                assert "--timeout=" in command, f"{where}: {command}"
            assert not re.search(r"(^|\s)(--watch|-w|--follow|-f)(\s|$)", command) or "apply -f" in command, (
                f"{where}: {command}"
            )
            assert not re.match(r"(while|until)\b", command), f"{where}: unbounded loop {command}"
            if command.startswith("for "):
                assert re.search(r"\$\(seq \d+\)", command), f"{where}: a wait loop needs a bound: {command}"


def test_kubernetes_and_docker_steps_are_separate_blocks(deck: Deck) -> None:
    # Without a cluster the rehearsal skips the Kubernetes blocks: none may also hold a Docker step.
    for slide, block in runnable_blocks(deck):
        calls_kubectl = "kubectl" in block.text or block.action == "Apply"
        calls_docker = re.search(r"\bdocker(-compose)?\b", block.text) or block.action == "Build"
        assert not (calls_kubectl and calls_docker), f"slide {slide.number} {slide.title!r} {block.block_id}"


def test_files_the_blocks_use_are_in_the_material_and_shown_first(deck: Deck) -> None:
    shown: set[str] = set()
    for slide in deck.slides:
        shown |= {block.include for block in slide.blocks if block.include}
        for block in slide.blocks:
            if not block.runnable:
                continue
            for folder in re.findall(r"\bcd /workshop/?(\S*)", block.text):
                assert (ROOT / folder).is_dir(), f"{block.block_id}: /workshop/{folder} is not in the material"
            for manifest in re.findall(r"kubectl apply -f (\S+)", block.text):
                assert (ROOT / manifest).is_file(), f"{block.block_id}: {manifest} does not exist"
                assert manifest in shown, f"{block.block_id}: {manifest} is applied before any slide shows it"
            for name in re.findall(r"--(?:env-file|file) (\S+)", block.text):
                assert (ROOT / "sample_app" / name).is_file(), f"{block.block_id}: sample_app/{name} does not exist"


def test_slides_that_run_something_say_what_to_point_out(deck: Deck) -> None:
    for slide, _ in runnable_blocks(deck):
        assert slide.notes_html.strip(), f"slide {slide.number} {slide.title!r} runs code but has no presenter notes"


def test_key_steps_have_checks(deck: Deck) -> None:
    def check_of(pattern: str) -> str:
        blocks = [block for _, block in runnable_blocks(deck) if re.search(pattern, block.text)]
        assert blocks, pattern
        assert blocks[0].check is not None, f"{blocks[0].block_id} ({pattern}) has no check"
        return blocks[0].check.command

    assert "docker image inspect 12factor:1.0 12factor-dbinit:1.0" in check_of(r"docker build")
    assert "localhost:5000/users" in check_of(r"--publish 5000:5000")
    assert "localhost:5000/users" in check_of(r"docker-compose up")
    assert "deployment/mysql" in check_of(r"k8s/mysql-deployment\.yaml")
    assert "job/12factor-dbinit" in check_of(r"k8s/12factor-dbinit-job\.yaml")
    assert "deployment/12factor" in check_of(r"k8s/12factor-deployment\.yaml")
    assert "= 4" in check_of(r"--replicas=4")
    assert "= 2" in check_of(r"--replicas=2")


def test_scaling_and_healing_slides_answer_the_seed(deck: Deck) -> None:
    # The seed's notes promise "how to scale up"; its trends slide names auto-healing and cattle, not pets.
    titles = [slide.title for slide in deck.slides]
    assert titles.index("How to scale up") < titles.index("Scale down") < titles.index("Cattle not pets : a pod dies")
    assert titles.index("Deploy : 12factor") < titles.index("How to scale up") < titles.index("Extra Material")
    healing = slide_titled(deck, "Cattle not pets : a pod dies").notes_html
    assert "Auto-healing" in healing and "Cattle not Pets" in healing
