"""Vectorised 64-bit hashes of words and of their one-deletion neighbourhoods (numpy).

The fuzzy index files each key under itself and every string made by deleting one of its
characters: a dozen codes a key, eleven million at a million names. Built one string at a
time in Python (slice, hash, append) that is most of the matcher's build. Here the codes of
a whole batch of keys are hashed at once, without making the strings: a string's hash is a
polynomial in its code points modulo 2**64, computed from prefix sums, and the hash of a
string with the character at position i deleted follows from the same sums (the base is
odd, so it has an inverse modulo 2**64). A final mix spreads the bits. Queries are hashed
by the same functions, so a probe meets exactly the codes a fresh string hash would; a
collision only adds a candidate, which the caller verifies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

_BASE = 0x100000001B3  # odd: invertible modulo 2**64
_BASE_INV = pow(_BASE, -1, 1 << 64)
_LEN_SALT = 0x9E3779B97F4A7C15
_BATCH = 65536  # words hashed per numpy batch (bounds the temporaries)


def _mix(h: Any) -> Any:
    """splitmix64's finaliser over a uint64 array."""
    import numpy as np

    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def _powers(base: int, n: int) -> Any:
    import numpy as np

    out = np.empty(n + 1, dtype=np.uint64)
    out[0] = 1
    if n:
        out[1:] = np.cumprod(np.full(n, base, dtype=np.uint64))
    return out


def _batch(words: Sequence[str], deletions: bool, salt: int) -> tuple[Any, Any]:
    import numpy as np

    n = len(words)
    lens = np.fromiter(map(len, words), dtype=np.int64, count=n)
    flat = np.frombuffer("".join(words).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64) + np.uint64(1)
    total = len(flat)
    offs = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lens, out=offs[1:])
    pow_b = _powers(_BASE, total + 1)
    prefix = np.zeros(total + 1, dtype=np.uint64)
    np.cumsum(flat * _powers(_BASE_INV, total)[:total], out=prefix[1:])
    start, end = offs[:-1], offs[1:]
    nonempty = lens > 0
    scale = np.where(nonempty, pow_b[np.maximum(end - 1, 0)], np.uint64(0))
    salt_u = np.uint64(salt)
    whole = _mix(((prefix[end] - prefix[start]) * scale) ^ (lens.astype(np.uint64) * np.uint64(_LEN_SALT)) ^ salt_u)
    owners = np.arange(n, dtype=np.int64)
    if not deletions:
        return owners, whole.view(np.int64)
    own = np.repeat(owners, lens)
    g = np.arange(total, dtype=np.int64)
    o, e = start[own], end[own]
    inner = np.uint64(_BASE_INV) * (prefix[g] - prefix[o]) + (prefix[e] - prefix[g + 1])
    dropped = _mix((inner * pow_b[e - 1]) ^ ((lens[own] - 1).astype(np.uint64) * np.uint64(_LEN_SALT)) ^ salt_u)
    return np.concatenate([owners, own]), np.concatenate([whole, dropped]).view(np.int64)


def hash_words(words: Sequence[str], *, deletions: bool = False, salt: int = 0) -> tuple[Any, Any]:
    """(owner, hash) pairs: each word's hash, and with ``deletions`` also the hash of every
    one-character deletion of it; ``owner`` is the word's position in ``words``. ``salt``
    keeps codes of different kinds apart."""
    import numpy as np

    if not words:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    owners, hashes = [], []
    with np.errstate(over="ignore"):
        for lo in range(0, len(words), _BATCH):
            o, h = _batch(words[lo : lo + _BATCH], deletions, salt)
            owners.append(o + lo)
            hashes.append(h)
    return np.concatenate(owners), np.concatenate(hashes)
