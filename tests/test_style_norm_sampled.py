"""Sampled style norms (large registries) against the exact all-pairs ones, and the image check
scoring candidate artists from the index's re-ranked pool against reading all their works."""

from __future__ import annotations

import numpy as np
import pytest

from stylegate.governance.matching import style_norm_sampled
from stylegate.governance.matching.scores import STYLE_TOP_M
from stylegate.governance.matching.style_norm import StyleNormState, style_norms
from stylegate.governance.matching.style_norm_sampled import SampledStyleNormState, build_norm_state

Works = dict[int, tuple[np.ndarray, np.ndarray]]


def _registry(seed: int, artists: int, dim: int, low: int, high: int, spread: float = 0.6) -> Works:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(artists, dim))
    works: Works = {}
    next_id = 0
    for a in range(artists):
        n = int(rng.integers(low, high))
        v = centres[a] + spread * rng.normal(size=(n, dim))
        works[a] = (np.arange(next_id, next_id + n), (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32))
        next_id += n
    return works


def _assert_equal_norms(got: dict, want: dict) -> None:
    assert set(got) == set(want)
    for a in want:
        assert got[a].impostor == pytest.approx(want[a].impostor, abs=1e-6)
        assert got[a].genuine == pytest.approx(want[a].genuine, abs=1e-6)
        assert got[a].works == want[a].works and got[a].impostors == want[a].impostors


def test_a_sample_of_every_work_gives_the_exact_norms() -> None:
    works = _registry(0, 25, 16, 1, 12)
    sampled = SampledStyleNormState.build(works, STYLE_TOP_M, 16, sample=10**6)
    _assert_equal_norms(dict(sampled.norms()), dict(style_norms(works, STYLE_TOP_M)))


def test_a_bounded_sample_stays_within_its_standard_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Impostor and genuine means from 300 of 4,000 works and 8 own works per artist are within
    four standard errors (of the per-work scores the sample averages) of the exact means."""
    monkeypatch.setattr(style_norm_sampled, "GENUINE_SAMPLE", 8)
    works = _registry(1, 50, 32, 40, 120)
    exact = style_norms(works, STYLE_TOP_M)
    state = SampledStyleNormState.build(works, STYLE_TOP_M, 32, sample=300, seed=3)
    assert len(state.sample_ids) == 300
    norms = state.norms()
    compared = 0
    for a, (_, own) in works.items():
        others = np.concatenate([works[b][1] for b in works if b != a])
        strangers = -np.sort(-(others @ own.T), axis=1)[:, :STYLE_TOP_M].mean(axis=1)
        sims = own @ own.T
        np.fill_diagonal(sims, -np.inf)
        loo = -np.sort(-sims, axis=1)[:, :STYLE_TOP_M].mean(axis=1)
        if a not in exact or a not in norms:
            continue
        compared += 1
        assert abs(norms[a].impostor - exact[a].impostor) <= 4 * strangers.std() / np.sqrt(norms[a].impostors)
        assert abs(norms[a].genuine - exact[a].genuine) <= 4 * loo.std() / np.sqrt(8)
    assert compared >= 40


def test_withdrawals_leave_the_sample_and_every_sum() -> None:
    """Works withdrawn (some artists cleared) after a build whose sample held every work: the
    updated state equals the exact norms of what is left; a new artist is judged against the
    whole sample."""
    rng = np.random.default_rng(5)
    works = _registry(2, 12, 8, 2, 9)
    state = SampledStyleNormState.build(works, STYLE_TOP_M, 8, sample=10**6)
    for _ in range(15):
        a = int(rng.integers(0, 12))
        if a not in works:
            continue
        ids, vecs = works[a]
        keep = rng.random(len(ids)) < 0.6
        if keep.any():
            works[a] = (ids[keep], vecs[keep])
        else:
            del works[a]
        held = works.get(a)
        state.update(a, None if held is None else held[1], works)
    _assert_equal_norms(dict(state.norms()), dict(style_norms(works, STYLE_TOP_M)))

    newcomer = _registry(9, 1, 8, 6, 7)[0]
    works[99] = (newcomer[0] + 10_000, newcomer[1])
    state.update(99, newcomer[1], works)
    want = style_norms(works, STYLE_TOP_M)[99]
    got = state.norms()[99]
    assert got.impostor == pytest.approx(want.impostor, abs=1e-6) and got.genuine == pytest.approx(want.genuine, abs=1e-6)


def test_exact_below_the_threshold_sampled_above(monkeypatch: pytest.MonkeyPatch) -> None:
    works = _registry(3, 6, 8, 3, 6)
    total = sum(len(w[0]) for w in works.values())
    monkeypatch.setattr(style_norm_sampled, "EXACT_MAX_WORKS", total)
    assert isinstance(build_norm_state(works, STYLE_TOP_M, 8), StyleNormState)
    monkeypatch.setattr(style_norm_sampled, "EXACT_MAX_WORKS", total - 1)
    assert isinstance(build_norm_state(works, STYLE_TOP_M, 8), SampledStyleNormState)


def test_image_check_scores_candidate_artists_from_all_their_works_read_at_once(tmp_path) -> None:
    """On the memory-mapped index the image check reads every candidate artist's works (one
    batched read per check) and scores them exactly, as from vectors in RAM; the pooled variant
    scores some artists from the index's re-ranked pool alone: never above the exact score
    (a subset's best works), with fewer artists read."""
    from stylegate.bench.clustered import clustered_set
    from stylegate.governance.matching.scores import match_image
    from stylegate.governance.matching.view import RegistryView, build_artist_works
    from stylegate.governance.screening.names import NameMatcher
    from stylegate.registry.style_index import StyleIndex

    data = clustered_set(6000, 32, 40, works_per_artist=20, seed=2)
    ident = {"model": "t", "checkpoint_sha256": "-", "dim": 32}
    ids = np.arange(1, 6001, dtype=np.int64)
    index = StyleIndex.create(32, ident, "auto:100")
    index.add(ids, data.base)
    index.save(tmp_path / "s.faiss", "t")
    index = StyleIndex.load(tmp_path / "s.faiss", ident)
    assert index.memory_mapped
    work_artist = {int(w): int(a) for w, a in zip(ids, data.artist_of)}
    works = build_artist_works(work_artist, index)
    view = RegistryView({}, work_artist, NameMatcher(), index, artist_works=works)

    def exact(artist: int, q: np.ndarray) -> float:
        own = ids[data.artist_of == artist]
        return float(np.sort(data.base[own - 1] @ q)[::-1][:STYLE_TOP_M].mean())

    candidates = 0
    for q in data.queries:
        for s in match_image(q, view, 10).style:
            assert s.score == pytest.approx(exact(s.artist_id, q), abs=1e-5)
            candidates += 1
    assert works.reads == candidates  # each candidate artist's works were read

    reads = same = 0
    for q in data.queries:
        plain = {s.artist_id: s.score for s in match_image(q, view, 10).style}
        works.reads = 0
        got = {s.artist_id: s.score for s in match_image(q, view, 10, pooled=True).style}
        reads += works.reads
        assert set(got) == set(plain)
        for a, score in got.items():
            assert score <= exact(a, q) + 1e-5
            same += int(score == pytest.approx(plain[a], abs=1e-6))
    assert reads < candidates and same >= reads

    # the sampled norms read the on-demand works in batches: the same as from vectors in RAM
    in_ram = {a: (ids[data.artist_of == a], data.base[data.artist_of == a]) for a in works}
    _assert_equal_norms(dict(SampledStyleNormState.build(works, STYLE_TOP_M, 32, sample=500).norms()),
                        dict(SampledStyleNormState.build(in_ram, STYLE_TOP_M, 32, sample=500).norms()))
