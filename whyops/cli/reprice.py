"""``whyops reprice``: price stored LLM calls again with the current price table, on purpose.

A call keeps the cost it was given at ingest, with the price version used, until this command
runs: price changes never rewrite history by themselves. It walks the LLM calls stored when
it starts (of a time range, or all) in batches of one transaction each, sets their cost,
price version and reasoning tokens as the server's ingest would today, and sets the sums of
every trace it touched from that trace's events. On PostgreSQL it takes the same trace locks
as the ingest, so servers may keep writing meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from collections.abc import Sequence
from typing import Any, NamedTuple

import attrs

from whyops.pricing import PriceTable
from whyops.server.event_columns import extract_columns
from whyops.server.settings import DEFAULT_DB_PATH
from whyops.server.startup import StartupError, check_db_path
from whyops.server.store import StorageUnavailableError, open_migrated
from whyops.server.store.dialect import dialect_of, display_target, is_postgres_url
from whyops.server.store.ingest import has_tokens, price_row
from whyops.server.store.rows import EventRow
from whyops.server.timeutil import parse_timestamp
from whyops.wire.events import NEEDS_MODEL

DEFAULT_BATCH = 1000
_LLM_TYPES = tuple(sorted(event_type.value for event_type in NEEDS_MODEL))
_TYPE_MARKS = ", ".join("?" * len(_LLM_TYPES))
_SELECT = (
    "SELECT seq, project_id, trace_id, event_type, metadata, cost_usd, price_version,"
    " reasoning_tokens FROM events"
    f" WHERE seq > ? AND seq <= ? AND event_type IN ({_TYPE_MARKS}) AND ts_us >= ? AND ts_us < ?"
    " ORDER BY seq LIMIT ?"
)
_UPDATE_EVENT = (
    "UPDATE events SET cost_usd = ?, price_version = ?, reasoning_tokens = ? WHERE seq = ?"
)
# A call reporting any of these counts has something to price (ingest.py's ``has_tokens``).
_TOKEN_COLUMNS = (
    "prompt_tokens", "completion_tokens", "total_tokens", "cache_read_tokens",
    "cache_creation_tokens",
)  # fmt: skip
_HAS_TOKENS = "(" + " OR ".join(f"e.{column} IS NOT NULL" for column in _TOKEN_COLUMNS) + ")"
# A trace's sums from its events: what the ingest's upserts add up, computed afresh.
_TRACE_CALLS = (
    "FROM events e WHERE e.project_id = traces.project_id AND e.trace_id = traces.trace_id"
    f" AND e.event_type IN ({_TYPE_MARKS})"
)
_UPDATE_TRACE = (
    f"UPDATE traces SET cost_usd = (SELECT sum(e.cost_usd) {_TRACE_CALLS}),"
    f" unpriced_calls = (SELECT count(*) {_TRACE_CALLS} AND e.cost_usd IS NULL"
    f" AND {_HAS_TOKENS}),"
    f" reasoning_tokens = (SELECT coalesce(sum(e.reasoning_tokens), 0) {_TRACE_CALLS})"
    " WHERE project_id = ? AND trace_id = ?"
)
_MIN_US, _MAX_US = -(2**62), 2**62


class RepriceError(Exception):
    """Bad arguments or an unusable database: one line for the user."""


@attrs.define
class ModelChange:
    """What repricing did to one (provider, model)'s calls."""

    calls: int = 0
    changed: int = 0
    before: float = 0.0
    after: float = 0.0
    unpriced: int = 0


@attrs.define
class Outcome:
    db: str
    version: str
    calls: int = 0
    changed: int = 0
    traces: int = 0
    models: dict[tuple[str, str], ModelChange] = attrs.field(factory=dict)


class _Call(NamedTuple):
    seq: int
    trace: tuple[str, str]
    cost: float | None
    version: str | None
    reasoning: int | None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Recompute the cost and price version of stored LLM calls, and the sums of their"
        " traces, with the shipped price table and an optional override file."
    )
    add = parser.add_argument
    add("--db", dest="db_path", metavar="PATH|URL",
        help="SQLite file or postgresql:// URL"
        f" (default {DEFAULT_DB_PATH}; env WHYOPS_SERVER_DB)")  # fmt: skip
    add("--prices", dest="prices_path", metavar="PATH",
        help="price override file, same columns as the shipped table"
        " (env WHYOPS_SERVER_PRICES)")  # fmt: skip
    add("--from", dest="start", metavar="ISO", help="only calls at or after this time")
    add("--to", dest="end", metavar="ISO", help="only calls before this time")
    add("--batch", type=int, default=DEFAULT_BATCH, metavar="N",
        help=f"calls per transaction (default {DEFAULT_BATCH})")  # fmt: skip
    add("--json", action="store_true", help="print the outcome as JSON")


def run(args: argparse.Namespace) -> int:
    try:
        outcome = _reprice_from_args(args)
    except (RepriceError, ValueError) as exc:
        print(f"whyops reprice: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nwhyops reprice: interrupted; batches done so far are committed", file=sys.stderr)
        return 130
    print(_json(outcome) if args.json else _report(outcome))
    return 0


def _reprice_from_args(args: argparse.Namespace) -> Outcome:
    db = args.db_path or os.environ.get("WHYOPS_SERVER_DB") or DEFAULT_DB_PATH
    prices_path = args.prices_path or os.environ.get("WHYOPS_SERVER_PRICES") or None
    start = _time_arg("--from", args.start, _MIN_US)
    end = _time_arg("--to", args.end, _MAX_US)
    if end <= start:
        raise RepriceError("--to must be later than --from")
    if args.batch < 1:
        raise RepriceError("--batch: give a number of calls, 1 or more")
    prices = PriceTable.load(prices_path)
    try:
        conn = _connect(db)
        try:
            return reprice(conn, db, prices, start_us=start, end_us=end, batch=args.batch)
        finally:
            conn.close()
    except _database_errors() as exc:  # unreachable, locked, or not a database
        problem = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RepriceError(f"--db {display_target(db)}: {problem}") from exc


def _database_errors() -> tuple[type[BaseException], ...]:
    """What the drivers raise for a database that cannot be used (psycopg once loaded)."""
    psycopg = sys.modules.get("psycopg")
    return (StorageUnavailableError, sqlite3.Error, *([psycopg.Error] if psycopg else []))


def _time_arg(flag: str, text: str | None, default: int) -> int:
    if text is None:
        return default
    parsed = parse_timestamp(text)
    if parsed is None:
        raise RepriceError(f"{flag} {text!r}: expected an ISO 8601 time with a zone, e.g."
                           " 2026-11-01T00:00:00Z")  # fmt: skip
    return parsed[1]


def _connect(db: str) -> Any:
    """A migrated write connection; a missing SQLite file is an error, not a new database."""
    if not is_postgres_url(db) and not os.path.isfile(db):
        raise RepriceError(f"--db {db}: no such database file")
    try:
        check_db_path(db)  # the server's own checks: a SQLite file, the PostgreSQL driver
    except StartupError as exc:
        raise RepriceError(str(exc)) from exc
    return open_migrated(db)


def reprice(
    conn: Any, db: str, prices: PriceTable, *, start_us: int = _MIN_US, end_us: int = _MAX_US,
    batch: int = DEFAULT_BATCH,
) -> Outcome:  # fmt: skip
    """Price every LLM call with ``start_us <= ts_us < end_us`` again, ``batch`` calls per
    transaction, and set the sums of the traces holding them."""
    outcome = Outcome(db, prices.version)
    after_seq = -1
    # The calls stored when it starts: later ones were priced by their server's table, and a
    # server writing as fast as this reads would otherwise keep it going for ever.
    last_seq = conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
    while True:
        query = (after_seq, last_seq, *_LLM_TYPES, start_us, end_us, batch)
        rows = conn.execute(_SELECT, query).fetchall()
        if not rows:
            return outcome
        after_seq = int(rows[-1][0])
        _reprice_batch(conn, prices, rows, outcome)


def _reprice_batch(conn: Any, prices: PriceTable, rows: Sequence[Any], outcome: Outcome) -> None:
    calls = [_priced(prices, row, outcome) for row in rows]
    traces = sorted({call.trace for call in calls})
    conn.execute(dialect_of(conn).begin)
    try:
        lock = getattr(conn, "lock", None)
        if lock is not None:  # PostgreSQL: the ingest's own trace locks
            lock([("trace", *trace) for trace in traces])
        changed = [c for c, row in zip(calls, rows, strict=True) if _differs(c, row)]
        if changed:
            conn.executemany(
                _UPDATE_EVENT, [(c.cost, c.version, c.reasoning, c.seq) for c in changed]
            )
        conn.executemany(_UPDATE_TRACE, [(*_LLM_TYPES * 3, *trace) for trace in traces])
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    outcome.calls += len(calls)
    outcome.changed += len(changed)
    outcome.traces += len(traces)


def _priced(prices: PriceTable, row: Any, outcome: Outcome) -> _Call:
    """The call as the ingest would price it today (columns read from its metadata again)."""
    seq, project_id, trace_id, event_type, metadata_text, old_cost = (row[i] for i in range(6))
    metadata = _metadata(metadata_text)
    event = EventRow(item=0, event_type=event_type, trace_id=trace_id, agent_name="", ts="",
                     ts_us=0)  # fmt: skip
    extract_columns(event, None, metadata)
    price_row(prices, event)
    key = (event.provider or "", event.model or "")
    change = outcome.models.setdefault(key, ModelChange())
    change.calls += 1
    change.before += old_cost or 0.0
    change.after += event.cost_usd or 0.0
    change.changed += event.cost_usd != old_cost
    change.unpriced += event.cost_usd is None and has_tokens(event)
    return _Call(seq, (project_id, trace_id), event.cost_usd, event.price_version,
                 event.reasoning_tokens)  # fmt: skip


def _metadata(text: Any) -> dict[str, Any] | None:
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _differs(call: _Call, row: Any) -> bool:
    return (call.cost, call.version, call.reasoning) != (row[5], row[6], row[7])


def _report(outcome: Outcome) -> str:
    lines = [
        f"{display_target(outcome.db)}, price version {outcome.version}:"
        f" {outcome.calls:,} LLM calls read, {outcome.changed:,} changed,"
        f" {outcome.traces:,} trace sums set"
    ]
    changed = {key: m for key, m in outcome.models.items() if m.changed}
    if changed:
        lines.append(f"{'provider':<10} {'model':<32} {'calls':>7} {'before USD':>12}"
                     f" {'after USD':>12} {'unpriced':>8}")  # fmt: skip
    for (provider, model), m in sorted(changed.items()):
        lines.append(f"{provider[:10]:<10} {model[:32]:<32} {m.changed:>7,} {m.before:>12.6f}"
                     f" {m.after:>12.6f} {m.unpriced:>8,}")  # fmt: skip
    return "\n".join(lines)


def _json(outcome: Outcome) -> str:
    models = [
        {"provider": p, "model": m, "calls": c.calls, "changed": c.changed,
         "beforeUsd": c.before, "afterUsd": c.after, "unpriced": c.unpriced}
        for (p, m), c in sorted(outcome.models.items())
    ]  # fmt: skip
    summary = {"db": display_target(outcome.db), "priceVersion": outcome.version,
               "calls": outcome.calls, "changed": outcome.changed,
               "traces": outcome.traces}  # fmt: skip
    return json.dumps({**summary, "models": models})
