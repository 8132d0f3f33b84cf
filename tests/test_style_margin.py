"""The style margin (``style_score = "margin"``): an artist's normalised score minus the best other artist's."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import registered_workspace

from stylegate.governance.decision import EvidenceKind
from stylegate.governance.gate import PolicyGate
from stylegate.governance.matching.calibration import calibrated_policy_text, fit_style
from stylegate.governance.matching.neardup import pixel_signature
from stylegate.governance.matching.style_margin import margin_scores, margins
from stylegate.governance.policy import default_policy_text, load_policy, parse_policy
from stylegate.styleworld import world
from stylegate.workspace import Workspace

# a sibling and its parent (one attribute apart) and two unrelated artists
SIB = world.SIBLINGS[0]
ARTISTS = [world.sibling_of(SIB), SIB, world.ARTISTS[4], world.ARTISTS[8]]


def test_margins_name_the_rival_and_at_most_one_artist_is_ahead() -> None:
    out = margins({1: 0.9, 2: 0.5, 3: -0.1})
    assert out[1] == (pytest.approx(0.4), 2) and out[2] == (pytest.approx(-0.4), 1) and out[3] == (pytest.approx(-1.0), 1)
    assert sum(m > 0 for m, _ in out.values()) == 1
    assert margins({4: 0.3}) == {4: (0.3, None)}  # alone: its own score (0 = a typical other artist's work)
    assert margins({}) == {}


def test_margin_scores_equal_the_definition_on_random_matrices() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        n, a = int(rng.integers(2, 9)), int(rng.integers(2, 6))
        full = rng.normal(size=(n, a))
        own = rng.integers(0, a, n)
        neg = full.copy()
        neg[np.arange(n), own] = -np.inf
        pos = full[np.arange(n), own]
        m_pos, m_neg = margin_scores(pos, neg, own)
        for i in range(n):
            for j in range(a):
                want = full[i, j] - np.delete(full[i], j).max()
                got = m_pos[i] if j == own[i] else m_neg[i, j]
                assert got == pytest.approx(want) and (j != own[i] or np.isneginf(m_neg[i, j]))


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return registered_workspace(tmp_path_factory.mktemp("margin"), per_artist=6, artists=ARTISTS)


def test_the_gate_scores_the_margin_and_says_over_whom(ws: Workspace) -> None:
    base = ws.gate()
    text = default_policy_text().replace('style_score = "normalised"', 'style_score = "margin"').replace(
        "style = 0.72", "style = -5.0")  # every candidate reported, to compare the scores
    gate = PolicyGate(parse_policy(text), base.embedder, base.view)
    names = {a.id: a.name for a in base.view.artists.values()}
    image = world.render(SIB, "boat", world.HELDOUT_SEED_START + 1)
    vector = ws.embedder.embed_images([image])[0]
    normal = {e.artist.id: e.score for e in PolicyGate(parse_policy(text.replace('"margin"', '"normalised"')),
                                                         base.embedder, base.view)
              .check_image_vector(vector, pixel_signature(image)).evidence if e.kind is EvidenceKind.STYLE}
    style = [e for e in gate.check_image_vector(vector, pixel_signature(image)).evidence if e.kind is EvidenceKind.STYLE]
    assert len(style) == len(normal) >= 2
    for e in style:
        rival = max((a for a in normal if a != e.artist.id), key=lambda a: normal[a])
        assert e.score == pytest.approx(normal[e.artist.id] - normal[rival], abs=1e-6)
        assert e.detail["margin_over"] == rival and f"the best other: artist {names[rival]}" in e.rule
        assert e.detail["threshold_rule"].startswith("margin over the nearest other artist")
    assert sum(e.score > 0 for e in style) <= 1


def test_calibration_keeps_the_score_with_the_lower_frr_and_writes_it(ws: Workspace, tmp_path: Path) -> None:
    view = ws.registry_view()
    names = {a.id: a.name for a in view.artists.values()}
    fits = {s: fit_style(view, s, target_far=0.01, artist_frr_bound=0.05, names=names, choose=False)
            for s in ("normalised", "margin")}
    chosen = fit_style(view, "normalised", target_far=0.01, artist_frr_bound=0.05, names=names, choose=True)
    assert chosen.score == min(fits, key=lambda s: (fits[s].frr_overall, fits[s].far_overall))
    assert chosen.far_overall <= 0.01 and chosen.threshold == fits[chosen.score].threshold
    assert any(n.startswith(f"style score {chosen.score}") for n in chosen.notes)
    assert fit_style(view, "cosine", target_far=0.01, artist_frr_bound=0.05, names=names, choose=True).score == "cosine"

    other = dataclasses.replace(fits["normalised"], threshold=0.5, score="")  # stands in for the other kinds
    result = SimpleNamespace(fits={"style": chosen, "description": other, "near_duplicate": other}, target_far=0.01,
                             near_duplicate_far=0.001, artist_frr_bound=0.05, embedder=ws.embedder.identity.to_dict())
    policy = parse_policy(calibrated_policy_text(default_policy_text(), result, load_policy(), "test"))  # type: ignore[arg-type]
    assert policy.thresholds.style_score == chosen.score and policy.thresholds.style == chosen.threshold
