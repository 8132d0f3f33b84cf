"""Description scores are computed for every artist at once; ``floor`` returns only those that can fire.

The reference is the per-artist definition written out plainly: the mean of the cosines with
the artist's works prototype and descriptor prototype (whichever it has), less the prompt's
cosine with the neutral anchor.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import pytest

from stylegate.governance.matching.scores import description_scores


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def _view(seed: int, anchor: bool = True) -> Any:
    rng = np.random.default_rng(seed)
    artists = rng.permutation(np.arange(1, 400))
    works = artists[:300]  # artists with works
    described = np.concatenate([artists[200:300], artists[300:]])  # some with both, some descriptors only
    return SimpleNamespace(
        prototype_artists=works, prototypes=_unit(rng.normal(size=(len(works), 16))),
        text_prototype_artists=described, text_prototypes=_unit(rng.normal(size=(len(described), 16))),
        neutral_anchor=_unit(rng.normal(size=(1, 16)))[0] if anchor else None,
    )


def _reference(query: np.ndarray, view: Any) -> dict[int, tuple[float, str, dict[str, float]]]:
    parts: dict[int, dict[str, float]] = {}
    for artist, row in zip(view.prototype_artists, view.prototypes):
        parts.setdefault(int(artist), {})["works"] = float(row @ query)
    for artist, row in zip(view.text_prototype_artists, view.text_prototypes):
        parts.setdefault(int(artist), {})["descriptors"] = float(row @ query)
    base = float(view.neutral_anchor @ query) if view.neutral_anchor is not None else 0.0
    return {a: (float(np.mean(list(p.values()))) - base, "style-prototype:" + "+".join(sorted(p)), p)
            for a, p in parts.items()}


@pytest.mark.parametrize("anchor", [True, False])
def test_every_artist_is_scored_as_the_definition_says(anchor: bool) -> None:
    view = _view(1, anchor)
    query = _unit(np.random.default_rng(2).normal(size=(1, 16)))[0]
    got = description_scores(query, cast(Any, view))
    want = _reference(query, view)
    assert [s.artist_id for s in got] == list(want)  # works artists first, then descriptor-only ones
    for s in got:
        score, rule, parts = want[s.artist_id]
        assert s.score == pytest.approx(score, abs=1e-6)  # float32 cosines: a row dot and a matrix product round apart
        assert s.rule == rule
        assert {k: v for k, v in s.detail.items() if k != "neutral"} == pytest.approx({k: round(v, 4) for k, v in parts.items()}, abs=1e-4)
        assert ("neutral" in s.detail) == anchor


def test_a_floor_returns_exactly_the_artists_at_or_above_it() -> None:
    view = _view(3)
    query = _unit(np.random.default_rng(4).normal(size=(1, 16)))[0]
    every = description_scores(query, cast(Any, view))
    floor = float(np.quantile([s.score for s in every], 0.97))
    kept = description_scores(query, cast(Any, view), floor=floor)
    assert kept == [s for s in every if s.score >= floor]
    assert 0 < len(kept) < len(every) // 10
