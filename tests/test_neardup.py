"""The registered near-duplicate signature: crops are recovered, a shifted subject is not a crop."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from stylegate.governance.matching.neardup import align, pixel_signature, pixel_similarity, thumbnail_similarity
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
