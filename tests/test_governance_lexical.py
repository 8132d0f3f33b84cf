"""Canonicalisation, name matching, policy validation and decisions without models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stylegate.errors import InvalidPrompt, PolicyError
from stylegate.governance.attribution import attribution_shares
from stylegate.governance.decision import Action, ArtistRef, Evidence, EvidenceKind
from stylegate.governance.gate import PolicyGate
from stylegate.governance.matching.thresholds import FittedFor
from stylegate.governance.matching.view import RegistryView, build_names
from stylegate.governance.policy import default_policy_text, load_policy, parse_policy
from stylegate.governance.screening.canonical import name_key, tokenize
from stylegate.governance.screening.names import NameMatcher
from stylegate.governance.steering import rewrite
from stylegate.registry.models import Artist, Consent

SIMON = name_key("Simon Stalenhag")


@pytest.mark.parametrize(
    "text",
    [
        "Simon Stalenhag",
        "simon stålenhag",  # diacritics
        "ＳＩＭＯＮ ＳＴＡＬＥＮＨＡＧ",  # full-width
        "S\u200bimon Stal\u200denhag",  # zero-width
        "Ѕimоn Stalenhag",  # Cyrillic homoglyphs
        "𝐒𝐢𝐦𝐨𝐧 𝐒𝐭𝐚𝐥𝐞𝐧𝐡𝐚𝐠",  # mathematical bold
        "$1m0n 5t4l3nh4g",  # leetspeak
        "SIMON STALENHAG",
    ],
)
def test_obfuscated_names_canonicalise_to_the_same_key(text: str) -> None:
    assert tuple(t.text for t in tokenize(text)) == SIMON


def test_tokens_map_back_to_original_spans() -> None:
    text = "a cat by Ѕimоn, at dusk"
    spans = [text[t.start : t.end] for t in tokenize(text)]
    assert spans == ["a", "cat", "by", "Ѕimоn", "at", "dusk"]


@pytest.fixture()
def matcher() -> NameMatcher:
    return NameMatcher([(1, "Simon Stalenhag"), (2, "Ann"), (3, "Mira Okonkwo"), (3, "M. Okonkwo")])


@pytest.mark.parametrize(
    "prompt",
    ["by simon_stalenhag", "SimonStalenhag poster", "s.i.m.o.n s.t.a.l.e.n.h.a.g", "stalenhag, simon", "simon stalenhag's robots"],
)
def test_separators_order_and_possessives_match(matcher: NameMatcher, prompt: str) -> None:
    assert [h.artist_id for h in matcher.find(prompt)] == [1]


def test_names_match_only_on_token_boundaries(matcher: NameMatcher) -> None:
    assert matcher.find("a banner, annual report, a canny annex") == []
    assert [h.artist_id for h in matcher.find("a portrait by Ann")] == [2]


def test_a_one_word_name_that_is_a_common_word_needs_a_style_cue(matcher: NameMatcher) -> None:
    # "Ann" is frequent in the word lists (wordfreq), so alone it reads as someone else.
    assert matcher.find("portrait of Ann") == [] and matcher.find("Ann meets Bob") == []
    assert [h.cue for h in matcher.find("in the style of Ann")] == ["in the style of"]
    assert [h.obfuscation for h in matcher.find("portrait of 4nn")] == ["leetspeak"]


def test_every_artist_in_a_multi_artist_prompt_is_found(matcher: NameMatcher) -> None:
    found = {h.artist_id for h in matcher.find("art by Ann meets Mira Okonkwo and Simon Stalenhag")}
    assert found == {1, 2, 3}


def _policy(**overrides: str) -> str:
    text = default_policy_text()
    for old, new in overrides.items():
        text = text.replace(old, new)
    return text


def test_default_policy_loads_and_has_a_version() -> None:
    policy = load_policy()
    assert len(policy.version) == 16
    assert policy.action_for("opt-out", EvidenceKind.NAME) is Action.BLOCK
    assert policy.action_for("royalty", EvidenceKind.NAME) is Action.ATTRIBUTE


@pytest.mark.parametrize(
    "broken, message",
    [
        ({'name = "block"': 'name = "explode"'}, "consent.opt-out.name"),
        ({"description = 0.42": "description = 7"}, "thresholds.description"),
        ({"[steering]": "[steering]\nsurprise = 1"}, "steering.surprise"),
        ({"[thresholds]": "[thresholds"}, "not valid TOML"),
    ],
)
def test_invalid_policies_are_rejected_with_the_field_named(broken: dict, message: str) -> None:
    with pytest.raises(PolicyError, match=message.replace(".", r"\.")):
        parse_policy(_policy(**broken), source="p.toml")


def test_missing_policy_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="not found"):
        load_policy(tmp_path / "nope.toml")


def test_policy_version_changes_with_content() -> None:
    assert parse_policy(_policy()).version != parse_policy(_policy(**{"floor = 0.0": "floor = 0.1"})).version


def _gate(artists: list[Artist]) -> PolicyGate:
    view = RegistryView(artists={a.id: a for a in artists}, work_artist={}, names=build_names(artists))
    return PolicyGate(load_policy(), None, view)


ARTISTS = [
    Artist(1, "Simon Stalenhag", Consent.OPT_OUT, aliases=("Stalenhag",)),
    Artist(2, "Mira Okonkwo", Consent.ROYALTY, royalty_rate=0.2),
    Artist(3, "Lio Ferrant", Consent.CREDIT),
]


def test_named_opt_out_artist_is_blocked_with_evidence() -> None:
    decision = _gate(ARTISTS).check_prompt("a robot in a field by Simon Stålenhag")
    assert decision.action is Action.BLOCK
    assert decision.evidence[0].kind is EvidenceKind.NAME
    assert decision.evidence[0].artist == ArtistRef(1, "Simon Stalenhag")
    assert decision.attribution == []
    assert decision.reasons and "opt-out" in decision.reasons[0]


def test_royalty_and_credit_artists_share_attribution() -> None:
    decision = _gate(ARTISTS).check_prompt("a lighthouse by Mira Okonkwo and Lio Ferrant")
    assert decision.action is Action.ATTRIBUTE
    shares = {a.artist.id: a.share for a in decision.attribution}
    assert set(shares) == {2, 3}
    assert sum(shares.values()) == pytest.approx(1.0)


def test_neutral_prompt_is_allowed_with_explanation() -> None:
    decision = _gate(ARTISTS).check_prompt("a lighthouse at dusk")
    assert decision.action is Action.ALLOW and decision.evidence == []
    assert decision.reasons == ["no registered artist matched"]


def test_steer_rewrites_the_prompt_and_names_a_negative() -> None:
    policy_text = _policy(**{'[consent.opt-out]\nname = "block"': '[consent.opt-out]\nname = "steer"'})
    artists = [Artist(1, "Simon Stalenhag", Consent.OPT_OUT, descriptors=("retro sci-fi landscapes",))]
    view = RegistryView(artists={1: artists[0]}, work_artist={}, names=build_names(artists))
    decision = PolicyGate(parse_policy(policy_text), None, view).check_prompt("a robot by Simon Stalenhag, at dusk")
    assert decision.action is Action.STEER
    assert decision.steer["prompt"] == "a robot, at dusk"
    assert "retro sci-fi landscapes" in decision.steer["negative_prompt"]


@pytest.mark.parametrize("prompt", ["", "   \n\t"])
def test_empty_prompts_are_refused(prompt: str) -> None:
    with pytest.raises(InvalidPrompt, match="empty"):
        _gate(ARTISTS).check_prompt(prompt)


def test_oversized_prompt_is_refused_with_the_limit() -> None:
    with pytest.raises(InvalidPrompt, match="limit is 2000"):
        _gate(ARTISTS).check_prompt("a" * 2001)


class ExplodingEmbedder:
    identity = type("I", (), {"to_dict": staticmethod(lambda: dict(FittedFor().model_dump()))})()  # the policy's embedder
    dim = 4

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        raise RuntimeError("embedder crashed")


def test_a_failing_detector_blocks_instead_of_allowing() -> None:
    view = RegistryView(
        artists={a.id: a for a in ARTISTS},
        work_artist={},
        names=build_names(ARTISTS),
        text_prototypes=np.ones((1, 4), np.float32) / 2,
        text_prototype_artists=np.array([2]),
    )
    decision = PolicyGate(load_policy(), ExplodingEmbedder(), view).check_prompt("a quiet lighthouse")
    assert decision.action is Action.BLOCK
    assert decision.error and "embedder crashed" in decision.error


def test_attribution_ignores_evidence_below_the_floor() -> None:
    def ev(artist: int, score: float) -> Evidence:
        return Evidence(EvidenceKind.STYLE, ArtistRef(artist, str(artist)), "royalty", score, 0.5, "r", Action.ATTRIBUTE)

    shares = attribution_shares([ev(1, 0.9), ev(2, 0.6)], floor=0.7)
    assert [(a.artist.id, a.share) for a in shares] == [(1, 1.0)]


def test_cut_spans_removes_by_phrase() -> None:
    text = "a cat in the style of Simon Stalenhag, at night"
    start = text.index("Simon")
    cut = rewrite(text, {1: [(start, start + len("Simon Stalenhag"))]}, [], lambda texts, a: None, 0.42)
    assert cut.prompt == "a cat, at night"
    assert [(r.text, r.kind) for r in cut.removed] == [("in the style of Simon Stalenhag", "name")]
