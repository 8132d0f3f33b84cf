"""The hard sibling/parent batches and the image-to-image loss of ``train_clip --sibling-share --supcon``."""

from __future__ import annotations

import numpy as np
import pytest

from stylegate.styleworld import world
from stylegate.styleworld.sibling_batches import PairSampler, sibling_pairs, supcon_loss


def _grid(n_artists: int, seeds: int = 6) -> tuple[np.ndarray, np.ndarray]:
    artists = np.repeat(np.arange(n_artists), len(world.SUBJECTS) * seeds)
    subjects = np.tile(np.repeat(np.arange(len(world.SUBJECTS)), seeds), n_artists)
    return artists, subjects


def test_pairs_name_each_sibling_and_its_parent_in_the_roster() -> None:
    roster = world.ARTISTS + world.SIBLINGS
    pairs = sibling_pairs(roster)
    assert len(pairs) == len(world.SIBLINGS)
    for sib, parent in pairs:
        assert roster[parent].name == roster[sib].parent
        assert len(world.differing_attributes(roster[sib], roster[parent])) == 1
    assert sibling_pairs(world.ARTISTS) == []  # no sibling, no pair


def test_a_batch_holds_sibling_parent_groups_of_one_subject_and_distinct_indices() -> None:
    roster = world.ARTISTS + world.SIBLINGS
    artists, subjects = _grid(len(roster))
    sampler = PairSampler(artists, subjects, sibling_pairs(roster), np.random.default_rng(0), per_side=4)
    pair_of = {frozenset(p) for p in sibling_pairs(roster)}
    for _ in range(20):
        idx = sampler.batch(160, 0.5)
        assert len(idx) == 160 and len(np.unique(idx)) == 160
        # the first indices are the hard groups: each (artist, subject) cell there has its pair's cell too
        assert 64 <= sampler.last_hard <= 80  # 10 groups of 2 x 4 (fewer when a group repeats)
        hard = idx[:sampler.last_hard]
        cells = {(int(artists[i]), int(subjects[i])) for i in hard}
        for a, s in cells:
            partner = [b for p in pair_of if a in p for b in p if b != a]
            assert any((b, s) in cells for b in partner), (a, s)


def test_without_a_hard_share_the_batch_is_uniform() -> None:
    roster = world.ARTISTS + world.SIBLINGS
    artists, subjects = _grid(len(roster))
    sampler = PairSampler(artists, subjects, sibling_pairs(roster), np.random.default_rng(1))
    counts = np.zeros(len(roster))
    for _ in range(200):
        counts += np.bincount(artists[sampler.batch(88, 0.0)], minlength=len(roster))
    share_pairs = counts[[i for p in sibling_pairs(roster) for i in p]].sum() / counts.sum()
    assert abs(share_pairs - 20 / 22) < 0.03  # 20 of 22 artists belong to a pair
    with pytest.raises(ValueError):
        PairSampler(artists, subjects, [], np.random.default_rng(0), per_side=0)


def test_supcon_is_low_when_artists_cluster_and_high_when_they_mix() -> None:
    torch = pytest.importorskip("torch")
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    centres = torch.nn.functional.normalize(torch.randn(3, 16, generator=torch.Generator().manual_seed(0)), dim=-1)
    clustered = torch.nn.functional.normalize(centres[labels] + 0.01 * torch.randn(6, 16), dim=-1)
    mixed = torch.nn.functional.normalize(centres[torch.tensor([0, 1, 2, 0, 1, 2])], dim=-1)
    assert float(supcon_loss(clustered, labels)) < 0.5 * float(supcon_loss(mixed, labels))
    alone = torch.tensor([0, 1, 2, 3, 4, 5])  # nobody has a positive: no loss, no NaN
    assert float(supcon_loss(clustered, alone)) == 0.0
    feats = clustered.clone().requires_grad_(True)
    supcon_loss(feats, labels).backward()
    assert feats.grad is not None and torch.isfinite(feats.grad).all()
