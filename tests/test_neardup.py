"""The registered near-duplicate signature: crops are recovered, a shifted subject is not a crop."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from stylegate.governance.matching import neardup
from stylegate.governance.matching.calibration import _transform
from stylegate.governance.matching.neardup import (
    FOOTPRINT_TOLERANCE,
    SIGNATURE_SIZE,
    align,
    overshoot,
    pixel_signature,
    pixel_similarity,
    thumbnail_similarity,
)
from stylegate.governance.policy import load_policy
from stylegate.styleworld import world

SHIPPED = load_policy().thresholds.near_duplicate


@pytest.mark.parametrize("box", [(6, 2, 61, 55), (0, 9, 52, 64), (4, 4, 60, 60)])
def test_registration_recovers_the_crop_box(box: tuple[int, int, int, int]) -> None:
    original = world.render(world.ARTISTS[1], "house", 4)
    copy = original.crop(box).resize((64, 64), Image.BICUBIC)
    fit = align(pixel_signature(copy), pixel_signature(original))
    assert fit.score >= SHIPPED
    # stored = scale * query + shift: the crop's width/64 and left edge, to a pixel
    assert fit.scale_x == pytest.approx((box[2] - box[0]) / 64, abs=0.02)
    assert fit.scale_y == pytest.approx((box[3] - box[1]) / 64, abs=0.02)
    assert fit.shift_x == pytest.approx(box[0], abs=1.0) and fit.shift_y == pytest.approx(box[1], abs=1.0)
    # the round-1 thumbnails lose the same crop
    assert thumbnail_similarity(copy, original) < SHIPPED


def test_cropped_recompressed_recoloured_copy_beats_every_fresh_render_of_its_subject() -> None:
    artist, subject = world.ARTISTS[8], "boat"
    original = world.render(artist, subject, 2)
    arr = np.asarray(original.crop((3, 8, 58, 62)).resize((80, 80), Image.BICUBIC), dtype=np.float32)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(arr * 1.08 + np.array([12.0, -6.0, 3.0]), 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=70)
    copy = Image.open(io.BytesIO(buffer.getvalue()))
    stored = pixel_signature(original)
    copy_score = pixel_similarity(pixel_signature(copy), stored)
    fresh = [pixel_similarity(pixel_signature(world.render(artist, subject, s)), stored) for s in world.heldout_seeds(8)]
    assert copy_score >= SHIPPED > max(fresh)


def test_a_shifted_subject_on_empty_paper_is_not_a_crop() -> None:
    # Smooth paper, rings centred on the subject: shifting the subject is the fresh-render case.
    original = world.render("Priya Sandoval-Rhee", "cat", 3)
    arr = np.asarray(original)
    paper = arr[0, 0]
    shifted = np.broadcast_to(paper, arr.shape).copy()
    shifted[3:, :-3] = arr[:-3, 3:]  # the picture moved 3 px down and left, the paper filled in
    fit = align(pixel_signature(Image.fromarray(shifted)), pixel_signature(original))
    assert fit.score < SHIPPED, fit


def test_flat_images_and_mismatched_signatures() -> None:
    flat = pixel_signature(Image.new("RGB", (64, 64), (200, 10, 10)))
    assert align(flat, pixel_signature(world.render(world.ARTISTS[0], "cat", 1))).score == -1.0
    with pytest.raises(ValueError):
        align(flat, flat[:32, :32])


# ---- the registration's transform must be one a copy can have (round 4)
def _overshoot(fit) -> float:
    return overshoot(np.array([fit.scale_x, fit.scale_y, fit.shift_x, fit.shift_y]), SIGNATURE_SIZE)


@pytest.mark.parametrize("how", ["resize", "jpeg", "colour", "crop", "crop+colour", "resize+crop+jpeg"])
def test_a_transformed_copy_registers_inside_its_source(how: str) -> None:
    rng = np.random.default_rng(41)
    for artist, subject, seed in [(world.ARTISTS[9], "boat", 2), (world.ARTISTS[2], "tree", 8), (world.ARTISTS[10], "flower", 5)]:
        original = world.render(artist, subject, seed)
        fit = align(pixel_signature(_transform(original, how, rng)), pixel_signature(original))
        assert fit.score >= SHIPPED, (artist.name, how, fit)
        assert _overshoot(fit) <= FOOTPRINT_TOLERANCE, (artist.name, how, fit)


@pytest.mark.parametrize("box", [(0, 0, 55, 57), (9, 7, 64, 64), (0, 6, 64, 58)])
def test_a_crop_along_the_picture_edges_is_still_a_copy(box: tuple[int, int, int, int]) -> None:
    original = world.render(world.ARTISTS[9], "cat", 6)  # rings on smooth paper: the hardest case
    fit = align(pixel_signature(original.crop(box).resize((64, 64), Image.BICUBIC)), pixel_signature(original))
    assert fit.score >= SHIPPED and _overshoot(fit) <= FOOTPRINT_TOLERANCE, fit


# Fresh held-out renders that `stylegate bench neardup` flagged against a registered training
# render of the same artist and subject (rings and swirls centred on the subject: the pattern
# moves with it, so a subject placed within a pixel of a stored work's looks copied).
FLAGGED_FRESH = [("Priya Sandoval-Rhee", "boat", 1_000_002, 2), ("Ines Marrowby", "tree", 1_000_014, 8),
                 ("Ines Marrowby", "tree", 1_000_037, 0), ("Priya Sandoval-Rhee", "tree", 1_000_034, 9)]


@pytest.mark.parametrize(("artist", "subject", "fresh", "stored"), FLAGGED_FRESH)
def test_a_fresh_render_that_needs_the_frame_moved_is_not_a_copy(
    artist: str, subject: str, fresh: int, stored: int, monkeypatch: pytest.MonkeyPatch,
) -> None:
    query = pixel_signature(world.render(artist, subject, fresh))
    work = pixel_signature(world.render(artist, subject, stored))
    fit = align(query, work)
    assert fit.score < SHIPPED and _overshoot(fit) <= FOOTPRINT_TOLERANCE, fit
    # what let it through before: a registration whose frame leaves the stored work by ~1 px
    monkeypatch.setattr(neardup, "FOOTPRINT_TOLERANCE", 1.0)
    loose = align(query, work)
    assert loose.score >= SHIPPED and _overshoot(loose) > FOOTPRINT_TOLERANCE, loose


def test_signatures_with_nan_or_of_another_rank_are_refused() -> None:
    sig = pixel_signature(world.render(world.ARTISTS[0], "cat", 1))
    broken = sig.copy()
    broken[10, 10] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        align(broken, sig)
    with pytest.raises(ValueError, match="shapes"):
        align(np.stack([sig, sig, sig], axis=-1), np.stack([sig, sig, sig], axis=-1))
