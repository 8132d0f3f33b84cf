"""The near-duplicate check's second candidate source: window codes of stored works in FAISS
(governance/matching/signature_index.py), and match_image's use of it when CLIP misranks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stylegate.governance.matching.calibration import _transform
from stylegate.governance.matching.neardup import pixel_signature
from stylegate.governance.matching.scores import NEAR_DUPLICATE_SIGNATURE_POOL, match_image
from stylegate.governance.matching.signature_index import SignatureIndex, query_code, window_codes
from stylegate.governance.matching.view import RegistryView, build_artist_works, build_names
from stylegate.registry.models import Artist, Consent
from stylegate.registry.style_index import StyleIndex
from stylegate.styleworld import world

ARTIST = world.ARTISTS[2]


def _renders(n: int) -> list:
    """Same artist and subject, different seeds: the hardest works to tell a copy's source among."""
    return [world.render(ARTIST, "boat", seed) for seed in range(n)]


def test_codes_are_unit_norm_and_blind_to_gain_and_bias() -> None:
    sig = pixel_signature(world.render(ARTIST, "cat", 3))
    codes = window_codes(sig)
    assert codes.shape[1] == query_code(sig).size and len(codes) > 9
    assert np.allclose(np.linalg.norm(codes, axis=1), 1.0, atol=1e-5)
    assert float(query_code(sig * 1.3 + 20.0) @ query_code(sig)) > 0.9999
    assert not query_code(np.full((64, 64), 128.0, np.float32)).any()  # a flat image has no layout


@pytest.mark.parametrize("how", ["crop", "colour", "crop+colour", "resize+crop+colour+jpeg"])
def test_a_transformed_copy_finds_its_source_among_same_subject_renders(how: str) -> None:
    images = _renders(24)
    index = SignatureIndex((i, pixel_signature(im)) for i, im in enumerate(images))
    rng = np.random.default_rng(11)
    found = 0
    for source in range(0, 24, 3):
        copy = _transform(images[source], how, rng)
        hits = index.search(pixel_signature(copy), NEAR_DUPLICATE_SIGNATURE_POOL)  # what the gate asks for
        assert len({w for w, _ in hits}) == len(hits) == NEAR_DUPLICATE_SIGNATURE_POOL  # one entry per work
        found += any(w == source for w, _ in hits)
    assert found == 8


def test_a_fresh_render_scores_below_a_copy_of_its_nearest_work() -> None:
    images = _renders(16)
    index = SignatureIndex((i, pixel_signature(im)) for i, im in enumerate(images))
    fresh = world.render(ARTIST, "boat", 1_000_003)
    copy = _transform(images[5], "crop+colour", np.random.default_rng(2))
    assert index.search(pixel_signature(copy), 1)[0][1] > index.search(pixel_signature(fresh), 1)[0][1]


def test_an_empty_index_and_a_flat_query_find_nothing() -> None:
    assert SignatureIndex([]).search(np.random.default_rng(0).random((64, 64), dtype=np.float32), 3) == []
    index = SignatureIndex([(1, pixel_signature(world.render(ARTIST, "cat", 0)))])
    assert index.search(np.full((64, 64), 7.0, np.float32), 3) == []


def test_match_image_finds_the_source_that_clip_ranks_last(tmp_path: Path) -> None:
    """The CLIP vectors put the copy's source last of 20 works (as a crop with a colour shift
    can); from CLIP's candidates alone the check misses it, with the signature index it finds it."""
    n = 20
    images = _renders(n)
    files = {}
    for i, im in enumerate(images):
        files[i + 1] = tmp_path / f"{i}.png"
        im.save(files[i + 1])
    rng = np.random.default_rng(5)
    dim = 16
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    source = 7  # work id 8
    query = vectors.mean(0) - 3 * vectors[source]  # nearest to every work but the source
    query /= np.linalg.norm(query)
    index = StyleIndex.create(dim, {"model": "test", "checkpoint_sha256": "0" * 64, "dim": dim})
    index.add(np.arange(1, n + 1), vectors)
    work_artist = {w: 1 for w in files}
    artist = Artist(id=1, name=ARTIST.name, consent=Consent.OPT_OUT)
    view = RegistryView(artists={1: artist}, work_artist=work_artist, names=build_names([artist]), index=index,
                        work_files=files, artist_works=build_artist_works(work_artist, index))
    ranked = [int(i) for i in index.search(query.reshape(1, -1), n)[1][0]]
    assert ranked[-1] == source + 1
    copy = _transform(images[source], "crop+colour", np.random.default_rng(9))
    sig = pixel_signature(copy)
    clip_only = match_image(query, view, k=4, signature=sig, signature_pool=0)
    both = match_image(query, view, k=4, signature=sig)
    assert all(d.detail["work_id"] != source + 1 for d in clip_only.near_duplicates)
    best = max(both.near_duplicates, key=lambda d: d.score)
    assert best.detail["work_id"] == source + 1 and best.detail["candidate_from"] == "signature index"
    assert best.score > max(d.score for d in clip_only.near_duplicates)
    assert best.detail["clip_cosine"] == pytest.approx(float(vectors[source] @ query), abs=1e-4)
