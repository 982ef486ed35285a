"""Turns to create sandboxes (sandbox.creations): a few at a time, nobody refused, served in the order they asked."""

from __future__ import annotations

import asyncio

import pytest

from sandbox.creations import CreationTurns, creation_turn


async def crowd(turns: CreationTurns, count: int, *, hold: asyncio.Event):
    """`count` creations asking one after another; returns (the order they got a turn, most holding at once,
    what each was told while waiting, their tasks)."""
    order: list[int] = []
    told: dict[int, int] = {}
    holding = {"now": 0, "most": 0}

    async def create(number: int) -> None:
        async with turns.turn(queued=lambda ahead: told.__setitem__(number, ahead)):
            holding["now"] += 1
            holding["most"] = max(holding["most"], holding["now"])
            order.append(number)
            await hold.wait()
            await asyncio.sleep(0)
            holding["now"] -= 1

    tasks = []
    for number in range(count):
        tasks.append(asyncio.create_task(create(number)))
        await asyncio.sleep(0)  # each asks after the one before
    return order, holding, told, tasks


async def test_thirty_creations_go_three_at_a_time_in_the_order_they_asked_and_none_is_refused():
    turns = CreationTurns(3)
    hold = asyncio.Event()
    order, holding, told, tasks = await crowd(turns, 30, hold=hold)
    assert order == [0, 1, 2]  # the rest wait
    assert told == {number: number - 2 for number in range(3, 30)}  # how many are ahead of each
    hold.set()
    await asyncio.gather(*tasks)  # every one got its turn
    assert order == list(range(30))
    assert holding["most"] == 3
    assert turns.running == 0 and not turns.waiting


async def test_a_creation_that_fails_or_is_given_up_passes_its_turn_on():
    turns = CreationTurns(1)
    entered = asyncio.Event()
    release = asyncio.Event()

    async def failing() -> None:
        async with turns.turn():
            entered.set()
            await release.wait()
            raise RuntimeError("the engine refused it")

    async def waiting_forever() -> None:
        async with turns.turn():
            pytest.fail("a cancelled creation must never get a turn")

    first = asyncio.create_task(failing())
    await entered.wait()
    given_up = asyncio.create_task(waiting_forever())
    await asyncio.sleep(0)
    got = []

    async def last() -> None:
        async with turns.turn():
            got.append("turn")

    third = asyncio.create_task(last())
    await asyncio.sleep(0)
    given_up.cancel()
    release.set()
    with pytest.raises(RuntimeError):
        await first
    await third
    assert got == ["turn"] and given_up.cancelled()
    assert turns.running == 0 and not turns.waiting


async def test_zero_means_no_limit():
    turns = CreationTurns(0)
    hold = asyncio.Event()
    order, _, told, tasks = await crowd(turns, 10, hold=hold)
    assert order == list(range(10)) and told == {}
    hold.set()
    await asyncio.gather(*tasks)


async def test_the_attendee_is_told_in_words_how_many_are_ahead(settings):
    settings.PODIUM_SANDBOX_CREATIONS = 1
    said: list[str] = []
    release = asyncio.Event()

    async def create(say) -> None:
        async with creation_turn(say=say):
            await release.wait()

    first = asyncio.create_task(create(lambda sentence: None))
    await asyncio.sleep(0)
    second = asyncio.create_task(create(said.append))
    third = asyncio.create_task(create(said.append))
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(first, second, third)
    assert said == [
        "Waiting for a turn: 1 sandbox is being made before yours…",
        "Waiting for a turn: 2 sandboxes are being made before yours…",
    ]
