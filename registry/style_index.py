"""The style index: FAISS over L2-normalised work embeddings, keyed by work id.

Built with ``faiss.index_factory(dim, factory, METRIC_INNER_PRODUCT)``; inner product on
unit vectors is cosine similarity. The index is always an ``IndexIDMap2`` so FAISS ids are
registry work ids: withdrawing a work removes its id, and ``reconstruct`` works by id.

On disk an index is two files written atomically: the FAISS bytes at ``path`` and a JSON
sidecar at ``path + ".json"`` recording the factory string, the embedder identity, the
dimension, the vector count, the registry snapshot hash it reflects and the sha256 of the
index bytes. :meth:`StyleIndex.load` refuses an index whose embedder identity differs from
the one expected, or whose files are damaged or disagree with each other.

The factory ``"auto"`` (or ``"auto:N"``) chooses by size when the index is first filled:
Flat up to ``N`` works (default :data:`AUTO_FLAT_MAX`), above it IVF with an HNSW coarse
quantiser, PQ codes and an exact re-rank of the candidates from the original vectors
(:func:`scaled_factory`), which stay on disk in a memory-mapped vectors file beside the
index (:mod:`.vector_store`, factory suffix :data:`MMAP_RERANK`). That variant is a bare IVF
index holding work ids itself, so withdrawal is FAISS's ``remove_ids`` (the vectors file marks
the rows dead and compacts later) instead of a rebuild. The choice is recorded in the sidecar; a saved index keeps its
factory when loaded and grown, and only a rebuild (a new ``create`` filled in one ``add``)
chooses again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from stylegate.errors import IndexMismatch, InputError, StylegateError, VectorError

from ._fs import atomic_write_bytes
from .vector_store import StoreState, VectorStore, rowmap_path, vectors_path

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
DEFAULT_FACTORY = "IDMap2,Flat"
AUTO = "auto"
AUTO_FLAT_MAX = 50_000  # Flat at 10^5 was p50 16.6 ms, p99 38 ms single-query (`stylegate bench index`)
IDENTITY_KEYS = ("model", "checkpoint_sha256", "dim")
NORM_TOLERANCE = 1e-3
TRAIN_PER_LIST = 40  # IVF training sample per list (FAISS warns below 39)
RERANK_MIN_K = 10  # a re-ranked IVF-PQ index is searched for at least this many, then cut
MMAP_RERANK = "RMmap"  # factory suffix: PQ codes in RAM, exact re-rank from the mmap'd vectors file
DEFAULT_K_FACTOR = 32  # re-rank depth (candidates per result) when the parameters do not say
HEADROOM_BYTES = 64 << 20  # codes reserved past a loaded flat index's end (see _reserve_headroom)
PRESENT_LOOKUPS = 256  # ids up to which membership is looked up one by one (an add of a few works)
SINGLE_THREAD_BELOW = 20  # query batches smaller than FAISS's BLAS threshold run on one thread


def sidecar_path(path: str | os.PathLike[str]) -> Path:
    """The JSON sidecar that goes with an index file."""
    p = Path(path)
    return p.with_name(p.name + ".json")


def _normalise_identity(identity: dict[str, Any], dim: int | None = None) -> dict[str, Any]:
    if not isinstance(identity, dict):
        raise InputError("embedder identity must be a dict with model, checkpoint_sha256 and dim")
    missing = [k for k in IDENTITY_KEYS if k not in identity]
    if missing:
        raise InputError(f"embedder identity lacks {', '.join(missing)}")
    try:
        ident = json.loads(json.dumps(identity, sort_keys=True))
    except (TypeError, ValueError) as exc:
        raise InputError(f"embedder identity is not JSON-serialisable: {exc}") from None
    if dim is not None and ident.get("dim") != dim:
        raise InputError(f"embedder identity says dim={ident.get('dim')!r} but the index has dim={dim}")
    return ident


def _identity_diff(found: dict[str, Any], expected: dict[str, Any]) -> str:
    keys = sorted(set(found) | set(expected))
    parts = [
        f"{k}: index has {found.get(k)!r}, embedder has {expected.get(k)!r}"
        for k in keys
        if found.get(k) != expected.get(k)
    ]
    return "; ".join(parts)


def parse_auto(factory: str) -> int | None:
    """The Flat threshold of an ``auto``/``auto:N`` factory setting; None for a FAISS string."""
    spec = factory.strip() if isinstance(factory, str) else ""
    if spec == AUTO:
        return AUTO_FLAT_MAX
    if not spec.startswith(AUTO + ":"):
        return None
    raw = spec[len(AUTO) + 1:]
    if not raw.isdigit():
        raise InputError(f"index factory {factory!r}: write auto or auto:N with N a whole number of works")
    return int(raw)


def index_files(path: str | os.PathLike[str]) -> list[Path]:
    """Every file a saved index may consist of (for backups): index, sidecar, vectors, row map."""
    return [Path(path), sidecar_path(path), vectors_path(path), rowmap_path(path)]


def is_mmap(factory: str) -> bool:
    return factory.strip().endswith("," + MMAP_RERANK)


def scaled_factory(n_works: int, dim: int, *, mmap: bool = False) -> tuple[str, str]:
    """The IVF-HNSW-PQ factory with exact re-rank for ``n_works``, and its search parameters.

    nlist is the power of two nearest 4·sqrt(n), no more than n/39 (FAISS's points per
    centroid). Codes are 4-bit fast-scan PQ with dim/4 sub-quantisers (64 bytes a vector at
    512-d): 8-bit PQ took 100 s to train on 20,000 vectors on one core, fast-scan 1 s.
    ``RFlat`` keeps the original vectors and re-ranks ``k_factor_rf`` × k PQ candidates
    exactly, so scores and ``reconstruct`` stay exact. With ``mmap`` the suffix is
    :data:`MMAP_RERANK` instead: the same codes, re-ranked from the vectors file on disk.
    """
    n = max(int(n_works), 1)
    nlist = 1 << max(0, round(float(np.log2(max(4.0 * np.sqrt(n), 1.0)))))
    while nlist > 1 and nlist * 39 > n:
        nlist //= 2
    m = next((m for m in (dim // 4, dim // 2, dim) if m >= 2 and dim % m == 0 and m % 2 == 0), dim)
    # Recall@10 is set by the re-rank depth more than by nprobe on clustered data (`stylegate
    # bench index`, bench/README.md): at 10^5 nprobe 16..64 all give 0.983 with k_factor 32
    # (0.944 with 16, 0.993 with 48), at 10^6 nprobe 64 gives what 128 does. So nprobe grows
    # with √nlist (32 at 10^5, 64 at 10^6, 128 at 10^7) instead of with nlist, and the depth by
    # one half-step per decade above 10^6 (recall fell 0.02 from 10^5 to 10^6 at depth 32).
    nprobe = min(nlist, max(16, int(round(float(np.sqrt(nlist))))))
    decades = max(0, int(np.ceil(np.log10(n) - 6.0 - 1e-9)))
    k_factor = DEFAULT_K_FACTOR + (DEFAULT_K_FACTOR // 2) * decades
    factory = f"IVF{nlist}_HNSW32,PQ{m}x4fs,{MMAP_RERANK}" if mmap else f"IDMap2,IVF{nlist}_HNSW32,PQ{m}x4fs,RFlat"
    params = f"nprobe={nprobe},quantizer_efSearch={max(64, 2 * nprobe)},k_factor_rf={k_factor}"
    return factory, params


def _build_mmap(dim: int, factory: str) -> faiss.Index:
    """An empty bare IVF index for an ``...,RMmap`` factory (it stores work ids itself)."""
    spec = factory.strip()[: -len("," + MMAP_RERANK)]
    if spec.startswith(("IDMap", "IDMap2")):
        raise InputError(f"FAISS factory string {factory!r}: an {MMAP_RERANK} index keeps its own ids; leave IDMap out")
    try:
        index = faiss.index_factory(dim, spec, faiss.METRIC_INNER_PRODUCT)
        faiss.extract_index_ivf(index)
    except RuntimeError as exc:
        raise InputError(f"invalid FAISS factory string {factory!r} (an {MMAP_RERANK} index must be IVF): "
                         f"{str(exc).splitlines()[-1]}") from None
    return index


def _build(dim: int, factory: str) -> faiss.Index:
    """An empty IndexIDMap2 for ``factory`` (an ``IDMap`` prefix is upgraded to ``IDMap2``),
    or a bare IVF index for an :data:`MMAP_RERANK` factory."""
    if not isinstance(factory, str) or not factory.strip():
        raise InputError("the FAISS factory string is empty")
    if is_mmap(factory):
        return _build_mmap(dim, factory)
    spec = factory.strip()
    if spec.startswith("IDMap,"):
        spec = spec[len("IDMap,"):]
    try:
        index = faiss.index_factory(dim, spec, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as exc:
        raise InputError(f"invalid FAISS factory string {factory!r}: {str(exc).splitlines()[-1]}") from None
    if isinstance(index, faiss.IndexIDMap) and not isinstance(index, faiss.IndexIDMap2):
        raise InputError(f"FAISS factory string {factory!r}: put IDMap/IDMap2 first, or leave it out")
    if not isinstance(index, faiss.IndexIDMap2):
        wrapper = faiss.IndexIDMap2(index)
        index.this.disown()  # type: ignore[attr-defined]  # the C++ wrapper owns the inner index from now on
        wrapper.own_fields = True
        index = wrapper
    _prepare_inner(index)
    return index


def _idmap2(index: faiss.Index) -> faiss.IndexIDMap2:
    """``index`` as the IndexIDMap2 it is (FAISS's Python API types clones as plain ``Index``)."""
    if not isinstance(index, faiss.IndexIDMap2):
        raise IndexMismatch(f"expected an IndexIDMap2, got {type(index).__name__}")
    return index


def _reserve_headroom(index: faiss.IndexIDMap2) -> None:
    """Room for more vectors in a loaded flat index's arrays (grown and shrunk again: the
    capacity stays), so the first works added to a running gate after a load do not copy every
    stored code (a loaded array is exactly full). At most ``HEADROOM_BYTES`` of codes."""
    try:
        inner = faiss.downcast_index(index.index)
        if not isinstance(inner, faiss.IndexFlatCodes) or not inner.codes.is_owned:
            return
        n, size = int(inner.ntotal), int(inner.code_size)
        extra = min(n // 4, HEADROOM_BYTES // max(size, 1))
        if extra <= 0:
            return
        inner.codes.resize((n + extra) * size)
        inner.codes.resize(n * size)
        index.id_map.resize(n + extra)
        index.id_map.resize(n)
    except (AttributeError, RuntimeError, TypeError):  # another FAISS build: only the first add is slower
        log.debug("cannot reserve room in the loaded index's arrays", exc_info=True)


def _prepare_inner(index: faiss.IndexIDMap2) -> None:
    """IVF indexes need a direct map for ``reconstruct`` by id."""
    try:
        ivf = faiss.extract_index_ivf(index.index)
    except RuntimeError:
        return
    if ivf.direct_map.type == faiss.DirectMap.NoMap:  # type: ignore[attr-defined]
        ivf.make_direct_map(True)


@dataclass(frozen=True)
class Checkpoint:
    """An in-memory copy of an index's state, to undo a failed change."""

    index: Any
    snapshot_hash: str | None
    factory: str = DEFAULT_FACTORY
    search_params: str | None = None
    auto_flat_max: int | None = None
    vectors: StoreState | None = None


class StyleIndex:
    """FAISS inner-product index of normalised style embeddings keyed by work id.

    Concurrent searches are fine; changes (add/remove/restore) must not overlap with other
    calls on the same object (the caller serialises them, as WorkIngest does).
    """

    def __init__(
        self,
        index: faiss.Index,
        *,
        factory: str,
        identity: dict[str, Any],
        search_params: str | None = None,
        snapshot_hash: str | None = None,
        setting: str | None = None,
        auto_flat_max: int | None = None,
        vectors: VectorStore | None = None,
    ) -> None:
        self._index = index
        if is_mmap(factory) and vectors is None:
            vectors = VectorStore(int(index.d))
        self._vectors = vectors if is_mmap(factory) else None
        self._k_factor = DEFAULT_K_FACTOR
        self.factory = factory
        self.setting = setting or factory  # what was asked for: a FAISS string or auto[:N]
        self.auto_flat_max = auto_flat_max  # set while an empty auto index may still choose
        self.identity = _normalise_identity(identity, int(index.d))
        self.search_params = search_params
        self.snapshot_hash = snapshot_hash
        if search_params:
            self._apply_params(search_params)

    # -- construction -------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        dim: int,
        identity: dict[str, Any],
        factory: str = DEFAULT_FACTORY,
        *,
        search_params: str | None = None,
    ) -> StyleIndex:
        """A new empty index for ``dim``-dimensional vectors of the embedder ``identity``.

        ``search_params`` is a FAISS ParameterSpace string such as ``"nprobe=8"`` or
        ``"efSearch=64"``, applied now and after every load.
        """
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or int(dim) <= 0:
            raise InputError(f"index dimension must be a positive integer, got {dim!r}")
        dim = int(dim)
        threshold = parse_auto(factory)
        built = DEFAULT_FACTORY if threshold is not None else factory
        return cls(
            _build(dim, built),
            factory=built,
            identity=_normalise_identity(identity, dim),
            search_params=search_params,
            setting=factory.strip() if threshold is not None else factory,
            auto_flat_max=threshold,
        )

    @staticmethod
    def exists(path: str | os.PathLike[str]) -> bool:
        """True when both the index file and its sidecar are present."""
        return Path(path).is_file() and sidecar_path(path).is_file()

    @staticmethod
    def read_sidecar(path: str | os.PathLike[str]) -> dict[str, Any]:
        """The parsed sidecar of the index at ``path`` (raises IndexMismatch if unusable)."""
        side = sidecar_path(path)
        try:
            meta = json.loads(side.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise IndexMismatch(
                f"style index sidecar {side} is missing; run `stylegate index rebuild`"
            ) from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise IndexMismatch(f"style index sidecar {side} is unreadable ({exc}); run `stylegate index rebuild`") from None
        if not isinstance(meta, dict):
            raise IndexMismatch(f"style index sidecar {side} is not a JSON object; run `stylegate index rebuild`")
        return meta

    @classmethod
    def load(cls, path: str | os.PathLike[str], expected_identity: dict[str, Any]) -> StyleIndex:
        """Load an index saved by :meth:`save`, refusing one built by another embedder.

        Raises :class:`IndexMismatch` when the files are missing, damaged, disagree with each
        other, or record an embedder identity different from ``expected_identity``.
        """
        path = Path(path)
        expected = _normalise_identity(expected_identity)
        meta = cls.read_sidecar(path)
        if meta.get("format_version") != FORMAT_VERSION:
            raise IndexMismatch(
                f"style index {path} has format version {meta.get('format_version')!r}, "
                f"this stylegate reads {FORMAT_VERSION}; run `stylegate index rebuild`"
            )
        found = meta.get("embedder")
        if not isinstance(found, dict):
            raise IndexMismatch(f"style index {path} does not record its embedder; run `stylegate index rebuild`")
        if found != expected:
            raise IndexMismatch(
                f"style index {path} was built by another embedder ({_identity_diff(found, expected)}); "
                "it will not be used: run `stylegate index rebuild`"
            )
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise IndexMismatch(f"style index {path} is missing; run `stylegate index rebuild`") from None
        except OSError as exc:
            raise IndexMismatch(f"style index {path} cannot be read: {exc}") from None
        if hashlib.sha256(data).hexdigest() != meta.get("index_sha256"):
            raise IndexMismatch(
                f"style index {path} is damaged or does not match its sidecar; run `stylegate index rebuild`"
            )
        try:
            index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        except (RuntimeError, ValueError) as exc:
            raise IndexMismatch(f"style index {path} is corrupt ({str(exc).splitlines()[-1]}); run `stylegate index rebuild`") from None
        factory = meta.get("factory")
        if not isinstance(factory, str):
            raise IndexMismatch(f"style index {path} does not record its factory string; run `stylegate index rebuild`")
        mmap = is_mmap(factory)
        problems = []
        if mmap and isinstance(index, faiss.IndexIDMap):
            problems.append(f"an {MMAP_RERANK} index wrapped in an id map ({type(index).__name__})")
        elif not mmap and not isinstance(index, faiss.IndexIDMap2):
            problems.append(f"not an IndexIDMap2 ({type(index).__name__})")
        else:
            if index.metric_type != faiss.METRIC_INNER_PRODUCT:
                problems.append("metric is not inner product")
            if int(index.d) != meta.get("dim") or int(index.d) != expected.get("dim"):
                problems.append(f"dimension {index.d} differs from sidecar {meta.get('dim')!r}")
            if int(index.ntotal) != meta.get("count"):
                problems.append(f"{index.ntotal} vectors but the sidecar says {meta.get('count')!r}")
        vectors = None
        if mmap and not problems:
            side_meta = meta.get("vectors")
            side: dict[str, Any] = side_meta if isinstance(side_meta, dict) else {}
            vectors = VectorStore.open(path, int(index.d), side.get("rowmap_sha256"), side.get("token"))
            if len(vectors) != int(index.ntotal):
                problems.append(f"{index.ntotal} vectors in the index but {len(vectors)} in its vectors file")
        if problems:
            raise IndexMismatch(f"style index {path}: {'; '.join(problems)}; run `stylegate index rebuild`")
        snapshot = meta.get("snapshot_hash")
        setting = meta.get("factory_setting")
        if not mmap:
            _reserve_headroom(_idmap2(index))
        return cls(
            index if mmap else _idmap2(index),
            factory=factory,
            identity=expected,
            search_params=meta.get("search_params") or None,
            snapshot_hash=snapshot if isinstance(snapshot, str) else None,
            setting=setting if isinstance(setting, str) else None,
            vectors=vectors,
        )

    @staticmethod
    def stored_ids(path: str | os.PathLike[str]) -> np.ndarray | None:
        """The work ids in an index file, whatever embedder built it; None if it is unreadable."""
        try:
            meta = StyleIndex.read_sidecar(path)
        except IndexMismatch:
            meta = {}
        if isinstance(meta.get("factory"), str) and is_mmap(meta["factory"]):
            return VectorStore.stored_ids(path)
        try:
            data = Path(path).read_bytes()
            index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        except (OSError, RuntimeError, ValueError):
            return None
        if not isinstance(index, faiss.IndexIDMap2):
            return None
        return faiss.vector_to_array(index.id_map).astype(np.int64, copy=False)

    # -- properties ---------------------------------------------------------------------

    @property
    def dim(self) -> int:
        return int(self._index.d)

    @property
    def is_trained(self) -> bool:
        return bool(self._index.is_trained)

    @property
    def faiss_index(self) -> faiss.Index:
        """The underlying FAISS index (read-only use, please): an IndexIDMap2, or the bare IVF
        index of the :data:`MMAP_RERANK` variant."""
        return self._index

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        """Work ids in the index (int64, in storage order)."""
        if self._vectors is not None:
            return self._vectors.live_ids()
        return faiss.vector_to_array(_idmap2(self._index).id_map).astype(np.int64, copy=False)

    @property
    def memory_mapped(self) -> bool:
        """True when the vectors live in the memory-mapped file (read on demand), not in RAM."""
        return self._vectors is not None

    def resident_bytes(self) -> int:
        """What the index keeps in RAM: its FAISS bytes plus, for the mmap variant, the row maps."""
        extra = self._vectors.resident_bytes() if self._vectors is not None else 0
        return len(faiss.serialize_index(self._index)) + extra

    def __contains__(self, work_id: object) -> bool:
        try:
            if self._vectors is not None:
                return bool(self._vectors.contains(np.array([int(work_id)]))[0])  # type: ignore[call-overload]
            return int(work_id) in set(self.ids().tolist())  # type: ignore[call-overload]
        except (TypeError, ValueError):
            return False

    # -- validation helpers -------------------------------------------------------------

    def _check_vectors(self, vectors: Any, what: str = "vectors") -> np.ndarray:
        arr = np.asarray(vectors)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2:
            raise VectorError(f"{what} must be a 2-D array (n, {self.dim}), got shape {arr.shape}")
        if not np.issubdtype(arr.dtype, np.floating):
            raise VectorError(f"{what} must be floating point (float32), got {arr.dtype}")
        if arr.shape[1] != self.dim:
            raise IndexMismatch(
                f"{what} have dimension {arr.shape[1]} but the index has {self.dim} "
                "(was the index built by another embedder?)"
            )
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if not np.all(np.isfinite(arr)):
            raise VectorError(f"{what} contain NaN or infinite values")
        if arr.shape[0]:
            norms = np.linalg.norm(arr, axis=1)
            bad = np.flatnonzero(np.abs(norms - 1.0) > NORM_TOLERANCE)
            if bad.size:
                raise VectorError(
                    f"{what} must be L2-normalised; row {int(bad[0])} has norm {float(norms[bad[0]]):.4f}"
                )
        return arr

    @staticmethod
    def _check_ids(ids: Any) -> np.ndarray:
        arr = np.asarray(ids)
        if arr.ndim == 0:
            arr = arr[None]
        if arr.ndim != 1:
            raise VectorError(f"ids must be a 1-D sequence, got shape {arr.shape}")
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise VectorError(f"ids must be integers, got {arr.dtype}")
        arr = np.ascontiguousarray(arr, dtype=np.int64)
        if arr.size and int(arr.min()) < 0:
            raise VectorError("ids must be non-negative work ids")
        return arr

    def _apply_params(self, params: str) -> None:
        if self._vectors is not None:  # the re-rank depth is ours, not a FAISS parameter
            parts = [p.strip() for p in params.split(",") if p.strip()]
            depth = [p for p in parts if p.startswith("k_factor_rf=")]
            for p in depth:
                raw = p.split("=", 1)[1]
                if not raw.isdigit() or int(raw) < 1:
                    raise InputError(f"invalid FAISS search parameters {params!r}: k_factor_rf must be a positive integer")
                self._k_factor = int(raw)
            params = ",".join(p for p in parts if p not in depth)
            if not params:
                return
        try:
            faiss.ParameterSpace().set_index_parameters(self._index, params)  # type: ignore[arg-type]
        except RuntimeError as exc:
            raise InputError(f"invalid FAISS search parameters {params!r}: {str(exc).splitlines()[-1]}") from None

    # -- mutation -----------------------------------------------------------------------

    def add(self, ids: Any, vectors: Any) -> None:
        """Add ``vectors`` (n, dim) float32, L2-normalised, under the work ``ids`` (n,)."""
        id_arr = self._check_ids(ids)
        vec = self._check_vectors(vectors)
        if vec.shape[0] != id_arr.shape[0]:
            raise VectorError(f"{id_arr.shape[0]} ids for {vec.shape[0]} vectors")
        if id_arr.size == 0:
            return
        if np.unique(id_arr).size != id_arr.size:
            raise VectorError("duplicate ids in one add")
        present = self._present(id_arr)
        if present.size:
            raise VectorError(f"ids already in the index: {present[:10].tolist()}")
        self._choose_by_size(vec.shape[0])
        if not self._index.is_trained:
            try:
                self._index.train(self._training_sample(vec))
            except RuntimeError as exc:
                raise StylegateError(
                    f"cannot train FAISS index {self.factory!r} on {vec.shape[0]} vectors "
                    f"({str(exc).splitlines()[-1]}); add more works at once or use a Flat index"
                ) from None
        self._index.add_with_ids(vec, id_arr)
        if self._vectors is not None:
            self._vectors.add(id_arr, vec)
        self.snapshot_hash = None

    def _present(self, id_arr: np.ndarray) -> np.ndarray:
        """Which of ``id_arr`` the index holds. A few ids in a flat-coded index are looked up
        one by one in the id map (a running gate adding one artist's works must not scan
        every id); many, or another index kind, are matched against all ids."""
        if self._vectors is not None:
            return id_arr[self._vectors.contains(id_arr)]
        if id_arr.size <= PRESENT_LOOKUPS and isinstance(
                faiss.downcast_index(_idmap2(self._index).index), faiss.IndexFlatCodes):
            found = []
            for work_id in id_arr.tolist():
                try:
                    self._index.reconstruct(work_id)  # IndexIDMap2: its reverse map, or "not found"
                except RuntimeError:
                    continue
                found.append(work_id)
            return np.array(found, dtype=np.int64)
        return id_arr[np.isin(id_arr, self.ids())]

    def _training_sample(self, vec: np.ndarray) -> np.ndarray:
        """At most TRAIN_PER_LIST vectors per IVF list (seeded): k-means on all of a large
        first batch costs hours and gains nothing measurable."""
        try:
            nlist = int(faiss.extract_index_ivf(self._index if self._vectors is not None else _idmap2(self._index).index).nlist)
        except RuntimeError:
            return vec
        limit = max(TRAIN_PER_LIST * nlist, 10_000)
        if vec.shape[0] <= limit:
            return vec
        rows = np.sort(np.random.default_rng(0).choice(vec.shape[0], size=limit, replace=False))
        log.info("training %s on %d of %d vectors", self.factory, limit, vec.shape[0])
        return np.ascontiguousarray(vec[rows])

    def _choose_by_size(self, n_new: int) -> None:
        """An ``auto`` index filled for the first time: Flat up to the threshold, else IVF-PQ."""
        threshold = self.auto_flat_max
        if threshold is None:
            return
        if len(self) == 0 and n_new > threshold:
            factory, params = scaled_factory(n_new, self.dim, mmap=True)
            self._index = _build(self.dim, factory)
            self._vectors = VectorStore(self.dim)
            self.factory = factory
            self.search_params = self.search_params or params
            self._apply_params(self.search_params)
            log.info("auto index: %d works > %d, chose %s (%s)", n_new, threshold, factory, self.search_params)
        self.auto_flat_max = None  # the choice is made; later adds keep it until a rebuild

    def remove(self, ids: Any) -> int:
        """Remove the given work ids; return how many were present."""
        id_arr = self._check_ids(ids)
        if id_arr.size == 0 or len(self) == 0:
            return 0
        if self._vectors is not None:
            # the bare IVF index holds the work ids itself: FAISS removes them in place
            present = np.unique(id_arr[self._vectors.contains(id_arr)])
            if present.size == 0:
                return 0
            removed = int(self._index.remove_ids(faiss.IDSelectorBatch(present)))
            if removed != self._vectors.remove(present):
                raise StylegateError(f"style index {self.factory!r} and its vectors file disagree after removal")
            self.snapshot_hash = None
            return removed
        current = self.ids()
        gone = np.isin(current, id_arr)
        n = int(gone.sum())
        if n == 0:
            return 0
        inner = faiss.downcast_index(_idmap2(self._index).index)
        if isinstance(inner, faiss.IndexFlatCodes):
            # Flat-coded storage compacts its ids on removal, which IndexIDMap2 relies on.
            removed = int(self._index.remove_ids(faiss.IDSelectorBatch(id_arr)))
        else:
            # IVF keeps stale internal ids and HNSW cannot remove: rebuild without them,
            # keeping the trained state of the original.
            keep = current[~gone]
            vectors = self._reconstruct_raw(keep)
            fresh = faiss.clone_index(self._index)
            fresh.reset()
            if keep.size:
                fresh.add_with_ids(vectors, keep)
            self._index = _idmap2(fresh)
            if self.search_params:
                self._apply_params(self.search_params)
            removed = n
        self.snapshot_hash = None
        return removed

    def checkpoint(self) -> Checkpoint:
        """A copy of the current state for :meth:`restore` (memory: one index copy)."""
        return Checkpoint(
            faiss.clone_index(self._index), self.snapshot_hash, self.factory, self.search_params, self.auto_flat_max,
            self._vectors.state() if self._vectors is not None else None,
        )

    def restore(self, checkpoint: Checkpoint) -> None:
        """Return to a state taken with :meth:`checkpoint`."""
        clone = faiss.clone_index(checkpoint.index)
        if checkpoint.vectors is not None:
            self._index = clone
            self._vectors = VectorStore(int(clone.d))
            self._vectors.restore(checkpoint.vectors)
        else:
            self._index = _idmap2(clone)
            self._vectors = None
        self.snapshot_hash = checkpoint.snapshot_hash
        self.factory, self.search_params = checkpoint.factory, checkpoint.search_params
        self.auto_flat_max = checkpoint.auto_flat_max
        if self.search_params:
            self._apply_params(self.search_params)

    # -- queries ------------------------------------------------------------------------

    def search(self, vectors: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Cosine similarity search: ``(scores, ids)`` of shape (n, k).

        Empty slots (fewer than ``k`` works) have id -1 and score ``-inf``.
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or int(k) < 1:
            raise InputError(f"k must be a positive integer, got {k!r}")
        q = self._check_vectors(vectors, "query vectors")
        n = q.shape[0]
        want = int(k)
        if self.factory.endswith(",RFlat") and want < RERANK_MIN_K:
            # the exact re-rank sees k_factor_rf·k PQ candidates: too few for a small k
            scores, ids = self.search(q, RERANK_MIN_K)
            return scores[:, :want], ids[:, :want]
        if n == 0 or len(self) == 0:
            return np.full((n, int(k)), -np.inf, dtype=np.float32), np.full((n, int(k)), -1, dtype=np.int64)
        if self._vectors is not None:
            scores, ids, _ = self._search_rerank(q, want)
            return scores, ids
        if n < SINGLE_THREAD_BELOW:
            # FAISS scans a few queries without BLAS; spreading such a scan over OpenMP
            # threads costs more than it saves (about 10x slower on 2 busy cores).
            threads = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(1)
            try:
                scores, ids = self._index.search(q, int(k))
            finally:
                faiss.omp_set_num_threads(threads)
        else:
            scores, ids = self._index.search(q, int(k))
        ids = ids.astype(np.int64, copy=False)
        scores = np.where(ids < 0, -np.inf, scores).astype(np.float32, copy=False)
        return scores, ids

    def _faiss_search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if q.shape[0] >= SINGLE_THREAD_BELOW:
            scores, ids = self._index.search(q, k)
            return scores, ids
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            scores, ids = self._index.search(q, k)
        finally:
            faiss.omp_set_num_threads(threads)
        return scores, ids

    def search_pool(self, vectors: Any, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Like :meth:`search`, but for the :data:`MMAP_RERANK` variant every re-ranked
        candidate comes back (k·k_factor_rf of them, exact cosines, best first), not only
        the best ``k``, with a per-query ``outside`` estimate of the best exact cosine of any
        work *not* in the pool: the lowest PQ score in the pool plus the largest
        |PQ − exact| error seen on the pool's own candidates. The image check scores a
        candidate artist from the pool when its best pool works beat that estimate. Other
        variants return :meth:`search`'s ``k`` with ``outside`` = +inf (nothing is vouched for).
        """
        if self._vectors is None:
            scores, ids = self.search(vectors, k)
            return scores, ids, np.full(scores.shape[0], np.inf, np.float32)
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or int(k) < 1:
            raise InputError(f"k must be a positive integer, got {k!r}")
        q = self._check_vectors(vectors, "query vectors")
        depth = max(int(k), RERANK_MIN_K) * self._k_factor
        if q.shape[0] == 0 or len(self) == 0:
            return (np.full((q.shape[0], depth), -np.inf, np.float32), np.full((q.shape[0], depth), -1, np.int64),
                    np.full(q.shape[0], np.inf, np.float32))
        return self._search_rerank(q, depth, depth)

    def _search_rerank(self, q: np.ndarray, k: int, depth: int | None = None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """PQ candidates (``depth``, by default k·k_factor of them), re-ranked exactly from
        the vectors file: the best ``k`` (scores, ids) and :meth:`search_pool`'s ``outside``."""
        assert self._vectors is not None
        pq, cand = self._faiss_search(q, depth or max(k, RERANK_MIN_K) * self._k_factor)
        out_s = np.full((q.shape[0], k), -np.inf, dtype=np.float32)
        out_i = np.full((q.shape[0], k), -1, dtype=np.int64)
        outside = np.full(q.shape[0], np.inf, dtype=np.float32)
        for row in range(q.shape[0]):
            valid = cand[row] >= 0
            ids = cand[row][valid].astype(np.int64)
            if ids.size == 0:
                continue
            exact = self._vectors.get(ids) @ q[row]
            if ids.size >= len(self):  # every work is in the pool
                outside[row] = -np.inf
            elif ids.size == cand.shape[1]:  # a full pool: the works left out ranked below its last
                outside[row] = float(pq[row][valid].min() + np.abs(pq[row][valid] - exact).max())
            best = np.argsort(-exact, kind="stable")[:k]
            out_s[row, : best.size] = exact[best]
            out_i[row, : best.size] = ids[best]
        return out_s, out_i, outside

    def _reconstruct_raw(self, ids: np.ndarray) -> np.ndarray:
        if self._vectors is not None:
            return self._vectors.get(ids)
        out = np.empty((ids.size, self.dim), dtype=np.float32)
        for row, work_id in enumerate(ids.tolist()):
            out[row] = self._index.reconstruct(int(work_id))
        return out

    def reconstruct(self, ids: Any) -> np.ndarray:
        """The stored vectors (n, dim) for the given work ids (KeyError for unknown ids)."""
        id_arr = self._check_ids(ids)
        if self._vectors is not None:
            return self._vectors.get(id_arr)  # KeyError names the unknown ids
        missing = np.setdiff1d(id_arr, self._present(id_arr)).tolist()
        if missing:
            raise KeyError(f"work ids not in the index: {missing[:10]}")
        try:
            return self._reconstruct_raw(id_arr)
        except RuntimeError as exc:
            raise StylegateError(
                f"index {self.factory!r} cannot reconstruct vectors: {str(exc).splitlines()[-1]}"
            ) from None

    # -- persistence --------------------------------------------------------------------

    def metadata(self, snapshot_hash: str | None, index_sha256: str,
                 vectors: tuple[str, str] | None = None) -> dict[str, Any]:
        """The sidecar content for the current state."""
        meta = {
            "format_version": FORMAT_VERSION,
            "factory": self.factory,
            "factory_setting": self.setting,
            "search_params": self.search_params,
            "metric": "inner_product",
            "embedder": self.identity,
            "dim": self.dim,
            "count": len(self),
            "snapshot_hash": snapshot_hash,
            "index_sha256": index_sha256,
            "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        if vectors is not None:
            meta["vectors"] = {"files": [".vectors", ".vectors.rows.npy"], "dtype": "float32",
                               "rowmap_sha256": vectors[0], "token": vectors[1]}
        return meta

    def save(self, path: str | os.PathLike[str], snapshot_hash: str | None) -> None:
        """Write the index and its sidecar atomically (temp file, fsync, ``os.replace``).

        ``snapshot_hash`` is the registry snapshot the index reflects
        (:meth:`RegistryStore.snapshot_hash`). On failure the previous files are untouched,
        except that a crash between the two renames leaves a pair that :meth:`load` refuses.
        """
        path = Path(path)
        # the vectors first: their row map is what the sidecar written last vouches for
        saved = self._vectors.save(path) if self._vectors is not None else None
        data = faiss.serialize_index(self._index).tobytes()
        meta = self.metadata(snapshot_hash, hashlib.sha256(data).hexdigest(), saved)
        atomic_write_bytes(path, data)
        atomic_write_bytes(sidecar_path(path), (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode("utf-8"))
        self.snapshot_hash = snapshot_hash
        log.info("saved style index %s (%d vectors, snapshot %s)", path, len(self), (snapshot_hash or "-")[:12])
