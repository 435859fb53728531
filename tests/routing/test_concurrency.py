"""Concurrent workers on PostgreSQL: capacity is never exceeded, round-robin turns stay fair."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from inbox.app import Heard
from tests.conftest import MakeHeard, truncate_all
from tests.inbox.routekit import TEAM_CONFIG, arrive, conversation, route

pytestmark = pytest.mark.postgres

WORKERS = 16


def route_all_at_once(heard: Heard, ids: list[int]) -> list[BaseException]:
    barrier = threading.Barrier(len(ids))
    errors: list[BaseException] = []

    def work(cid: int) -> None:
        barrier.wait()
        try:
            route(heard, cid)
        except BaseException as exc:  # collected and asserted empty below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(cid,)) for cid in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


@pytest.fixture
def pg_heard(make_heard: MakeHeard, pg_url: str) -> Heard:
    truncate_all(pg_url)
    return make_heard(TEAM_CONFIG, store_url=pg_url, queue=False)


def test_capacity_is_never_exceeded_by_concurrent_workers(pg_heard: Heard) -> None:
    ids = [arrive(pg_heard, f"m{i}", f"refund request {i}", handle=f"c{i}") for i in range(WORKERS)]
    # Warm the rules and agent rows first so every worker races on assignment alone.
    route(pg_heard, arrive(pg_heard, "warm", "hello there, a question", handle="warm"))
    assert route_all_at_once(pg_heard, ids) == []
    load = Counter(conversation(pg_heard, cid).assignee for cid in ids)
    # billing: ann and boris, capacity 2 each; ann already has the warm-up conversation.
    assert load["ann"] == 1 and load["boris"] == 2
    assert load[None] == WORKERS - 3


def test_round_robin_is_fair_across_concurrent_workers(make_heard: MakeHeard, pg_url: str) -> None:
    truncate_all(pg_url)
    config = TEAM_CONFIG.replace("capacity = 2\n", "capacity = 100\n")
    heard = make_heard(config, store_url=pg_url, queue=False)
    ids = [
        arrive(heard, f"m{i}", "My parcel never arrived, please help", handle=f"c{i}")
        for i in range(WORKERS)
    ]
    route(heard, arrive(heard, "warm", "hello there, a question", handle="warm"))
    assert route_all_at_once(heard, ids) == []
    load = Counter(conversation(heard, cid).assignee for cid in ids)
    assert load == {"ann": WORKERS // 2, "boris": WORKERS // 2}
