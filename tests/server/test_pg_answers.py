"""The proxy's remembered answer ids in PostgreSQL: kept for a while, then forgotten."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import pytest

from tests import pg

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(pg.missing_reason() is not None, reason=f"{pg.missing_reason()}"),
]

from whyops.server.store import Store, answers  # noqa: E402
from whyops.server.store.dialect import Connection  # noqa: E402
from whyops.server.store.writer import WriterState  # noqa: E402
from whyops.server.timeutil import now_us  # noqa: E402


@pytest.fixture
def store() -> Iterator[Store]:
    cluster = pg.cluster()
    url = cluster.database()
    opened = Store(url)
    yield opened
    opened.close()
    cluster.drop(url)


def _age(store: Store, answer_ids: list[str], created_us: int) -> None:
    def job(conn: Connection, state: WriterState) -> None:
        conn.execute(
            "UPDATE proxy_answers SET created_us = ? WHERE answer_id = ANY(?)",
            (created_us, answer_ids),
        )

    store.submit(job).result(30)


def _known(store: Store, refs: list[str]) -> set[str]:
    return {ref for ref in refs if store.read(answers.find_answer, "p", [ref]) is not None}


def _remember(store: Store, pairs: list[tuple[str, str]]) -> None:
    store.submit(partial(answers.remember_answers, project_id="p", answers=pairs)).result(30)


def test_expired_answer_ids_are_deleted_by_a_later_remembering_write(store: Store) -> None:
    old = [f"call_old_{n}" for n in range(7)]
    _remember(store, [(ref, "trace-old") for ref in old])
    _age(store, old, now_us() - answers.RETENTION_US - 1_000_000)
    _remember(store, [("call_recent", "trace-new")])
    # The first write of this store pruned before the ids were aged: none expired yet.
    assert _known(store, old) == set(old)

    def due(conn: Connection, state: WriterState) -> None:
        state.answers_pruned_us = 0  # the next remembering write is due to prune

    store.submit(due).result(30)
    _remember(store, [("call_latest", "trace-new")])
    assert _known(store, old) == set()
    assert _known(store, ["call_recent", "call_latest"]) == {"call_recent", "call_latest"}


def test_pruning_deletes_at_most_one_batch_oldest_first(store: Store) -> None:
    refs = [f"resp_{n}" for n in range(5)]
    _remember(store, [(ref, "t") for ref in refs])
    base = now_us() - answers.RETENTION_US - 10_000_000
    for offset, ref in enumerate(refs):
        _age(store, [ref], base + offset)

    def prune(conn: Connection, state: WriterState) -> int:
        return answers.prune_answers(conn, now_us() - answers.RETENTION_US, batch=2)

    assert store.submit(prune).result(30) == 2
    assert _known(store, refs) == set(refs[2:])
    assert store.submit(prune).result(30) == 2
    assert store.submit(prune).result(30) == 1
    assert _known(store, refs) == set()
