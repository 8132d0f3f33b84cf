"""SQLAlchemy Core tables of the registry (the current schema, used for queries).

The schema is created and changed only by :mod:`stylegate.registry.migrations`; each
migration freezes its own table definitions so later edits here cannot change history.
"""

from __future__ import annotations

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
)

NAME_MAX = 200
ALIAS_MAX = 200
DESCRIPTOR_MAX = 1000

metadata = MetaData()

schema_migrations = Table(
    "schema_migrations",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("applied_at", String(40), nullable=False),
)

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

artists = Table(
    "artists",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(NAME_MAX), nullable=False),
    # casefolded name: uniqueness and lookup are case-insensitive on every backend
    Column("name_key", String(NAME_MAX), nullable=False, unique=True),
    Column("aliases", JSON, nullable=False),
    Column("descriptors", JSON, nullable=False),
    Column("consent", String(16), nullable=False),
    Column("royalty_rate", Float, nullable=True),
    Column("created_at", String(40), nullable=False),
    CheckConstraint("consent IN ('opt-out', 'royalty', 'credit')", name="ck_artists_consent"),
    CheckConstraint(
        "royalty_rate IS NULL OR (royalty_rate >= 0 AND royalty_rate <= 1)", name="ck_artists_royalty_rate"
    ),
    sqlite_autoincrement=True,  # never reuse ids: audit entries refer to them
)

works = Table(
    "works",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("artist_id", Integer, ForeignKey("artists.id", ondelete="RESTRICT"), nullable=False, index=True),
    Column("sha256", String(64), nullable=False, unique=True),
    Column("path", String(200), nullable=False),
    Column("format", String(8), nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("added_at", String(40), nullable=False),
    sqlite_autoincrement=True,  # work ids are FAISS ids and appear in audit entries
)

CONTACT_MAX = 320

accounts = Table(
    "accounts",
    metadata,
    Column("artist_id", Integer, ForeignKey("artists.id", ondelete="CASCADE"), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("contact", String(CONTACT_MAX), nullable=False),
    Column("verified", Integer, nullable=False, server_default="0"),
    Column("created_at", String(40), nullable=False),
    Column("contact_confirmed", Integer, nullable=False, server_default="0"),  # 0004: by a mailed link
    CheckConstraint("verified IN (0, 1)", name="ck_accounts_verified"),
)

CLAIM_KEY_MAX = 400

# Every name and alias is claimed under its canonical keys (see registry/claims.py): a key
# belongs to one artist, so a look-alike, re-spaced or re-cased twin of a registered name is
# refused or disputed instead of registered.
name_claims = Table(
    "name_claims",
    metadata,
    Column("key", String(CLAIM_KEY_MAX), primary_key=True),
    Column("artist_id", Integer, ForeignKey("artists.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("label", String(NAME_MAX), nullable=False),
)

name_disputes = Table(
    "name_disputes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(CLAIM_KEY_MAX), nullable=False),
    Column("label", String(NAME_MAX), nullable=False),
    Column("claimant_id", Integer, ForeignKey("artists.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("holder_id", Integer, ForeignKey("artists.id", ondelete="SET NULL"), nullable=True),
    Column("status", String(16), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("resolved_at", String(40), nullable=True),
    CheckConstraint("status IN ('open', 'granted', 'rejected')", name="ck_name_disputes_status"),
    sqlite_autoincrement=True,
)

# 0004: portal sessions (the sha256 of a random session id) and pending contact confirmations
sessions = Table(
    "sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("artist_id", Integer, ForeignKey("artists.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("created_at", String(40), nullable=False),
    Column("expires_at", String(40), nullable=False),
)

contact_confirmations = Table(
    "contact_confirmations",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("artist_id", Integer, ForeignKey("artists.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("contact", String(CONTACT_MAX), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("expires_at", String(40), nullable=False),
)

# The CAWG training-and-data-mining assertion found in a work's own C2PA manifest on ingest
# ({"training_mining", "status", "signer"}), shown beside the consent the artist registered.
work_consent_signals = Table(
    "work_consent_signals",
    metadata,
    Column("work_id", Integer, ForeignKey("works.id", ondelete="CASCADE"), primary_key=True),
    Column("signal", JSON, nullable=False),
)

# 0006: the artists each revision touched (``kind``: artist | works | claim | all), written in
# the transaction of the change; a running gate reads it to apply a change instead of rebuilding.
registry_changes = Table(
    "registry_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("revision", BigInteger, nullable=False, index=True),
    Column("artist_id", Integer, nullable=True),
    Column("kind", String(16), nullable=False),
    sqlite_autoincrement=True,
)

# 0007: the service's token buckets (limiter name, client key): tokens left at ``stamp``
# (seconds since the epoch), shared by every worker process over this database
rate_buckets = Table(
    "rate_buckets",
    metadata,
    Column("limiter", String(32), primary_key=True),
    Column("key", String(80), primary_key=True),
    Column("tokens", Float, nullable=False),
    Column("stamp", Float, nullable=False),
)
