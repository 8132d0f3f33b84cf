"""Synthetic style embeddings clustered like real ones, for the index-at-scale benchmark.

Uniform noise on the sphere is the easy case for an approximate index (every point is far
from every other, cosine ≈ 0). Real CLIP image embeddings are not like that: they share a
large common component, works of one art movement sit near each other, and works of one
artist sit closer still. The generator models that as a sum of four unit directions:

    v = normalise( √a·g + √b·m[movement(artist)] + √c·s[artist] + √e·u )

with ``g`` one global direction shared by every work, ``m`` one direction per movement
(√artists of them), ``s`` one per artist and ``u`` fresh per work. In 512 dimensions random
unit vectors are nearly orthogonal, so the expected cosine of two works is a (≈0.30,
unrelated works), a+b (≈0.45, same movement) or a+b+c (≈0.75, same artist), the ranges
measured between ViT-B CLIP image embeddings of unrelated images, related styles and one
artist's works. Artists have a lognormal number of works (mean ``works_per_artist``), so a
few artists hold many works, as on a real registry. Queries are fresh works of random
artists (an image in someone's style) and, one in five, of no registered artist.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WEIGHTS = {"global": 0.30, "movement": 0.15, "artist": 0.30, "work": 0.25}


@dataclass(frozen=True)
class ClusteredSet:
    """Base vectors (n, dim), their artists, and query vectors; all float32, unit length."""

    base: np.ndarray
    artist_of: np.ndarray
    queries: np.ndarray
    n_artists: int


def _unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((n, dim), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def clustered_set(n: int, dim: int = 512, n_queries: int = 200, *, works_per_artist: int = 40,
                  seed: int = 0, chunk: int = 100_000) -> ClusteredSet:
    """``n`` works of ``n // works_per_artist`` artists, plus ``n_queries`` query vectors."""
    if n < 1 or dim < 2 or n_queries < 1:
        raise ValueError("n, dim and n_queries must be positive (dim at least 2)")
    rng = np.random.default_rng(seed)
    n_artists = max(1, n // works_per_artist)
    n_movements = max(1, int(np.sqrt(n_artists)))
    g = _unit(rng, 1, dim)[0]
    movements = _unit(rng, n_movements, dim)
    artists = _unit(rng, n_artists, dim)
    movement_of = rng.integers(0, n_movements, n_artists)
    popularity = rng.lognormal(0.0, 1.0, n_artists)
    artist_of = rng.choice(n_artists, size=n, p=popularity / popularity.sum()).astype(np.int64)
    w = {k: np.float32(np.sqrt(v)) for k, v in WEIGHTS.items()}
    centre = (w["global"] * g + w["movement"] * movements[movement_of] + w["artist"] * artists).astype(np.float32)

    def draw(owner: np.ndarray) -> np.ndarray:
        out = w["work"] * _unit(rng, owner.size, dim)
        known = owner >= 0
        out[known] += centre[owner[known]]
        out[~known] += w["global"] * g + w["movement"] * movements[rng.integers(0, n_movements, int((~known).sum()))] \
            + w["artist"] * _unit(rng, int((~known).sum()), dim)
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out

    base = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, chunk):
        base[start:start + chunk] = draw(artist_of[start:start + chunk])
    owners = rng.choice(artist_of, size=n_queries)  # query artists weighted like the works
    owners[rng.random(n_queries) < 0.2] = -1
    return ClusteredSet(base=base, artist_of=artist_of, queries=draw(owners), n_artists=n_artists)


def cosine_profile(data: ClusteredSet, pairs: int = 20_000, seed: int = 1) -> dict[str, float]:
    """Mean cosine of random pairs of works: same artist, and different artists."""
    rng = np.random.default_rng(seed)
    n = data.base.shape[0]
    a, b = rng.integers(0, n, pairs), rng.integers(0, n, pairs)
    cos = np.einsum("ij,ij->i", data.base[a], data.base[b])
    same = data.artist_of[a] == data.artist_of[b]
    order = np.argsort(data.artist_of, kind="stable")
    sorted_artists = data.artist_of[order]
    nxt = order[1:][sorted_artists[1:] == sorted_artists[:-1]]  # pairs of one artist's consecutive works
    prv = order[:-1][sorted_artists[1:] == sorted_artists[:-1]]
    intra = np.einsum("ij,ij->i", data.base[nxt[:pairs]], data.base[prv[:pairs]]) if nxt.size else cos[same]
    return {
        "same_artist_cosine": round(float(intra.mean()), 3) if intra.size else float("nan"),
        "other_artist_cosine": round(float(cos[~same].mean()), 3),
    }
