"""`stylegate bench attribution`: scoring on constructed decisions, and a minimal real run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from stylegate.bench.attribution_scoring import Case, generation_row, quantile, stability, summarise
from stylegate.generator.gated import GatedImage, GenerationResult
from stylegate.governance.attribution import attribute, attribution_shares
from stylegate.governance.decision import Action, ArtistRef, Decision, Evidence, EvidenceKind

A, B, C = ArtistRef(1, "Ann Royal"), ArtistRef(2, "Ben Credit"), ArtistRef(3, "Cy Optout")
CONSENT = {1: "royalty", 2: "credit", 3: "opt-out"}


def _ev(artist: ArtistRef, kind: EvidenceKind, score: float, threshold: float, action: Action = Action.ATTRIBUTE) -> Evidence:
    return Evidence(kind=kind, artist=artist, consent=CONSENT[artist.id], score=score, threshold=threshold,
                    rule="test", action=action)


def _result(prompt_ev: list[Evidence], image_ev: list[Evidence] | None, prompt: str = "p") -> GenerationResult:
    """A generation built the way the gated generator builds one: shares from the real
    attribution rule over prompt and image evidence; ``image_ev`` None: blocked."""
    pre = Decision(subject="prompt", action=Action.ALLOW, evidence=prompt_ev)
    result = GenerationResult(prompt=prompt, prompt_decision=pre)
    if image_ev is None:
        post = Decision(subject="image", action=Action.BLOCK, evidence=[])
        result.images.append(GatedImage(0, 0, 3, Action.BLOCK, post, [], None))
        return result
    post = Decision(subject="image", action=Action.ALLOW, evidence=image_ev)
    shares = attribution_shares(prompt_ev + image_ev, 0.0, hold_unverified=False)
    action = Action.ATTRIBUTE if shares else Action.ALLOW
    result.images.append(GatedImage(0, 0, 1, action, post, shares, Image.new("RGB", (8, 8))))
    return result


def test_row_reads_shares_first_artist_and_the_evidence_behind_them() -> None:
    case = Case("a boat by Ann Royal", "named", "boat", "Ann Royal", "Ann Royal")
    # name: 0.9/0.6 = 1.5; style for A: 0.5/0.5 = 1.0 (A keeps its strongest); style for B 0.6/0.4 = 1.5
    res = _result([_ev(A, EvidenceKind.NAME, 0.9, 0.6)],
                  [_ev(A, EvidenceKind.STYLE, 0.5, 0.5), _ev(B, EvidenceKind.STYLE, 0.6, 0.4),
                   _ev(C, EvidenceKind.STYLE, 0.9, 0.4, Action.STEER)])
    row = generation_row(case, 7, res, image_style="Ben Credit")
    assert row["right_share"] == pytest.approx(0.5)
    assert {n for n, _ in row["credited"]} == {"Ann Royal", "Ben Credit"}
    assert row["sources"] == {"Ann Royal": ["image:style", "prompt:name"], "Ben Credit": ["image:style"]}
    assert row["evidence"]["Ann Royal"] == {"image:style": 1.0, "prompt:name": 1.5}
    assert row["image_style"] == "Ben Credit"

    blocked = generation_row(case, 8, _result([_ev(A, EvidenceKind.NAME, 0.9, 0.6)], None))
    assert blocked["action"] == "block" and blocked["first"] is None and blocked["right_share"] == 0.0


def test_quantile_matches_linear_interpolation() -> None:
    assert quantile([0.0, 0.5, 1.0, 1.0, 1.0], 0.1) == pytest.approx(0.2)
    assert quantile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert quantile([], 0.5) is None


def _styled(prompt: str, seed: int, shares: dict[ArtistRef, float], expected: str = "Ann Royal") -> dict:
    ev = [_ev(a, EvidenceKind.STYLE, w, 1.0) for a, w in shares.items()]
    res = _result([], ev, prompt)
    return generation_row(Case(prompt, "described", "boat", expected, expected), seed, res, image_style=expected)


def test_summary_figures_targets_and_stability() -> None:
    rows = [
        _styled("p1", 1, {A: 1.0}), _styled("p1", 2, {A: 1.0}), _styled("p1", 3, {A: 1.0}),
        # p2: the right artist's share moves from 1.0 to 0.25, and B comes first on seed 2
        _styled("p2", 1, {A: 1.0}), _styled("p2", 2, {A: 1.0, B: 3.0}), _styled("p2", 3, {A: 1.0}),
    ]
    no_style = [generation_row(Case(f"plain {i}", "plain", "boat", None), i,
                               _result([], [_ev(B, EvidenceKind.STYLE, 1.2, 1.0)] if i == 0 else []),
                               image_style="Ben Credit" if i == 0 else "Cy Optout")
                for i in range(4)]
    out = summarise(rows + no_style, frozenset({"Ann Royal", "Ben Credit"}))
    s = out["styled"]
    assert s["generations"] == 6
    assert s["median_share"] == 1.0
    assert s["p10_share"] == pytest.approx(0.625)  # sorted [0.25, 1, 1, 1, 1, 1]: 0.25 + 0.5 * 0.75
    assert s["right_first"] == pytest.approx(5 / 6, abs=1e-4)
    assert s["share_spread_max"] == pytest.approx(0.75)
    assert s["first_changes"] == 0.5
    assert out["no_style"]["credited_anyone"] == 0.25
    assert out["no_style"]["credited_artists"] == {"Ben Credit": 1}
    assert out["no_style"]["credited_when_image_in_attributed_style"] == 1.0
    assert out["no_style"]["credited_when_image_in_other_style"] == 0.0
    assert out["met"] == {"median_share": True, "right_first": False, "no_style_credited": False}
    assert [a["artist"] for a in out["per_artist"]] == ["Ann Royal"]
    assert out["evidence"]["other_artists"] == {"image:style": 1}
    margins = out["image_style_margins"]
    assert margins["styled_other"] == {"n": 1, "min": 3.0, "p50": 3.0, "max": 3.0}
    assert margins["styled_right"]["n"] == 6 and margins["styled_right"]["max"] == 1.0
    assert margins["no_style_drift"]["n"] == 1 and margins["no_style_wrong"]["n"] == 0


def _requested(prompt_ev: list[Evidence], image_ev: list[Evidence], prompt: str) -> GenerationResult:
    """A generation as the gated generator builds it under ``attribution.basis = "requested"``."""
    pre = Decision(subject="prompt", action=Action.ALLOW, evidence=prompt_ev)
    result = GenerationResult(prompt=prompt, prompt_decision=pre)
    credit = attribute(prompt_ev, image_ev, floor=0.0, basis="requested", hold_unverified=False)
    post = Decision(subject="image", action=Action.ALLOW, evidence=image_ev)
    action = Action.ATTRIBUTE if credit.shares else Action.ALLOW
    result.images.append(GatedImage(0, 0, 1, action, post, credit.shares, Image.new("RGB", (8, 8)),
                                    unprompted=credit.unprompted))
    return result


def test_rows_record_unpaid_candidates_and_the_other_basis_is_replayed() -> None:
    named = _requested([_ev(A, EvidenceKind.NAME, 0.9, 0.6)], [_ev(B, EvidenceKind.STYLE, 0.6, 0.4)], "a boat by Ann Royal")
    row = generation_row(Case("a boat by Ann Royal", "named", "boat", "Ann Royal"), 1, named, "Ann Royal", basis="requested")
    assert row["credited"] == [("Ann Royal", 1.0)] and row["sources"] == {"Ann Royal": ["prompt:name"]}
    assert row["unprompted"] == [("Ben Credit", 1.5)]
    assert [(n, round(x, 6)) for n, x in row["alt_credited"]] == [("Ann Royal", 0.5), ("Ben Credit", 0.5)]  # 1.5 each
    plain = _requested([], [_ev(B, EvidenceKind.STYLE, 0.6, 0.4)], "a picture of a boat")
    prow = generation_row(Case("a picture of a boat", "plain", "boat", None), 1, plain, "Ben Credit", basis="requested")
    assert prow["credited"] == [] and prow["alt_credited"] == [("Ben Credit", 1.0)]
    clean = generation_row(Case("a picture of a cat", "plain", "cat", None), 1, _requested([], [], "a picture of a cat"),
                           "Cy Optout", basis="requested")
    out = summarise([row, prow, clean], frozenset({"Ann Royal", "Ben Credit"}))
    assert out["no_style"]["credited_anyone"] == 0.0 and out["met"]["no_style_credited"] is True
    assert out["alternative"]["no_style"]["credited_anyone"] == 0.5 and out["alternative"]["met"]["no_style_credited"] is False
    assert out["alternative"]["styled"]["median_share"] == pytest.approx(0.5) and out["styled"]["median_share"] == 1.0
    u = out["unprompted"]
    assert u["no_style_with_candidate"] == 0.5 and u["no_style_candidate_is_image_style"] == 1.0
    assert u["styled_with_candidate"] == 1.0


def test_stability_of_single_seed_runs_is_unknown() -> None:
    st = stability([_styled("p", 1, {A: 1.0}), _styled("q", 1, {A: 1.0, B: 1.0})])
    assert st["share_spread_max"] is None and st["first_changes"] is None and st["seeds_per_prompt"] == 1


@pytest.mark.slow
def test_bench_attribution_runs_end_to_end_with_minimal_sizes() -> None:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        [sys.executable, "-m", "stylegate", "bench", "attribution", "--steps", "2", "--seeds", "2", "--subjects", "1", "--json"],
        capture_output=True, text=True, timeout=600, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    # 6 registered royalty/credit artists x named/described x 2 seeds; 3 unregistered + 1 plain x 2 seeds
    assert out["styled"]["generations"] == 24
    assert out["no_style"]["generations"] == 8
    assert out["by_kind"]["named"]["generations"] == out["by_kind"]["described"]["generations"] == 12
    assert len(out["per_artist"]) == 6 and out["styled"]["seeds_per_prompt"] == 2
    assert 0.0 <= out["styled"]["median_share"] <= 1.0
    assert set(out["met"]) == {"median_share", "right_first", "no_style_credited"}
    assert "generations" in proc.stderr  # the progress log
