"""The attribution basis: a generation credits the artists whose style was asked for; an
output image that merely resembles a registered style is recorded, not paid; the opt-out gate
still blocks on the image's style alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from stylegate.bench.fixtures import demo_artists, new_styleworld_workspace
from stylegate.cli import app
from stylegate.errors import PolicyError
from stylegate.generator.gated import GatedGenerator
from stylegate.governance.attribution import attribute
from stylegate.governance.audit import DecisionRecord
from stylegate.governance.decision import Action, ArtistRef, Evidence, EvidenceKind
from stylegate.governance.gate import PolicyGate
from stylegate.governance.policy import default_policy_text, parse_policy
from stylegate.styleworld import world

torch.set_num_threads(1)

A, B = ArtistRef(1, "Ann Royal"), ArtistRef(2, "Ben Credit")
CONSENT = {1: "royalty", 2: "credit"}


def _ev(artist: ArtistRef, kind: EvidenceKind, score: float, threshold: float = 0.5) -> Evidence:
    return Evidence(kind=kind, artist=artist, consent=CONSENT[artist.id], score=score, threshold=threshold,
                    rule="test", action=Action.ATTRIBUTE)


# ------------------------------------------------------------------ the rule on evidence
def test_requested_credits_only_artists_the_request_named_and_records_the_rest() -> None:
    request = [_ev(A, EvidenceKind.DESCRIPTION, 0.6)]  # 1.2 × threshold
    output = [_ev(A, EvidenceKind.STYLE, 0.9), _ev(B, EvidenceKind.STYLE, 1.0)]  # A 1.8, B 2.0
    got = attribute(request, output, floor=0.0, basis="requested", hold_unverified=False)
    assert [(a.artist.name, a.share) for a in got.shares] == [("Ann Royal", 1.0)]
    # B's image-only match is kept as a candidate with its evidence, unpaid
    (cand,) = got.unprompted
    assert cand.artist == B and cand.kind == "style"
    assert cand.to_dict()["weight"] == pytest.approx(2.0) and cand.to_dict()["paid"] is False
    # the image still apportions between requested artists: A's weight is its image evidence (1.8)
    both = attribute([_ev(A, EvidenceKind.NAME, 0.6), _ev(B, EvidenceKind.NAME, 0.6)],
                     [_ev(A, EvidenceKind.STYLE, 0.9)], floor=0.0, basis="requested", hold_unverified=False)
    assert {a.artist.name: round(a.share, 4) for a in both.shares} == {"Ann Royal": 0.6, "Ben Credit": 0.4}


def test_observed_basis_pays_image_only_matches_and_a_near_duplicate_pays_under_either() -> None:
    output = [_ev(B, EvidenceKind.STYLE, 1.0)]
    observed = attribute([], output, floor=0.0, basis="observed", hold_unverified=False)
    assert [a.artist.name for a in observed.shares] == ["Ben Credit"] and observed.unprompted == []
    requested = attribute([], output, floor=0.0, basis="requested", hold_unverified=False)
    assert requested.shares == [] and [u.artist for u in requested.unprompted] == [B]
    copy = attribute([], [_ev(A, EvidenceKind.NEAR_DUPLICATE, 0.99, 0.98)], floor=0.0, basis="requested")
    assert [a.artist.name for a in copy.shares] == ["Ann Royal"]  # a copy of a work is not a resemblance


def test_a_bad_basis_is_refused_with_the_field_named(tmp_path: Path) -> None:
    text = default_policy_text().replace('basis = "requested"', 'basis = "sometimes"')
    with pytest.raises(PolicyError, match=r"attribution\.basis") as err:
        parse_policy(text, "policy.toml")
    assert "requested" in str(err.value) and "observed" in str(err.value)
    with pytest.raises(ValueError, match="basis"):
        attribute([], [], floor=0.0, basis="sometimes")  # type: ignore[arg-type]
    # the CLI: a home whose policy file says so refuses to check anything, with the policy exit code
    runner = CliRunner()
    home = tmp_path / "home"
    assert runner.invoke(app, ["--home", str(home), "init"]).exit_code == 0
    policy = home / "policy.toml"
    policy.write_text(policy.read_text("utf-8").replace('basis = "requested"', 'basis = "sometimes"'), "utf-8")
    result = runner.invoke(app, ["--home", str(home), "check", "prompt", "a boat"])
    assert result.exit_code == PolicyError.exit_code, result.output
    assert "attribution.basis" in result.output


# --------------------------------------------------- through the gated generator, for real
REGISTERED, _ = demo_artists()
ROYALTY = next(a for a in REGISTERED if a.consent == "royalty")
OPT_OUT = next(a for a in REGISTERED if a.consent == "opt-out")


class OneStylePipeline:
    """A text-to-image callable whose every picture comes out in one StyleWorld artist's style,
    whatever the prompt: the drift of the tiny StyleWorld pipeline, made deterministic. The
    picture is a held-out render (never registered), so it is the style, not a copy of a work."""

    def __init__(self, artist: Any) -> None:
        self.artist = artist

    def __call__(self, prompt: str, num_inference_steps: int = 25, generator: Any = None) -> Any:
        image: Image.Image = world.render(self.artist, "tree", world.heldout_seeds()[0], size=32)
        return [image]


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> PolicyGate:
    ws, _ = new_styleworld_workspace(tmp_path_factory.mktemp("basis"), artists=REGISTERED)
    return ws.gate()


def _under(gate: PolicyGate, basis: str) -> PolicyGate:
    text = default_policy_text().replace('basis = "requested"', f'basis = "{basis}"')
    return PolicyGate(parse_policy(text), gate.embedder, gate.view)


def test_an_unprompted_style_is_recorded_not_paid_and_the_policy_switch_pays_it(gate: PolicyGate) -> None:
    painter = OneStylePipeline(ROYALTY)
    plain = GatedGenerator(gate, painter).generate("a picture of a tree", seed=0, steps=4)
    (im,) = plain.images
    assert im.image is not None
    style = [e for e in im.decision.evidence if e.kind == EvidenceKind.STYLE and e.artist.name == ROYALTY.name]
    assert style and style[0].score >= style[0].threshold  # the image really is in the royalty style
    assert plain.action is Action.ALLOW and plain.attribution() == []
    (cand,) = plain.unprompted_style()
    assert cand["artist"]["name"] == ROYALTY.name and cand["paid"] is False and cand["images"] == 1
    # the audit entry carries the candidate, and reads it back
    body = DecisionRecord.from_decision(plain.decision_dict(), prompt=plain.prompt).to_body()
    assert [u["artist"]["name"] for u in body["unprompted_style"]] == [ROYALTY.name]
    again = DecisionRecord.from_body(json.loads(json.dumps(body)))
    assert [u.artist.name for u in again.unprompted_style] == [ROYALTY.name] and again.attribution == ()

    # asked for by name: the same picture pays the artist, and confirms with the image's style
    named = GatedGenerator(gate, painter).generate(f"a tree by {ROYALTY.name}", seed=0, steps=4)
    assert named.action is Action.ATTRIBUTE
    assert [(a["artist"]["name"], a["share"]) for a in named.attribution()] == [(ROYALTY.name, 1.0)]
    assert named.unprompted_style() == []

    # the policy switch: under "observed" the image alone pays
    observed = GatedGenerator(_under(gate, "observed"), painter).generate("a picture of a tree", seed=0, steps=4)
    assert observed.action is Action.ATTRIBUTE
    assert [a["artist"]["name"] for a in observed.attribution()] == [ROYALTY.name]
    assert observed.unprompted_style() == []


@pytest.mark.parametrize("basis", ["requested", "observed"])
def test_the_opt_out_gate_still_blocks_an_image_in_an_opted_out_style(gate: PolicyGate, basis: str) -> None:
    result = GatedGenerator(_under(gate, basis), OneStylePipeline(OPT_OUT)).generate("a picture of a tree", seed=0, steps=4)
    assert result.action is Action.BLOCK
    assert all(im.image is None for im in result.images)
    (im,) = result.images
    blocking = [e for e in im.decision.evidence if e.action is Action.BLOCK]
    assert blocking and {e.artist.name for e in blocking} == {OPT_OUT.name}
    assert {e.kind for e in blocking} <= {EvidenceKind.STYLE, EvidenceKind.NEAR_DUPLICATE}
    assert result.attribution() == []


def test_the_attribution_report_counts_unprompted_matches_unpaid(tmp_path: Path) -> None:
    import stylegate
    from stylegate.reports.attribution import build_attribution_report

    ws = stylegate.open_workspace(tmp_path / "home", create=True, device="cpu")
    ann = ws.store.add_artist("Ann Royal", consent="royalty", royalty_rate=0.5)
    ref = {"id": ann.id, "name": ann.name}
    cand = {"artist": ref, "consent": "royalty", "kind": "style", "score": 0.9, "threshold": 0.72, "weight": 1.25,
            "paid": False}
    paid = {"artist": ref, "share": 1.0, "consent": "royalty"}
    seqs = []
    for action, attribution, unprompted in (("allow", [], [cand]), ("allow", [], [cand]), ("attribute", [paid], []),
                                            ("block", [], [cand])):
        seqs.append(ws.audit.append("generate", DecisionRecord.from_decision(
            {"action": action, "subject": "generation", "evidence": [], "attribution": attribution, "reasons": [],
             "unprompted_style": unprompted}, prompt="a boat")))
    report = build_attribution_report(ws.audit, policy=ws.policy, registry=ws.store)
    (row,) = report.totals().to_dict("records")
    assert row["generations"] == 1 and row["unprompted_style"] == 2  # the blocked one wrote no image
    assert row["royalties"] == pytest.approx(0.04 * 1.0 * 0.5)  # only the requested generation pays
    assert list(report.unprompted["seq"]) == seqs[:2]
    ws.audit.close()
