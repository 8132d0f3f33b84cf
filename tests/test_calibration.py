"""`stylegate calibrate`: thresholds fitted for the running embedder from the workspace."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import registered_workspace
from typer.testing import CliRunner

from stylegate.cli import app
from stylegate.errors import PolicyError
from stylegate.governance.decision import EvidenceKind
from stylegate.governance.gate import PolicyGate
from stylegate.governance.matching.calibration import (
    calibrate,
    calibrated_policy_text,
    description_matrix,
    fit_kind,
    threshold_at_far,
    write_policy,
)
from stylegate.governance.matching.scores import description_scores
from stylegate.governance.policy import default_policy_text, load_policy, parse_policy
from stylegate.governance.screening.ordinary import languages, ordinary_prompts
from stylegate.settings import Settings
from stylegate.styleworld import models, world
from stylegate.workspace import Workspace

runner = CliRunner()
ARTISTS = world.ARTISTS[:6]


def sg(home: Path, *args: str):
    return runner.invoke(app, ["--home", str(home), *args])


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return registered_workspace(tmp_path_factory.mktemp("calibration"), per_artist=5, artists=ARTISTS)


@pytest.fixture(scope="module")
def result(ws: Workspace):
    return calibrate(ws.registry_view(), ws.embedder.embed_texts, ws.embedder.embed_images,
                     ws.embedder.identity.to_dict(), ws.policy, max_copies=200)


# ---------------------------------------------------------------- the fitting rule
def test_threshold_is_the_lowest_that_meets_the_far_target() -> None:
    rng = np.random.default_rng(3)
    negatives = rng.normal(0.2, 0.1, size=2000)
    for far in (0.005, 0.01, 0.05):
        t = threshold_at_far(negatives, far)
        assert np.mean(negatives >= t) <= far
        assert np.mean(negatives >= t - 1e-4) > far  # one step lower misses the target
    assert threshold_at_far(negatives[:50], 0.001) > negatives[:50].max()  # too few negatives: above them all


def test_few_negatives_get_a_tail_guard_above_the_sample() -> None:
    rng = np.random.default_rng(5)
    population = rng.normal(0.45, 0.04, 200_000)
    sample = population[:80]
    guarded, bare = threshold_at_far(sample, 0.01), threshold_at_far(sample, 0.01, guard=False)
    assert guarded >= bare
    # the guard lands near the population's true 99th percentile; the bare sample quantile can not know it
    assert abs(guarded - np.quantile(population, 0.99)) < 0.02
    assert np.mean(population >= guarded) <= 0.015


def test_an_artist_the_global_threshold_fails_gets_its_own_within_the_far_budget() -> None:
    rng = np.random.default_rng(7)
    artist_ids = np.array([1, 2, 3])
    # Negatives against artist 3 sit low, so its lower positives can get a lower threshold.
    neg = np.column_stack([rng.normal(0.30, 0.05, 3000), rng.normal(0.30, 0.05, 3000), rng.normal(0.10, 0.05, 3000)])
    pos = np.concatenate([rng.normal(0.70, 0.03, 200), rng.normal(0.70, 0.03, 200), rng.normal(0.40, 0.03, 200)])
    owners = np.repeat(artist_ids, 200)
    fit = fit_kind("style", pos, owners, neg, artist_ids, target_far=0.01, artist_frr_bound=0.05,
                   names={1: "a", 2: "b", 3: "c"})
    assert [p.artist_id for p in fit.per_artist] == [3]
    own = fit.per_artist[0]
    assert own.threshold < fit.threshold and own.global_frr > 0.05 and own.frr < own.global_frr
    assert fit.far_overall <= 0.01
    assert fit.frr_overall < np.mean(pos < threshold_at_far(neg.max(axis=1), 0.01))


def test_the_far_target_holds_in_every_negative_population() -> None:
    rng = np.random.default_rng(11)
    easy, hard = rng.normal(0.0, 0.05, (5000, 1)), rng.normal(0.3, 0.05, (300, 1))
    pos = rng.normal(0.6, 0.05, 100)
    groups = np.r_[np.zeros(5000, int), np.ones(300, int)]
    fit = fit_kind("description", pos, np.ones(100, int), np.vstack([easy, hard]), np.array([1]), target_far=0.01,
                   artist_frr_bound=None, names={}, groups=groups)
    assert np.mean(hard[:, 0] >= fit.threshold) <= 0.01  # pooled, 5,300 negatives would have let 53 through
    assert fit.threshold > threshold_at_far(np.r_[easy[:, 0], hard[:, 0]], 0.01)
    assert fit.far == pytest.approx(max(np.mean(easy >= fit.threshold), np.mean(hard >= fit.threshold)))


def test_ordinary_prompt_corpus_is_large_multilingual_and_deterministic() -> None:
    prompts = ordinary_prompts()
    assert len(prompts) >= 5000 and len(set(prompts)) == len(prompts)
    assert len({lang for lang, _ in prompts}) == len(languages()) >= 6
    assert ordinary_prompts() == prompts


# ---------------------------------------------------------------- on a workspace
def test_batched_description_scores_equal_the_gate_scores(ws: Workspace) -> None:
    view = ws.registry_view()
    texts = ["a boat in teal dotted strokes", "ein Hund am Meer", "a house"]
    ids, matrix = description_matrix(ws.embedder.embed_texts(texts), view)
    for row, text in enumerate(texts):
        expected = {s.artist_id: s.score for s in description_scores(ws.embedder.embed_texts([text])[0], view)}
        assert dict(zip(map(int, ids), matrix[row])) == pytest.approx(expected, abs=1e-5)


def test_fitted_thresholds_meet_their_targets_on_the_workspace(result) -> None:
    for kind in ("style", "description", "near_duplicate"):
        fit = result.fits[kind]
        assert fit.far_overall <= fit.target_far, kind
        assert fit.positives.size > 0 and fit.negatives.size > 0
    assert result.fits["style"].frr <= 0.05
    # every work (30 < 200 / 4 transforms) copied four ways, each through the gate's near-duplicate path
    assert result.counts["copies"] == result.fits["near_duplicate"].positives.size == 4 * result.counts["works"]


def test_policy_text_keeps_everything_else_and_changes_version(ws: Workspace, result, tmp_path: Path) -> None:
    old = default_policy_text()
    text = calibrated_policy_text(old, result, load_policy(), "2026-01-01T00:00:00+00:00")
    new = parse_policy(text)
    assert new.version != load_policy().version
    assert new.thresholds.style == result.fits["style"].threshold
    assert new.thresholds.description == result.fits["description"].threshold
    assert new.calibration.embedder.matches(ws.embedder.identity)
    assert new.calibration.rates["style"].far == pytest.approx(result.fits["style"].far, abs=1e-6)
    assert new.consent == load_policy().consent and new.image == load_policy().image
    assert "# Action per consent state and evidence kind." in text  # comments of other sections survive
    assert text.count("[calibration]") == 1
    again = calibrated_policy_text(text, result, new, "2026-01-02T00:00:00+00:00")
    assert again.count("[calibration]") == 1 and parse_policy(again).thresholds == new.thresholds
    path = tmp_path / "policy.toml"
    path.write_text(old)
    with pytest.raises(PolicyError):
        write_policy(path, text.replace("[thresholds]", "[thresholds]\nstyle = 2.0"))
    assert path.read_text() == old  # a policy that does not load is never written


def test_evidence_says_a_per_artist_threshold_applied_and_why(ws: Workspace) -> None:
    base = ws.gate()
    artist = ARTISTS[1]
    artist_id = ws.store.get_artist(artist.name).id
    prompt = world.all_captions(artist, "tree", "described", split="heldout")[0]
    score = next(s.score for s in description_scores(ws.embedder.embed_texts([prompt])[0], base.view)
                 if s.artist_id == artist_id)
    text = default_policy_text().replace("description = 0.42", f"description = {min(score + 0.05, 1.0):.4f}")
    text += (f'\n[[calibration.per_artist]]\nkind = "description"\nartist_id = {artist_id}\nartist = "{artist.name}"\n'
             f"threshold = {score - 0.05:.4f}\nglobal_frr = 0.2\nfrr = 0.01\nfar = 0.001\n")
    gate = PolicyGate(parse_policy(text), base.embedder, base.view)
    ev = [e for e in gate.check_prompt(prompt).evidence if e.kind is EvidenceKind.DESCRIPTION and e.artist.id == artist_id]
    assert ev and ev[0].threshold == pytest.approx(score - 0.05, abs=1e-4)
    assert ev[0].detail["threshold_rule"].startswith("per-artist: FRR 20.0% at global threshold")
    others = [e for e in base.check_prompt(prompt).evidence if e.kind is EvidenceKind.DESCRIPTION]
    assert all(e.detail["threshold_rule"] == "global" for e in others)


# ---------------------------------------------------------------- the command
@pytest.mark.slow
def test_calibrate_lifts_the_foreign_embedder_refusal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STYLEGATE_CLIP_MODEL", models.CLIP_MODEL_NAME)
    monkeypatch.setenv("STYLEGATE_CLIP_MODEL_CONFIG", str(models.CLIP_CONFIG_PATH))
    home = tmp_path / "home"
    assert sg(home, "init").exit_code == 0
    for i, artist in enumerate(ARTISTS[:3]):
        args = ["artists", "add", artist.name, "--consent", artist.consent]
        for d in artist.descriptors:
            args += ["--descriptor", d]
        assert sg(home, *args).exit_code == 0
        folder = tmp_path / f"w{i}"
        folder.mkdir()
        for k in range(4):
            world.render(artist, world.SUBJECTS[k], k).save(folder / f"{k}.png")
        assert sg(home, "works", "add", artist.name, str(folder)).exit_code == 0
    prompt = f"a boat by {ARTISTS[0].name}"
    assert sg(home, "check", "prompt", prompt).exit_code == 1
    before = load_policy(home / "policy.toml").version
    loose = sg(home, "calibrate", "--far", "0.05", "--json")
    assert loose.exit_code == 0, loose.output
    strict = sg(home, "calibrate", "--json")
    assert strict.exit_code == 0, strict.output
    out_loose, out = json.loads(loose.stdout), json.loads(strict.stdout)
    policy = load_policy(home / "policy.toml")
    running = Workspace(Settings(home=home)).embedder.identity
    assert policy.calibration.embedder.matches(running) and not policy.calibration.embedder.matches(
        load_policy().calibration.embedder.model_dump())
    assert policy.version == out["policy_version"] != before
    for kind in ("style", "description", "near_duplicate"):
        assert set(out["kinds"][kind]) >= {"far", "frr", "threshold"}
        assert out["kinds"][kind]["threshold"] == getattr(policy.thresholds, kind)
        assert out_loose["kinds"][kind]["threshold"] <= out["kinds"][kind]["threshold"]  # looser FAR, lower bar
    assert policy.calibration.rates["description"].negatives >= 5000
    entry = next(e for e in Workspace(Settings(home=home)).audit.entries() if e["seq"] == out["audit_seq"])
    assert entry["kind"] == "policy.calibrated" and entry["body"]["policy_version"] == policy.version
    checked = sg(home, "check", "prompt", prompt, "--json")
    assert checked.exit_code == 3, checked.output  # semantic checks run again; the name still blocks


def test_name_only_mode_still_finds_pixel_near_duplicates_but_no_style(ws: Workspace) -> None:
    from PIL import Image

    base = ws.gate()
    foreign = default_policy_text().replace('semantic = "enforce"', 'semantic = "name-only"').replace(
        load_policy().calibration.embedder.checkpoint_sha256, "0" * 64)
    gate = PolicyGate(parse_policy(foreign), base.embedder, base.view)
    assert not gate.binding.semantic
    work = ws.store.list_works(ws.store.get_artist(ARTISTS[0].name).id)[0]
    copy = Image.open(ws.settings.works_dir / work.path).convert("RGB").resize((96, 96))
    bound, name_only = base.check_image(copy), gate.check_image(copy)
    assert {e.kind for e in bound.evidence} >= {EvidenceKind.STYLE, EvidenceKind.NEAR_DUPLICATE}
    assert {e.kind for e in name_only.evidence} == {EvidenceKind.NEAR_DUPLICATE}
    assert name_only.action.value == "block" and any("name-only screening" in r for r in name_only.reasons)
