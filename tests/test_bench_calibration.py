"""`stylegate bench calibration`: its splits and its refusal of bad options (the figures
themselves are printed by the bench, not asserted here)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from stylegate.bench.calibration import met, split_artists, synthetic_artists
from stylegate.cli import app
from stylegate.errors import EXIT_USAGE
from stylegate.styleworld import world

runner = CliRunner()


def test_the_sibling_split_adds_every_sibling_beside_its_parent() -> None:
    standard, sibling = split_artists("standard"), split_artists("sibling")
    assert standard == list(world.ARTISTS)
    assert sibling[: len(standard)] == standard and set(sibling[len(standard):]) == set(world.SIBLINGS)
    assert all(world.sibling_of(s) in standard for s in sibling[len(standard):])
    with pytest.raises(ValueError):
        split_artists("harder")


@pytest.mark.parametrize("args", [["--splits", "harder"], ["--embedders", "ViT-L-14"], ["--splits", "none"]])
def test_bad_options_are_usage_errors(args: list[str]) -> None:
    result = runner.invoke(app, ["bench", "calibration", *args])
    assert result.exit_code == EXIT_USAGE, result.output


def test_synthetic_artists_render_from_streams_of_their_own() -> None:
    a, b = synthetic_artists(2)
    assert a.rng_key != b.rng_key and a.rng_key not in (s.rng_key for s in world.SIBLINGS)
    assert world.render(a, "cat", 0).tobytes() != world.render(b, "cat", 0).tobytes()


def test_a_row_meets_the_targets_only_when_every_rate_does() -> None:
    row = {"style": {"frr": 0.0, "far": 0.009, "worst_frr": 0.04},
           "description": {"catch": 0.96, "fp_corpus": 0.0, "fp_unseen": 0.005},
           "near_duplicate": {"copies_caught": 0.995, "fresh_flagged": 0.0008}}
    assert met(row) == {"style": True, "description": True, "near_duplicate": True}
    row["style"]["worst_frr"] = 0.06
    row["description"]["fp_unseen"] = 0.02
    row["near_duplicate"]["fresh_flagged"] = 0.002
    assert met(row) == {"style": False, "description": False, "near_duplicate": False}


def test_bench_works_are_at_seeds_no_embedder_trained_on_and_not_the_test_renders() -> None:
    from stylegate.bench.fixtures import unseen_work_seeds

    seeds = list(unseen_work_seeds(12, skip=2))
    assert len(seeds) == 12 and len(set(seeds)) == 12
    assert all(world.is_heldout(s) for s in seeds)
    assert not set(seeds) & set(world.heldout_seeds(2))


def test_registering_at_given_seeds_stores_the_renders_of_those_seeds(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import numpy as np
    from PIL import Image

    from stylegate.bench.calibration import _workspace
    from stylegate.bench.fixtures import register_styleworld

    artist, seeds = world.ARTISTS[0], [world.HELDOUT_SEED_START + 7, world.HELDOUT_SEED_START + 3]
    ws = _workspace(tmp_path, "styleworld-clip")
    with pytest.raises(ValueError, match="need as many seeds"):
        register_styleworld(ws, tmp_path / "ref", per_artist=3, artists=[artist], seeds=seeds)
    assert register_styleworld(ws, tmp_path / "ref", per_artist=2, artists=[artist], seeds=seeds) == 2
    stored = []
    for path in ws.registry_view().work_files.values():
        with Image.open(path) as im:
            stored.append(np.asarray(im.convert("RGB")).tobytes())
    expected = [np.asarray(world.render(artist, world.SUBJECTS[k], s)).tobytes() for k, s in enumerate(seeds)]
    training = np.asarray(world.render(artist, world.SUBJECTS[0], world.train_seeds()[0])).tobytes()
    assert sorted(stored) == sorted(expected) and training not in stored


def test_a_caption_counts_as_shared_only_when_another_registered_artist_has_it_word_for_word() -> None:
    from stylegate.bench.calibration import held_out

    texture = next(s for s in world.SIBLINGS if s.texture != world.sibling_of(s).texture)
    alone = held_out([world.sibling_of(texture)], seeds=1)
    assert not any(alone.described_shared)
    pair = held_out([world.sibling_of(texture), texture, world.ARTISTS[4]], seeds=1)
    every = {a.name: {t for s in world.SUBJECTS for t in world.all_captions(a, s, "described", "heldout")}
             for a in (world.sibling_of(texture), texture, world.ARTISTS[4])}
    for text, own, shared in zip(pair.described, pair.described_owner, pair.described_shared):
        assert shared == any(text in v for k, v in every.items() if k != own)
    assert all(s for s, o in zip(pair.described_shared, pair.described_owner) if o == texture.name)
