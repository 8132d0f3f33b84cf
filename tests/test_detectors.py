"""The detector registry: a new evidence kind is one detector registered on the gate."""

from __future__ import annotations

import json
import re

import pytest

from stylegate.errors import PolicyError
from stylegate.governance.decision import Action, ArtistRef, EvidenceKind
from stylegate.governance.detectors import Detector, Finding, PromptSubject, Reads, default_detectors
from stylegate.governance.gate import PolicyGate
from stylegate.governance.matching.view import RegistryView, build_names
from stylegate.governance.policy import default_policy_text, load_policy, parse_policy
from stylegate.registry.models import Artist, Consent

ARTISTS = [
    Artist(1, "Simon Stalenhag", Consent.OPT_OUT),
    Artist(2, "Mira Okonkwo", Consent.ROYALTY, royalty_rate=0.2),
]


class SignatureDetector:
    """A toy kind: a prompt that asks for an artist's signature mark ("sig:2" for artist 2)."""

    kind = "signature"
    reads: Reads = "prompt"

    def detect(self, gate: PolicyGate, subject: PromptSubject) -> list[Finding]:
        return [Finding(int(m.group(1)), 1.0, 0.5, "signature mark", {"text": m.group(0)})
                for m in re.finditer(r"sig:(\d+)", subject.text) if int(m.group(1)) in gate.view.artists]


def _policy_with_signature(opt_out: str = "block", royalty: str = "attribute", credit: str = "allow") -> str:
    text = default_policy_text()
    for consent, action in (("opt-out", opt_out), ("royalty", royalty), ("credit", credit)):
        text = text.replace(f"[consent.{consent}]\n", f'[consent.{consent}]\nsignature = "{action}"\n')
    return text


def _gate(policy_text: str | None = None) -> PolicyGate:
    view = RegistryView(artists={a.id: a for a in ARTISTS}, work_artist={}, names=build_names(ARTISTS))
    policy = parse_policy(policy_text) if policy_text is not None else load_policy()
    return PolicyGate(policy, None, view)


def test_the_gate_registers_the_four_built_in_kinds_in_order() -> None:
    gate = _gate()
    assert [d.kind for d in gate.detectors] == [EvidenceKind.NAME, EvidenceKind.DESCRIPTION, EvidenceKind.STYLE,
                                                EvidenceKind.NEAR_DUPLICATE]
    assert all(isinstance(d, Detector) for d in default_detectors())
    assert [k.value for k in EvidenceKind] == ["name", "description", "style", "near-duplicate"]


def test_a_registered_detector_of_a_new_kind_reaches_the_decision_with_the_policys_action() -> None:
    gate = _gate(_policy_with_signature())
    gate.register(SignatureDetector())

    blocked = gate.check_prompt("a lighthouse, sig:1")
    assert blocked.action is Action.BLOCK
    [evidence] = blocked.evidence
    assert (evidence.kind, evidence.artist, evidence.action) == ("signature", ArtistRef(1, "Simon Stalenhag"), Action.BLOCK)
    assert evidence.detail == {"text": "sig:1"}
    out = json.loads(json.dumps(blocked.to_dict()))
    assert out["evidence"][0]["kind"] == "signature" and out["evidence"][0]["threshold"] == 0.5
    assert blocked.reasons[0].startswith("signature evidence for opt-out artist 'Simon Stalenhag'")

    attributed = gate.check_prompt("a lighthouse, sig:2")
    assert attributed.action is Action.ATTRIBUTE
    assert [a.artist.id for a in attributed.attribution] == [2]


def test_a_new_kind_joins_the_built_in_ones_and_the_strongest_action_wins() -> None:
    gate = _gate(_policy_with_signature())
    gate.register(SignatureDetector())
    decision = gate.check_prompt("a lighthouse by Mira Okonkwo, sig:1")
    assert [(e.kind, e.artist.id, e.action) for e in decision.evidence] == [
        ("signature", 1, Action.BLOCK), (EvidenceKind.NAME, 2, Action.ATTRIBUTE)]
    assert decision.action is Action.BLOCK and decision.attribution == []


def test_a_kind_the_policy_has_no_action_for_is_refused_at_registration() -> None:
    gate = _gate()
    with pytest.raises(PolicyError, match="no action for evidence kind 'signature'"):
        gate.register(SignatureDetector())
    assert [d.kind for d in gate.detectors] == [d.kind for d in default_detectors()]


def test_a_second_detector_of_a_registered_kind_is_refused() -> None:
    gate = _gate(_policy_with_signature())
    gate.register(SignatureDetector())
    with pytest.raises(ValueError, match="already registered"):
        gate.register(SignatureDetector())


def test_a_new_kinds_policy_action_must_be_an_action() -> None:
    with pytest.raises(PolicyError, match="signature"):
        parse_policy(_policy_with_signature(opt_out="explode"))


def test_a_gate_can_be_built_with_only_some_detectors() -> None:
    view = RegistryView(artists={a.id: a for a in ARTISTS}, work_artist={}, names=build_names(ARTISTS))
    gate = PolicyGate(parse_policy(_policy_with_signature()), None, view, detectors=[SignatureDetector()])
    decision = gate.check_prompt("a lighthouse by Simon Stalenhag")
    assert decision.action is Action.ALLOW and decision.evidence == []


def test_the_name_detector_logs_a_dropped_candidate_and_why_at_debug_level(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from stylegate.governance.detectors import NameDetector

    gate = _gate()
    with caplog.at_level(logging.DEBUG, logger="stylegate.governance.detectors"):
        # "Okonkwo" is other people's surname too (names-dataset): before a noun, a modifier.
        assert NameDetector().detect(gate, PromptSubject("the Okonkwo hotel lobby")) == []
    assert any("not counted" in r.getMessage() and "modifier of 'hotel'" in r.getMessage() for r in caplog.records)
