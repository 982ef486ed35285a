"""A room's warm pool: sandboxes made (and primed) ahead of time, handed out as people are let in.

Each pool sandbox is an ordinary `Sandbox` row held by a placeholder
attendee of the room's deck, so the server's sandbox cap, reconcile and the
idle cull all see it. Handing one out moves that row to the admitted
attendee, in one transaction and without a call to the backend; the pool is
then filled again in the background. Priming pulls the deck's images (from
the registry mirror `manage.py sandbox prepare` fills) into the pool
sandbox's engine, so a first `docker build` does not start from nothing.

`pool_fill` and `pool_drain` block (backend calls): threads only.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction

from deck.errors import DeckFileError, DeckNotFound
from deck.parsed import Deck
from deck.selectors import deck_get
from rooms.models import Member, PoolSandbox, Room
from sandbox.backends import backend_get
from sandbox.backends.base import Backend, RunRequest, SandboxSpec
from sandbox.cull import sandboxes_destroy
from sandbox.errors import SandboxError
from sandbox.models import Attendee, Sandbox
from sandbox.selectors import sandbox_live_count

log = logging.getLogger(__name__)

POOL_NAME = "pool"
PRIME_TIMEOUT = 600.0  # seconds for pulling one pool sandbox's images
_FROM = re.compile(r"^\s*FROM\s+(?:--platform=\S+\s+)?(?P<image>[^\s]+)", re.I | re.M)
_ARG = re.compile(r"^\s*ARG\s+(?P<name>\w+)=(?P<value>\S+)", re.I | re.M)
_IMAGE = re.compile(r"^\s*image:\s*[\"']?(?P<image>[^\s\"'#]+)", re.M)
_PULL = re.compile(r"\bdocker\s+(?:image\s+)?pull\s+(?:-\S+\s+)*(?P<image>[^\s;&|]+)")
_filling: dict[uuid.UUID, threading.Lock] = {}
_refills: set[threading.Thread] = set()


@dataclass
class PoolReport:
    """What a fill did: sandboxes made (and primed), and what failed (id: why)."""

    made: list[str] = field(default_factory=list)
    primed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def deck_images(deck: Deck) -> list[str]:
    """The images the deck's blocks use: `FROM` lines, `image:` keys, `docker pull`, minus the deck's own builds."""
    found: list[str] = []
    stages: set[str] = set()
    built = {block.options.get("tag", "") for slide in deck.slides for block in slide.blocks}
    for slide in deck.slides:
        for block in slide.blocks:
            defaults = {match.group("name"): match.group("value") for match in _ARG.finditer(block.text)}
            for match in _FROM.finditer(block.text):
                found.append(_with_defaults(match.group("image"), defaults))
                alias = re.search(r"\bAS\s+(\S+)", block.text[match.end() : block.text.find("\n", match.end())], re.I)
                if alias:
                    stages.add(alias.group(1))
            found += [match.group("image") for match in _IMAGE.finditer(block.text)]
            found += [match.group("image") for match in _PULL.finditer(block.text)]
    images = []
    for image in found:
        if image in stages or image in built or image == "scratch" or "$" in image or image in images:
            continue
        images.append(image)
    return images


def _with_defaults(image: str, defaults: dict[str, str]) -> str:
    """`${NAME}` and `$NAME` in a FROM line replaced by the Dockerfile's own ARG default."""
    return re.sub(r"\$\{?(\w+)\}?", lambda match: defaults.get(match.group(1), match.group(0)), image)


def pool_status(*, room: Room) -> dict:
    """{"size", "ready"}: the pool's size and how many of its sandboxes are ready now."""
    ready = PoolSandbox.objects.filter(room=room, sandbox__status=Sandbox.Status.READY).count()
    return {"size": room.pool_size, "ready": ready}


def _room_for_more(room: Room) -> int:
    """How many pool sandboxes may be made now: the pool's gap, within the room's places and the server's cap."""
    have = PoolSandbox.objects.filter(room=room).exclude(sandbox__status=Sandbox.Status.GONE).count()
    want = room.pool_size - have
    if room.capacity is not None:  # places not yet served by a sandbox of an admitted member
        served = Sandbox.objects.filter(
            attendee__memberships__room=room,
            attendee__memberships__status=Member.Status.ADMITTED,
            status__in=[Sandbox.Status.CREATING, Sandbox.Status.READY],
        ).count()
        want = min(want, room.capacity - served - have)
    want = min(want, settings.PODIUM_MAX_SANDBOXES - sandbox_live_count())
    return max(0, want)


def pool_fill(
    *, room: Room, backend: Backend | None = None, prime: bool = True, images: list[str] | None = None, progress=None
) -> PoolReport:
    """Make pool sandboxes until the pool is full (within the room's places and the server's cap); blocking.

    With `prime`, each new sandbox pulls `images` (by default the deck's own, `deck_images`) into its engine.
    """
    report = PoolReport()
    if not room.is_open or room.pool_size <= 0:
        return report
    backend = backend or backend_get()
    say = progress or (lambda message: None)
    with _filling.setdefault(room.id, threading.Lock()):
        _stale_remove(room, backend)
        images = (_images_of(room) if images is None else images) if prime else []
        for _ in range(_room_for_more(room)):
            if not _still_open(room):  # closed meanwhile: its pool is being drained
                break
            slot = _slot_new(room, backend)
            sandbox = slot.sandbox
            spec = SandboxSpec(
                sandbox_id=sandbox.id.hex, attendee_id=sandbox.attendee_id.hex, talk=room.deck_slug, room=room.code
            )
            began = time.monotonic()
            try:
                state = backend.ensure(spec=spec, state={}, progress=lambda message: None)
            except SandboxError as error:
                Sandbox.objects.filter(id=sandbox.id).update(status=Sandbox.Status.FAILED)
                report.failed[sandbox.id.hex] = str(error)
                continue
            made_ms = int((time.monotonic() - began) * 1000)
            stored = Sandbox.objects.filter(id=sandbox.id).update(
                state=state, status=Sandbox.Status.READY, create_ms=made_ms
            )
            if not stored or not _still_open(room):
                # Drained while it was being made: no row would ever find it again, so it goes now.
                backend.destroy(state=state)
                Attendee.objects.filter(pk=sandbox.attendee_id).delete()
                break
            report.made.append(sandbox.id.hex)
            say(f"pool sandbox {sandbox.id.hex[:12]} ready")
            if images and _prime(backend, state, images, report, sandbox.id.hex):
                PoolSandbox.objects.filter(pk=slot.pk).update(primed=True)
                report.primed.append(sandbox.id.hex)
                say(f"pool sandbox {sandbox.id.hex[:12]} primed with {', '.join(images)}")
    return report


def _still_open(room: Room) -> bool:
    return Room.objects.filter(pk=room.pk, closed_at__isnull=True).exists()


def _stale_remove(room: Room, backend: Backend) -> None:
    """Pool sandboxes that failed or vanished go, with whatever a failed creation left and their placeholders."""
    stale = list(
        PoolSandbox.objects.filter(
            room=room, sandbox__status__in=[Sandbox.Status.GONE, Sandbox.Status.FAILED]
        ).select_related("sandbox")
    )
    if not stale:
        return
    report = sandboxes_destroy(sandboxes=[slot.sandbox for slot in stale], backend=backend)
    holders = [slot.sandbox.attendee_id for slot in stale if slot.sandbox.id.hex not in report.failed]
    Attendee.objects.filter(pk__in=holders).delete()  # their Sandbox and PoolSandbox rows with them


def pool_sandbox_ids() -> list[uuid.UUID]:
    """Every sandbox waiting in some room's pool: idle by design, so the idle cull keeps them."""
    return list(PoolSandbox.objects.values_list("sandbox_id", flat=True))


def _images_of(room: Room) -> list[str]:
    try:
        return deck_images(deck_get(slug=room.deck_slug))
    except (DeckNotFound, DeckFileError):
        return []


def _slot_new(room: Room, backend: Backend) -> PoolSandbox:
    with transaction.atomic():
        holder = Attendee.objects.create(
            deck_slug=room.deck_slug, session_key=f"{POOL_NAME}:{uuid.uuid4().hex[:32]}", display_name=POOL_NAME
        )
        sandbox = Sandbox.objects.create(attendee=holder, backend=backend.name, status=Sandbox.Status.CREATING)
        return PoolSandbox.objects.create(room=room, sandbox=sandbox)


def _prime(backend: Backend, state: dict, images: list[str], report: PoolReport, sandbox_hex: str) -> bool:
    pulls = " && ".join(f"docker pull -q {image}" for image in images)
    request = RunRequest(
        run_id=f"prime-{uuid.uuid4().hex[:12]}", kind="shell", code=pulls, timeout=PRIME_TIMEOUT, output_cap=64 * 1024
    )
    output: list[bytes] = []
    try:
        result = backend.execute(
            state=state, request=request, on_output=lambda stream, data: output.append(data), should_stop=lambda: False
        )
    except SandboxError as error:
        report.failed[sandbox_hex] = f"priming: {error}"
        return False
    if result.exit_code != 0:
        tail = b"".join(output).decode(errors="replace")[-300:]
        report.failed[sandbox_hex] = f"priming exited {result.exit_code}: {tail}"
        return False
    return True


def pool_take(*, member: Member) -> Sandbox | None:
    """Hand the member a ready pool sandbox, if the room has one and the member has never had a sandbox.

    Database only (no backend call): the sandbox row changes hands and its placeholder attendee goes.
    """
    with transaction.atomic():
        if Sandbox.objects.filter(attendee_id=member.attendee_id).exists():
            return None
        slot = (
            PoolSandbox.objects.select_for_update(skip_locked=True)
            .filter(room_id=member.room_id, sandbox__status=Sandbox.Status.READY)
            .select_related("sandbox")
            .order_by("-primed", "created_at")
            .first()
        )
        if slot is None:
            return None
        sandbox, holder = slot.sandbox, slot.sandbox.attendee_id
        slot.delete()
        Sandbox.objects.filter(pk=sandbox.pk).update(attendee_id=member.attendee_id)
        Attendee.objects.filter(pk=holder).delete()
    sandbox.refresh_from_db()
    return sandbox


def pool_refill_soon(*, room: Room) -> None:
    """Fill the pool again in a background thread of this process (after a hand-out), when it has a gap."""
    if room.pool_size <= 0 or _room_for_more(room) <= 0:
        return

    def fill() -> None:
        try:
            pool_fill(room=Room.objects.get(pk=room.pk))
        except Exception:
            log.exception("refilling the pool of room %s failed", room.code)
        finally:
            connection.close()  # this thread's own database connection

    thread = threading.Thread(target=fill, name=f"pool-{room.code}", daemon=True)
    _refills.add(thread)
    thread.start()


def pool_refills_wait(timeout: float | None = None) -> None:
    """Wait for the refills this process started (tests; a server that stops)."""
    for thread in list(_refills):
        thread.join(timeout)
        if not thread.is_alive():
            _refills.discard(thread)


def pool_drain(*, room: Room) -> dict[str, str]:
    """Destroy the room's pool sandboxes (the room closed); their placeholder attendees go. Failures by id.

    One still being made is destroyed by name; the fill making it sees the room closed and stops.
    """
    slots = list(PoolSandbox.objects.filter(room=room).select_related("sandbox"))
    report = sandboxes_destroy(sandboxes=[slot.sandbox for slot in slots])
    holders = [slot.sandbox.attendee_id for slot in slots if slot.sandbox.id.hex not in report.failed]
    Attendee.objects.filter(pk__in=holders).delete()
    return report.failed
