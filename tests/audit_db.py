"""Raw SQL on an audit log's database, the way an intruder (or a test) edits it: sqlite3 on the
file, or psycopg on the PostgreSQL database's ``stylegate_audit`` schema. Statements use ``?``."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from stylegate.governance.audit.backend import PG_SCHEMA, _psycopg_conninfo, is_database_url


class RawDB:
    """A DB-API connection with ``?`` placeholders on both backends; ``with`` commits."""

    def __init__(self, target: str | Path) -> None:
        self.pg = is_database_url(target)
        if self.pg:
            import psycopg

            self._conn: Any = psycopg.connect(_psycopg_conninfo(str(target)), options=f"-c search_path={PG_SCHEMA}")
        else:
            self._conn = sqlite3.connect(target)

    def execute(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> Any:
        return self._conn.execute(sql.replace("?", "%s") if self.pg else sql, tuple(args))

    def __enter__(self) -> RawDB:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self._conn.commit()
        else:
            self._conn.rollback()

    def close(self) -> None:
        self._conn.close()


def raw_sql(target: str | Path, statement: str, *args: object) -> None:
    """Run one statement and commit."""
    conn = RawDB(target)
    with conn:
        conn.execute(statement, args)
    conn.close()
