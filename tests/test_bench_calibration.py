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
