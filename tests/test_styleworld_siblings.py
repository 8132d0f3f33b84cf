"""StyleWorld's sibling split: styles one attribute away from an original artist's."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest

from stylegate.styleworld import world
from stylegate.styleworld.world import ARTISTS, SIBLING_ATTRIBUTES, SIBLINGS, SUBJECTS, differing_attributes, render, sibling_of

# sha256 over render + captions of every original artist x subject at seeds 0, 5 and
# 1,000,003, computed with the renderer as it was before the siblings were added: the
# shipped weights were trained on these pixels, so adding a split must not move one.
ORIGINALS_DIGEST = "da89743ab9b85f13d142d14fa63e9e4533018d2e173d54a11de587de8132fa96"


def test_the_original_artists_render_byte_for_byte_as_before() -> None:
    h = hashlib.sha256()
    for a in ARTISTS:
        for s in SUBJECTS:
            for seed in (0, 5, 1_000_003):
                h.update(render(a, s, seed).tobytes())
                h.update(repr(sorted(world.captions(a, s, seed).items())).encode())
    assert h.hexdigest() == ORIGINALS_DIGEST
    assert len(ARTISTS) == 12 and not set(SIBLINGS) & set(ARTISTS)


def test_every_sibling_differs_from_its_parent_in_exactly_one_attribute() -> None:
    assert 6 <= len(SIBLINGS) <= 12
    changed = set()
    for sib in SIBLINGS:
        parent = sibling_of(sib)
        assert parent in ARTISTS
        diff = differing_attributes(sib, parent)
        assert len(diff) == 1, (sib.name, diff)
        changed.add(diff[0])
        assert sib.name != parent.name and world.get_artist(sib.name) is sib
    assert {"palette", "pattern", "texture", "composition"} <= changed


@pytest.mark.parametrize("sib", SIBLINGS, ids=lambda s: s.name)
def test_a_siblings_pixels_are_its_parents_with_the_one_attribute_changed(sib: world.StyleArtist) -> None:
    """Giving the parent the sibling's one attribute (and random stream) reproduces the sibling's
    render exactly, so nothing else about the style differs; giving the sibling back the parent's
    attribute changes its pixels, so the attribute is visible."""
    parent = sibling_of(sib)
    (group,) = differing_attributes(sib, parent)
    fields = SIBLING_ATTRIBUTES[group]
    as_sibling = dataclasses.replace(parent, rng_key=sib.rng_key, **{f: getattr(sib, f) for f in fields})
    reverted = dataclasses.replace(sib, **{f: getattr(parent, f) for f in fields})
    for subject in ("cat", "lighthouse"):
        for seed in (3, 1_000_001):
            mine = np.asarray(render(sib, subject, seed))
            assert np.array_equal(mine, np.asarray(render(as_sibling, subject, seed)))
            other = np.asarray(render(reverted, subject, seed)).astype(int)
            assert np.abs(mine.astype(int) - other).mean() > 1.0  # the attribute shows in the pixels


def test_siblings_render_from_their_own_random_streams() -> None:
    """Same seed, parent and sibling: different jitter, so a sibling's work is never a shifted
    copy of its parent's work with the same seed."""
    for sib in SIBLINGS:
        parent = sibling_of(sib)
        same_stream = dataclasses.replace(sib, rng_key=world.artist_index(parent))
        a = np.asarray(render(sib, "boat", 0))
        assert not np.array_equal(a, np.asarray(render(same_stream, "boat", 0)))
