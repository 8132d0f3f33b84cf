"""The description margin (``description_score = "margin"``): an artist's description score
minus the best other artist's, in the gate, in steering and in calibration."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import registered_workspace

from stylegate.governance.decision import EvidenceKind
from stylegate.governance.gate import PolicyGate
from stylegate.governance.matching.calibration import calibrated_policy_text, fit_description
from stylegate.governance.matching.description_margin import margin_matrix, rivals
from stylegate.governance.matching.scores import description_matrix, description_scores
from stylegate.governance.policy import default_policy_text, load_policy, parse_policy
from stylegate.governance.screening.ordinary import ordinary_prompts
from stylegate.styleworld import world
from stylegate.workspace import Workspace

# a sibling and its parent (one attribute apart) and two unrelated artists
SIB = world.SIBLINGS[0]
ARTISTS = [world.sibling_of(SIB), SIB, world.ARTISTS[4], world.ARTISTS[8]]


def test_margins_equal_the_definition_on_random_matrices() -> None:
    rng = np.random.default_rng(11)
    for _ in range(30):
        n, a = int(rng.integers(1, 8)), int(rng.integers(2, 7))
        s = rng.normal(size=(n, a))
        value, index = rivals(s)
        m = margin_matrix(s)
        for i in range(n):
            for j in range(a):
                others = np.delete(s[i], j)
                assert value[i, j] == pytest.approx(others.max()) and index[i, j] != j
                assert s[i, index[i, j]] == pytest.approx(others.max())
                assert m[i, j] == pytest.approx(s[i, j] - others.max())
            assert (m[i] > 0).sum() <= 1
    alone = np.array([[0.3], [-0.2]])
    assert np.array_equal(margin_matrix(alone), alone) and (rivals(alone)[1] == -1).all()


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return registered_workspace(tmp_path_factory.mktemp("dmargin"), per_artist=4, artists=ARTISTS)


def _margin_gate(ws: Workspace, threshold: float) -> PolicyGate:
    base = ws.gate()
    text = default_policy_text().replace("description = 0.42", f'description = {threshold}\ndescription_score = "margin"')
    return PolicyGate(parse_policy(text), base.embedder, base.view)


def test_the_gate_scores_the_margin_and_names_the_rival(ws: Workspace) -> None:
    gate = _margin_gate(ws, -1.9)  # every artist reported, to compare with the plain scores
    names = {a.id: a.name for a in gate.view.artists.values()}
    prompts = [world.all_captions(a, "cat", "described", split="heldout")[0] for a in ARTISTS[:2]] + ["a red bicycle"]
    for prompt in prompts:
        plain = {s.artist_id: s.score for s in description_scores(gate.text_vectors([prompt])[0], gate.view)}
        ev = [e for e in gate.check_prompt(prompt).evidence if e.kind is EvidenceKind.DESCRIPTION]
        assert len(ev) == len(plain) == len(ARTISTS)
        for e in ev:
            rival = max((a for a in plain if a != e.artist.id), key=lambda a: plain[a])
            assert e.score == pytest.approx(plain[e.artist.id] - plain[rival], abs=1e-5)
            assert e.detail["margin_over"] == rival and e.detail["plain"] == pytest.approx(plain[e.artist.id], abs=1e-4)
            assert f"best other artist's: artist {names[rival]}" in e.rule
            assert e.detail["threshold_rule"] == "margin over the best other artist (policy description_score; " \
                                                 "tells look-alike styles apart); global"
        assert sum(e.score > 0 for e in ev) <= 1


def test_a_margin_threshold_flags_only_the_nearest_artist(ws: Workspace) -> None:
    gate = _margin_gate(ws, 0.0)
    plain_gate = ws.gate()
    prompt = world.all_captions(SIB, "boat", "described", split="heldout")[0]
    plain = {s.artist_id: s.score for s in description_scores(gate.text_vectors([prompt])[0], gate.view)}
    flagged = [e.artist.id for e in gate.check_prompt(prompt).evidence if e.kind is EvidenceKind.DESCRIPTION]
    assert flagged == [max(plain, key=lambda a: plain[a])]
    assert plain_gate.policy.thresholds.description_score == "plain"  # the shipped policy is unchanged


def test_steering_measures_the_score_the_policy_compares(ws: Workspace) -> None:
    gate = _margin_gate(ws, 0.05)
    texts = [world.all_captions(a, "tree", "described", split="heldout")[1] for a in ARTISTS] + ["a quiet harbour"]
    for artist in gate.view.artists.values():
        got = gate._description_of(texts, artist.id)
        want = [next(s.score for s in description_scores(v, gate.view, score="margin") if s.artist_id == artist.id)
                for v in gate.text_vectors(texts)]
        assert got == pytest.approx(want, abs=1e-5)
    assert (gate._description_of(texts[:1], 10_000) == -1).all()


def test_calibration_keeps_the_description_score_with_the_lower_frr_and_writes_it(ws: Workspace) -> None:
    view = ws.registry_view()
    names = {a.id: a.name for a in view.artists.values()}
    described, owners = [], []
    for artist in view.artists.values():
        for text in world.all_captions(artist.name, "house", "described", split="train")[:6]:
            described.append(text)
            owners.append(artist.id)
    corpus = [t for _, t in ordinary_prompts()][:1500]
    ids, scores = description_matrix(ws.embedder.embed_texts(described + corpus), view)
    args = {"target_far": 0.01, "artist_frr_bound": 0.05, "names": names}
    fits = {s: fit_description(scores, ids, owners, len(corpus), s, choose=False, **args) for s in ("plain", "margin")}
    chosen = fit_description(scores, ids, owners, len(corpus), "plain", choose=True, **args)
    assert chosen.score == min(fits, key=lambda s: (fits[s].frr_overall, fits[s].far_overall))
    assert chosen.far_overall <= 0.01 and chosen.threshold == fits[chosen.score].threshold
    assert any(n.startswith(f"description score {chosen.score}") for n in chosen.notes)
    # the margin's positives are the described prompts' margins for their own artist
    col = {int(a): j for j, a in enumerate(ids)}
    m = margin_matrix(scores)
    assert fits["margin"].positives == pytest.approx([m[i, col[a]] for i, a in enumerate(owners)])
    # evaluating a policy's threshold (not fitting) uses the policy's score
    fixed = fit_description(scores, ids, owners, len(corpus), "margin", choose=False, fixed=0.1, **args)
    assert fixed.score == "margin" and fixed.threshold == 0.1
    assert fixed.frr == pytest.approx(float(np.mean(fits["margin"].positives < 0.1)))

    others = {"style": dataclasses.replace(fixed, kind="style", threshold=0.6, score="normalised", per_artist=[]),
              "near_duplicate": dataclasses.replace(fixed, kind="near_duplicate", threshold=0.991, score="", per_artist=[])}
    result = SimpleNamespace(fits={"description": fits["margin"], **others}, target_far=0.01, near_duplicate_far=0.001,
                             artist_frr_bound=0.05, embedder=ws.embedder.identity.to_dict())
    policy = parse_policy(calibrated_policy_text(default_policy_text(), result, load_policy(), "test"))  # type: ignore[arg-type]
    assert policy.thresholds.description_score == "margin"
    assert policy.thresholds.description == fits["margin"].threshold


def test_policy_rejects_an_unknown_description_score(tmp_path: Path) -> None:
    from stylegate.errors import PolicyError

    with pytest.raises(PolicyError):
        parse_policy(default_policy_text().replace("description = 0.42", 'description = 0.42\ndescription_score = "best"'))
