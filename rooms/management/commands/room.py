"""`manage.py room open SLUG [--capacity N] [--idle-minutes M] [--pool N]`, `room close|lock|unlock|show CODE`
and `room list`: rooms from the command line, for presenters who script their set-up."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from rooms.errors import RoomError
from rooms.links import join_url
from rooms.models import Member, Room
from rooms.pool import pool_fill, pool_status
from rooms.selectors import room_by_code, room_counts, wait_position
from rooms.services import room_close, room_lock, room_open


def _whole(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise CommandError(f"{text!r} is not a whole number.") from None
    return value


class Command(BaseCommand):
    help = "Rooms of a deck: open one (prints its join code and address), list, show, lock, unlock, close."

    def add_arguments(self, parser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{open,list,show,lock,unlock,close}")
        opened = actions.add_parser("open", help="open a room for a deck and print its join code and address")
        opened.add_argument("slug", help="the deck's slug (its file name without .md)")
        opened.add_argument("--capacity", type=_whole, default=None, help="at most N people in; others wait")
        opened.add_argument(
            "--idle-minutes", type=_whole, default=None, help="a member idle M minutes gives up their place"
        )
        opened.add_argument("--pool", type=_whole, default=0, help="sandboxes to make ahead of time")
        opened.add_argument(
            "--no-prime", action="store_true", help="do not pull the deck's images into the pool sandboxes"
        )
        opened.add_argument("--base-url", default=None, help="public address of Podium, for the join address")
        actions.add_parser("list", help="the open rooms, and the rooms closed last")
        for name, text in (
            ("show", "who is in the room and who waits"),
            ("lock", "let nobody new join"),
            ("unlock", "let people join again"),
            ("close", "close the room: its sandboxes are destroyed, progress is kept"),
        ):
            one = actions.add_parser(name, help=text)
            one.add_argument("code", help="the room's join code")

    def handle(self, *args, action: str, **options) -> None:
        try:
            if action == "open":
                self._open(options)
            elif action == "list":
                self._list()
            else:
                self._one(action, options["code"])
        except RoomError as exc:
            raise CommandError(exc.message) from None

    def _open(self, options: dict) -> None:
        room = room_open(
            deck_slug=options["slug"],
            capacity=options["capacity"],
            idle_minutes=options["idle_minutes"],
            pool_size=options["pool"],
        )
        self.stdout.write(f"Room {room.code} is open for {room.deck_slug}.")
        self.stdout.write(f"Join: {join_url(room=room, base_url=options['base_url'])}")
        limits = [f"capacity {room.capacity}" if room.capacity else "no capacity limit"]
        if room.idle_minutes:
            limits.append(f"places free after {room.idle_minutes} idle minutes")
        self.stdout.write("; ".join(limits) + ".")
        if room.pool_size:
            self.stdout.write(f"Filling the pool of {room.pool_size} sandbox(es)…")
            report = pool_fill(room=room, prime=not options["no_prime"], progress=self.stdout.write)
            for sandbox_id, why in report.failed.items():
                self.stderr.write(f"pool sandbox {sandbox_id}: {why}")
            status = pool_status(room=room)
            self.stdout.write(f"Pool {status['ready']}/{status['size']} ready ({len(report.primed)} primed).")

    def _list(self) -> None:
        rooms = list(Room.objects.all()[:20])
        if not rooms:
            self.stdout.write("No rooms yet: `manage.py room open SLUG` opens one.")
        for room in rooms:
            counts = room_counts(room=room)
            state = "closed" if not room.is_open else ("locked" if room.locked else "open")
            self.stdout.write(
                f"{room.code}  {room.deck_slug}  {state}  {counts['admitted']} in, {counts['waiting']} waiting"
                f"  (opened {room.opened_at:%Y-%m-%d %H:%M})"
            )

    def _one(self, action: str, code: str) -> None:
        room = room_by_code(code)
        if room is None:
            raise CommandError(f"No room has the code {code!r}.")
        if action == "show":
            self._show(room)
        elif action in ("lock", "unlock"):
            room_lock(room=room, locked=action == "lock")
            self.stdout.write(f"Room {room.code} is {'locked: nobody new may join' if room.locked else 'unlocked'}.")
        else:
            change = room_close(room=room)
            self.stdout.write(f"Room {room.code} is closed; {len(change.released)} member(s) let go.")
            for sandbox_id, why in change.failed.items():
                self.stderr.write(f"sandbox {sandbox_id} could not be destroyed: {why}")
            if change.failed:
                raise CommandError(
                    f"{len(change.failed)} sandbox(es) were not destroyed; `sandbox cull` takes them once idle."
                )

    def _show(self, room: Room) -> None:
        counts = room_counts(room=room)
        self.stdout.write(
            f"Room {room.code} of {room.deck_slug}: {counts['admitted']} in, {counts['waiting']} waiting."
        )
        for member in room.members.filter(status__in=Member.IN_ROOM).order_by("status", "joined_at"):
            where = f"waiting #{wait_position(member=member)}" if member.status == Member.Status.WAITING else "in"
            self.stdout.write(f"  {member.name}  {where}")
