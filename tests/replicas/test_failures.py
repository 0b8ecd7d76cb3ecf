"""Failures under a client streaming batches to two replicas: a replica killed with kill -9,
the database restarted. Every acknowledged event is stored, none twice."""

from __future__ import annotations

import collections
import time
from collections.abc import Iterator

import pytest

from tests import pg
from tests.replicas.conftest import RoundRobin, Streamer, new_trace, start_replicas, stored_keys
from tests.server.served import Served

pytestmark = pytest.mark.postgres


def assert_stored_once(url: str, trace: str, streamer: Streamer) -> None:
    stored = stored_keys(url, trace)
    duplicated = [key for key, count in collections.Counter(stored).items() if count > 1]
    assert not duplicated, duplicated[:10]
    missing = set(streamer.acknowledged) - set(stored)
    assert not missing, sorted(missing)[:10]


def test_kill_9_of_a_replica_mid_stream_loses_nothing_acknowledged() -> None:
    url = pg.cluster().database()
    replicas = start_replicas(url)
    trace = new_trace()
    try:
        with Streamer(RoundRobin(replicas), trace) as streamer:
            streamer.wait_for(500)
            replicas[0].process.kill()
            replicas[0].process.wait(10)
            killed_at = len(streamer.acknowledged)
            streamer.wait_for(killed_at + 500)
        assert streamer.failures > 0  # the dead replica was tried, and refused connections
    finally:
        for replica in replicas:
            replica.close()
    assert_stored_once(url, trace, streamer)


@pytest.fixture
def own_cluster() -> Iterator[pg.Cluster]:
    """A PostgreSQL server of this test's own, so restarting it disturbs no other test."""
    cluster = pg.Cluster()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.remove()


def test_a_database_restart_mid_stream_is_survived(own_cluster: pg.Cluster) -> None:
    url = own_cluster.database()
    replicas = start_replicas(url)
    trace = new_trace()
    try:
        with Streamer(RoundRobin(replicas), trace) as streamer:
            streamer.wait_for(300)
            own_cluster.stop()
            down_at = len(streamer.acknowledged)
            time.sleep(2)
            # While the database is away, nothing is acknowledged; writes answer 503.
            assert len(streamer.acknowledged) <= down_at + streamer.batch_size
            refused = list(streamer.refusals)
            own_cluster.start()
            streamer.wait_for(len(streamer.acknowledged) + 300)
        assert refused, "no write was refused while the database was down"
        assert all(answer.headers.get("retry-after") for answer in refused)
        assert_recovered(replicas)
    finally:
        for replica in replicas:
            replica.close()
    assert_stored_once(url, trace, streamer)


def assert_recovered(replicas: list[Served]) -> None:
    """Both replicas read and write again, by themselves."""
    for replica in replicas:
        assert replica.process.poll() is None, replica.log
        assert replica.http.get("/api/threads").status_code == 200
        assert replica.post_batch(new_trace(), 0) == 202
