"""The tamper-evident audit log: an append-only, hash-chained RFC 6962 Merkle log in SQLite or PostgreSQL.

Every prompt check, image check, generation and registry change becomes one entry (see
:mod:`~stylegate.governance.audit.entry` for the entry envelope and the canonical leaf bytes).
Entries are leaves of an RFC 6962 Merkle tree (:mod:`~stylegate.governance.audit.merkle`);
:meth:`AuditLog.checkpoint` signs the current tree head with the local Ed25519 key
(:mod:`~stylegate.governance.audit.signing`) and :meth:`AuditLog.verify` recomputes everything
(:mod:`~stylegate.governance.audit.verify`).

Storage (:mod:`~stylegate.governance.audit.backend`): its own SQLite file (by default
``<home>/audit.db``) in WAL mode with ``synchronous=FULL``, or the ``stylegate_audit`` schema of a
PostgreSQL database. An append allocates the next sequence number and inserts the entry, its
leaf hash and the new tree head inside one write transaction that holds the log's write lock
(``BEGIN IMMEDIATE`` on SQLite, the ``tree_state`` row ``FOR UPDATE`` on PostgreSQL), so
concurrent processes get unique, contiguous numbers, and :meth:`AuditLog.append` returns only
after the commit: an acknowledged entry survives a crash. The tree's frontier (the O(log n)
roots of its perfect subtrees) is kept in the ``tree_state`` row, so an append never rereads the
tree. The same transaction updates the per-artist counters (:mod:`.counters`) that dashboards
read instead of the log.

What verification catches: an edited entry (its content no longer hashes to its stored leaf
hash, its canonical form or its chain), a deleted or reordered entry (sequence numbers are
1..n without gaps, each entry carries its predecessor's leaf hash), a truncated tail (the tree
state and every signed checkpoint record how many entries existed), a rewrite that recomputed
every stored hash (the signed checkpoints no longer match), and forged checkpoints (bad
signature or another key). What it cannot catch without a checkpoint: someone with write access
rewriting or cutting the unsigned tail and the tree state together; checkpoint often (and keep
copies of checkpoints elsewhere) to bound that window.
"""

from __future__ import annotations

import heapq
import json
import logging
import os
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

from stylegate.errors import AuditEntryNotFound, AuditError

from . import checkpoints as notes
from . import counters as counting
from . import signing
from .backend import _TABLES, COUNTER_TABLES, Backend, open_backend
from .checkpoints import Checkpoint, note_origin, note_verifier
from .entry import (
    ENTRY_VERSION,
    ZERO_HASH,
    AuditKind,
    CorrectionRecord,
    DecisionRecord,
    TreeHead,
    canonical_json,
    parse_json,
    sha256_text,
    utc_now,
)
from .export import export_log
from .merkle import EMPTY_ROOT, MerkleTree, frontier_push, frontier_root, leaf_hash
from .verdict import Reason
from .verify import ChainChecker, Problems, VerifyResult, check_checkpoints, check_tree_state

__all__ = ["AUDIT_DB_NAME", "AuditLog", "PromptMode", "RecountResult", "default_audit_path"]

log = logging.getLogger(__name__)

AUDIT_DB_NAME = "audit.db"
SCHEMA_VERSION = 1
DEFAULT_BUSY_TIMEOUT_S = 60.0

PromptMode = Literal["full", "hash"]
Body = Union[Mapping[str, Any], DecisionRecord, CorrectionRecord]
PROMPT_FIELDS = ("prompt", "negative_prompt")
_KIND_RE = re.compile(r"[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*")
_MAX_KIND = 64
_BATCH = 1000
_WINDOW = 2000  # sequence numbers per read transaction in entries()
_BULK = 5000  # entries per transaction in append_many and in the counters' catch-up



def default_audit_path(home: str | os.PathLike[str]) -> Path:
    """``<home>/audit.db``."""
    return Path(home).expanduser() / AUDIT_DB_NAME


def _redact(body: dict[str, Any], mode: str) -> dict[str, Any]:
    """Add ``<field>_sha256`` for prompt fields; under ``hash`` drop the text itself."""
    out = dict(body)
    for name in PROMPT_FIELDS:
        if name not in out:
            continue
        value = out[name]
        if isinstance(value, str):
            out[f"{name}_sha256"] = sha256_text(value)
        elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            out[f"{name}_sha256"] = [sha256_text(v) for v in value]
        elif value is not None:
            raise AuditError(f"audit body field {name!r} must be text or a list of text")
        if mode == "hash":
            del out[name]
    steer = out.get("steer")
    if isinstance(steer, Mapping):
        steer = _redact(dict(steer), mode)
        if mode == "hash":  # what the rewrite removed, and why, quotes the prompt
            steer["removed"] = [
                {**{k: v for k, v in item.items() if k != "text"}, "text_sha256": sha256_text(str(item.get("text", "")))}
                for item in steer.get("removed", []) if isinstance(item, Mapping)
            ]
            if "why" in steer:
                steer["why_sha256"] = sha256_text(str(steer.pop("why")))
        out["steer"] = steer
    return out


def _prepare_body(body: Body | None, mode: str) -> dict[str, Any]:
    if mode not in ("full", "hash"):
        raise AuditError(f"prompt_mode must be 'full' or 'hash', not {mode!r}")
    if body is None:
        body = {}
    if isinstance(body, (DecisionRecord, CorrectionRecord)):
        body = body.to_body()
    if not isinstance(body, Mapping):
        raise AuditError(f"an audit body is a mapping, not {type(body).__name__}")
    plain = parse_json(canonical_json(dict(body)))  # plain JSON types from here on
    return _redact(plain, mode)


def _check_kind(kind: AuditKind | str) -> str:
    """The kind as plain text, or AuditError when it is not a lowercase dotted name."""
    if isinstance(kind, AuditKind):
        return kind.value
    if not isinstance(kind, str) or len(kind) > _MAX_KIND or not _KIND_RE.fullmatch(kind):
        raise AuditError(f"invalid audit entry kind {kind!r} (lowercase dotted words, e.g. 'check.prompt')")
    return str(kind)


@dataclass
class RecountResult:
    """What :meth:`AuditLog.recount` found: stored counters against a replay of the entries."""

    entries: int
    counters: int  # (artist, counter) pairs with a non-zero recomputed value
    mismatches: list[dict[str, Any]] = field(default_factory=list)  # {artist_id, counter, stored, recomputed}
    fixed: bool = False

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


class AuditLog:
    """An append-only audit log in SQLite or PostgreSQL. Thread-safe; open one per process."""

    def __init__(self, db: Backend, prompt_mode: PromptMode) -> None:
        self._db = db
        self._lock = threading.RLock()
        self.prompt_mode: PromptMode = prompt_mode

    @classmethod
    def open(
        cls,
        target: str | os.PathLike[str],
        *,
        prompt_mode: PromptMode = "full",
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
        create: bool = True,
    ) -> AuditLog:
        """Open (creating if needed) the log at ``target``: a SQLite file path, or a
        ``postgresql://`` URL (the tables go in that database's ``stylegate_audit`` schema).

        ``prompt_mode`` is the default for :meth:`append`: ``"full"`` records prompt text and its
        sha256, ``"hash"`` only the sha256. ``busy_timeout_s`` bounds the wait for other writers.
        ``create=False`` refuses a database without the log's tables instead of creating them.
        """
        if prompt_mode not in ("full", "hash"):
            raise AuditError(f"prompt_mode must be 'full' or 'hash', not {prompt_mode!r}")
        db = open_backend(target, busy_timeout_s, create=create)
        try:
            cls._ensure_schema(db, create)
            audit_log = cls(db, prompt_mode)
            audit_log._catch_up_counters()
        except db.errors as exc:
            db.close()
            raise AuditError(f"cannot open the audit log {db.location}: {exc}") from exc
        except BaseException:
            db.close()
            raise
        return audit_log

    @staticmethod
    def _ensure_schema(db: Backend, create: bool) -> None:
        def version() -> int | None:
            if not db.has_table("meta"):
                return None
            row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            return int(row[0]) if row else None

        def ready() -> bool:  # the common case: nothing to create or migrate, no write lock needed
            db.begin(write=False)
            try:
                return (version() == SCHEMA_VERSION and db.has_column("checkpoints", "note")
                        and db.has_column("tree_state", "counted"))
            finally:
                db.rollback()

        if ready():
            return
        db.begin(write=True)
        try:
            db.schema_lock()
            current = version()
            if current is None:
                if not create:
                    raise AuditError(
                        f"the audit log {db.location} has no tables; stylegate never recreates it, since its "
                        "acknowledged entries would be lost: restore it from a backup, or run `stylegate init`")
                db.create_tables(_TABLES)
                db.execute("INSERT INTO meta (key, value) VALUES ('schema', ?) ON CONFLICT (key) DO NOTHING",
                           (str(SCHEMA_VERSION),))
                db.execute("INSERT INTO meta (key, value) VALUES ('created', ?) ON CONFLICT (key) DO NOTHING",
                           (utc_now(),))
                db.execute("INSERT INTO tree_state (id, size, frontier) VALUES (1, 0, '[]') ON CONFLICT (id) DO NOTHING")
                current = version()
            if current != SCHEMA_VERSION:
                raise AuditError(f"audit log schema {current} is not supported (this stylegate reads {SCHEMA_VERSION})")
            AuditLog._migrate(db)
            db.commit()
        except BaseException:
            if db.in_transaction():
                db.rollback()
            raise

    @staticmethod
    def _migrate(db: Backend) -> None:
        """Additive changes to logs made by earlier versions (inside the schema transaction)."""
        if not db.has_column("checkpoints", "note"):  # logs made before C2SP checkpoints
            db.execute("ALTER TABLE checkpoints ADD COLUMN note TEXT NOT NULL DEFAULT ''")
            log.info("audit log: added the checkpoints.note column (C2SP signed notes)")
        if not db.has_column("tree_state", "counted"):  # logs made before per-artist counters
            db.create_tables(COUNTER_TABLES)
            db.execute("ALTER TABLE tree_state ADD COLUMN counted BIGINT NOT NULL DEFAULT 0")
            log.info("audit log: added the per-artist counters (filled from the entries on open)")

    @property
    def path(self) -> Path:
        """The SQLite file (for a PostgreSQL log: its URL without the password, as a Path-like text)."""
        return Path(self._db.location)

    @property
    def location(self) -> str:
        """Where the log lives: a file path or a ``postgresql://`` URL without its password."""
        return self._db.location

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._db.name

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions -----------------------------------------------------------------------

    @contextmanager
    def _tx(self, write: bool) -> Iterator[Backend]:
        """One transaction holding the write lock for writes, a consistent snapshot for reads."""
        with self._lock:
            db = self._db
            try:
                db.begin(write)
            except db.errors as exc:
                raise AuditError(f"audit log {db.location} is unavailable: {exc}") from exc
            try:
                yield db
                db.commit()
            except BaseException as exc:
                if db.in_transaction():
                    try:
                        db.rollback()
                    except db.errors:
                        log.exception("rollback failed")
                if isinstance(exc, db.errors):
                    raise AuditError(f"audit log {db.location}: {exc}") from exc
                raise

    def _state(self, conn: Backend, lock: bool = False) -> tuple[int, list[bytes]]:
        size, frontier, _ = self._state_counted(conn, lock)
        return size, frontier

    def _state_counted(self, conn: Backend, lock: bool = False) -> tuple[int, list[bytes], int]:
        """``(size, frontier, counted)``; ``lock`` takes the row lock (write transactions)."""
        row = conn.execute(
            "SELECT size, frontier, counted FROM tree_state WHERE id = 1" + (conn.for_update if lock else "")).fetchone()
        if row is None:
            raise AuditError("audit log tree state is missing; run `stylegate audit verify`")
        size, raw, counted = row
        try:
            frontier = [bytes.fromhex(h) for h in json.loads(raw)]
        except (ValueError, TypeError) as exc:
            raise AuditError(f"audit log tree state is damaged ({exc}); run `stylegate audit verify`") from None
        if not isinstance(size, int) or size < 0 or len(frontier) != bin(size).count("1"):
            raise AuditError("audit log tree state is damaged; run `stylegate audit verify`")
        return size, frontier, int(counted)

    # -- writing ----------------------------------------------------------------------------

    def append(self, kind: AuditKind | str, body: Body | None = None, *, prompt_mode: PromptMode | None = None) -> int:
        """Append one entry and return its sequence number once it is committed to disk.

        ``kind`` is an :class:`AuditKind` or a dotted lowercase name (``registry.artist.added``…);
        ``body`` a :class:`DecisionRecord`, a :class:`CorrectionRecord` or any JSON-serialisable mapping. Prompt fields (``prompt``, ``negative_prompt``, also inside
        ``steer``) gain a ``*_sha256``; with ``prompt_mode="hash"`` only the hash is kept.
        The per-artist counters are updated in the same transaction.
        """
        return self.append_many([(kind, body)], prompt_mode=prompt_mode)[0]

    def append_many(
        self,
        items: Iterable[tuple[AuditKind | str, Body | None]],
        *,
        prompt_mode: PromptMode | None = None,
        batch: int = _BULK,
        progress: Any = None,
    ) -> list[int]:
        """Append ``(kind, body)`` items in order, ``batch`` per transaction (a bulk import);
        returns their sequence numbers. Each committed batch is a valid, verifiable log prefix;
        an item that fails validation stops the import before its batch is written.
        ``progress(n)`` is called after each committed batch with its entry count."""
        mode = prompt_mode or self.prompt_mode
        seqs: list[int] = []
        pending: list[tuple[str, dict[str, Any]]] = []
        for kind, body in items:
            pending.append((_check_kind(kind), _prepare_body(body, mode)))
            if len(pending) >= batch:
                seqs.extend(self._write(pending))
                if progress is not None:
                    progress(len(pending))
                pending = []
        if pending:
            seqs.extend(self._write(pending))
            if progress is not None:
                progress(len(pending))
        return seqs

    def _write(self, items: Sequence[tuple[str, dict[str, Any]]]) -> list[int]:
        """Insert prepared entries in one write transaction (the caller validated them)."""
        with self._tx(write=True) as conn:
            size, frontier, counted = self._state_counted(conn, lock=True)
            if counted < size:  # a writer without counters appended: bring them up to date first
                counting.count_range(conn, counted + 1, size)
            if size == 0:
                prev = ZERO_HASH
            else:
                row = conn.execute("SELECT leaf_hash FROM entries WHERE seq = ?", (size,)).fetchone()
                if row is None:
                    raise AuditError(f"audit entry {size} is missing; run `stylegate audit verify`")
                prev = row[0]
            time = utc_now()
            rows: list[tuple[int, str, str, str, str, str]] = []
            bodies: dict[int, tuple[str, dict[str, Any]]] = {}
            for kind, payload in items:
                seq = size + 1
                entry = {"v": ENTRY_VERSION, "seq": seq, "time": time, "kind": kind, "prev": prev, "body": payload}
                text = canonical_json(entry)
                leaf = leaf_hash(text.encode("utf-8"))
                frontier = frontier_push(frontier, size, leaf)
                rows.append((seq, time, kind, text, leaf.hex(), frontier_root(frontier).hex()))
                bodies[seq] = (kind, payload)
                size, prev = seq, leaf.hex()
            conn.executemany(
                "INSERT INTO entries (seq, time, kind, entry, leaf_hash, root_hash) VALUES (?, ?, ?, ?, ?, ?)", rows)
            counter_batch = counting.batch_for(conn, bodies)
            for seq, (kind, payload) in bodies.items():
                counter_batch.add(seq, kind, payload)
            counting.save(conn, counter_batch)
            conn.execute(
                "UPDATE tree_state SET size = ?, frontier = ?, counted = ? WHERE id = 1",
                (size, json.dumps([h.hex() for h in frontier]), size),
            )
        log.debug("audit entries %d..%d appended", rows[0][0], size)
        return [r[0] for r in rows]

    # -- counters ---------------------------------------------------------------------------

    def _catch_up_counters(self) -> None:
        """Count entries appended without counters (a log made before them, or an older writer)."""
        with self._tx(write=False) as conn:
            size, _, counted = self._state_counted(conn)
        if counted >= size:
            return
        log.info("audit log %s: counting entries %d..%d for the per-artist counters", self.location, counted + 1, size)
        with self._tx(write=True) as conn:
            size, _, counted = self._state_counted(conn, lock=True)
            if counted < size:
                counting.count_range(conn, counted + 1, size)

    def counters(self, artist_id: int | None = None) -> dict[int, dict[str, int]]:
        """``{artist id: {counter: value}}`` (one artist's, or all), as of the last committed entry.

        Reads the ``counters`` rows only: the cost does not grow with the log. Names and meanings
        are in :mod:`~stylegate.governance.audit.counters`.
        """
        self._catch_up_counters()
        with self._tx(write=False) as conn:
            if artist_id is None:
                rows = conn.execute("SELECT artist_id, name, value FROM counters").fetchall()
            else:
                rows = conn.execute("SELECT artist_id, name, value FROM counters WHERE artist_id = ?",
                                    (int(artist_id),)).fetchall()
        out: dict[int, dict[str, int]] = {}
        for artist, name, value in rows:
            if value:  # a voided generation can bring a counter back to zero
                out.setdefault(int(artist), {})[str(name)] = int(value)
        return out

    def recount(self, *, fix: bool = False) -> RecountResult:
        """Recompute the counters from the entries and compare them with the stored ones.

        The comparison reads one snapshot (counters and entries commit together, so they agree
        unless something outside stylegate edited them). ``fix=True`` then rewrites the counters
        from a second replay under the write lock.
        """
        self._catch_up_counters()
        with self._tx(write=False) as conn:
            n, recomputed, _ = counting.recompute(conn)
            stored = {(int(a), str(k)): int(v) for a, k, v in conn.execute("SELECT artist_id, name, value FROM counters")}
        mismatches = [
            {"artist_id": key[0], "counter": key[1], "stored": stored.get(key, 0), "recomputed": recomputed.get(key, 0)}
            for key in sorted(set(stored) | set(recomputed)) if stored.get(key, 0) != recomputed.get(key, 0)
        ]
        result = RecountResult(entries=n, counters=len(recomputed), mismatches=mismatches)
        if fix and mismatches:
            with self._tx(write=True) as conn:
                size, _, _ = self._state_counted(conn, lock=True)
                _, recomputed, voided = counting.recompute(conn)
                conn.execute("DELETE FROM counters")
                conn.execute("DELETE FROM voided")
                conn.executemany("INSERT INTO counters (artist_id, name, value) VALUES (?, ?, ?)",
                                 [(a, k, v) for (a, k), v in sorted(recomputed.items())])
                conn.executemany("INSERT INTO voided (seq) VALUES (?)", [(s,) for s in voided])
                conn.execute("UPDATE tree_state SET counted = ? WHERE id = 1", (size,))
            result.fixed = True
            log.warning("audit log %s: %d counters differed from the entries and were rewritten",
                        self.location, len(mismatches))
        return result

    def checkpoint(self, signer: signing.Signer) -> Checkpoint:
        """Sign the current tree head (size, root, time) and store the checkpoint.

        Refuses (AuditError) when the stored head does not follow from the last entry or is not
        an extension of the latest checkpoint according to the stored heads; it does not rehash
        every entry (that is :meth:`verify`'s job).
        """
        with self._tx(write=False) as conn:
            size, frontier = self._state(conn)
            root = frontier_root(frontier).hex()
            if size > 0:
                row = conn.execute("SELECT root_hash FROM entries WHERE seq = ?", (size,)).fetchone()
                if row is None or row[0] != root:
                    raise AuditError(
                        "refusing to sign: the tree state does not match the last entry; run `stylegate audit verify`"
                    )
            latest = self._latest_checkpoint(conn)
            if latest is not None:
                if latest.size > size:
                    raise AuditError(
                        f"refusing to sign: checkpoint #{latest.id} covers {latest.size} entries, the log has {size}"
                    )
                expected: str | None = EMPTY_ROOT.hex()
                if latest.size > 0:
                    row = conn.execute("SELECT root_hash FROM entries WHERE seq = ?", (latest.size,)).fetchone()
                    expected = row[0] if row else None
                if expected != latest.root:
                    raise AuditError(
                        f"refusing to sign: the log no longer matches checkpoint #{latest.id}; run `stylegate audit verify`"
                    )
        time = utc_now()
        origin = note_origin(signer.public_key)
        note = notes.sign_checkpoint(
            notes.CheckpointBody(origin, size, bytes.fromhex(root)), origin, signer.private_key
        )
        signature = notes.parse_note(note).signatures[0].signature
        public = signing.public_key_raw(signer.public_key).hex()
        with self._tx(write=True) as conn:
            cid = conn.insert_id(
                "INSERT INTO checkpoints (size, root_hash, time, key_id, public_key, signature, note) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (size, root, time, signer.key_id, public, signature.hex(), note),
            )
        log.info("audit checkpoint #%d signed: size %d root %s", cid, size, root)
        return Checkpoint(cid, size, root, time, signer.key_id, public, signature.hex(), note)

    # -- reading ----------------------------------------------------------------------------

    def __len__(self) -> int:
        with self._tx(write=False) as conn:
            return self._state(conn)[0]

    def verify_note(
        self, note: str | bytes, public_key: Any, extra_keys: Sequence[str] = ()
    ) -> notes.CheckpointResult:
        """Check a C2SP checkpoint note (a copy kept elsewhere, or a witness's) against this log.

        It must carry a valid signature by ``public_key`` (this workspace's key) or one of
        ``extra_keys`` (``name+keyid+base64`` verifier keys); a note with this log's origin must
        also cover no more entries than the log holds and match its stored root at that size.
        """
        key = signing.load_public_key(public_key)
        verifiers = [note_verifier(key), *(notes.Verifier.parse(k) for k in extra_keys)]
        res = notes.verify_checkpoint(note, verifiers)
        if not res.ok or res.checkpoint is None or res.checkpoint.origin != note_origin(key):
            return res
        body = res.checkpoint
        with self._tx(write=False) as conn:
            size, _ = self._state(conn)
            row = conn.execute("SELECT root_hash FROM entries WHERE seq = ?", (body.size,)).fetchone()
        if body.size > size:
            res.ok, res.reason, res.detail = False, Reason.BAD_SIZE, f"the note covers {body.size} entries, the log holds {size}"
            return res
        stored = EMPTY_ROOT.hex() if body.size == 0 else (row[0] if row else "")
        if stored != body.root.hex():
            res.ok, res.reason, res.detail = False, Reason.ROOT_MISMATCH, (
                f"the note's root {body.root.hex()} is not the log's root {stored} at size {body.size}"
            )
        return res

    def head(self) -> TreeHead:
        """The current tree head (not signed; see :meth:`checkpoint`)."""
        with self._tx(write=False) as conn:
            size, frontier = self._state(conn)
        return TreeHead(size, frontier_root(frontier).hex())

    def entry(self, seq: int) -> dict[str, Any]:
        """The entry with sequence number ``seq`` (envelope and body)."""
        with self._tx(write=False) as conn:
            row = conn.execute("SELECT entry FROM entries WHERE seq = ?", (int(seq),)).fetchone()
        if row is None:
            raise AuditEntryNotFound(f"no audit entry {seq}")
        return json.loads(row[0])

    def entries(
        self,
        start: int = 1,
        stop: int | None = None,
        *,
        kinds: Sequence[AuditKind | str] | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Entries with ``start <= seq <= stop`` in order, optionally filtered by kind and by time
        (ISO strings compared as stored, UTC: ``since <= time < until``).

        Reads in windows of ``_WINDOW`` sequence numbers, each its own short read transaction, up
        to the log's size when the call began (``stop`` defaults to it), so the result is a
        prefix of the log as it was then. Each window is a bounded range of the primary key or
        of the ``(kind, seq)`` index, so the cost is linear in the log: a ``seq > last … LIMIT``
        query lets the planner (PostgreSQL's without statistics, SQLite's for ``kind IN (…)``)
        read and sort every remaining row for each batch. Several kinds are read one kind at a
        time and merged by sequence number.
        """
        last = len(self) if stop is None else int(stop)
        names = [str(k.value if isinstance(k, AuditKind) else k) for k in kinds] if kinds else [None]
        streams = [self._stored(name, int(start), last, since, until) for name in dict.fromkeys(names)]
        rows = streams[0] if len(streams) == 1 else heapq.merge(*streams)
        for _seq, text in rows:
            yield parse_json(text)

    def _stored(self, kind: str | None, start: int, stop: int, since: str | None,
                until: str | None) -> Iterator[tuple[int, str]]:
        """``(seq, entry text)`` of one kind (or all) in ``start..stop``, window by window."""
        where: list[str] = ["seq > ?", "seq <= ?"]
        args: list[Any] = []
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        if since is not None:
            where.append("time >= ?")
            args.append(since)
        if until is not None:
            where.append("time < ?")
            args.append(until)
        low = start - 1
        while low < stop:
            high = min(low + _WINDOW, stop)
            with self._tx(write=False) as conn:
                rows = conn.execute(
                    f"SELECT seq, entry FROM entries WHERE {' AND '.join(where)} ORDER BY seq", (low, high, *args),
                ).fetchall()
            for seq, text in rows:
                yield int(seq), text
            low = high

    def checkpoints(self) -> list[Checkpoint]:
        """Every stored checkpoint, oldest first (as stored: :meth:`verify` checks them)."""
        with self._tx(write=False) as conn:
            return self._checkpoints(conn)

    def latest_checkpoint(self) -> Checkpoint | None:
        with self._tx(write=False) as conn:
            return self._latest_checkpoint(conn)

    @staticmethod
    def _checkpoints(conn: Backend) -> list[Checkpoint]:
        rows = conn.execute(
            "SELECT id, size, root_hash, time, key_id, public_key, signature, note FROM checkpoints ORDER BY id"
        ).fetchall()
        return [Checkpoint(*row) for row in rows]

    def _latest_checkpoint(self, conn: Backend) -> Checkpoint | None:
        row = conn.execute(
            "SELECT id, size, root_hash, time, key_id, public_key, signature, note FROM checkpoints "
            "ORDER BY size DESC, id DESC LIMIT 1"
        ).fetchone()
        return Checkpoint(*row) if row else None

    def _leaf_hashes(self, conn: Backend, size: int) -> list[bytes]:
        hashes: list[bytes] = []
        for seq, h in conn.stream("SELECT seq, leaf_hash FROM entries WHERE seq <= ? ORDER BY seq", (size,)):
            if seq != len(hashes) + 1:
                raise AuditError(f"audit entry {len(hashes) + 1} is missing; run `stylegate audit verify`")
            hashes.append(bytes.fromhex(h))
        if len(hashes) != size:
            raise AuditError(f"audit log holds {len(hashes)} entries, its tree state says {size}; run `stylegate audit verify`")
        return hashes

    # -- proofs -----------------------------------------------------------------------------

    def prove(self, seq: int, tree_size: int | None = None) -> dict[str, Any]:
        """An inclusion proof for entry ``seq`` in the tree of ``tree_size`` entries (default: now).

        Returns ``{seq, index, tree_size, leaf, leaf_hash, audit_path, root, checkpoint}``:
        ``leaf`` is the entry's exact canonical JSON text, ``index = seq - 1``, hashes are hex,
        ``checkpoint`` is a stored checkpoint of exactly that tree head, or None. Check it with
        :func:`~stylegate.governance.audit.verify.verify_entry_proof` or
        :func:`~stylegate.governance.audit.verify.verify_inclusion`.
        """
        with self._tx(write=False) as conn:
            size, _ = self._state(conn)
            n = size if tree_size is None else int(tree_size)
            if not 1 <= n <= size:
                raise AuditError(f"tree size {n} is outside 1..{size}")
            if not 1 <= int(seq) <= n:
                raise AuditEntryNotFound(f"no audit entry {seq} in a tree of {n} entries")
            hashes = self._leaf_hashes(conn, n)
            text = conn.execute("SELECT entry FROM entries WHERE seq = ?", (int(seq),)).fetchone()[0]
            checkpoints = [c for c in self._checkpoints(conn) if c.size == n]
        tree = MerkleTree(hashes)
        root = tree.root().hex()
        if leaf_hash(text.encode("utf-8")) != hashes[int(seq) - 1]:
            raise AuditError(f"audit entry {seq} does not match its leaf hash; run `stylegate audit verify`")
        matching = [c for c in checkpoints if c.root == root]
        return {
            "seq": int(seq),
            "index": int(seq) - 1,
            "tree_size": n,
            "leaf": text,
            "leaf_hash": hashes[int(seq) - 1].hex(),
            "audit_path": [h.hex() for h in tree.inclusion_proof(int(seq) - 1)],
            "root": root,
            "checkpoint": matching[-1].to_dict() if matching else None,
        }

    def prove_many(self, seqs: Sequence[int], tree_size: int) -> dict[int, dict[str, Any]]:
        """Inclusion proofs ``{seq: {leaf, leaf_hash, audit_path}}`` for many entries in the tree of
        ``tree_size`` entries, building the tree once (:meth:`prove` builds it per call)."""
        with self._tx(write=False) as conn:
            size, _ = self._state(conn)
            if not 1 <= int(tree_size) <= size:
                raise AuditError(f"tree size {tree_size} is outside 1..{size}")
            hashes = self._leaf_hashes(conn, int(tree_size))
            wanted = sorted({int(s) for s in seqs})
            texts: dict[int, str] = {}
            for i in range(0, len(wanted), _BATCH):
                chunk = wanted[i : i + _BATCH]
                rows = conn.execute(
                    f"SELECT seq, entry FROM entries WHERE seq IN ({', '.join('?' * len(chunk))})", chunk
                ).fetchall()
                texts.update({int(seq): text for seq, text in rows})
        tree = MerkleTree(hashes)
        out: dict[int, dict[str, Any]] = {}
        for seq in wanted:
            if not 1 <= seq <= int(tree_size) or seq not in texts:
                raise AuditEntryNotFound(f"no audit entry {seq} in a tree of {tree_size} entries")
            if leaf_hash(texts[seq].encode("utf-8")) != hashes[seq - 1]:
                raise AuditError(f"audit entry {seq} does not match its leaf hash; run `stylegate audit verify`")
            out[seq] = {"leaf": texts[seq], "leaf_hash": hashes[seq - 1].hex(),
                        "audit_path": [h.hex() for h in tree.inclusion_proof(seq - 1)]}
        return out

    def prove_consistency(self, old_size: int, new_size: int | None = None) -> dict[str, Any]:
        """A consistency proof ``{old_size, new_size, old_root, new_root, proof}`` (RFC 6962 PROOF)."""
        with self._tx(write=False) as conn:
            size, _ = self._state(conn)
            n = size if new_size is None else int(new_size)
            if not 0 <= int(old_size) <= n <= size:
                raise AuditError(f"sizes must satisfy 0 <= old ({old_size}) <= new ({n}) <= {size}")
            hashes = self._leaf_hashes(conn, n)
        tree = MerkleTree(hashes)
        return {
            "old_size": int(old_size),
            "new_size": n,
            "old_root": tree.root(int(old_size)).hex(),
            "new_root": tree.root().hex(),
            "proof": [h.hex() for h in tree.consistency_proof(int(old_size))],
        }

    def export(self, out: str | os.PathLike[str], tree_size: int | None = None) -> int:
        """Write entries 1..``tree_size`` (default: all) with inclusion proofs as JSON lines.

        See :mod:`stylegate.governance.audit.export` for the format; returns the entry count.
        """
        with self._tx(write=False) as conn:
            size, _ = self._state(conn)
            n = size if tree_size is None else int(tree_size)
            if not 0 <= n <= size:
                raise AuditError(f"tree size {n} is outside 0..{size}")
            hashes = self._leaf_hashes(conn, n)
            texts = [t for (t,) in conn.stream("SELECT entry FROM entries WHERE seq <= ? ORDER BY seq", (n,))]
            latest = [c for c in self._checkpoints(conn) if c.size <= n]
        latest.sort(key=lambda c: (c.size, c.id))
        return export_log(Path(out), texts, hashes, latest[-1] if latest else None)

    # -- verification -------------------------------------------------------------------------

    def verify(self, public_key: Any = None) -> VerifyResult:
        """Recompute every leaf, the hash chain, every stored head and check every checkpoint.

        ``public_key`` (a key, PEM bytes, a PEM file path or a :class:`~signing.Signer`) is the
        key checkpoints must be signed with; without one, any stored checkpoint is a problem.
        Runs in O(n log n) over one consistent snapshot; appends do not wait for it.
        """
        key = signing.load_public_key(public_key) if public_key is not None else None
        problems = Problems()
        chain = ChainChecker(problems)
        with self._tx(write=False) as conn:
            checkpoints = self._checkpoints(conn)
            wanted = {c.size for c in checkpoints}
            roots: dict[int, bytes] = {0: EMPTY_ROOT}
            head_reported = False
            cursor = conn.stream("SELECT seq, time, kind, entry, leaf_hash, root_hash FROM entries ORDER BY seq")
            for seq, time, kind, text, stored_leaf, stored_root in cursor:
                seq, _leaf, obj = chain.add(seq, text, stored_leaf)
                if obj is not None and (obj.get("kind") != kind or obj.get("time") != time):
                    problems.add(f"entry {seq}: the kind or time column disagrees with the entry (edited)", seq)
                root = chain.root
                if stored_root != root.hex() and not head_reported:
                    head_reported = True
                    problems.add(f"the stored tree head after entry {seq} does not match the recomputed one", seq)
                if chain.size in wanted:
                    roots[chain.size] = root
            state = conn.execute("SELECT size, frontier FROM tree_state WHERE id = 1").fetchone()
        n = chain.size
        check_tree_state(state, chain, problems)
        content_bad = problems.first_bad
        good, latest = check_checkpoints(checkpoints, key, roots, n, content_bad, problems)
        if problems:
            log.warning("audit log %s failed verification: %s", self.location, "; ".join(problems.messages[:3]))
        return VerifyResult(
            ok=not problems,
            entries=n,
            first_bad_seq=problems.first_bad,
            problems=problems.listing(),
            checkpoints=good,
            latest_checkpoint_size=latest,
            unsigned=n - (latest or 0),
            root=chain.root.hex(),
        )
