"""Who may have a sandbox, and where a new one may come from: hooks other apps plug in.

The sandbox app knows nothing of rooms; the rooms app registers here when
Django starts (`rooms.apps`), the way Django's signals let an app react
without the sender importing it.
- A policy is asked before any run, check or reset: None (no objection) or
  the sentence to show the attendee; the first objection refuses the request.
- A supplier is asked when an attendee who never had a sandbox needs one: it
  may hand over a sandbox made ahead of time (a room's warm pool), already
  the attendee's row, or None.
- A keeper names sandboxes the idle cull must leave alone (a warm pool's,
  which are idle by design until someone is handed one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sandbox.errors import RunRefused
from sandbox.models import Attendee, Sandbox

Policy = Callable[[Attendee], str | None]
Supplier = Callable[[Attendee], Sandbox | None]
Keeper = Callable[[], Iterable[object]]  # ids of Sandbox rows

_policies: list[Policy] = []
_suppliers: list[Supplier] = []
_keepers: list[Keeper] = []


def admission_policy_add(policy: Policy) -> None:
    """Ask `policy` before every run, check and reset (once, however often it is added)."""
    if policy not in _policies:
        _policies.append(policy)


def sandbox_admission_check(*, attendee: Attendee) -> None:
    """RunRefused "not-admitted", with the policy's sentence, when a policy objects to the attendee's sandbox."""
    for policy in _policies:
        reason = policy(attendee)
        if reason:
            raise RunRefused("not-admitted", reason)


def sandbox_supplier_add(supplier: Supplier) -> None:
    """Ask `supplier` for a ready-made sandbox before a first one is created (once, however often it is added)."""
    if supplier not in _suppliers:
        _suppliers.append(supplier)


def sandbox_supplied(*, attendee: Attendee) -> Sandbox | None:
    """A ready-made sandbox a supplier handed to the attendee (now the attendee's row), or None."""
    for supplier in _suppliers:
        sandbox = supplier(attendee)
        if sandbox is not None:
            return sandbox
    return None


def sandbox_keeper_add(keeper: Keeper) -> None:
    """Ask `keeper` which sandboxes the idle cull must keep (once, however often it is added)."""
    if keeper not in _keepers:
        _keepers.append(keeper)


def sandboxes_kept() -> set[object]:
    """The ids of the Sandbox rows some keeper asked the idle cull to leave alone."""
    return {sandbox_id for keeper in _keepers for sandbox_id in keeper()}
