"""``whyops migrate``: copy a SQLite database into PostgreSQL.

Idempotent and resumable: rows go in chunks, each committed on its own, with
``ON CONFLICT DO NOTHING`` on the target's unique keys, so a second run, or a run after an
interruption, adds exactly what is missing and never a row twice.

Projects, agents and agent versions are matched by what names them (a project's name, an
agent's name in its project, a version's hash for its agent) rather than by id, so a database
whose server has started already (and made the project ``default``) receives the copied traces
in its own projects; the rows that point at them (keys, traces, events) follow the match.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TextIO

import attrs

DEFAULT_CHUNK_ROWS = 1000
SQLITE_PREFIX = "sqlite:"
BAR_WIDTH = 30
# Seconds between two redraws of the bar (terminal) or two lines (log).
REDRAW_S = 0.1
LINE_S = 5.0


@attrs.frozen
class Table:
    """How one table is copied.

    ``order``: the source columns that walk it in a stable order (chunks resume after the
    last one read). ``natural``: the columns that identify a row across databases, when its
    ``id`` may differ in the target. ``refs``: columns holding ids of another table's rows.
    """

    name: str
    order: tuple[str, ...] = ("rowid",)
    natural: tuple[str, ...] = ()
    refs: Mapping[str, str] = attrs.field(factory=dict)
    # The column that names a row in messages.
    label: str = "id"


# In dependency order: every table after the tables its rows point at.
TABLES = (
    Table("projects", natural=("name",)),
    Table("api_keys", refs={"project_id": "projects"}, label="prefix"),
    Table("agents", natural=("project_id", "name"), refs={"project_id": "projects"}),
    Table("agent_versions", natural=("agent_id", "hash"), refs={"agent_id": "agents"}),
    Table(
        "traces",
        order=("project_id", "trace_id"),
        label="trace_id",
        refs={
            "project_id": "projects",
            "agent_id": "agents",
            "agent_version_id": "agent_versions",
        },
    ),
    Table("events", order=("seq",), refs={"project_id": "projects"}),
)
# Columns each database numbers on its own (the target assigns its own).
LOCAL_COLUMNS = frozenset({"seq"})
# SQLite text may hold it; PostgreSQL text cannot (its servers refuse it with a 400).
NUL = "\x00"
# Rows named per table when some could not be copied.
NAMED_LEFT_OUT = 5


class Progress:
    """Rows copied per table: a bar redrawn in place on a terminal, plain lines otherwise
    (one when a table starts, one every few seconds, one when it is done)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.bar = out.isatty()
        self.table, self.total, self.done, self.shown = "", 0, 0, 0.0

    def begin(self, table: str, total: int) -> None:
        self.table, self.total, self.done = table, total, 0
        self.shown = time.monotonic()
        self._show(force=True)

    def advance(self, rows: int) -> None:
        self.done += rows
        self._show()

    def end(self, note: str) -> None:
        self.done = self.total
        self._show(force=True, note=note)
        if self.bar:
            self.out.write("\n")
            self.out.flush()

    def _show(self, force: bool = False, note: str = "") -> None:
        now = time.monotonic()
        if not force and now - self.shown < (REDRAW_S if self.bar else LINE_S):
            return
        self.shown = now
        share = self.done / self.total if self.total else 1.0
        counts = f"{self.done:,}/{self.total:,} rows" + (f", {note}" if note else "")
        if self.bar:
            filled = round(share * BAR_WIDTH)
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            self.out.write(f"\r{self.table:<15} [{bar}] {share:4.0%} {counts}\x1b[K")
        else:
            self.out.write(f"{self.table}: {share:.0%} {counts}\n")
        self.out.flush()


class MigrateError(Exception):
    """A problem the user can fix (bad source, bad target): one clear line, exit 1."""


def parse_source(text: str) -> str:
    """``sqlite:PATH`` (or a plain path) to the path of the SQLite file."""
    path = text[len(SQLITE_PREFIX) :] if text.startswith(SQLITE_PREFIX) else text
    if path.startswith("//"):
        path = path[2:]
    if not path:
        raise MigrateError(f"--from {text!r}: give the SQLite file, e.g. --from sqlite:whyops.db")
    return path


def open_source(path: str) -> sqlite3.Connection:
    """The SQLite file, read-only, checked to be a whyops database this version can read."""
    from whyops.server.store.schema import SCHEMA_VERSION

    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        (version,) = conn.execute("PRAGMA user_version").fetchone()
    except sqlite3.Error as exc:
        raise MigrateError(f"--from {path}: cannot read it as SQLite ({exc})") from exc
    if version != SCHEMA_VERSION:
        conn.close()
        what = "not a whyops database" if version == 0 else f"schema version {version}"
        raise MigrateError(
            f"--from {path}: {what}; this whyops reads schema version {SCHEMA_VERSION}"
            " (open it once with this version's `whyops serve` to upgrade it)"
        )
    return conn


class Copier:
    """Copies the tables of one SQLite connection into one PostgreSQL connection."""

    def __init__(self, source: sqlite3.Connection, target: Any, chunk_rows: int) -> None:
        self.source = source
        self.target = target
        self.chunk_rows = chunk_rows
        # Per table: source id -> target id, for rows matched under another id.
        self.renamed: dict[str, dict[str, str]] = {table.name: {} for table in TABLES}
        # Per table: the rows PostgreSQL cannot hold (their labels), and the ids among them.
        self.left_out: dict[str, list[str]] = {table.name: [] for table in TABLES}
        self.dropped: dict[str, set[Any]] = {table.name: set() for table in TABLES}

    def count(self, table: Table) -> int:
        return int(self.source.execute(f"SELECT count(*) FROM {table.name}").fetchone()[0])

    def columns(self, table: Table) -> list[str]:
        """The columns both databases have, minus the ones each numbers itself."""
        source = [row[1] for row in self.source.execute(f"PRAGMA table_info({table.name})")]
        query = (
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = %s"
        )
        target = {row[0] for row in self.target.execute(query, (table.name,))}
        return [name for name in source if name in target and name not in LOCAL_COLUMNS]

    def chunks(self, table: Table, columns: Sequence[str]) -> Iterator[list[tuple[Any, ...]]]:
        """The source rows in ``table.order``, ``chunk_rows`` at a time."""
        order = ", ".join(table.order)
        select = f"SELECT {order}, {', '.join(columns)} FROM {table.name}"
        width = len(table.order)
        after: tuple[Any, ...] | None = None
        while True:
            where = f" WHERE ({order}) > ({', '.join('?' * width)})" if after else ""
            query = f"{select}{where} ORDER BY {order} LIMIT ?"
            rows = self.source.execute(query, (*(after or ()), self.chunk_rows)).fetchall()
            if not rows:
                return
            after = tuple(rows[-1][:width])
            yield [tuple(row[width:]) for row in rows]

    def copy(self, table: Table, progress: Progress) -> int:
        """Copy one table; the number of rows the target did not have yet."""
        columns = self.columns(table)
        names = ", ".join(columns)
        marks = ", ".join(["%s"] * len(columns))
        insert = f"INSERT INTO {table.name} ({names}) VALUES ({marks}) ON CONFLICT DO NOTHING"
        added = 0
        label_at = columns.index(table.label)
        for chunk in self.chunks(table, columns):
            rows = []
            for row in chunk:
                if self.fits(table, columns, row):
                    rows.append(self.translate(table, columns, row))
                else:
                    self.left_out[table.name].append(repr(row[label_at]))
            with self.target.transaction():
                cursor = self.target.cursor()
                cursor.executemany(insert, rows)
                added += max(cursor.rowcount, 0)
            if table.natural:
                self.match(table, columns, rows)
            progress.advance(len(chunk))
        return added

    def fits(self, table: Table, columns: Sequence[str], row: tuple[Any, ...]) -> bool:
        """Whether PostgreSQL can hold ``row``: no NUL in its text, and every row it points
        at copied (an agent left out leaves out its versions); notes the ids left out."""
        fits = not any(isinstance(value, str) and NUL in value for value in row) and not any(
            row[index] in self.dropped[table.refs[column]]
            for index, column in enumerate(columns)
            if column in table.refs
        )
        if not fits and "id" in columns:
            self.dropped[table.name].add(row[columns.index("id")])
        return fits

    def translate(self, table: Table, columns: Sequence[str], row: tuple[Any, ...]) -> tuple:
        """``row`` with the ids it points at replaced by their matches in the target."""
        if not any(self.renamed[other] for other in table.refs.values()):
            return row
        values = list(row)
        for index, column in enumerate(columns):
            other = table.refs.get(column)
            if other is not None and values[index] is not None:
                values[index] = self.renamed[other].get(values[index], values[index])
        return tuple(values)

    def match(self, table: Table, columns: Sequence[str], rows: Sequence[tuple]) -> None:
        """Note the rows the target holds under another id (matched by ``table.natural``)."""
        where = " AND ".join(f"{column} = %s" for column in table.natural)
        query = f"SELECT id FROM {table.name} WHERE {where}"
        id_at = columns.index("id")
        natural_at = [columns.index(column) for column in table.natural]
        for row in rows:
            found = self.target.execute(query, [row[i] for i in natural_at]).fetchone()
            if found is not None and found[0] != row[id_at]:
                self.renamed[table.name][row[id_at]] = found[0]


@attrs.frozen
class Outcome:
    """What a run did: rows added per table, and the rows left out per table (labels)."""

    added: dict[str, int]
    left_out: dict[str, list[str]]

    def left_out_lines(self) -> list[str]:
        lines = []
        for table, labels in self.left_out.items():
            if labels:
                more = ", …" if len(labels) > NAMED_LEFT_OUT else ""
                named = ", ".join(labels[:NAMED_LEFT_OUT]) + more
                lines.append(f"  {table}: {len(labels):,} ({named})")
        return lines


def prepare_target(url: str) -> None:
    """Create (or upgrade) the whyops schema in the target database, as a server would."""
    from whyops.server.store import Store

    Store(url).close()


def migrate(source_path: str, target_url: str, chunk_rows: int, progress: Progress) -> Outcome:
    """Copy every table (a second run adds nothing)."""
    import psycopg

    source = open_source(source_path)
    try:
        prepare_target(target_url)
        with psycopg.connect(target_url, autocommit=True) as target:
            copier = Copier(source, target, chunk_rows)
            added = {}
            for table in TABLES:
                progress.begin(table.name, copier.count(table))
                added[table.name] = copier.copy(table, progress)
                progress.end(f"{added[table.name]:,} new")
            return Outcome(added, copier.left_out)
    finally:
        source.close()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Copy a whyops SQLite database into PostgreSQL: projects, keys, agents, versions,"
        " traces and events. Safe to run again, and to interrupt: a later run adds only what"
        " is missing."
    )
    add = parser.add_argument
    add("--from", dest="source", required=True, metavar="sqlite:PATH", help="the SQLite file")
    add("--to", dest="target", required=True, metavar="postgresql://…", help="the database")
    add("--chunk-rows", type=int, default=DEFAULT_CHUNK_ROWS, metavar="N",
        help=f"rows per transaction (default {DEFAULT_CHUNK_ROWS})")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from whyops.server.store.dialect import is_postgres_url

    try:
        if not is_postgres_url(args.target):
            raise MigrateError(f"--to {args.target!r}: give a postgresql://… URL")
        if args.chunk_rows < 1:
            raise MigrateError("--chunk-rows: give a number of rows, 1 or more")
        progress = Progress(sys.stderr)
        outcome = migrate(parse_source(args.source), args.target, args.chunk_rows, progress)
    except MigrateError as exc:
        print(f"whyops migrate: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nwhyops migrate: interrupted; run it again to finish", file=sys.stderr)
        return 130
    except Exception as exc:  # the database's own message (unreachable, refused, ...)
        print(f"whyops migrate: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"copied {sum(outcome.added.values()):,} new rows into {_redacted(args.target)}")
    left_out = outcome.left_out_lines()
    if left_out:
        print("whyops migrate: left out the rows whose text holds the NUL character, which"
              " PostgreSQL cannot store:", *left_out, sep="\n", file=sys.stderr)  # fmt: skip
        return 1
    return 0


def _redacted(url: str) -> str:
    """The URL without its password, to print."""
    scheme, sep, rest = url.partition("://")
    credentials, at, place = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{place}"
