"""Soft binding: find the audit entry of an image whose C2PA manifest was stripped.

Every image ``stylegate generate`` writes is recorded in ``$STYLEGATE_HOME/outputs.db`` (a
SQLite file of its own: the registry database stays free of governance data) with the audit
sequence number of its generation, the SHA-256 of its decoded pixels, its pixel signature (the
near-duplicate thumbnail of :func:`stylegate.governance.matching.neardup.pixel_signature`, mean-removed and unit length) and its
style embedding with the embedder that made it.

:meth:`OutputStore.lookup` answers, in this order: an exact match on the decoded pixels
(``how = "pixels-sha256"``: the manifest was stripped, or the file re-encoded losslessly);
then the best pixel-signature correlation of at least ``min_signature`` that, where both
embeddings exist under the same embedder, also has a cosine of at least ``min_cosine``
(``how = "pixel-signature"``: re-compressed, resized, lightly edited). The scan is linear in
numpy, fine for hundreds of thousands of outputs; a FAISS index is the next step beyond that.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from stylegate.errors import SoftBindingError

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

log = logging.getLogger(__name__)

OUTPUTS_DB = "outputs.db"
MIN_SIGNATURE = 0.95
MIN_COSINE = 0.90

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outputs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    audit_seq INTEGER NOT NULL,
    path TEXT NOT NULL,
    created TEXT NOT NULL,
    pixels_sha256 TEXT NOT NULL,
    dhash TEXT NOT NULL,
    signature BLOB NOT NULL,
    embedding BLOB,
    embedder TEXT
);
CREATE INDEX IF NOT EXISTS outputs_pixels ON outputs (pixels_sha256);
"""


@dataclass(frozen=True)
class SoftMatch:
    """An output found again: which audit entry wrote it, how it was found, how close it is."""

    audit_seq: int
    path: str
    how: str
    signature_similarity: float
    cosine: float | None
    pixels_sha256: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _blob(vector: np.ndarray | None) -> bytes | None:
    return None if vector is None else np.asarray(vector, dtype=np.float32).ravel().tobytes()


class OutputStore:
    """The written outputs of one home (``outputs.db``); thread-safe, one connection."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            self._conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise SoftBindingError(f"cannot open the outputs store {self.path}: {exc}") from exc
        self._lock = threading.Lock()

    @classmethod
    def for_home(cls, home: str | os.PathLike[str]) -> OutputStore:
        return cls(Path(home).expanduser() / OUTPUTS_DB)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> OutputStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(
        self,
        audit_seq: int,
        path: str,
        image: Image.Image,
        embedding: np.ndarray | None = None,
        embedder: str | None = None,
    ) -> int:
        """Record one written output; returns its row id."""
        from stylegate.generator.content_credentials import dhash64
        from stylegate.generator.provenance import pixels_sha256
        from stylegate.governance.audit.entry import utc_now

        row = (
            int(audit_seq), str(path), utc_now(), pixels_sha256(image), dhash64(image),
            _blob(unit_signature(image)), _blob(embedding), embedder,
        )
        with self._lock, self._conn:
            cur = self._conn.execute(
                "INSERT INTO outputs (audit_seq, path, created, pixels_sha256, dhash, signature, embedding, embedder) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        return int(cur.lastrowid or 0)

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM outputs").fetchone()[0])

    def lookup(
        self,
        image: Image.Image,
        embedding: np.ndarray | None = None,
        embedder: str | None = None,
        *,
        min_signature: float = MIN_SIGNATURE,
        min_cosine: float = MIN_COSINE,
    ) -> SoftMatch | None:
        """The recorded output ``image`` most likely is, or None (see the module docstring)."""
        from stylegate.generator.provenance import pixels_sha256
        digest = pixels_sha256(image)
        with self._lock:
            exact = self._conn.execute(
                "SELECT audit_seq, path FROM outputs WHERE pixels_sha256 = ? ORDER BY id DESC LIMIT 1", (digest,)
            ).fetchone()
            rows = [] if exact else self._conn.execute(
                "SELECT audit_seq, path, pixels_sha256, signature, embedding, embedder FROM outputs"
            ).fetchall()
        if exact:
            return SoftMatch(int(exact[0]), str(exact[1]), "pixels-sha256", 1.0, None, digest)
        if not rows:
            return None
        query = unit_signature(image)
        usable = [r for r in rows if len(r[3]) == query.nbytes]
        if not usable:
            return None
        sigs = np.stack([np.frombuffer(r[3], dtype=np.float32) for r in usable])
        sims = sigs @ query
        best: SoftMatch | None = None
        for i in np.argsort(-sims):
            sim = float(sims[i])
            if sim < min_signature:
                break
            seq, path, sha, _, emb_blob, emb_name = usable[int(i)]
            cosine = None
            if embedding is not None and emb_blob is not None and emb_name == embedder:
                stored = np.frombuffer(emb_blob, dtype=np.float32)
                q = np.asarray(embedding, dtype=np.float32).ravel()
                if stored.shape == q.shape:
                    cosine = float(stored @ q / (np.linalg.norm(stored) * np.linalg.norm(q) + 1e-12))
                    if cosine < min_cosine:
                        continue
            best = SoftMatch(int(seq), str(path), "pixel-signature", round(sim, 6), cosine, str(sha))
            break
        return best


def unit_signature(image: Image.Image) -> np.ndarray:
    """The near-duplicate pixel signature, mean-removed and of unit length, so that the dot
    product of two is their correlation (a linear scan over stored outputs)."""
    from stylegate.governance.matching.neardup import pixel_signature

    sig = np.asarray(pixel_signature(image), dtype=np.float32).ravel()
    sig = sig - sig.mean()
    norm = float(np.linalg.norm(sig))
    return sig / norm if norm > 1e-6 else sig
