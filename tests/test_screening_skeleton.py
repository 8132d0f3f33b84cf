"""Cross-script whole names on a consonant skeleton (rule ``skeleton``, ``screening.skeleton``).

Artists and spellings here are not those of the real-names corpus: the rule is checked on
names it was not built from. Each attack is missed by every other rule (the rule is named in
the assertion), and the ordinary prompt or partial name next to it is not flagged.
"""

from __future__ import annotations

import pytest

from stylegate.governance.screening.names import NameHit, NameMatcher
from stylegate.governance.screening.skeleton import label_skeletons, word_skeleton

ARTISTS = [
    (1, "Pablo Picasso"), (2, "Marc Chagall"), (3, "Paul Klee"), (4, "Gustave Courbet"),
    (5, "Василий Кандинский"), (6, "Amedeo Modigliani"), (7, "Joan Miró"),
]


@pytest.fixture(scope="module")
def matcher() -> NameMatcher:
    return NameMatcher(ARTISTS)


def skeleton_hits(matcher: NameMatcher, prompt: str) -> list[NameHit]:
    return [h for h in matcher.find(prompt) if h.rule == "skeleton"]


@pytest.mark.parametrize(
    "prompt, artist",
    [
        ("파블로 피카소 스타일의 기타", 1),  # Hangul: r/l merged, epenthetic "eu" and vowels dropped
        ("מארק שאגאל, כפר בלילה", 2),  # Hebrew: vowels unwritten, ש for "ch"
        ("لوحة بأسلوب بابلو بيكاسو", 1),  # Arabic: p written ب, medial و a vowel
        ("ギュスターヴ・クールベ風の風景", 4),  # katakana: long-vowel marks, middle dot, one edit
        ("Wassily Kandinsky Stil, Komposition", 5),  # Latin prompt, name registered in Cyrillic only
    ],
)
def test_a_whole_name_in_another_script_matches_on_its_skeleton(
    matcher: NameMatcher, prompt: str, artist: int
) -> None:
    found = skeleton_hits(matcher, prompt)
    assert [h.artist_id for h in found] == [artist]
    evidence = found[0].evidence()
    assert evidence["rule"] == "skeleton" and evidence["via"] == "transliteration"
    assert evidence["transliteration"] and evidence["skeleton"]


def test_the_hit_spans_the_name_and_says_what_it_read(matcher: NameMatcher) -> None:
    prompt = "מארק שאגאל, כפר בלילה"
    (hit,) = skeleton_hits(matcher, prompt)
    assert prompt[hit.start : hit.end] == "מארק שאגאל"
    assert hit.evidence()["skeleton"] == "".join(label_skeletons("Marc Chagall")[1][0])
    assert "name:skeleton" in hit.describe()


def test_a_short_skeleton_needs_a_style_cue_unless_the_name_is_spelt_out(matcher: NameMatcher) -> None:
    assert [h.artist_id for h in skeleton_hits(matcher, "パウル・クレー風の絵")] == [3]  # 風: in the style of
    # Four or five consonant classes, but the letters, vowels included, spell the full name:
    # a full name stands on its own, in any script.
    assert [(h.artist_id, h.how) for h in skeleton_hits(matcher, "パウル・クレー")] == [(3, "skeleton-spelt")]
    assert [(h.artist_id, h.how) for h in skeleton_hits(matcher, "파블로 피카소")] == [(1, "skeleton-spelt")]
    # The same consonant classes with other vowels are not the name: they need a cue.
    assert skeleton_hits(matcher, "ポウリ・クリ") == []
    assert skeleton_hits(matcher, "포블리 푸커스") == []
    assert skeleton_hits(matcher, "피보로 포카사") == []


def test_the_whole_name_word_for_word_is_required(matcher: NameMatcher) -> None:
    # The surname alone is never a whole-name hit: next to a style cue it is the lone-surname
    # rule's (its letters agree), with no cue nothing.
    assert [h.how for h in skeleton_hits(matcher, "피카소 스타일의 기타")] == ["skeleton-surname"]
    assert skeleton_hits(matcher, "피카소의 기타") == []
    assert skeleton_hits(matcher, "파블로 스타일의 기타") == []  # the given name alone
    # Surname first is the name too (the exact rule reads "Picasso Pablo" the same way).
    assert [h.artist_id for h in skeleton_hits(matcher, "피카소 파블로 마크 스타일")] == [1]


def test_ordinary_words_and_style_cues_are_not_name_parts(matcher: NameMatcher) -> None:
    for prompt in (
        "лес в стиле импрессионизма",  # "в стиле" is a cue, never part of a name
        "כפר בלילה עם ירח",
        "قطة على الشباك",
        "a red fox in the snow, watercolor",
        "고양이 스타일 그림",
        "กราฟดัชนีหุ้นวันนี้",  # a Thai run is many words: not read as one
    ):
        assert skeleton_hits(matcher, prompt) == [], prompt


def test_a_removed_artist_is_not_matched_on_its_skeleton() -> None:
    live = NameMatcher(ARTISTS)
    assert skeleton_hits(live, "מארק שאגאל, כפר בלילה")
    live.remove(2)
    assert skeleton_hits(live, "מארק שאגאל, כפר בלילה") == []
    live.add(2, "Marc Chagall")
    assert [h.artist_id for h in skeleton_hits(live, "מארק שאגאל, כפר בלילה")] == [2]


@pytest.mark.parametrize(
    "a, b",
    [("romero", "lomelo"), ("shirin", "syryn"), ("frida", "furida"), ("alphonse", "al'fonsa"), ("kahlo", "karo")],
)
def test_each_scripts_known_losses_share_a_skeleton(a: str, b: str) -> None:
    assert word_skeleton(a) == word_skeleton(b)


@pytest.mark.parametrize("a, b", [("romero", "ramirez"), ("klee", "kiss"), ("paul", "peter")])
def test_different_consonants_keep_different_skeletons(a: str, b: str) -> None:
    assert word_skeleton(a) != word_skeleton(b)


def test_the_policy_can_require_a_cue_for_the_rule(matcher: NameMatcher) -> None:
    from stylegate.governance.policy import NameSettings

    strict = NameSettings(context_required=["skeleton"]).rules()
    assert [h for h in matcher.find("מארק שאגאל, כפר בלילה", rules=strict) if h.rule == "skeleton"] == []
    cued = [h for h in matcher.find("a village at night in the style of מארק שאגאל", rules=strict) if h.rule == "skeleton"]
    assert [h.artist_id for h in cued] == [2] and cued[0].cue


def test_a_skeleton_shared_by_many_names_matches_none() -> None:
    vowels = "aeiou"
    crowd = [(k, f"P{a}bl{b} P{c}k{d}ss{a}") for k, (a, b, c, d) in enumerate(
        (a, b, c, d) for a in vowels for b in vowels for c in vowels[:2] for d in vowels[:1]
    )]  # fifty names, one consonant skeleton
    one = NameMatcher([crowd[0]])
    assert skeleton_hits(one, "파블로 피카소 스타일의 기타")  # alone, it is matched
    assert skeleton_hits(NameMatcher(crowd), "파블로 피카소 스타일의 기타") == []


def test_the_bulk_builds_word_cache_gives_each_labels_own_skeletons() -> None:
    """A bulk build reads each distinct word once (a cache shared by all its labels); the
    skeletons must be the ones each label has on its own, words of any script shared."""
    import json
    from pathlib import Path

    from stylegate.bench.names import synthetic_names
    from stylegate.governance.screening.skeleton import _label_forms

    corpus = json.loads((Path(__file__).parent / "realnames" / "artists.json").read_text(encoding="utf-8"))
    labels = [lab for a in corpus for lab in [a["name"], *a.get("aliases", [])]]
    labels += synthetic_names(3000, seed=5) + [label for _, label in ARTISTS]
    cache: dict[tuple[str, str], str] = {}
    cached = [_label_forms(label, cache) for label in labels]
    assert cached == [_label_forms(label) for label in labels]
    assert sum(bool(s[1]) for s in cached) > len(labels) // 2  # most labels have skeletons: not vacuous
    words_read = sum(1 for word, _ in cache if word)  # (word, script) entries; ("", reading) are skeletons
    assert words_read < sum(len(label.split()) for label in labels)  # words were shared
