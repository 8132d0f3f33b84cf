"""The tamper-evident audit log: an append-only, hash-chained RFC 6962 Merkle log in SQLite.

Every prompt check, image check, generation and registry change becomes one entry (see
:mod:`~stylegate.governance.audit.entry` for the entry envelope and the canonical leaf bytes).
Entries are leaves of an RFC 6962 Merkle tree (:mod:`~stylegate.governance.audit.merkle`);
:meth:`AuditLog.checkpoint` signs the current tree head with the local Ed25519 key
(:mod:`~stylegate.governance.audit.signing`) and :meth:`AuditLog.verify` recomputes everything
(:mod:`~stylegate.governance.audit.verify`).

Storage: its own SQLite file (by default ``<home>/audit.db``) in WAL mode with
``synchronous=FULL``. An append allocates the next sequence number and inserts the entry, its
leaf hash and the new tree head inside one ``BEGIN IMMEDIATE`` transaction, so concurrent
processes get unique, contiguous numbers, and :meth:`AuditLog.append` returns only after the
commit: an acknowledged entry survives a crash. The tree's frontier (the O(log n) roots of its
perfect subtrees) is kept in the ``tree_state`` row, so an append never rereads the tree.

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

import json
import logging
import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, Union

from stylegate.errors import AuditEntryNotFound, AuditError

from . import checkpoints as notes
from . import signing
from .checkpoints import Checkpoint, note_origin, note_verifier
from .entry import (
    ENTRY_VERSION,
    ZERO_HASH,
    AuditKind,
    CorrectionRecord,
    DecisionRecord,
    TreeHead,
    canonical_json,
    sha256_text,
    utc_now,
)
from .export import export_log
from .merkle import EMPTY_ROOT, MerkleTree, frontier_push, frontier_root, leaf_hash
from .verdict import Reason
from .verify import ChainChecker, Problems, VerifyResult, check_checkpoints, check_tree_state

__all__ = ["AUDIT_DB_NAME", "AuditLog", "PromptMode", "default_audit_path"]

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

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY,
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
    size INTEGER NOT NULL,
    frontier TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    size INTEGER NOT NULL,
    root_hash TEXT NOT NULL,
    time TEXT NOT NULL,
    key_id TEXT NOT NULL,
    public_key TEXT NOT NULL,
    signature TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
"""


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
    plain = json.loads(canonical_json(dict(body)))  # plain JSON types from here on
    return _redact(plain, mode)


def _check_kind(kind: AuditKind | str) -> str:
    """The kind as plain text, or AuditError when it is not a lowercase dotted name."""
    if isinstance(kind, AuditKind):
        return kind.value
    if not isinstance(kind, str) or len(kind) > _MAX_KIND or not _KIND_RE.fullmatch(kind):
        raise AuditError(f"invalid audit entry kind {kind!r} (lowercase dotted words, e.g. 'check.prompt')")
    return str(kind)


class AuditLog:
    """An append-only audit log in one SQLite file. Thread-safe; open one per process."""

    def __init__(self, conn: sqlite3.Connection, path: Path, prompt_mode: PromptMode) -> None:
        self._conn = conn
        self._path = path
        self._lock = threading.RLock()
        self.prompt_mode: PromptMode = prompt_mode

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        prompt_mode: PromptMode = "full",
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
    ) -> AuditLog:
        """Open (creating if needed) the log at ``path``.

        ``prompt_mode`` is the default for :meth:`append`: ``"full"`` records prompt text and its
        sha256, ``"hash"`` only the sha256. ``busy_timeout_s`` bounds the wait for other writers.
        """
        if prompt_mode not in ("full", "hash"):
            raise AuditError(f"prompt_mode must be 'full' or 'hash', not {prompt_mode!r}")
        p = Path(path).expanduser()
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(p), timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise AuditError(f"cannot open the audit log {p}: {exc}") from exc
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                log.warning("audit log %s is in %s mode, not WAL", p, mode)
            conn.execute("PRAGMA synchronous = FULL")
            cls._ensure_schema(conn)
        except sqlite3.Error as exc:
            conn.close()
            raise AuditError(f"cannot open the audit log {p}: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        return cls(conn, p, prompt_mode)

    @staticmethod
    def _ensure_schema(conn: sqlite3.Connection) -> None:
        def version() -> int | None:
            try:
                row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            except sqlite3.OperationalError:
                return None
            return int(row[0]) if row else None

        current = version()
        if current is None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
                conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('created', ?)", (utc_now(),))
                conn.execute("INSERT OR IGNORE INTO tree_state (id, size, frontier) VALUES (1, 0, '[]')")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            current = version()
        if current != SCHEMA_VERSION:
            raise AuditError(f"audit log schema {current} is not supported (this stylegate reads {SCHEMA_VERSION})")
        AuditLog._add_note_column(conn)

    @staticmethod
    def _add_note_column(conn: sqlite3.Connection) -> None:
        """Logs made before C2SP checkpoints lack ``checkpoints.note``; add it (old rows keep '')."""
        def has_note() -> bool:
            return any(row[1] == "note" for row in conn.execute("PRAGMA table_info(checkpoints)"))

        if has_note():
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            if not has_note():
                conn.execute("ALTER TABLE checkpoints ADD COLUMN note TEXT NOT NULL DEFAULT ''")
                log.info("audit log: added the checkpoints.note column (C2SP signed notes)")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @property
    def path(self) -> Path:
        return self._path

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions -----------------------------------------------------------------------

    @contextmanager
    def _tx(self, write: bool) -> Iterator[sqlite3.Connection]:
        """One transaction: ``BEGIN IMMEDIATE`` for writes, a consistent snapshot for reads."""
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            except sqlite3.Error as exc:
                raise AuditError(f"audit log {self._path} is unavailable: {exc}") from exc
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    try:
                        conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        log.exception("rollback failed")
                if isinstance(exc, sqlite3.Error):
                    raise AuditError(f"audit log {self._path}: {exc}") from exc
                raise

    def _state(self, conn: sqlite3.Connection) -> tuple[int, list[bytes]]:
        row = conn.execute("SELECT size, frontier FROM tree_state WHERE id = 1").fetchone()
        if row is None:
            raise AuditError("audit log tree state is missing; run `stylegate audit verify`")
        size, raw = row
        try:
            frontier = [bytes.fromhex(h) for h in json.loads(raw)]
        except (ValueError, TypeError) as exc:
            raise AuditError(f"audit log tree state is damaged ({exc}); run `stylegate audit verify`") from None
        if not isinstance(size, int) or size < 0 or len(frontier) != bin(size).count("1"):
            raise AuditError("audit log tree state is damaged; run `stylegate audit verify`")
        return size, frontier

    # -- writing ----------------------------------------------------------------------------

    def append(self, kind: AuditKind | str, body: Body | None = None, *, prompt_mode: PromptMode | None = None) -> int:
        """Append one entry and return its sequence number once it is committed to disk.

        ``kind`` is an :class:`AuditKind` or a dotted lowercase name (``registry.artist.added``…);
        ``body`` a :class:`DecisionRecord`, a :class:`CorrectionRecord` or any JSON-serialisable mapping. Prompt fields (``prompt``, ``negative_prompt``, also inside
        ``steer``) gain a ``*_sha256``; with ``prompt_mode="hash"`` only the hash is kept.
        """
        kind = _check_kind(kind)
        payload = _prepare_body(body, prompt_mode or self.prompt_mode)
        with self._tx(write=True) as conn:
            size, frontier = self._state(conn)
            if size == 0:
                prev = ZERO_HASH
            else:
                row = conn.execute("SELECT leaf_hash FROM entries WHERE seq = ?", (size,)).fetchone()
                if row is None:
                    raise AuditError(f"audit entry {size} is missing; run `stylegate audit verify`")
                prev = row[0]
            seq = size + 1
            time = utc_now()
            entry = {"v": ENTRY_VERSION, "seq": seq, "time": time, "kind": kind, "prev": prev, "body": payload}
            text = canonical_json(entry)
            leaf = leaf_hash(text.encode("utf-8"))
            frontier = frontier_push(frontier, size, leaf)
            conn.execute(
                "INSERT INTO entries (seq, time, kind, entry, leaf_hash, root_hash) VALUES (?, ?, ?, ?, ?, ?)",
                (seq, time, kind, text, leaf.hex(), frontier_root(frontier).hex()),
            )
            conn.execute(
                "UPDATE tree_state SET size = ?, frontier = ? WHERE id = 1",
                (seq, json.dumps([h.hex() for h in frontier])),
            )
        log.debug("audit entry %d (%s) appended", seq, kind)
        return seq

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
            cur = conn.execute(
                "INSERT INTO checkpoints (size, root_hash, time, key_id, public_key, signature, note) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (size, root, time, signer.key_id, public, signature.hex(), note),
            )
            cid = int(cur.lastrowid or 0)
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
        (ISO strings compared as stored, UTC: ``since <= time < until``). Reads in batches."""
        where: list[str] = ["seq >= ?"]
        args: list[Any] = [int(start)]
        if stop is not None:
            where.append("seq <= ?")
            args.append(int(stop))
        if kinds:
            where.append(f"kind IN ({', '.join('?' * len(kinds))})")
            args.extend(str(k.value if isinstance(k, AuditKind) else k) for k in kinds)
        if since is not None:
            where.append("time >= ?")
            args.append(since)
        if until is not None:
            where.append("time < ?")
            args.append(until)
        last = int(start) - 1
        while True:
            with self._tx(write=False) as conn:
                rows = conn.execute(
                    f"SELECT seq, entry FROM entries WHERE {' AND '.join(where)} AND seq > ? ORDER BY seq LIMIT {_BATCH}",
                    (*args, last),
                ).fetchall()
            for seq, text in rows:
                yield json.loads(text)
                last = seq
            if len(rows) < _BATCH:
                return

    def checkpoints(self) -> list[Checkpoint]:
        """Every stored checkpoint, oldest first (as stored: :meth:`verify` checks them)."""
        with self._tx(write=False) as conn:
            return self._checkpoints(conn)

    def latest_checkpoint(self) -> Checkpoint | None:
        with self._tx(write=False) as conn:
            return self._latest_checkpoint(conn)

    @staticmethod
    def _checkpoints(conn: sqlite3.Connection) -> list[Checkpoint]:
        rows = conn.execute(
            "SELECT id, size, root_hash, time, key_id, public_key, signature, note FROM checkpoints ORDER BY id"
        ).fetchall()
        return [Checkpoint(*row) for row in rows]

    def _latest_checkpoint(self, conn: sqlite3.Connection) -> Checkpoint | None:
        row = conn.execute(
            "SELECT id, size, root_hash, time, key_id, public_key, signature, note FROM checkpoints "
            "ORDER BY size DESC, id DESC LIMIT 1"
        ).fetchone()
        return Checkpoint(*row) if row else None

    def _leaf_hashes(self, conn: sqlite3.Connection, size: int) -> list[bytes]:
        hashes: list[bytes] = []
        for seq, h in conn.execute("SELECT seq, leaf_hash FROM entries WHERE seq <= ? ORDER BY seq", (size,)):
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
            texts = [t for (t,) in conn.execute("SELECT entry FROM entries WHERE seq <= ? ORDER BY seq", (n,))]
            latest = [c for c in self._checkpoints(conn) if c.size <= n]
        latest.sort(key=lambda c: (c.size, c.id))
        return export_log(Path(out), texts, hashes, latest[-1] if latest else None)

    # -- verification -------------------------------------------------------------------------

    def verify(self, public_key: Any = None) -> VerifyResult:
        """Recompute every leaf, the hash chain, every stored head and check every checkpoint.

        ``public_key`` (a key, PEM bytes, a PEM file path or a :class:`~signing.Signer`) is the
        key checkpoints must be signed with; without one, any stored checkpoint is a problem.
        Runs in O(n log n) over one consistent snapshot; appends wait only for SQLite's snapshot.
        """
        key = signing.load_public_key(public_key) if public_key is not None else None
        problems = Problems()
        chain = ChainChecker(problems)
        with self._tx(write=False) as conn:
            checkpoints = self._checkpoints(conn)
            wanted = {c.size for c in checkpoints}
            roots: dict[int, bytes] = {0: EMPTY_ROOT}
            head_reported = False
            cursor = conn.execute("SELECT seq, time, kind, entry, leaf_hash, root_hash FROM entries ORDER BY seq")
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
            log.warning("audit log %s failed verification: %s", self._path, "; ".join(problems.messages[:3]))
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
