"""The audit log's storage layer: the connection, transactions and the few SQL differences.

:class:`~stylegate.governance.audit.log.AuditLog` holds the Merkle, chain and verification
logic and writes its SQL once, with ``?`` placeholders and portable statements. A backend opens
the database, runs transactions with the right locking and isolation, streams long results and
creates the tables. Two exist:

- :class:`SqliteBackend`: one file (default ``<home>/audit.db``), WAL, ``synchronous=FULL``;
  a write transaction is ``BEGIN IMMEDIATE``, so appends are serialised by SQLite's write lock.
- :class:`PostgresBackend`: the tables live in the schema ``stylegate_audit`` of a PostgreSQL
  database (by default the registry's). A write transaction runs at READ COMMITTED and locks the
  single ``tree_state`` row (``SELECT … FOR UPDATE``) before it reads the head, so concurrent
  appends from any number of processes or hosts are serialised on that row and get unique,
  gap-free sequence numbers; reads run at REPEATABLE READ (one snapshot, as SQLite's deferred
  ``BEGIN`` gives). A commit returns after PostgreSQL has made it durable (``synchronous_commit``
  as the server is configured; ``on`` by default).
"""

from __future__ import annotations

import itertools
import logging
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from stylegate.errors import AuditError

__all__ = ["Backend", "PostgresBackend", "SqliteBackend", "is_database_url", "open_backend"]

log = logging.getLogger(__name__)

PG_SCHEMA = "stylegate_audit"
_STREAM_BATCH = 2000

# The tables, shared by both backends except for the integer and serial types.
_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    seq {int} PRIMARY KEY,
    time TEXT NOT NULL,
    kind TEXT NOT NULL,
    entry TEXT NOT NULL,
    leaf_hash TEXT NOT NULL,
    root_hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_time ON entries (time);
CREATE INDEX IF NOT EXISTS entries_kind ON entries (kind, seq);
CREATE TABLE IF NOT EXISTS tree_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    size {int} NOT NULL,
    frontier TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    id {serial},
    size {int} NOT NULL,
    root_hash TEXT NOT NULL,
    time TEXT NOT NULL,
    key_id TEXT NOT NULL,
    public_key TEXT NOT NULL,
    signature TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
)
"""

# Per-artist counters (see counters.py), added to logs made before them by AuditLog's migration.
COUNTER_TABLES = """
CREATE TABLE IF NOT EXISTS counters (
    artist_id {int} NOT NULL,
    name TEXT NOT NULL,
    value {int} NOT NULL,
    PRIMARY KEY (artist_id, name)
);
CREATE TABLE IF NOT EXISTS voided (seq {int} PRIMARY KEY)
"""


def is_database_url(target: str | os.PathLike[str]) -> bool:
    """Whether ``target`` names a PostgreSQL database (``postgresql://`` or ``postgresql+psycopg://``)."""
    return isinstance(target, str) and target.split("://", 1)[0] in ("postgresql", "postgres", "postgresql+psycopg")


def _statements(ddl: str) -> list[str]:
    return [s.strip() for s in ddl.split(";") if s.strip()]


class Cursor(Protocol):
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Backend(Protocol):
    """What :class:`AuditLog` needs from a database (one connection, used under the log's lock)."""

    name: str
    location: str  # for messages: a file path, or a URL without its password
    errors: tuple[type[BaseException], ...]
    for_update: str  # appended to the tree-state read in a write transaction

    def begin(self, write: bool) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def in_transaction(self) -> bool: ...
    def execute(self, sql: str, args: Sequence[Any] = ()) -> Cursor: ...
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...
    def stream(self, sql: str, args: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]: ...
    def insert_id(self, sql: str, args: Sequence[Any]) -> int: ...
    def has_table(self, table: str) -> bool: ...
    def has_column(self, table: str, column: str) -> bool: ...
    def create_tables(self, ddl: str) -> None: ...
    def schema_lock(self) -> None: ...
    def close(self) -> None: ...


class SqliteBackend:
    """The audit log in one SQLite file (WAL, ``synchronous=FULL``)."""

    name = "sqlite"
    errors: tuple[type[BaseException], ...] = (sqlite3.Error,)
    for_update = ""

    def __init__(self, path: Path, busy_timeout_s: float) -> None:
        self.path = path
        self.location = str(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(str(path), timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise AuditError(f"cannot open the audit log {path}: {exc}") from exc
        try:
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                log.warning("audit log %s is in %s mode, not WAL", path, mode)
            self._conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.Error as exc:
            self._conn.close()
            raise AuditError(f"cannot open the audit log {path}: {exc}") from exc

    def begin(self, write: bool) -> None:
        self._conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")

    def commit(self) -> None:
        self._conn.execute("COMMIT")

    def rollback(self) -> None:
        self._conn.execute("ROLLBACK")

    def in_transaction(self) -> bool:
        return self._conn.in_transaction

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Cursor:
        return self._conn.execute(sql, tuple(args))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._conn.executemany(sql, rows)

    def stream(self, sql: str, args: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        yield from self._conn.execute(sql, tuple(args))

    def insert_id(self, sql: str, args: Sequence[Any]) -> int:
        return int(self._conn.execute(sql, tuple(args)).lastrowid or 0)

    def has_table(self, table: str) -> bool:
        row = self._conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
        return row is not None

    def has_column(self, table: str, column: str) -> bool:
        return any(row[1] == column for row in self._conn.execute(f"PRAGMA table_info({table})"))

    def create_tables(self, ddl: str) -> None:
        for statement in _statements(ddl.format(int="INTEGER", serial="INTEGER PRIMARY KEY AUTOINCREMENT")):
            self._conn.execute(statement)

    def schema_lock(self) -> None:
        """BEGIN IMMEDIATE already holds the only write lock."""

    def close(self) -> None:
        self._conn.close()


def _psycopg_conninfo(url: str) -> str:
    """A libpq URI from a SQLAlchemy-style URL (``postgresql+psycopg://`` → ``postgresql://``)."""
    scheme, rest = url.split("://", 1)
    return f"postgresql://{rest}" if scheme in ("postgresql+psycopg", "postgres") else url


def _without_password(url: str) -> str:
    scheme, rest = url.split("://", 1)
    if "@" in rest:
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}@{host}"
    return url


class PostgresBackend:
    """The audit log in the ``stylegate_audit`` schema of a PostgreSQL database (psycopg 3)."""

    name = "postgresql"
    errors: tuple[type[BaseException], ...] = ()
    for_update = " FOR UPDATE"
    _cursors = itertools.count(1)

    def __init__(self, url: str, busy_timeout_s: float) -> None:
        import psycopg

        self.errors = (psycopg.Error,)
        self.location = _without_password(url)
        lock_ms = max(1, int(busy_timeout_s * 1000))
        try:
            # appends wait for the tree-state row as long as SQLite's busy timeout, then fail clearly
            self._conn = psycopg.connect(_psycopg_conninfo(url), autocommit=False, connect_timeout=30,
                                         options=f"-c search_path={PG_SCHEMA} -c lock_timeout={lock_ms}")
        except psycopg.Error as exc:
            raise AuditError(f"cannot open the audit log in {self.location}: {exc}") from exc

    def begin(self, write: bool) -> None:
        from psycopg import IsolationLevel

        conn = self._conn
        if conn.info.transaction_status != 0:  # IDLE: a failed statement left one open
            conn.rollback()
        conn.isolation_level = IsolationLevel.READ_COMMITTED if write else IsolationLevel.REPEATABLE_READ
        conn.read_only = not write
        conn.execute("SELECT 1")  # start it now, as SQLite's BEGIN does

    def commit(self) -> None:
        self._conn.commit()

    def rollback(self) -> None:
        self._conn.rollback()

    def in_transaction(self) -> bool:
        return bool(self._conn.info.transaction_status != 0)

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Cursor:
        return self._conn.execute(sql.replace("?", "%s"), tuple(args))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._conn.cursor() as cur:
            cur.executemany(sql.replace("?", "%s"), rows)

    def stream(self, sql: str, args: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        """Rows through a server-side cursor, so a million entries never sit in memory at once."""
        with self._conn.cursor(name=f"audit_stream_{next(self._cursors)}") as cur:
            cur.itersize = _STREAM_BATCH
            cur.execute(sql.replace("?", "%s"), tuple(args))
            yield from cur

    def insert_id(self, sql: str, args: Sequence[Any]) -> int:
        row = self._conn.execute(sql.replace("?", "%s") + " RETURNING id", tuple(args)).fetchone()
        return int(row[0]) if row else 0

    def has_table(self, table: str) -> bool:
        row = self._conn.execute("SELECT to_regclass(%s)", (f"{PG_SCHEMA}.{table}",)).fetchone()
        return bool(row and row[0] is not None)

    def has_column(self, table: str, column: str) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = %s AND table_name = %s AND column_name = %s",
            (PG_SCHEMA, table, column)).fetchone()
        return row is not None

    def create_tables(self, ddl: str) -> None:
        self._conn.execute(f"CREATE SCHEMA IF NOT EXISTS {PG_SCHEMA}")
        for statement in _statements(ddl.format(int="BIGINT", serial="BIGSERIAL PRIMARY KEY")):
            self._conn.execute(statement)

    def schema_lock(self) -> None:
        """Serialise schema creation and migration across processes (CREATE … IF NOT EXISTS races)."""
        self._conn.execute("SELECT pg_advisory_xact_lock(hashtext('stylegate_audit.schema'))")

    def close(self) -> None:
        self._conn.close()


def open_backend(target: str | os.PathLike[str], busy_timeout_s: float, *,
                 create: bool = True) -> SqliteBackend | PostgresBackend:
    """A PostgreSQL backend for a ``postgresql://`` URL, else SQLite at the path ``target``
    (``create=False``: never create a missing file)."""
    if is_database_url(target):
        return PostgresBackend(str(target), busy_timeout_s)
    text = os.fspath(target)
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///"):]
    if "://" in text:
        raise AuditError(f"the audit log is a SQLite file path or a postgresql:// URL, not {text!r}")
    path = Path(text).expanduser()
    if not create and not path.is_file():
        raise AuditError(f"the audit log {path} has no tables (no such file); stylegate never recreates it, "
                         "since its acknowledged entries would be lost: restore it from a backup, or run `stylegate init`")
    return SqliteBackend(path, busy_timeout_s)
