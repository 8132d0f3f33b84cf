"""Raw SQL on an audit log's database, the way an intruder (or a test) edits it: sqlite3 on the
file, or psycopg on the PostgreSQL database's ``stylegate_audit`` schema. Statements use ``?``."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from stylegate.governance.audit.backend import PG_SCHEMA, _psycopg_conninfo, is_database_url


class RawDB:
    """A DB-API connection with ``?`` placeholders on both backends; ``with`` commits."""

    def __init__(self, target: str | Path, schema: str | None = PG_SCHEMA) -> None:
        """``schema``: the PostgreSQL search path (the audit log's schema; None for the registry's
        tables in the default one). A SQLite ``target`` is a file path or a ``sqlite:///`` URL."""
        self.pg = is_database_url(target)
        if self.pg:
            import psycopg

            options = f"-c search_path={schema}" if schema else ""
            self._conn: Any = psycopg.connect(_psycopg_conninfo(str(target)), options=options)
        else:
            path = str(target)
            self._conn = sqlite3.connect(path.removeprefix("sqlite:///") if path.startswith("sqlite:///") else path)

    def execute(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> Any:
        return self._conn.execute(sql.replace("?", "%s") if self.pg else sql, tuple(args))

    def __enter__(self) -> RawDB:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self._conn.commit()
        else:
            self._conn.rollback()

    def tables(self) -> list[str]:
        """The tables of the connection's schema (the registry's, or the audit log's)."""
        if self.pg:
            rows = self.execute("select table_name from information_schema.tables "
                                "where table_schema = current_schema() and table_type = 'BASE TABLE'")
        else:
            rows = self.execute("select name from sqlite_master where type = 'table'")
        return [r[0] for r in rows]

    def close(self) -> None:
        self._conn.close()


def raw_sql(target: str | Path, statement: str, *args: object) -> None:
    """Run one statement and commit."""
    conn = RawDB(target)
    with conn:
        conn.execute(statement, args)
    conn.close()
