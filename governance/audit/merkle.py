"""RFC 6962 Merkle tree hashing, proofs and proof verification (pure functions, no I/O).

Definitions (RFC 6962 section 2.1, kept by RFC 9162):

- leaf hash ``MTH({d}) = SHA-256(0x00 || d)``; node hash ``SHA-256(0x01 || left || right)``;
- the empty tree's head is ``SHA-256("")``;
- for ``n > 1`` leaves, ``k`` is the largest power of two smaller than ``n`` and
  ``MTH(D[n]) = node(MTH(D[0:k]), MTH(D[k:n]))``. Inclusion paths (``PATH``) and consistency
  proofs (``PROOF``/``SUBPROOF``) split the same way; paths list hashes from the leaf upward.

The proof verifiers that say why a proof failed are in :mod:`~stylegate.governance.audit.verify`.
Hashes are accepted as raw 32-byte ``bytes`` or as 64-character hex strings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def as_hash(value: bytes | str) -> bytes:
    """A 32-byte hash from raw bytes or hex; ``ValueError`` otherwise."""
    if isinstance(value, str):
        if len(value) != 2 * HASH_SIZE:
            raise ValueError(f"a hash is {2 * HASH_SIZE} hex characters, got {len(value)}")
        raw = bytes.fromhex(value)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
    else:
        raise ValueError(f"a hash is bytes or hex, not {type(value).__name__}")
    if len(raw) != HASH_SIZE:
        raise ValueError(f"a hash is {HASH_SIZE} bytes, got {len(raw)}")
    return raw


# -- incremental heads ------------------------------------------------------------------------


def frontier_push(frontier: Sequence[bytes], size: int, leaf: bytes) -> list[bytes]:
    """Append one leaf hash to a tree of ``size`` leaves summarised by ``frontier``.

    The frontier lists the roots of the perfect subtrees that make up the tree, largest (leftmost)
    first, one per set bit of ``size``; it has O(log n) hashes, so appending costs O(log n).
    """
    out = list(frontier)
    h, s = leaf, size
    while s & 1:
        h = node_hash(out.pop(), h)
        s >>= 1
    out.append(h)
    return out


def frontier_root(frontier: Sequence[bytes]) -> bytes:
    """The tree head for a frontier (folds the subtree roots right to left, per the split rule)."""
    if not frontier:
        return EMPTY_ROOT
    root = frontier[-1]
    for h in reversed(frontier[:-1]):
        root = node_hash(h, root)
    return root


def merkle_root(leaf_hashes: Iterable[bytes]) -> bytes:
    """``MTH`` over leaf hashes in O(n) time and O(log n) memory."""
    frontier: list[bytes] = []
    for size, h in enumerate(leaf_hashes):
        frontier = frontier_push(frontier, size, h)
    return frontier_root(frontier)


# -- the full tree, for proofs ------------------------------------------------------------


class MerkleTree:
    """All perfect subtrees over a list of leaf hashes: proofs for any size in O(log² n).

    Building costs n node hashes; any prefix size up to ``len(leaves)`` can then be served.
    """

    def __init__(self, leaf_hashes: Iterable[bytes]) -> None:
        level = [bytes(h) for h in leaf_hashes]
        self._levels: list[list[bytes]] = [level]
        while len(level) > 1:
            level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            self._levels.append(level)

    def __len__(self) -> int:
        return len(self._levels[0])

    def leaf(self, index: int) -> bytes:
        return self._levels[0][index]

    def _size(self, size: int | None) -> int:
        n = len(self) if size is None else size
        if not 0 <= n <= len(self):
            raise ValueError(f"tree size {n} is outside 0..{len(self)}")
        return n

    def _range(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) for a range produced by the RFC split (``lo`` aligned)."""
        n = hi - lo
        if n & (n - 1) == 0 and lo % n == 0:
            return self._levels[n.bit_length() - 1][lo // n]
        k = split_point(n)
        return node_hash(self._range(lo, lo + k), self._range(lo + k, hi))

    def root(self, size: int | None = None) -> bytes:
        n = self._size(size)
        return EMPTY_ROOT if n == 0 else self._range(0, n)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 6962 ``PATH(index, D[size])``, leaf upward."""
        n = self._size(size)
        if not 0 <= index < n:
            raise ValueError(f"leaf index {index} is outside 0..{n - 1}")
        path: list[bytes] = []
        lo, hi = 0, n
        while hi - lo > 1:
            k = split_point(hi - lo)
            if index < lo + k:
                path.append(self._range(lo + k, hi))
                hi = lo + k
            else:
                path.append(self._range(lo, lo + k))
                lo = lo + k
        path.reverse()
        return path

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """RFC 6962 ``PROOF(old_size, D[new_size])``; empty when old is 0 or equals new."""
        n = self._size(new_size)
        m = old_size
        if not 0 <= m <= n:
            raise ValueError(f"old size {m} is outside 0..{n}")
        if m == 0 or m == n:
            return []
        proof: list[bytes] = []
        lo, hi, complete = 0, n, True
        while True:
            size = hi - lo
            if m == size:
                if not complete:
                    proof.append(self._range(lo, hi))
                break
            k = split_point(size)
            if m <= k:
                proof.append(self._range(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self._range(lo, lo + k))
                lo, m, complete = lo + k, m - k, False
        proof.reverse()
        return proof


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, size: int | None = None) -> list[bytes]:
    """``PATH(index, D[size])`` over ``leaf_hashes`` (convenience over :class:`MerkleTree`)."""
    return MerkleTree(leaf_hashes[: len(leaf_hashes) if size is None else size]).inclusion_proof(index)


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int, new_size: int | None = None) -> list[bytes]:
    """``PROOF(old_size, D[new_size])`` over ``leaf_hashes``."""
    return MerkleTree(leaf_hashes[: len(leaf_hashes) if new_size is None else new_size]).consistency_proof(old_size)


# -- proof evaluation (RFC 9162 section 2.1.3.2; the verifiers are in verify.py) -----------------


def root_from_inclusion_proof(leaf: bytes | str, index: int, tree_size: int, proof: Sequence[bytes | str]) -> bytes | None:
    """The root that ``proof`` implies for ``leaf`` (a leaf hash) at ``index``; None if malformed."""
    try:
        r = as_hash(leaf)
        path = [as_hash(p) for p in proof]
        if not (isinstance(index, int) and isinstance(tree_size, int)) or not 0 <= index < tree_size:
            return None
    except (ValueError, TypeError):
        return None
    fn, sn = index, tree_size - 1
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None
