"""Semantic prompt matching and image matching on the shipped StyleWorld CLIP."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from conftest import registered_workspace
from PIL import Image

from stylegate.governance.decision import Action, EvidenceKind
from stylegate.styleworld import world
from stylegate.workspace import Workspace

LEFT_OUT = world.ARTISTS[-1]  # never registered: its images must not match anyone


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return registered_workspace(tmp_path_factory.mktemp("matching"), artists=world.ARTISTS[:-1])


@pytest.fixture(scope="module")
def gate(ws: Workspace):
    return ws.gate()


def artists_in(decision, kind: EvidenceKind) -> set[str]:
    return {e.artist.name for e in decision.evidence if e.kind is kind}


@pytest.mark.parametrize("artist", world.ARTISTS[:-1:2], ids=lambda a: a.name)
def test_described_style_is_matched_to_its_artist(gate, artist: world.StyleArtist) -> None:
    prompt = world.all_captions(artist, "boat", "described", split="heldout")[0]
    decision = gate.check_prompt(prompt)
    assert artists_in(decision, EvidenceKind.DESCRIPTION) == {artist.name}, decision.reasons


def test_diluted_description_is_still_matched(gate) -> None:
    artist = world.ARTISTS[1]
    prompt = (
        "a quiet harbour town at dawn with fishing boats, gulls over the pier, a stone wall, "
        f"nets drying in the wind, {world.describe(artist)}, wide angle, soft morning light"
    )
    assert artist.name in artists_in(gate.check_prompt(prompt), EvidenceKind.DESCRIPTION)


@pytest.mark.parametrize("prompt", ["a lighthouse", "a cat on a wall", "a small house near a tree", "a bird"])
def test_plain_subjects_match_no_style(gate, prompt: str) -> None:
    assert gate.check_prompt(prompt).evidence == []


@pytest.mark.parametrize("artist", world.ARTISTS[:-1:3], ids=lambda a: a.name)
def test_held_out_render_matches_its_artist_style(gate, artist: world.StyleArtist) -> None:
    image = world.render(artist, world.SUBJECTS[2], world.heldout_seeds()[3])
    decision = gate.check_image(image)
    assert artists_in(decision, EvidenceKind.STYLE) == {artist.name}
    assert artists_in(decision, EvidenceKind.NEAR_DUPLICATE) == set()


def test_style_evidence_says_which_score_and_threshold_applied(gate) -> None:
    artist = world.ARTISTS[3]
    decision = gate.check_image(world.render(artist, world.SUBJECTS[5], world.heldout_seeds()[1]))
    (style,) = [e for e in decision.evidence if e.kind is EvidenceKind.STYLE]
    d = style.detail
    assert d["threshold_rule"].startswith("normalised") and style.threshold == gate.policy.thresholds.style
    assert style.score == pytest.approx((d["cosine"] - d["impostor_mean"]) / (d["genuine_mean"] - d["impostor_mean"]), abs=2e-3)
    assert d["impostor_mean"] < d["genuine_mean"] and d["works"] == len(gate.view.artist_works[style.artist.id][0])


def test_unregistered_artist_images_match_no_one(gate) -> None:
    for subject in world.SUBJECTS:
        decision = gate.check_image(world.render(LEFT_OUT, subject, world.heldout_seeds()[0]))
        assert decision.evidence == [], decision.reasons
        assert decision.action is Action.ALLOW


def test_copies_are_near_duplicates_even_recompressed_or_resized(ws: Workspace, gate) -> None:
    artist = world.ARTISTS[0]
    work = ws.store.list_works(ws.store.get_artist(artist.name).id)[0]
    original = Image.open(ws.settings.works_dir / work.path).convert("RGB")
    buffer = io.BytesIO()
    original.save(buffer, "JPEG", quality=70)
    variants = {"copy": original, "jpeg": Image.open(io.BytesIO(buffer.getvalue())), "resized": original.resize((96, 96))}
    for label, image in variants.items():
        decision = gate.check_image(image)
        dupes = [e for e in decision.evidence if e.kind is EvidenceKind.NEAR_DUPLICATE]
        assert dupes and dupes[0].detail["work_id"] == work.id, label
        assert decision.action is Action.BLOCK


@pytest.mark.parametrize("artist", world.ARTISTS[1:-1:3], ids=lambda a: a.name)
def test_cropped_copies_are_near_duplicates_with_their_registration(ws: Workspace, gate, artist) -> None:
    work = ws.store.list_works(ws.store.get_artist(artist.name).id)[2]
    original = Image.open(ws.settings.works_dir / work.path).convert("RGB")
    buffer = io.BytesIO()
    original.crop((9, 0, 64, 58)).save(buffer, "JPEG", quality=75)  # 14% off the left, 9% off the bottom
    decision = gate.check_image(Image.open(io.BytesIO(buffer.getvalue())))
    dupes = [e for e in decision.evidence if e.kind is EvidenceKind.NEAR_DUPLICATE]
    assert dupes and dupes[0].detail["work_id"] == work.id and dupes[0].artist.name == artist.name
    assert dupes[0].detail["alignment"]["shift_x"] == pytest.approx(9, abs=1.5)
    assert dupes[0].detail["alignment"]["scale_y"] == pytest.approx(58 / 64, abs=0.03)
    assert decision.action is Action.BLOCK


def test_missing_work_file_does_not_crash_the_check(ws: Workspace, tmp_path: Path) -> None:
    gate = ws.gate()
    work_id = next(iter(gate.view.work_files))
    gate.view.work_files[work_id] = tmp_path / "gone.png"
    decision = gate.check_image(world.render(world.ARTISTS[0], world.SUBJECTS[0], 5))
    assert decision.error is None
