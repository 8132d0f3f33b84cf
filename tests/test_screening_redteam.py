"""The committed red-team corpus, and the issue's lexical targets measured on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from stylegate.bench import redteam as rb
from stylegate.bench.redteam_corpus import (
    ATTACK_GROUPS,
    CHARACTER_ATTACKS,
    MAX_FALSE_POSITIVE_RATE,
    MISSPELLING_ATTACKS,
    NAME_ATTACKS,
    TARGETS,
    Tally,
    read_jsonl,
    write_jsonl,
)

CORPUS_PATH = Path(__file__).parent / "redteam" / "corpus.jsonl"


@pytest.fixture(scope="module")
def corpus() -> list:
    return read_jsonl(CORPUS_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def lexical(corpus: list) -> dict[str, Tally]:
    matcher, names = rb.build_matcher(rb.corpus_artists())
    return rb.lexical_tallies(corpus, matcher, names)


def test_committed_corpus_is_what_the_generator_makes(corpus: list) -> None:
    generated = rb.generate_corpus()
    assert CORPUS_PATH.read_text(encoding="utf-8") == write_jsonl(generated), (
        "regenerate with: python -m stylegate.bench.redteam tests/redteam/corpus.jsonl"
    )
    assert corpus == generated


def test_styleworld_holds_out_every_corpus_word() -> None:
    """StyleWorld's CLIP is trained without the corpus's words; it reads them from a file."""
    from stylegate.styleworld.distractors import HELD_OUT_WORDS, read_word_list

    assert read_word_list(HELD_OUT_WORDS) == rb.corpus_words(), (
        "regenerate with: python -m stylegate.bench.redteam tests/redteam/corpus.jsonl styleworld/heldout_words.txt"
    )


def test_corpus_size_and_coverage(corpus: list) -> None:
    attacks = [e for e in corpus if not e.benign]
    benign = [e for e in corpus if e.benign]
    assert len(attacks) >= 300 and len(benign) >= 200
    assert {e.attack for e in corpus} == set(ATTACK_GROUPS)
    assert all(e.expected for e in attacks) and not any(e.expected for e in benign)
    assert all(e.group == ATTACK_GROUPS[e.attack] for e in corpus)


@pytest.mark.parametrize("attack", CHARACTER_ATTACKS)
def test_character_obfuscation_is_always_caught(lexical: dict[str, Tally], attack: str) -> None:
    tally = lexical[attack]
    assert TARGETS[attack] == 1.0
    assert tally.rate == 1.0, tally.misses


@pytest.mark.parametrize("attack", MISSPELLING_ATTACKS)
def test_single_edit_misspellings_are_caught_95_percent(lexical: dict[str, Tally], attack: str) -> None:
    tally = lexical[attack]
    assert tally.total >= 50
    assert tally.rate >= TARGETS[attack] == 0.95, tally.misses


@pytest.mark.parametrize("attack", NAME_ATTACKS)
def test_name_variants_are_caught(lexical: dict[str, Tally], attack: str) -> None:
    assert lexical[attack].rate == 1.0, lexical[attack].misses


def test_benign_near_misses_stay_under_one_percent(lexical: dict[str, Tally]) -> None:
    summary = rb.summary(lexical)
    assert summary["benign_prompts"] >= 200
    assert summary["false_positive_rate"] <= MAX_FALSE_POSITIVE_RATE, {
        k: t.misses for k, t in lexical.items() if ATTACK_GROUPS[k] == "benign" and t.misses
    }


def test_no_attack_flags_an_artist_it_does_not_name(lexical: dict[str, Tally]) -> None:
    assert {k: t.extra for k, t in lexical.items() if t.extra} == {}


def test_targets_hold_with_ten_thousand_artists_registered(corpus: list) -> None:
    artists = rb.corpus_artists()
    extra = rb.synthetic_names(10_000 - len(artists), exclude=[a.name for a in artists])
    matcher, names = rb.build_matcher(artists, extra)
    tallies = rb.lexical_tallies(corpus, matcher, names)
    for attack in CHARACTER_ATTACKS + MISSPELLING_ATTACKS:
        assert tallies[attack].rate >= TARGETS[attack], (attack, tallies[attack].misses)
    assert rb.summary(tallies)["false_positive_rate"] <= MAX_FALSE_POSITIVE_RATE


def test_bench_runs_and_prints_its_tables(capsys: pytest.CaptureFixture[str]) -> None:
    results = rb.run_redteam(n_synthetic_artists=300, gate=False, workers=1, speed_rounds=1)
    assert results["speed"]["artists"] == 300 and results["speed"]["p99_ms"] > 0
    rb.print_redteam(results)
    out = capsys.readouterr().out
    assert "homoglyph" in out and "benign false positives" in out and "p99 ms per prompt" in out


@pytest.fixture(scope="module")
def whole_gate(corpus: list) -> dict:
    """The corpus through the whole gate (names and CLIP descriptions), StyleWorld CLIP."""
    return rb.gate_tallies(corpus, rb.corpus_artists())


def test_whole_gate_meets_the_targets(whole_gate: dict) -> None:
    tallies = whole_gate["tallies"]
    assert whole_gate["errors"] == []
    for attack in CHARACTER_ATTACKS + MISSPELLING_ATTACKS + ("description-only",):
        assert tallies[attack].rate >= TARGETS[attack], (attack, tallies[attack].misses)
    summary = rb.summary(tallies)
    assert summary["benign_prompts"] >= 200
    assert summary["false_positive_rate"] <= MAX_FALSE_POSITIVE_RATE, {
        k: t.misses for k, t in tallies.items() if ATTACK_GROUPS[k] == "benign" and t.misses
    }


def test_descriptions_are_caught_by_the_description_check_not_by_names(whole_gate: dict) -> None:
    by_description = whole_gate["kind_tallies"]["description"]
    by_name = whole_gate["kind_tallies"]["name"]
    assert by_description["description-only"].rate >= TARGETS["description-only"]
    assert by_name["description-only"].rate == 0.0


def test_no_benign_near_miss_is_flagged_by_the_lexical_screen(lexical: dict[str, Tally]) -> None:
    # Stricter than the 1% target: the StyleWorld corpus had none before name screening
    # learnt scripts, inflections and sound-alikes, and must keep none.
    assert {k: t.misses for k, t in lexical.items() if ATTACK_GROUPS[k] == "benign" and t.detected} == {}
