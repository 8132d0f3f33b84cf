"""Versioned, named schema migrations.

``MIGRATIONS`` is an ordered list of ``(name, up)`` pairs; ``up(connection)`` changes the
schema (and data) inside the transaction that also records ``name`` in the
``schema_migrations`` table, so a migration is applied completely or not at all, exactly
once. Opening an up-to-date database applies nothing. Add new migrations at the end; never
edit or reorder one that has shipped. Table definitions are frozen inside each migration.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
    text,
)
from sqlalchemy.engine import Connection, Engine

from stylegate.errors import StylegateError

from . import schema

log = logging.getLogger(__name__)

Migration = tuple[str, Callable[[Connection], None]]


def _m0001_initial(conn: Connection) -> None:
    md = MetaData()
    Table(
        "meta",
        md,
        Column("key", String(64), primary_key=True),
        Column("value", Text, nullable=False),
    )
    Table(
        "artists",
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("name", String(200), nullable=False),
        Column("name_key", String(200), nullable=False, unique=True),
        Column("aliases", JSON, nullable=False),
        Column("descriptors", JSON, nullable=False),
        Column("consent", String(16), nullable=False),
        Column("royalty_rate", Float, nullable=True),
        Column("created_at", String(40), nullable=False),
        CheckConstraint("consent IN ('opt-out', 'royalty', 'credit')", name="ck_artists_consent"),
        CheckConstraint(
            "royalty_rate IS NULL OR (royalty_rate >= 0 AND royalty_rate <= 1)", name="ck_artists_royalty_rate"
        ),
        sqlite_autoincrement=True,
    )
    Table(
        "works",
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("artist_id", Integer, ForeignKey("artists.id", ondelete="RESTRICT"), nullable=False, index=True),
        Column("sha256", String(64), nullable=False, unique=True),
        Column("path", String(200), nullable=False),
        Column("format", String(8), nullable=False),
        Column("width", Integer, nullable=False),
        Column("height", Integer, nullable=False),
        Column("size_bytes", BigInteger, nullable=False),
        Column("added_at", String(40), nullable=False),
        sqlite_autoincrement=True,
    )
    md.create_all(conn)
    conn.execute(insert(md.tables["meta"]).values(key="revision", value="0"))


def _m0002_accounts(conn: Connection) -> None:
    """Portal accounts: one per artist, with the sha256 of its API token (never the token)."""
    md = MetaData()
    Table("artists", md, Column("id", Integer, primary_key=True))
    Table(
        "accounts",
        md,
        Column("artist_id", Integer, ForeignKey("artists.id", ondelete="CASCADE"), primary_key=True),
        Column("token_hash", String(64), nullable=False, unique=True),
        Column("contact", String(320), nullable=False),
        Column("verified", Integer, nullable=False, server_default="0"),
        Column("created_at", String(40), nullable=False),
        CheckConstraint("verified IN (0, 1)", name="ck_accounts_verified"),
    )
    md.tables["accounts"].create(conn)


def _m0003_name_claims(conn: Connection) -> None:
    """Name claims (one artist per canonical key) and disputed claims for an administrator.

    The claims themselves are filled in when the store opens with its claim rules (the keys
    come from the screening layer, which the registry does not import).
    """
    md = MetaData()
    Table("artists", md, Column("id", Integer, primary_key=True))
    Table(
        "name_claims",
        md,
        Column("key", String(400), primary_key=True),
        Column("artist_id", Integer, ForeignKey("artists.id", ondelete="CASCADE"), nullable=False, index=True),
        Column("label", String(200), nullable=False),
    )
    Table(
        "name_disputes",
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("key", String(400), nullable=False),
        Column("label", String(200), nullable=False),
        Column("claimant_id", Integer, ForeignKey("artists.id", ondelete="CASCADE"), nullable=False, index=True),
        Column("holder_id", Integer, ForeignKey("artists.id", ondelete="SET NULL"), nullable=True),
        Column("status", String(16), nullable=False),
        Column("created_at", String(40), nullable=False),
        Column("resolved_at", String(40), nullable=True),
        CheckConstraint("status IN ('open', 'granted', 'rejected')", name="ck_name_disputes_status"),
        sqlite_autoincrement=True,
    )
    md.tables["name_claims"].create(conn)
    md.tables["name_disputes"].create(conn)


def _m0004_sessions_and_contact_confirmation(conn: Connection) -> None:
    """Server-side portal sessions and mailed contact confirmation (hashes only, never secrets).

    Numbered 0004 so that it follows ``0003_name_claims`` when both are present.
    """
    md = MetaData()
    Table("artists", md, Column("id", Integer, primary_key=True))
    Table(
        "sessions",
        md,
        Column("id_hash", String(64), primary_key=True),
        Column("artist_id", Integer, ForeignKey("artists.id", ondelete="CASCADE"), nullable=False, index=True),
        Column("created_at", String(40), nullable=False),
        Column("expires_at", String(40), nullable=False),
    )
    Table(
        "contact_confirmations",
        md,
        Column("token_hash", String(64), primary_key=True),
        Column("artist_id", Integer, ForeignKey("artists.id", ondelete="CASCADE"), nullable=False, index=True),
        Column("contact", String(320), nullable=False),
        Column("created_at", String(40), nullable=False),
        Column("expires_at", String(40), nullable=False),
    )
    md.tables["sessions"].create(conn)
    md.tables["contact_confirmations"].create(conn)
    conn.exec_driver_sql(
        "ALTER TABLE accounts ADD COLUMN contact_confirmed INTEGER NOT NULL DEFAULT 0 "
        "CHECK (contact_confirmed IN (0, 1))"
    )


def _m0005_work_consent_signals(conn: Connection) -> None:
    """What a work's own Content Credentials say about AI training (CAWG), read on ingest."""
    md = MetaData()
    Table("works", md, Column("id", Integer, primary_key=True))
    Table(
        "work_consent_signals",
        md,
        Column("work_id", Integer, ForeignKey("works.id", ondelete="CASCADE"), primary_key=True),
        Column("signal", JSON, nullable=False),
    )
    md.tables["work_consent_signals"].create(conn)


def _m0006_change_log(conn: Connection) -> None:
    """Which artists each revision touched, so a running gate applies a change instead of rebuilding.

    The log starts at the revision the database has now (``meta.change_log_from``): a gate
    built at an older revision cannot be brought forward from it and rebuilds.
    """
    md = MetaData()
    Table(
        "registry_changes",
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("revision", BigInteger, nullable=False, index=True),
        Column("artist_id", Integer, nullable=True),  # no foreign key: a removed artist's change stays
        Column("kind", String(16), nullable=False),
        sqlite_autoincrement=True,
    )
    md.tables["registry_changes"].create(conn)
    meta = Table("meta", MetaData(), Column("key", String(64), primary_key=True), Column("value", Text))
    revision = conn.execute(select(meta.c.value).where(meta.c.key == "revision")).scalar()
    conn.execute(insert(meta).values(key="change_log_from", value=str(revision or 0)))


def _m0007_rate_buckets(conn: Connection) -> None:
    """The service's token buckets, shared by every worker process (see ``registry/rate_buckets.py``)."""
    md = MetaData()
    Table(
        "rate_buckets",
        md,
        Column("limiter", String(32), primary_key=True),
        Column("key", String(80), primary_key=True),
        Column("tokens", Float, nullable=False),
        Column("stamp", Float, nullable=False),
    )
    md.tables["rate_buckets"].create(conn)


MIGRATIONS: list[Migration] = [
    ("0001_initial", _m0001_initial),
    ("0002_accounts", _m0002_accounts),
    ("0003_name_claims", _m0003_name_claims),
    ("0004_sessions_and_contact_confirmation", _m0004_sessions_and_contact_confirmation),
    ("0005_work_consent_signals", _m0005_work_consent_signals),
    ("0006_change_log", _m0006_change_log),
    ("0007_rate_buckets", _m0007_rate_buckets),
]


# Any fixed 64-bit number, the same in every stylegate: the key of the advisory lock.
_PG_MIGRATION_LOCK = 0x5347_5245_4749_5354  # "SGREGIST"


def _lock(conn: Connection) -> None:
    """Serialise migrating processes: SQLite's ``BEGIN IMMEDIATE`` (the engine's begin hook)
    already did; PostgreSQL takes a transaction-scoped advisory lock, so two processes opening
    a fresh database at once neither race on ``CREATE TABLE`` nor apply a migration twice."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})


def applied_migrations(conn: Connection) -> list[str]:
    """Names of the migrations recorded in the database, in the order applied."""
    rows = conn.execute(
        select(schema.schema_migrations.c.name).order_by(
            schema.schema_migrations.c.applied_at, schema.schema_migrations.c.name
        )
    )
    return [r[0] for r in rows]


def migrate(engine: Engine, migrations: Sequence[Migration] | None = None) -> list[str]:
    """Apply pending migrations in order; return the names applied by this call."""
    migrations = list(MIGRATIONS if migrations is None else migrations)
    names = [name for name, _ in migrations]
    if len(set(names)) != len(names):
        raise ValueError("duplicate migration names")
    with engine.connect() as conn:
        conn.execution_options(stylegate_write=True)
        with conn.begin():
            _lock(conn)
            schema.schema_migrations.create(conn, checkfirst=True)
            unknown = [n for n in applied_migrations(conn) if n not in set(names)]
    if unknown:
        raise StylegateError(
            f"the registry database has migrations this stylegate does not know ({', '.join(unknown)}); "
            "it was written by a newer version"
        )
    applied_now: list[str] = []
    for name, up in migrations:
        with engine.connect() as conn:
            conn.execution_options(stylegate_write=True)
            with conn.begin():
                _lock(conn)
                done = set(applied_migrations(conn))
                if name in done:
                    continue
                log.info("applying registry migration %s", name)
                up(conn)
                conn.execute(
                    insert(schema.schema_migrations).values(
                        name=name, applied_at=datetime.now(timezone.utc).isoformat(timespec="microseconds")
                    )
                )
                applied_now.append(name)
    return applied_now
