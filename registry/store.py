"""The registry store: artists and their works in SQLAlchemy (SQLite by default).

SQLite databases are opened in WAL mode with ``synchronous=FULL``, foreign keys on and a busy
timeout; write transactions start with ``BEGIN IMMEDIATE`` so concurrent writers queue
instead of failing halfway. PostgreSQL (``postgresql://`` or ``postgresql+psycopg://``, the
psycopg 3 driver) is tested too: the queries are portable Core; write transactions run at READ
COMMITTED and serialise on a ``SELECT ... FOR UPDATE`` of the revision row, so every statement
after that lock sees every earlier writer's commit (the revision counter and the name claims
stay exact under concurrent writers); read-only transactions run at REPEATABLE READ, one
snapshot like SQLite's; the busy timeout becomes ``lock_timeout``. Migrations serialise on a
transaction-scoped advisory lock (see :mod:`.migrations`).

Every committed change bumps a ``revision`` counter (caches key on it) and is announced to
listeners added with :meth:`RegistryStore.add_listener` after the commit.
"""

from __future__ import annotations

import hashlib
import logging
import math
import numbers
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, delete, event, func, insert, inspect, select, update
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from stylegate.errors import ArtistNotFound, DuplicateArtist, InputError, NotFound, StylegateError

from . import schema
from .changes import ChangeSet, change_rows, change_set
from .claims import DISPUTE_STATUSES, ClaimRules, Dispute
from .migrations import Migration, applied_migrations, migrate
from .models import Artist, Consent, Work

log = logging.getLogger(__name__)

Listener = Callable[[str, dict], None]

MAX_ALIASES = 100
MAX_DESCRIPTORS = 100
DEFAULT_BUSY_TIMEOUT_S = 30.0
_DIGITS = re.compile(r"[0-9]+")
_SHA_RE = re.compile(r"[0-9a-f]{64}")
_IN_CHUNK = 500
CHANGE_LOG_KEEP = 100_000  # revisions of the change log kept (see RegistryStore._log_changes)
CHANGE_LOG_PRUNE_EVERY = 1000


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


def default_home() -> Path:
    """``$STYLEGATE_HOME``, else the platform's user data dir for stylegate."""
    env = os.environ.get("STYLEGATE_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("stylegate", appauthor=False))


def default_url(home: str | os.PathLike[str] | None = None) -> str:
    """The SQLite URL of ``<home>/registry.db``."""
    base = Path(home).expanduser() if home is not None else default_home()
    return sqlite_url(base / "registry.db")


def sqlite_url(path: str | os.PathLike[str]) -> str:
    """A SQLAlchemy URL for a SQLite file."""
    return str(URL.create("sqlite", database=str(Path(path).expanduser().absolute())))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def name_key(name: str) -> str:
    """The case- and width-insensitive form under which artist names are unique."""
    return unicodedata.normalize("NFKC", name).casefold().strip()


# -- input validation ---------------------------------------------------------------------


def _clean_text(value: Any, what: str, max_len: int) -> str:
    if not isinstance(value, str):
        raise InputError(f"{what} must be text, got {type(value).__name__}")
    text = unicodedata.normalize("NFC", value).strip()
    if not text:
        raise InputError(f"{what} is empty")
    if len(text) > max_len:
        raise InputError(f"{what} is too long ({len(text)} characters, at most {max_len})")
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise InputError(f"{what} contains control characters")
    return text


def _clean_name(value: Any) -> str:
    name = _clean_text(value, "artist name", schema.NAME_MAX)
    if len(name_key(name)) > schema.NAME_MAX:
        raise InputError(f"artist name is too long once case-folded (at most {schema.NAME_MAX} characters)")
    if _DIGITS.fullmatch(name):
        raise InputError(f"artist name {name!r} is only digits; it would read as an artist id")
    return name


def _clean_list(values: Any, what: str, max_len: int, max_count: int, exclude: str | None = None) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, (str, bytes)):
        raise InputError(f"{what}s must be a list of texts, not a single text")
    out: list[str] = []
    seen: set[str] = {name_key(exclude)} if exclude else set()
    for item in values:
        text = _clean_text(item, what, max_len)
        key = name_key(text)
        if key in seen:
            continue
        seen.add(key)
        out.append(text)
    if len(out) > max_count:
        raise InputError(f"too many {what}s ({len(out)}, at most {max_count})")
    return tuple(out)


def _clean_consent(value: Any) -> Consent:
    if isinstance(value, Consent):
        return value
    try:
        return Consent(str(value).strip().lower())
    except ValueError:
        valid = ", ".join(c.value for c in Consent)
        raise InputError(f"invalid consent {value!r} (choose one of: {valid})") from None


def _clean_rate(value: Any, consent: Consent) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise InputError(f"royalty rate must be a number between 0 and 1, got {value!r}") from None
    rate = float(value)
    if not math.isfinite(rate) or not 0.0 <= rate <= 1.0:
        raise InputError(f"royalty rate must be between 0 and 1, got {value!r}")
    if consent is not Consent.ROYALTY:
        raise InputError(f"a royalty rate only applies to consent 'royalty' (this artist's consent is {consent.value!r})")
    return rate


# -- transactions -------------------------------------------------------------------------


@dataclass
class Transaction:
    """One database transaction; changes announce themselves with :meth:`emit`."""

    conn: Connection
    write: bool
    events: list[tuple[str, dict]] = field(default_factory=list)
    revision: int | None = None

    def emit(self, event_name: str, payload: dict) -> None:
        """Queue an event for the listeners; it is delivered only if the transaction commits."""
        if not self.write:
            raise StylegateError("cannot change the registry in a read-only transaction")
        self.events.append((event_name, payload))


class RegistryStore:
    """Artists, their consent and their works, in one database."""

    def __init__(self, engine: Engine, claims: ClaimRules | None = None) -> None:
        self._engine = engine
        self.claims = claims or ClaimRules()
        self._listeners: list[Listener] = []
        self._file = _database_file(engine.url)
        self._file_id = _file_identity(self._file) if self._file is not None else None
        self._change_log: bool | None = None  # whether the database has the change log (0006)

    # -- opening --------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        url: str | URL | None = None,
        *,
        home: str | os.PathLike[str] | None = None,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
        migrations: Sequence[Migration] | None = None,
        echo: bool = False,
        create: bool = True,
        claims: ClaimRules | None = None,
    ) -> RegistryStore:
        """Open the registry at ``url`` and apply pending migrations.

        ``url`` defaults to ``sqlite:///<home>/registry.db`` with ``home`` defaulting to
        ``$STYLEGATE_HOME`` (see :func:`default_home`). With ``create=False`` a SQLite file
        that does not exist is refused instead of being created empty, and so is a server
        database (PostgreSQL) that holds no registry yet: only ``stylegate init`` creates one.
        """
        url = url if url is not None else default_url(home)
        if not create:
            missing = _database_file(make_url(url))
            if missing is not None and not missing.is_file():
                raise StylegateError(f"the registry database {missing} does not exist (it is never recreated)")
        engine = create_registry_engine(url, busy_timeout_s, echo=echo)
        try:
            if not create and engine.dialect.name != "sqlite" and not _has_registry(engine):
                raise StylegateError(
                    f"the registry database {engine.url.render_as_string(hide_password=True)} holds no stylegate "
                    "registry (it is never recreated: run `stylegate init` to create one there)"
                )
            migrate(engine, migrations)
        except SQLAlchemyError as exc:
            engine.dispose()
            raise StylegateError(f"cannot open the registry database: {exc}") from exc
        except BaseException:
            engine.dispose()
            raise
        store = cls(engine, claims)
        store.sync_claims()
        return store

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def url(self) -> URL:
        return self._engine.url

    def close(self) -> None:
        """Release database connections."""
        self._engine.dispose()

    def __enter__(self) -> RegistryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def applied_migrations(self) -> list[str]:
        with self._engine.connect() as conn:
            return applied_migrations(conn)

    # -- events ---------------------------------------------------------------------------

    def add_listener(self, fn: Listener) -> None:
        """Call ``fn(event, payload)`` after each committed change.

        Events: ``artist.added``, ``artist.updated``, ``artist.removed``, ``works.added``,
        ``works.removed``; each payload carries the new ``revision``. A listener that raises
        is logged; it cannot undo the committed change.
        """
        self._listeners.append(fn)

    def remove_listener(self, fn: Listener) -> None:
        self._listeners.remove(fn)

    def _notify(self, tx: Transaction) -> None:
        for name, payload in tx.events:
            payload = {**payload, "revision": tx.revision}
            for fn in list(self._listeners):
                try:
                    fn(name, payload)
                except Exception:  # noqa: BLE001 - a listener must not break a committed change
                    log.exception("registry listener %r failed on %s", fn, name)

    # -- transactions ---------------------------------------------------------------------

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Transaction]:
        """A transaction for several operations (pass it as ``tx=`` to store methods).

        Commits when the block ends normally (bumping the revision if anything changed, then
        notifying listeners), rolls back if it raises. Write transactions take the registry's
        write lock first (``BEGIN IMMEDIATE`` on SQLite, ``FOR UPDATE`` elsewhere).
        """
        self._check_file()
        try:
            conn = self._engine.connect()
        except SQLAlchemyError as exc:
            raise StylegateError(f"cannot connect to the registry database: {_db_message(exc)}") from exc
        try:
            try:
                postgres = conn.dialect.name == "postgresql"
                if write:
                    conn.execution_options(stylegate_write=True)
                    if postgres:  # whatever the server's default: each statement after the lock sees every commit
                        conn.execution_options(isolation_level="READ COMMITTED")
                elif postgres:
                    # one snapshot for the whole read, as SQLite's deferred BEGIN gives
                    conn.execution_options(isolation_level="REPEATABLE READ")
                trans = conn.begin()
                tx = Transaction(conn=conn, write=write)
                if write:
                    tx.revision = self._locked_revision(conn)
            except SQLAlchemyError as exc:
                raise StylegateError(f"cannot start a registry transaction: {_db_message(exc)}") from exc
            committing = False
            try:
                yield tx
                if tx.events:
                    tx.revision = (tx.revision or 0) + 1
                    conn.execute(
                        update(schema.meta).where(schema.meta.c.key == "revision").values(value=str(tx.revision))
                    )
                    if self._has_change_log(conn):
                        self._log_changes(conn, tx)
                if write:
                    self._check_file()  # never acknowledge a change written into a deleted file
                committing = True
                trans.commit()
            except BaseException as exc:
                if committing:
                    # A failed commit leaves the driver's transaction in an unknown state:
                    # drop the connection (closing it rolls back) rather than pool it.
                    conn.invalidate()
                elif trans.is_active:
                    try:
                        trans.rollback()
                    except SQLAlchemyError:
                        log.exception("rollback failed; dropping the connection")
                        conn.invalidate()
                if isinstance(exc, SQLAlchemyError):
                    raise StylegateError(f"registry database error: {_db_message(exc)}") from exc
                raise
        finally:
            conn.close()
        if tx.events:
            self._notify(tx)

    def _check_file(self) -> None:
        """Refuse to go on when the SQLite file was deleted or replaced while it was open.

        SQLite keeps writing into an unlinked file without complaint, so a change made after
        the database was deleted would be acknowledged and then lost.
        """
        if self._file is None or self._file_id is None:
            return
        now = _file_identity(self._file)
        if now != self._file_id:
            what = "deleted" if now is None else "replaced"
            raise StylegateError(
                f"the registry database {self._file} was {what} while stylegate had it open; "
                "nothing more was written (restore the database, then run the command again)"
            )

    @contextmanager
    def _tx(self, tx: Transaction | None, *, write: bool) -> Iterator[Transaction]:
        if tx is not None:
            if write and not tx.write:
                raise StylegateError("this operation needs a write transaction")
            yield tx
        else:
            with self.transaction(write=write) as own:
                yield own

    @staticmethod
    def _locked_revision(conn: Connection) -> int:
        row = conn.execute(
            select(schema.meta.c.value).where(schema.meta.c.key == "revision").with_for_update()
        ).first()
        if row is None:
            raise StylegateError("the registry database has no revision row; it is damaged")
        return int(row[0])

    def _has_change_log(self, conn: Connection) -> bool:
        """Whether the database holds the change log (a store opened with older migrations has none)."""
        if self._change_log is None:
            self._change_log = inspect(conn).has_table("registry_changes")
        return self._change_log

    @staticmethod
    def _log_changes(conn: Connection, tx: Transaction) -> None:
        """Record which artists this revision touched (see :mod:`.changes`), in its transaction.

        Every :data:`CHANGE_LOG_PRUNE_EVERY` revisions the rows older than the last
        :data:`CHANGE_LOG_KEEP` revisions are dropped and the log's start moves up: a gate
        that far behind rebuilds anyway.
        """
        rows = {r for name, payload in tx.events for r in change_rows(name, payload)}
        conn.execute(insert(schema.registry_changes), [
            {"revision": tx.revision, "artist_id": artist_id, "kind": kind}
            for artist_id, kind in sorted(rows, key=lambda r: (r[0] is None, r[0] or 0, r[1]))
        ])
        revision = tx.revision or 0
        if revision % CHANGE_LOG_PRUNE_EVERY == 0 and revision > CHANGE_LOG_KEEP:
            start = revision - CHANGE_LOG_KEEP
            conn.execute(delete(schema.registry_changes).where(schema.registry_changes.c.revision <= start))
            conn.execute(update(schema.meta).where(schema.meta.c.key == "change_log_from").values(value=str(start)))

    def changes_since(self, revision: int, limit: int = 10_000, tx: Transaction | None = None) -> ChangeSet | None:
        """What changed after ``revision`` up to now, or None when the log cannot say.

        None when ``revision`` predates the log (a database migrated since), is ahead of the
        registry (another database), or more than ``limit`` rows follow it (a rebuild is
        cheaper than applying them one by one).
        """
        with self._tx(tx, write=False) as t:
            meta = dict(t.conn.execute(select(schema.meta.c.key, schema.meta.c.value)
                                       .where(schema.meta.c.key.in_(("revision", "change_log_from")))).all())
            now = int(meta.get("revision", 0))
            start = meta.get("change_log_from")
            if start is None or revision < int(start) or revision > now:
                return None
            if revision == now:
                return change_set(revision, now, ())
            c = schema.registry_changes.c
            rows = t.conn.execute(select(c.artist_id, c.kind).where(c.revision > revision, c.revision <= now)
                                  .order_by(c.id).limit(limit + 1)).all()
        if len(rows) > limit:
            return None
        return change_set(revision, now, ((None if a is None else int(a), k) for a, k in rows))

    def revision(self, tx: Transaction | None = None) -> int:
        """The change counter: bumped by every committed registry change.

        Without ``tx`` this is the freshness check every gate use makes (once per request in
        the service), so it is one statement: reading one row needs no snapshot, and on
        PostgreSQL it runs in autocommit (no BEGIN and COMMIT round trips).
        """
        query = select(schema.meta.c.value).where(schema.meta.c.key == "revision")
        if tx is not None:
            with self._tx(tx, write=False) as t:
                row = t.conn.execute(query).first()
            return int(row[0]) if row else 0
        self._check_file()
        try:
            with self._engine.connect() as conn:
                if conn.dialect.name == "postgresql":
                    conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                row = conn.execute(query).first()
        except SQLAlchemyError as exc:
            raise StylegateError(f"cannot read the registry revision: {_db_message(exc)}") from exc
        return int(row[0]) if row else 0

    # -- artists --------------------------------------------------------------------------

    @staticmethod
    def _artist(row: Any) -> Artist:
        account_verified = getattr(row, "account_verified", None)
        return Artist(
            id=int(row.id),
            name=row.name,
            consent=Consent(row.consent),
            aliases=tuple(row.aliases or ()),
            descriptors=tuple(row.descriptors or ()),
            royalty_rate=None if row.royalty_rate is None else float(row.royalty_rate),
            created_at=row.created_at,
            verified=account_verified is None or bool(account_verified),
        )

    @staticmethod
    def _artist_select() -> Any:
        """Artists with their verification: portal accounts await an administrator's."""
        a, acc = schema.artists, schema.accounts
        return select(a, acc.c.verified.label("account_verified")).select_from(
            a.outerjoin(acc, acc.c.artist_id == a.c.id)
        )

    def add_artist(
        self,
        name: str,
        *,
        consent: Consent | str,
        aliases: Iterable[str] = (),
        descriptors: Iterable[str] = (),
        royalty_rate: float | None = None,
        tx: Transaction | None = None,
    ) -> Artist:
        """Register an artist; names are unique case-insensitively (``DuplicateArtist``)."""
        clean_name = _clean_name(name)
        clean_consent = _clean_consent(consent)
        values: dict[str, Any] = {
            "name": clean_name,
            "name_key": name_key(clean_name),
            "aliases": list(_clean_list(aliases, "alias", schema.ALIAS_MAX, MAX_ALIASES, exclude=clean_name)),
            "descriptors": list(_clean_list(descriptors, "descriptor", schema.DESCRIPTOR_MAX, MAX_DESCRIPTORS)),
            "consent": clean_consent.value,
            "royalty_rate": _clean_rate(royalty_rate, clean_consent),
            "created_at": _now(),
        }
        name_keys = self._label_keys(clean_name, "artist name")
        alias_keys = [(alias, self._label_keys(alias, "alias")) for alias in values["aliases"]]
        with self._tx(tx, write=True) as t:
            self._ensure_name_free(t.conn, values["name_key"], clean_name)
            self._refuse_claimed(t.conn, clean_name, name_keys, None)
            kept, disputed = self._sort_aliases(t.conn, alias_keys, None)
            values["aliases"] = [alias for alias, _ in kept]
            try:
                result = t.conn.execute(insert(schema.artists).values(**values))
            except IntegrityError:
                raise DuplicateArtist(f"an artist named {clean_name!r} already exists") from None
            artist_id = _new_id(result)
            self._insert_claims(t.conn, artist_id, [(clean_name, name_keys), *kept])
            artist = self._get_artist(t.conn, artist_id)
            t.emit("artist.added", {"artist": artist.to_dict()})
            self._open_disputes(t, artist_id, disputed)
        log.info("registered artist %s (id %d, %s)", artist.name, artist.id, artist.consent.value)
        return artist

    @staticmethod
    def _ensure_name_free(conn: Connection, key: str, shown: str, except_id: int | None = None) -> None:
        q = select(schema.artists.c.id, schema.artists.c.name).where(schema.artists.c.name_key == key)
        row = conn.execute(q).first()
        if row is not None and row.id != except_id:
            raise DuplicateArtist(f"an artist named {row.name!r} already exists (id {row.id}); names are case-insensitive")

    @staticmethod
    def _ref_clause(ref: str | int) -> Any:
        if isinstance(ref, bool):
            raise ArtistNotFound(str(ref))
        if isinstance(ref, numbers.Integral):
            return schema.artists.c.id == int(ref)
        if isinstance(ref, str):
            text = ref.strip()
            if _DIGITS.fullmatch(text):
                return schema.artists.c.id == int(text)
            if not text:
                raise ArtistNotFound(ref)
            return schema.artists.c.name_key == name_key(text)
        raise ArtistNotFound(repr(ref))

    def _get_artist(self, conn: Connection, ref: str | int) -> Artist:
        row = conn.execute(self._artist_select().where(self._ref_clause(ref))).first()
        if row is None:
            raise ArtistNotFound(str(ref))
        return self._artist(row)

    def get_artist(self, ref: str | int, tx: Transaction | None = None) -> Artist:
        """An artist by id (an int, or a text of digits) or by exact name, case-insensitive."""
        with self._tx(tx, write=False) as t:
            return self._get_artist(t.conn, ref)

    def artists_by_id(self, ids: Iterable[int], tx: Transaction | None = None) -> dict[int, Artist]:
        """The artists with these ids that exist (an id that does not is left out)."""
        wanted = sorted({int(i) for i in ids})
        out: dict[int, Artist] = {}
        with self._tx(tx, write=False) as t:
            for i in range(0, len(wanted), _IN_CHUNK):
                rows = t.conn.execute(self._artist_select().where(schema.artists.c.id.in_(wanted[i : i + _IN_CHUNK])))
                out.update((int(r.id), self._artist(r)) for r in rows)
        return out

    def works_of(self, artist_ids: Iterable[int], tx: Transaction | None = None) -> list[Work]:
        """The works of these artists, in id order."""
        wanted = sorted({int(i) for i in artist_ids})
        out: list[Work] = []
        with self._tx(tx, write=False) as t:
            for i in range(0, len(wanted), _IN_CHUNK):
                rows = t.conn.execute(select(schema.works).where(schema.works.c.artist_id.in_(wanted[i : i + _IN_CHUNK])))
                out.extend(self._work(r) for r in rows)
        return sorted(out, key=lambda w: w.id)

    def list_artists(self, tx: Transaction | None = None) -> list[Artist]:
        """All artists, in id order."""
        with self._tx(tx, write=False) as t:
            rows = t.conn.execute(self._artist_select().order_by(schema.artists.c.id)).all()
        return [self._artist(r) for r in rows]

    def update_artist(
        self,
        ref: str | int,
        *,
        name: str | None = None,
        aliases: Iterable[str] | None = None,
        descriptors: Iterable[str] | None = None,
        consent: Consent | str | None = None,
        royalty_rate: float | None = UNSET,
        tx: Transaction | None = None,
    ) -> Artist:
        """Change some fields of an artist; ``None`` (or, for the rate, omission) keeps a field.

        Pass ``royalty_rate=None`` to return to the policy default. Moving away from
        ``royalty`` consent clears the rate.
        """
        with self._tx(tx, write=True) as t:
            before = self._get_artist(t.conn, ref)
            values: dict[str, Any] = {}
            new_name = before.name
            if name is not None:
                new_name = _clean_name(name)
                if new_name != before.name:
                    self._ensure_name_free(t.conn, name_key(new_name), new_name, except_id=before.id)
                    values["name"] = new_name
                    values["name_key"] = name_key(new_name)
            if aliases is not None:
                values["aliases"] = list(_clean_list(aliases, "alias", schema.ALIAS_MAX, MAX_ALIASES, exclude=new_name))
            if descriptors is not None:
                values["descriptors"] = list(
                    _clean_list(descriptors, "descriptor", schema.DESCRIPTOR_MAX, MAX_DESCRIPTORS)
                )
            new_consent = before.consent if consent is None else _clean_consent(consent)
            if new_consent != before.consent:
                values["consent"] = new_consent.value
            if royalty_rate is not UNSET:
                values["royalty_rate"] = _clean_rate(royalty_rate, new_consent)
            elif new_consent is not Consent.ROYALTY and before.royalty_rate is not None:
                values["royalty_rate"] = None
            disputed: list[tuple[str, str, int]] = []
            if "name" in values or "aliases" in values:
                aliases_now = values.get("aliases", list(before.aliases))
                name_keys = self._label_keys(new_name, "artist name")
                alias_keys = [(alias, self._label_keys(alias, "alias")) for alias in aliases_now]
                t.conn.execute(delete(schema.name_claims).where(schema.name_claims.c.artist_id == before.id))
                self._refuse_claimed(t.conn, new_name, name_keys, before.id)
                kept, disputed = self._sort_aliases(t.conn, alias_keys, before.id)
                if "aliases" in values or len(kept) != len(aliases_now):
                    values["aliases"] = [alias for alias, _ in kept]
                self._insert_claims(t.conn, before.id, [(new_name, name_keys), *kept])
            if not values:
                return before
            try:
                t.conn.execute(update(schema.artists).where(schema.artists.c.id == before.id).values(**values))
            except IntegrityError:
                raise DuplicateArtist(f"an artist named {new_name!r} already exists") from None
            after = self._get_artist(t.conn, before.id)
            if after == before:
                return after
            changed = sorted(k for k, v in after.to_dict().items() if before.to_dict()[k] != v)
            t.emit("artist.updated", {"artist": after.to_dict(), "before": before.to_dict(), "changed": changed})
            self._open_disputes(t, before.id, disputed)
        return after

    def remove_artist(self, ref: str | int, tx: Transaction | None = None) -> tuple[Artist, list[Work]]:
        """Delete an artist and their work rows; return what was deleted.

        This touches the database only: use ``WorkIngest.remove_artist`` (``ingest``) to keep the
        style index and the stored files in step.
        """
        with self._tx(tx, write=True) as t:
            artist = self._get_artist(t.conn, ref)
            gone = self._list_works(t.conn, artist.id)
            gone_ids = [w.id for w in gone]
            for i in range(0, len(gone_ids), _IN_CHUNK):
                t.conn.execute(delete(schema.work_consent_signals)
                               .where(schema.work_consent_signals.c.work_id.in_(gone_ids[i : i + _IN_CHUNK])))
            t.conn.execute(delete(schema.works).where(schema.works.c.artist_id == artist.id))
            t.conn.execute(delete(schema.accounts).where(schema.accounts.c.artist_id == artist.id))
            t.conn.execute(delete(schema.name_claims).where(schema.name_claims.c.artist_id == artist.id))
            t.conn.execute(delete(schema.name_disputes).where(schema.name_disputes.c.claimant_id == artist.id))
            t.conn.execute(update(schema.name_disputes).where(schema.name_disputes.c.holder_id == artist.id)
                           .values(holder_id=None))
            t.conn.execute(delete(schema.artists).where(schema.artists.c.id == artist.id))
            t.emit("artist.removed", {"artist": artist.to_dict(), "works": [w.to_dict() for w in gone]})
        log.info("removed artist %s (id %d) and %d works", artist.name, artist.id, len(gone))
        return artist, gone

    # -- name claims ----------------------------------------------------------------------

    def _label_keys(self, label: str, what: str) -> frozenset[str]:
        """The claim keys of a name or alias; a label with none cannot be matched: refused."""
        try:
            keys = frozenset(k for k in self.claims.keys(label) if k)
        except InputError as exc:
            raise InputError(f"{what} refused: {exc}") from None
        if not keys:
            raise InputError(
                f"{what} {label!r} has nothing the name screen can match (no letters or digits once "
                "normalised); it would protect nobody, so it is refused"
            )
        too_long = [k for k in keys if len(k) > schema.CLAIM_KEY_MAX]
        if too_long:
            raise InputError(f"{what} {label!r} is too long to be claimed")
        return keys

    @staticmethod
    def _holders(conn: Connection, keys: Iterable[str], except_id: int | None) -> dict[str, tuple[int, str]]:
        """Claimed keys among ``keys`` held by another artist: key → (artist id, label)."""
        c = schema.name_claims.c
        rows = conn.execute(select(c.key, c.artist_id, c.label).where(c.key.in_(sorted(set(keys))))).all()
        return {r.key: (int(r.artist_id), r.label) for r in rows if except_id is None or int(r.artist_id) != except_id}

    def _collision_message(self, conn: Connection, label: str, holder_id: int, held_label: str) -> str:
        holder = conn.execute(select(schema.artists.c.name).where(schema.artists.c.id == holder_id)).scalar()
        return (
            f"{label!r} is already claimed by artist #{holder_id} {holder!r} (as {held_label!r}); names and "
            "aliases belong to one artist once case, accents, look-alike letters and spacing are folded"
        )

    def _refuse_claimed(self, conn: Connection, label: str, keys: frozenset[str], except_id: int | None) -> None:
        held = self._holders(conn, keys, except_id)
        if held:
            holder_id, held_label = next(iter(held.values()))
            raise DuplicateArtist(self._collision_message(conn, label, holder_id, held_label))

    def _sort_aliases(
        self, conn: Connection, alias_keys: list[tuple[str, frozenset[str]]], except_id: int | None
    ) -> tuple[list[tuple[str, frozenset[str]]], list[tuple[str, str, int]]]:
        """Aliases free to claim, and the colliding ones as (label, key, holder) disputes.

        A collision is refused unless the rules record it as a dispute.
        """
        kept: list[tuple[str, frozenset[str]]] = []
        disputed: list[tuple[str, str, int]] = []
        for alias, keys in alias_keys:
            held = self._holders(conn, keys, except_id)
            if not held:
                kept.append((alias, keys))
                continue
            key, (holder_id, held_label) = sorted(held.items())[0]
            if self.claims.on_collision != "dispute":
                raise DuplicateArtist(self._collision_message(conn, alias, holder_id, held_label))
            disputed.append((alias, key, holder_id))
        return kept, disputed

    @staticmethod
    def _insert_claims(conn: Connection, artist_id: int, labels: list[tuple[str, frozenset[str]]]) -> None:
        rows: dict[str, str] = {}
        for label, keys in labels:
            for key in keys:
                rows.setdefault(key, label)
        if rows:
            conn.execute(insert(schema.name_claims),
                         [{"key": k, "artist_id": artist_id, "label": v} for k, v in sorted(rows.items())])

    def _open_disputes(self, t: Transaction, claimant_id: int, disputed: list[tuple[str, str, int]]) -> None:
        for label, key, holder_id in disputed:
            result = t.conn.execute(insert(schema.name_disputes).values(
                key=key, label=label, claimant_id=claimant_id, holder_id=holder_id, status="open", created_at=_now()))
            dispute_id = _new_id(result)
            t.emit("claim.disputed", {"dispute": dispute_id, "label": label, "claimant": claimant_id, "holder": holder_id})
            log.warning("alias %r of artist %d collides with artist %d: recorded as dispute #%d",
                        label, claimant_id, holder_id, dispute_id)

    def sync_claims(self) -> None:
        """Rebuild every claim when the claim rules' version changed (or claims were never built).

        Existing collisions cannot be refused after the fact: the later artist's colliding
        alias is taken out of their aliases and recorded as an open dispute; a colliding
        primary name is recorded as a dispute and left for an administrator.
        """
        c = schema.meta.c
        with self.transaction(write=False) as t:
            if t.conn.execute(select(c.value).where(c.key == "claims_version")).scalar() == self.claims.version:
                return
        with self.transaction() as t:
            version = t.conn.execute(select(c.value).where(c.key == "claims_version")).scalar()
            if version == self.claims.version:
                return
            t.conn.execute(delete(schema.name_claims))
            artists = [self._artist(r) for r in t.conn.execute(self._artist_select().order_by(schema.artists.c.id))]
            for artist in artists:
                self._resync_artist(t, artist)
            if version is None:
                t.conn.execute(insert(schema.meta).values(key="claims_version", value=self.claims.version))
            else:
                t.conn.execute(update(schema.meta).where(c.key == "claims_version").values(value=self.claims.version))
        log.info("name claims rebuilt for %d artists (rules %s)", len(artists), self.claims.version)

    def _resync_artist(self, t: Transaction, artist: Artist) -> None:
        labels: list[tuple[str, frozenset[str]]] = []
        disputed: list[tuple[str, str, int]] = []
        kept_aliases: list[str] = []
        for label, is_name in [(artist.name, True), *[(a, False) for a in artist.aliases]]:
            try:
                keys = frozenset(k for k in self.claims.keys(label) if k and len(k) <= schema.CLAIM_KEY_MAX)
            except InputError as exc:  # registered under older rules; it can no longer be claimed
                log.warning("artist %d: %r cannot be claimed under the current rules (%s)", artist.id, label, exc)
                keys = frozenset()
            held = self._holders(t.conn, keys, artist.id)
            if held:
                key, (holder_id, _) = sorted(held.items())[0]
                disputed.append((label, key, holder_id))
                if is_name:  # the name stays the artist's; the clash waits for an administrator
                    labels.append((label, keys - set(held)))
                continue
            labels.append((label, keys))
            if not is_name:
                kept_aliases.append(label)
        self._insert_claims(t.conn, artist.id, labels)
        if len(kept_aliases) != len(artist.aliases):
            t.conn.execute(update(schema.artists).where(schema.artists.c.id == artist.id).values(aliases=kept_aliases))
        self._open_disputes(t, artist.id, disputed)

    def list_disputes(self, status: str | None = "open", tx: Transaction | None = None) -> list[Dispute]:
        """Disputed name claims (open ones by default; ``status=None`` for all)."""
        if status is not None and status not in DISPUTE_STATUSES:
            raise InputError(f"dispute status must be one of {', '.join(DISPUTE_STATUSES)} (got {status!r})")
        d = schema.name_disputes.c
        q = select(schema.name_disputes).order_by(d.id)
        if status is not None:
            q = q.where(d.status == status)
        with self._tx(tx, write=False) as t:
            rows = t.conn.execute(q).all()
            names = dict(t.conn.execute(select(schema.artists.c.id, schema.artists.c.name)).all())
        return [self._dispute(r, names) for r in rows]

    @staticmethod
    def _dispute(row: Any, names: dict[int, str]) -> Dispute:
        return Dispute(id=int(row.id), key=row.key, label=row.label, claimant_id=int(row.claimant_id),
                       holder_id=None if row.holder_id is None else int(row.holder_id), status=row.status,
                       created_at=row.created_at, resolved_at=row.resolved_at, names=dict(names))

    def resolve_dispute(self, dispute_id: int, grant: bool, tx: Transaction | None = None) -> Dispute:
        """Decide an open dispute: ``grant`` moves the label to the claimant, else it is rejected.

        Granting takes the label away from the holder: out of their aliases (a holder's primary
        name cannot be taken: rename the holder first).
        """
        d = schema.name_disputes.c
        with self._tx(tx, write=True) as t:
            row = t.conn.execute(select(schema.name_disputes).where(d.id == int(dispute_id))).first()
            if row is None:
                raise NotFound(f"unknown dispute id {dispute_id} (see `stylegate artists disputes`)")
            if row.status != "open":
                raise InputError(f"dispute #{dispute_id} was already decided ({row.status})")
            if grant:
                self._grant(t, row)
            t.conn.execute(update(schema.name_disputes).where(d.id == row.id).values(
                status="granted" if grant else "rejected", resolved_at=_now()))
            t.emit("claim.resolved", {"dispute": int(row.id), "label": row.label, "claimant": int(row.claimant_id),
                                      "holder": row.holder_id, "granted": bool(grant)})
            names = dict(t.conn.execute(select(schema.artists.c.id, schema.artists.c.name)).all())
            done = t.conn.execute(select(schema.name_disputes).where(d.id == row.id)).first()
        return self._dispute(done, names)

    def _grant(self, t: Transaction, row: Any) -> None:
        claimant = self._get_artist(t.conn, int(row.claimant_id))
        keys = self._label_keys(row.label, "alias")
        for holder_id, _label in set(self._holders(t.conn, keys, claimant.id).values()):
            holder = self._get_artist(t.conn, holder_id)
            taken = {a for a in holder.aliases if keys & frozenset(self.claims.keys(a))}
            if keys & frozenset(self.claims.keys(holder.name)):
                raise InputError(
                    f"{row.label!r} is the primary name of artist #{holder.id} {holder.name!r}; rename that "
                    "artist first, then grant the dispute"
                )
            self.update_artist(holder.id, aliases=[a for a in holder.aliases if a not in taken], tx=t)
        self.update_artist(claimant.id, aliases=[*claimant.aliases, row.label], tx=t)

    # -- works ----------------------------------------------------------------------------

    @staticmethod
    def _work(row: Any) -> Work:
        return Work(
            id=int(row.id),
            artist_id=int(row.artist_id),
            sha256=row.sha256,
            path=row.path,
            format=row.format,
            width=int(row.width),
            height=int(row.height),
            size_bytes=int(row.size_bytes),
            added_at=row.added_at,
        )

    def _list_works(self, conn: Connection, artist_id: int | None = None) -> list[Work]:
        q = select(schema.works).order_by(schema.works.c.id)
        if artist_id is not None:
            q = q.where(schema.works.c.artist_id == artist_id)
        return [self._work(r) for r in conn.execute(q)]

    def list_works(self, artist_id: int | None = None, tx: Transaction | None = None) -> list[Work]:
        """All works, or one artist's, in id order."""
        with self._tx(tx, write=False) as t:
            return self._list_works(t.conn, artist_id)

    def get_work(self, work_id: int, tx: Transaction | None = None) -> Work:
        """A work by id (``InputError`` if there is none)."""
        with self._tx(tx, write=False) as t:
            row = t.conn.execute(select(schema.works).where(schema.works.c.id == int(work_id))).first()
        if row is None:
            raise InputError(f"unknown work id {work_id}")
        return self._work(row)

    def find_work_by_sha256(self, sha256: str, tx: Transaction | None = None) -> Work | None:
        """The work with this content hash, if registered."""
        return self.works_by_sha256([sha256], tx=tx).get(sha256.lower())

    def works_by_sha256(self, shas: Iterable[str], tx: Transaction | None = None) -> dict[str, Work]:
        """Registered works among the given content hashes, keyed by hash."""
        wanted = sorted({s.lower() for s in shas})
        found: dict[str, Work] = {}
        with self._tx(tx, write=False) as t:
            for i in range(0, len(wanted), _IN_CHUNK):
                chunk = wanted[i : i + _IN_CHUNK]
                for row in t.conn.execute(select(schema.works).where(schema.works.c.sha256.in_(chunk))):
                    found[row.sha256] = self._work(row)
        return found

    def count_works(self, tx: Transaction | None = None) -> int:
        """How many works are registered."""
        with self._tx(tx, write=False) as t:
            return int(t.conn.execute(select(func.count()).select_from(schema.works)).scalar() or 0)

    def work_ids(self, tx: Transaction | None = None) -> list[int]:
        """Ids of all works, ascending."""
        with self._tx(tx, write=False) as t:
            return [int(r[0]) for r in t.conn.execute(select(schema.works.c.id).order_by(schema.works.c.id))]

    def insert_works(self, tx: Transaction, artist_id: int, records: Sequence[dict[str, Any]]) -> list[Work]:
        """Insert work rows (inside the caller's write transaction); emits ``works.added``.

        Each record has ``sha256``, ``path`` (relative to the works dir), ``format``,
        ``width``, ``height`` and ``size_bytes``. Files and the index are the caller's job.
        """
        if not tx.write:
            raise StylegateError("inserting works needs a write transaction")
        artist = self._get_artist(tx.conn, int(artist_id))
        added: list[Work] = []
        now = _now()
        for rec in records:
            sha = str(rec["sha256"]).lower()
            if not _SHA_RE.fullmatch(sha):
                raise InputError(f"not a sha256: {rec['sha256']!r}")
            values: dict[str, Any] = {
                "artist_id": artist.id,
                "sha256": sha,
                "path": str(rec["path"]),
                "format": str(rec["format"]),
                "width": int(rec["width"]),
                "height": int(rec["height"]),
                "size_bytes": int(rec["size_bytes"]),
                "added_at": now,
            }
            try:
                result = tx.conn.execute(insert(schema.works).values(**values))
            except IntegrityError:
                raise StylegateError(
                    f"work {sha} was registered by someone else meanwhile; run the import again"
                ) from None
            added.append(Work(id=_new_id(result), **values))
        if added:
            tx.emit("works.added", {"artist": artist.ref(), "works": [w.to_dict() for w in added]})
        return added

    def delete_works(self, tx: Transaction, work_ids: Iterable[int]) -> list[Work]:
        """Delete work rows by id (inside the caller's write transaction); emits ``works.removed``."""
        if not tx.write:
            raise StylegateError("deleting works needs a write transaction")
        ids = sorted({int(i) for i in work_ids})
        found: list[Work] = []
        for i in range(0, len(ids), _IN_CHUNK):
            chunk = ids[i : i + _IN_CHUNK]
            rows = tx.conn.execute(select(schema.works).where(schema.works.c.id.in_(chunk))).all()
            found.extend(self._work(r) for r in rows)
        missing = sorted(set(ids) - {w.id for w in found})
        if missing:
            raise InputError(f"unknown work id(s): {', '.join(map(str, missing[:20]))}")
        for i in range(0, len(ids), _IN_CHUNK):
            chunk = ids[i : i + _IN_CHUNK]
            tx.conn.execute(delete(schema.work_consent_signals).where(schema.work_consent_signals.c.work_id.in_(chunk)))
            tx.conn.execute(delete(schema.works).where(schema.works.c.id.in_(chunk)))
        found.sort(key=lambda w: w.id)
        if found:
            tx.emit("works.removed", {"works": [w.to_dict() for w in found]})
        return found

    def set_consent_signals(self, signals: dict[int, dict], tx: Transaction | None = None) -> None:
        """Record what works' own credentials say about AI training (advisory: no revision bump)."""
        if not signals:
            return
        with self._tx(tx, write=True) as t:
            ids = [int(i) for i in signals]
            t.conn.execute(delete(schema.work_consent_signals).where(schema.work_consent_signals.c.work_id.in_(ids)))
            t.conn.execute(insert(schema.work_consent_signals),
                           [{"work_id": int(i), "signal": dict(v)} for i, v in signals.items()])

    def consent_signals(self, artist_id: int | None = None, tx: Transaction | None = None) -> dict[int, dict]:
        """Work id → the consent signal its credentials carried, for one artist or all."""
        c, w = schema.work_consent_signals.c, schema.works.c
        q = select(c.work_id, c.signal).select_from(schema.work_consent_signals.join(schema.works, w.id == c.work_id))
        if artist_id is not None:
            q = q.where(w.artist_id == int(artist_id))
        with self._tx(tx, write=False) as t:
            return {int(r.work_id): dict(r.signal) for r in t.conn.execute(q)}

    def snapshot_hash(self, tx: Transaction | None = None) -> str:
        """sha256 over the sorted (work id, sha256, artist id) triples: what the index must reflect."""
        h = hashlib.sha256(b"stylegate-registry-snapshot-v1\n")
        with self._tx(tx, write=False) as t:
            q = select(schema.works.c.id, schema.works.c.sha256, schema.works.c.artist_id).order_by(schema.works.c.id)
            for row in t.conn.execute(q):
                h.update(f"{int(row[0])}:{row[1]}:{int(row[2])}\n".encode("ascii"))
        return h.hexdigest()


def _has_registry(engine: Engine) -> bool:
    """Whether the database holds the registry's migration table (it was initialised)."""
    with engine.connect() as conn:
        return bool(inspect(conn).has_table(schema.schema_migrations.name))


def _database_file(url: URL) -> Path | None:
    """The file of a SQLite URL (None for other backends and in-memory databases)."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:") or "mode=memory" in database:
        return None
    return Path(database).expanduser().absolute()


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino)


def _db_message(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    message = f"{type(orig or exc).__name__}: {orig or exc}".splitlines()[0]
    if getattr(orig, "sqlstate", None) == "55P03":  # PostgreSQL lock_not_available (lock_timeout)
        message = f"the registry database is locked by another writer ({message})"
    return message


# -- engine -------------------------------------------------------------------------------


def create_registry_engine(url: str | URL, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S, *, echo: bool = False) -> Engine:
    """An engine for ``url``; SQLite gets WAL, ``synchronous=FULL``, foreign keys and a busy timeout."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy raises several types here
        raise InputError(f"invalid database URL {str(url)!r}: {exc}") from None
    if parsed.drivername == "postgresql":  # psycopg 3 is the driver stylegate depends on
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "postgresql":
        # writers wait for the revision lock as long as SQLite's busy timeout, then fail clearly
        lock_ms = max(1, int(busy_timeout_s * 1000))
        return create_engine(parsed, echo=echo, pool_pre_ping=True,
                             connect_args={"options": f"-c lock_timeout={lock_ms}"})
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, echo=echo, pool_pre_ping=True)

    database = parsed.database or ""
    memory = database in ("", ":memory:") or "mode=memory" in database
    kwargs: dict[str, Any] = {"echo": echo}
    if memory:
        kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        if not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, **kwargs)
    busy_ms = max(0, int(busy_timeout_s * 1000))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see the "begin" hook).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {busy_ms}")
            if not memory:
                cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = FULL")
            cur.execute("PRAGMA foreign_keys = ON")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("stylegate_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


def _new_id(result: Any) -> int:
    """The primary key an INSERT just assigned."""
    key = result.inserted_primary_key
    if key is None:
        raise StylegateError("the database did not return the new row's id")
    return int(key[0])
