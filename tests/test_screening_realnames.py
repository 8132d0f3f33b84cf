"""The hand-written real-names corpus (tests/realnames/) against the issue's targets.

Targets not met yet are strict expected failures: they fail the suite the day they pass,
so the marker is removed and the target guarded from then on.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest

from stylegate.bench import realnames as rn
from stylegate.bench.redteam_corpus import CorpusEntry, Tally
from stylegate.governance.screening.canonical import tokenize
from stylegate.governance.screening.scripts import LATIN

ATTACK_CATEGORIES = (
    "full-name", "native-script", "cross-script", "unspaced", "inflection", "misspelling", "common-cue",
    "surname-only", "obfuscated",
)
BENIGN_CATEGORIES = ("benign-word", "benign-brand-place", "benign-other-person", "benign-foreign")
# Measured below target (see the report of `stylegate bench redteam`): none. Cross-script
# reached 96.3% (26/27) with the skeleton rule; still missed: "村上隆" (the kanji of a name
# registered only in Latin: Japanese kanji are read as Chinese, no offline kanji reader).
NOT_MET: set[str] = set()


# The fresh split (tests/realnames/fresh/), written before the last rounds of rule changes.
# Its cross-script misses were named when the skeleton rule was asked for, so that row is
# no longer a blind figure (before that rule 78.9%, now 19/19; before the round before,
# cross-script 73.7%, all attacks 94.7%, false positives 10.7%). Below target there: none.
NOT_MET_FRESH: dict[str, str] = {}

# The second fresh split (tests/realnames/fresh2/), written blind during a later round of
# rule changes and committed before it was first measured. Below target there, measured
# once at the rules of commit abb76a4 (`stylegate bench redteam --lexical-only`):
NOT_MET_FRESH2: dict[str, str] = {
    "inflection": "76.9% (10/13): Greek genitive 'Θεόφιλου', Russian 'Гойи', German 'Richters' missed",
    "misspelling": "73.3% (11/15): 'MC Esher', 'Park Su-geun', 'Feng Tzu-k'ai', 'Paja Jowanowitsch' missed",
}
# surname-only was 80.0% (8/10) there; 90% (9/10) once famous one-word names stood alone
# ("caravaggio lighting portrait"; names._famous_name), 'de chirico piazza' still missed.


@pytest.fixture(scope="module")
def tallies() -> dict[str, Tally]:
    matcher, names = rn.build_matcher(rn.load_artists())
    return rn.lexical_tallies(rn.load_prompts(split="all"), matcher, names)


@pytest.fixture(scope="module")
def fresh_tallies() -> dict[str, Tally]:
    return rn.split_tallies("fresh")


@pytest.fixture(scope="module")
def fresh2_tallies() -> dict[str, Tally]:
    return rn.split_tallies("fresh2")  # main, fresh and fresh2 artists


def test_corpus_covers_many_scripts_categories_and_both_splits() -> None:
    artists = rn.load_artists()
    prompts = rn.load_prompts(split="all")
    dev, held = rn.load_prompts(split="dev"), rn.load_prompts(split="holdout")
    assert len(artists) >= 50 and len(dev) + len(held) == len(prompts)
    assert sum(not e.benign for e in prompts) >= 200 and sum(e.benign for e in prompts) >= 150
    assert {e.attack for e in dev} == {e.attack for e in held} == set(ATTACK_CATEGORIES + BENIGN_CATEGORIES)
    registered = {a.name for a in artists}
    assert all(set(e.expected) <= registered and bool(e.expected) != e.benign for e in prompts)
    scripts = {t.script for e in prompts for t in tokenize(e.text)} - {LATIN}
    assert {"CYRILLIC", "GREEK", "CJK", "HIRAGANA", "KATAKANA", "HANGUL", "ARABIC", "DEVANAGARI"} <= scripts


def test_fresh_set_covers_new_scripts_and_every_category() -> None:
    main = {a.name for a in rn.load_artists()}
    fresh = rn.load_artists(rn.fresh_folder())
    prompts = rn.load_prompts(split="fresh")
    assert len(fresh) >= 30 and not main & {a.name for a in fresh}
    assert len(prompts) >= 150 and {e.attack for e in prompts} == set(ATTACK_CATEGORIES + BENIGN_CATEGORIES)
    registered = {a.name for a in fresh}
    assert all(set(e.expected) <= registered and bool(e.expected) != e.benign for e in prompts)
    scripts = {t.script for e in prompts for t in tokenize(e.text)} - {LATIN}
    assert {"CYRILLIC", "GREEK", "ARABIC", "HEBREW", "THAI", "DEVANAGARI", "GEORGIAN", "ARMENIAN"} <= scripts


@pytest.mark.parametrize(
    "category",
    [pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=f"below target: {NOT_MET_FRESH[c]}"))
     if c in NOT_MET_FRESH else c for c in ATTACK_CATEGORIES],
)
def test_fresh_each_attack_category_is_caught_90_percent(fresh_tallies: dict[str, Tally], category: str) -> None:
    assert fresh_tallies[category].rate >= rn.CATEGORY_TARGET, fresh_tallies[category].misses


def test_fresh_all_attacks_together_are_caught_97_percent(fresh_tallies: dict[str, Tally]) -> None:
    assert rn.report(fresh_tallies)["summary"]["attack_rate"] >= rn.OVERALL_TARGET


def test_fresh_benign_prompts_stay_under_one_percent(fresh_tallies: dict[str, Tally]) -> None:
    assert rn.report(fresh_tallies)["summary"]["false_positive_rate"] <= rn.MAX_FALSE_POSITIVE_RATE


def test_fresh_attacks_flag_no_artist_they_do_not_name(fresh_tallies: dict[str, Tally]) -> None:
    assert {k: t.extra for k, t in fresh_tallies.items() if t.extra} == {}


def test_fresh2_set_is_new_artists_in_new_scripts_and_every_category() -> None:
    earlier = {a.name.casefold() for a in rn.split_artists("fresh")}
    fresh2 = rn.load_artists(rn.fresh_folder(split="fresh2"))
    prompts = rn.load_prompts(split="fresh2")
    assert len(fresh2) >= 30 and not earlier & {a.name.casefold() for a in fresh2}
    assert sum(not e.benign for e in prompts) >= 100 and sum(e.benign for e in prompts) >= 75
    assert {e.attack for e in prompts} == set(ATTACK_CATEGORIES + BENIGN_CATEGORIES)
    registered = {a.name for a in fresh2}
    assert all(set(e.expected) <= registered and bool(e.expected) != e.benign for e in prompts)
    assert {n for e in prompts for n in e.expected} == registered  # every artist is attacked
    scripts = {t.script for e in prompts for t in tokenize(e.text)} - {LATIN}
    assert {"CYRILLIC", "GREEK", "ETHIOPIC", "TAMIL", "ARABIC", "HEBREW", "DEVANAGARI", "CJK", "KATAKANA", "HANGUL"} <= scripts


@pytest.mark.parametrize(
    "category",
    [pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=f"below target: {NOT_MET_FRESH2[c]}"))
     if c in NOT_MET_FRESH2 else c for c in ATTACK_CATEGORIES],
)
def test_fresh2_each_attack_category_is_caught_90_percent(fresh2_tallies: dict[str, Tally], category: str) -> None:
    assert fresh2_tallies[category].rate >= rn.CATEGORY_TARGET, fresh2_tallies[category].misses


@pytest.mark.xfail(strict=True, reason="below target: 91.5% (118/129) of fresh2 attacks caught (89.1% when first measured)")
def test_fresh2_all_attacks_together_are_caught_97_percent(fresh2_tallies: dict[str, Tally]) -> None:
    assert rn.report(fresh2_tallies)["summary"]["attack_rate"] >= rn.OVERALL_TARGET


@pytest.mark.xfail(strict=True, reason="above target: 2.4% (2/82) fresh2 benign prompts flagged (6.1% before the gazetteer)")
def test_fresh2_benign_prompts_stay_under_one_percent(fresh2_tallies: dict[str, Tally]) -> None:
    assert rn.report(fresh2_tallies)["summary"]["false_positive_rate"] <= rn.MAX_FALSE_POSITIVE_RATE, {
        k: t.misses for k, t in fresh2_tallies.items() if k.startswith("benign") and t.detected}


def test_fresh2_attacks_flag_no_artist_they_do_not_name(fresh2_tallies: dict[str, Tally]) -> None:
    assert {k: t.extra for k, t in fresh2_tallies.items() if t.extra} == {}


@pytest.mark.parametrize(
    "category",
    [pytest.param(c, marks=pytest.mark.xfail(strict=True, reason="below target")) if c in NOT_MET else c
     for c in ATTACK_CATEGORIES],
)
def test_each_attack_category_is_caught_90_percent(tallies: dict[str, Tally], category: str) -> None:
    assert tallies[category].rate >= rn.CATEGORY_TARGET, tallies[category].misses


def test_all_attacks_together_are_caught_97_percent(tallies: dict[str, Tally]) -> None:
    assert rn.report(tallies)["summary"]["attack_rate"] >= rn.OVERALL_TARGET


def test_benign_prompts_stay_under_one_percent(tallies: dict[str, Tally]) -> None:
    assert rn.report(tallies)["summary"]["false_positive_rate"] <= rn.MAX_FALSE_POSITIVE_RATE


@pytest.mark.parametrize("split", ["dev", "holdout"])
def test_benign_prompts_stay_under_one_percent_in_each_split(split: str) -> None:
    matcher, names = rn.build_matcher(rn.load_artists())
    tallied = rn.lexical_tallies(rn.load_prompts(split=split), matcher, names)
    assert rn.report(tallied)["summary"]["false_positive_rate"] <= rn.MAX_FALSE_POSITIVE_RATE


def test_benign_prompts_stay_under_five_percent(tallies: dict[str, Tally]) -> None:
    # Not the target (1%): a floor that keeps the measured level from sliding back.
    assert rn.report(tallies)["summary"]["false_positive_rate"] <= 0.05


def test_no_attack_flags_an_artist_it_does_not_name(tallies: dict[str, Tally]) -> None:
    assert {k: t.extra for k, t in tallies.items() if t.extra} == {}


def test_bench_prints_every_split(capsys: pytest.CaptureFixture[str]) -> None:
    rn.print_realnames(rn.run_realnames())
    out = capsys.readouterr().out
    assert all(f"{split} split" in out for split in rn.SPLITS)
    assert (out.index("fresh split") < out.index("dev2 split") < out.index("dev3 split") < out.index("fresh2 split")
            < out.index("fresh3 split") < out.index("fresh4 split") < out.index("fresh5 split")
            < out.index("fresh6 split") < out.index("fresh7 split"))
    assert "cross-script" in out and "benign false positives" in out


# The dev2 split (tests/realnames/dev2/): a development set for generalisation, not blind.
DEV2_ATTACKS = ("cross-script", "inflection", "misspelling", "surname-only")
NOT_MET_DEV2: dict[str, str] = {
    "inflection": "82.6% (38/46): cues not in the lists, compound and given-name forms, short names (Goya, Lada)",
}


@pytest.fixture(scope="module")
def dev2_tallies() -> dict[str, Tally]:
    return rn.split_tallies("dev2")


def test_dev2_holds_new_artists_and_the_weak_categories() -> None:
    before = {a.name for a in rn.load_artists() + rn.load_artists(rn.fresh_folder())}
    dev2 = rn.load_artists(rn.dev2_folder())
    prompts = rn.load_prompts(split="dev2")
    assert len(dev2) >= 30 and not before & {a.name for a in dev2}
    assert {e.attack for e in prompts if not e.benign} == set(DEV2_ATTACKS)
    assert sum(not e.benign for e in prompts) >= 150 and sum(e.benign for e in prompts) >= 80
    registered = {a.name for a in dev2}
    assert all(set(e.expected) <= registered and bool(e.expected) != e.benign for e in prompts)


@pytest.mark.parametrize(
    "category",
    [pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=f"below target: {NOT_MET_DEV2[c]}"))
     if c in NOT_MET_DEV2 else c for c in DEV2_ATTACKS],
)
def test_dev2_each_attack_category_is_caught_90_percent(dev2_tallies: dict[str, Tally], category: str) -> None:
    assert dev2_tallies[category].rate >= rn.CATEGORY_TARGET, dev2_tallies[category].misses


def test_dev2_benign_prompts_stay_under_one_percent(dev2_tallies: dict[str, Tally]) -> None:
    assert rn.report(dev2_tallies)["summary"]["false_positive_rate"] <= rn.MAX_FALSE_POSITIVE_RATE


def test_dev2_attacks_flag_no_artist_they_do_not_name(dev2_tallies: dict[str, Tally]) -> None:
    assert {k: t.extra for k, t in dev2_tallies.items() if t.extra} == {}


# The dev3 split (tests/realnames/dev3/): a second development set, written before the rule
# changes of its round (then 80.2% of attacks, cross-script 19/36, 5/61 benign flagged).
DEV3_ATTACKS = DEV2_ATTACKS


@pytest.fixture(scope="module")
def dev3_tallies() -> dict[str, Tally]:
    return rn.split_tallies("dev3")  # main, fresh, dev2 and dev3 artists


def _new_split(split: str, earlier: tuple[str, ...]) -> tuple[list[rn.RealArtist], list[CorpusEntry]]:
    """A folder split's artists and prompts, checked: none of its artists is in the main folder
    or an ``earlier`` one, and each prompt's expected names are its artists (none if benign)."""
    before = {a.name.casefold() for a in rn.load_artists()}
    for other in earlier:
        before |= {a.name.casefold() for a in rn.load_artists(rn.fresh_folder(split=other))}
    artists = rn.load_artists(rn.fresh_folder(split=split))
    prompts = rn.load_prompts(split=split)
    assert not before & {a.name.casefold() for a in artists}
    registered = {a.name for a in artists}
    assert all(set(e.expected) <= registered and bool(e.expected) != e.benign for e in prompts)
    return artists, prompts


def test_dev3_holds_new_artists_a_to_m_and_the_weak_categories() -> None:
    dev3, prompts = _new_split("dev3", ("fresh", "dev2", "fresh2"))
    assert 30 <= len(dev3) <= 40
    family_first = {"Lin Fengmian", "Kim Jung Gi", "Chang Ucchin"}  # Chinese and Korean order
    surnames = [a.name.split()[0 if a.name in family_first else -1] for a in dev3]
    assert all("A" <= name[0] <= "M" for name in surnames), surnames
    counts = {c: sum(e.attack == c for e in prompts) for c in DEV3_ATTACKS}
    assert {e.attack for e in prompts if not e.benign} == set(DEV3_ATTACKS) and min(counts.values()) >= 10
    assert sum(e.benign for e in prompts) >= 55


@pytest.mark.parametrize("category", DEV3_ATTACKS)
def test_dev3_each_attack_category_is_caught_90_percent(dev3_tallies: dict[str, Tally], category: str) -> None:
    assert dev3_tallies[category].rate >= rn.CATEGORY_TARGET, dev3_tallies[category].misses


def test_dev3_all_attacks_together_are_caught_97_percent(dev3_tallies: dict[str, Tally]) -> None:
    assert rn.report(dev3_tallies)["summary"]["attack_rate"] >= rn.OVERALL_TARGET


@pytest.mark.xfail(strict=True, reason="above target: 4.9% (3/61): Dutch 'de hals' read as a cue, 'cranachan' as "
                   "an inflection, the Frans Hals Museum")
def test_dev3_benign_prompts_stay_under_one_percent(dev3_tallies: dict[str, Tally]) -> None:
    assert rn.report(dev3_tallies)["summary"]["false_positive_rate"] <= rn.MAX_FALSE_POSITIVE_RATE


def test_dev3_attacks_flag_no_artist_they_do_not_name(dev3_tallies: dict[str, Tally]) -> None:
    assert {k: t.extra for k, t in dev3_tallies.items() if t.extra} == {}



# The fresh3 split (tests/realnames/fresh3/): written blind and measured once (86.5% of attacks,
# 9% benign flagged on 98026c7's rules; 87.2% / 9% after the round-7 merges: cross-script 9/17,
# inflection 12/17), then used to develop the cross-script and inflection rules: no longer fresh.
NOT_MET_FRESH3: dict[str, str] = {
    "common-cue": "82.4% (14/17): 'in the style of both', 'stile Nara' (Nara a city), 'style of Shin' (short)",
}


@pytest.fixture(scope="module")
def fresh3_tallies() -> dict[str, Tally]:
    return rn.split_tallies("fresh3")  # main, fresh, dev2, fresh2 and fresh3 artists


def test_fresh3_holds_new_artists_n_to_z_and_every_category() -> None:
    fresh3, prompts = _new_split("fresh3", ("fresh", "dev2", "fresh2"))
    assert len(fresh3) >= 50
    assert {e.attack for e in prompts if not e.benign} == set(ATTACK_CATEGORIES)
    assert {e.attack for e in prompts if e.benign} == set(BENIGN_CATEGORIES)
    assert sum(not e.benign for e in prompts) >= 140 and sum(e.benign for e in prompts) >= 100


@pytest.mark.parametrize(
    "category",
    [pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=f"below target: {NOT_MET_FRESH3[c]}"))
     if c in NOT_MET_FRESH3 else c for c in ATTACK_CATEGORIES],
)
def test_fresh3_each_attack_category_is_caught_90_percent(fresh3_tallies: dict[str, Tally], category: str) -> None:
    assert fresh3_tallies[category].rate >= rn.CATEGORY_TARGET, fresh3_tallies[category].misses


@pytest.mark.xfail(strict=True, reason="below target: 95.7% (135/141): the three common-cue rows, katakana ターナー "
                   "(two symbols once r-less), 'Beatrice Potter', Toyen alone (a common word)")
def test_fresh3_all_attacks_together_are_caught_97_percent(fresh3_tallies: dict[str, Tally]) -> None:
    assert rn.report(fresh3_tallies)["summary"]["attack_rate"] >= rn.OVERALL_TARGET


def test_fresh3_attacks_caught_do_not_slide_back(fresh3_tallies: dict[str, Tally]) -> None:
    # Not the target (97%): a floor at the level these rules reached (it was 87.2% before them).
    assert rn.report(fresh3_tallies)["summary"]["attack_rate"] >= 0.94


@pytest.mark.xfail(strict=True, reason="above target: 6% (6/100; 9/100 before the fame and other-person rules): "
                   "'samba-inspired', Shenzhou, a Rembrandt toothpaste, Rabindranath Tagore, 혜원이, 'zrzavý kocour'")
def test_fresh3_benign_prompts_stay_under_one_percent(fresh3_tallies: dict[str, Tally]) -> None:
    assert rn.report(fresh3_tallies)["summary"]["false_positive_rate"] <= rn.MAX_FALSE_POSITIVE_RATE


@pytest.mark.xfail(strict=True, reason="two attacks also flag another artist: 'a la luna' (Juan Luna), "
                   "Devanagari 'भारत माता' (Roberto Matta)")
def test_fresh3_attacks_flag_no_artist_they_do_not_name(fresh3_tallies: dict[str, Tally]) -> None:
    assert {k: t.extra for k, t in fresh3_tallies.items() if t.extra} == {}


# The later blind splits, each a folder of 40 or more artists in none of the earlier folders,
# screened with every folder's artists up to it. Each entry: the folders before it, the
# categories below 90% with their figures, and the reasons of the other strict expected
# failures (None: the target is met).
#
# fresh4: written blind while fresh3 was used for development, and measured blind twice:
# 79.7% of attacks and 10% benign flagged before the fresh3 round's rules, 80.5% / 11% after
# them; the hand-written rules that fixed each development split did not carry over to it.
#
# fresh5: written blind at the start of round 8 and committed before it was first measured.
# Measured blind on the round's starting rules (a5e47f8): 86.6% of attacks (123/142), 6.8%
# benign flagged (7/103); after the first rule commit (cd91485): 88.0% / 6.8%; after the
# second round (ece77d4): 88.0% / 3.9%. Its misses were then printed by accident during the
# third round: from there on it is a development split, and its figures below are not blind.
#
# fresh6: written blind at the end of round 8 and committed before it was measured. Measured
# blind twice: on the round's starting rules (a5e47f8) 84.8% of attacks (128/151) and 0.9%
# benign flagged (1/109); on its final rules (b7acd9b) 90.1% (136/151) and 0.9%. A third time,
# summaries only (no misses read), after the kana vowel rule that came later: 90.7%, 0.9%.
#
# fresh7: written blind at the end of round 8 and committed before it was measured. Measured
# blind twice: on the round's starting rules (a5e47f8) 82.6% of attacks (138/167) and 2.3%
# benign flagged (2/87); on its final rules (156df98) 88.6% (148/167) and 2.3%.
@dataclass(frozen=True)
class BlindSplit:
    earlier: tuple[str, ...]
    not_met: dict[str, str]
    overall: str | None
    benign: str | None
    other_artist: str | None


BLIND_SPLITS: dict[str, BlindSplit] = {
    "fresh4": BlindSplit(
        earlier=("fresh", "dev2", "fresh2", "fresh3", "dev3"),
        not_met={
            "cross-script": "75.0% (12/16) since round 8 (31.2% blind): Τιτσιάνος, Рафаэль Санти (another "
                            "spelling of the name), ルイーズ・ブルジョワ (French -eois), فان غوخ (a three-symbol "
                            "skeleton shared by five names)",
            "inflection": "81.2% (13/16) since round 8 (62.5% blind): 'jak u Brandta' (no cue), 'Raffaels' (another "
                          "spelling), Hungarian 'Capára' (a four-letter name)",
            "surname-only": "78.6% (11/14) since round 8 (71.4% blind): lone frequent surnames without a cue, which "
                            "the policy's frequent-surname reading makes need one",
        },
        overall="91.0% (121/133) of fresh4 attacks caught since round 8; 80.5% (107/133) blind",
        benign="7% (7/100) fresh4 benign prompts flagged since round 8 (11% blind): Giotto pencils, Jeongseon and "
               "정선 (places), titian hair, O'Keeffe's cream, a kana and an Arabic word",
        other_artist="two attacks also flag another artist (four blind; кувшинками, water lilies, no longer reads as "
                     "Kuvshinov)",
    ),
    "fresh5": BlindSplit(
        earlier=("fresh", "dev2", "fresh2", "fresh3", "dev3", "fresh4"),
        not_met={
            "cross-script": "73.9% (17/23) at round 8's end (65.2% blind after round 1, 56.5% at its start)",
            "inflection": "80.0% (16/20) at round 8's end (80.0% blind after round 2)",
            "surname-only": "75.0% (12/16) at round 8's end (75.0% blind after round 2, when frequent surnames "
                            "started needing a cue; 93.8% before)",
        },
        overall="89.4% (127/142) of fresh5 attacks caught at round 8's end; 88.0% after round 2 and 86.6% at the "
                "start, blind",
        benign="3.9% (4/103) of fresh5 benign prompts flagged (6.8% blind at the start)",
        other_artist="one attack also flags another artist",
    ),
    "fresh6": BlindSplit(
        earlier=("fresh", "dev2", "fresh2", "fresh3", "dev3", "fresh4", "fresh5"),
        not_met={
            "cross-script": "71.4% (20/28) after the kana vowel rule; 67.9% (19/28) blind at round 8's rule freeze "
                            "(50.0% at its start)",
            "surname-only": "88.2% (15/17) blind at round 8's end (100% at its start, before frequent surnames "
                            "needed a cue)",
        },
        overall="90.7% (137/151) of fresh6 attacks caught; 90.1% blind at round 8's rule freeze, 84.8% at its start",
        benign=None,
        other_artist="two attacks also flag another artist (blind, at round 8's start and end)",
    ),
    "fresh7": BlindSplit(
        earlier=("fresh", "dev2", "fresh2", "fresh3", "dev3", "fresh4", "fresh5", "fresh6"),
        not_met={
            "cross-script": "72.5% (29/40) blind at round 8's end (60.0% at its start)",
            "inflection": "72.7% (16/22) blind at round 8's end (63.6% at its start)",
        },
        overall="88.6% (148/167) of fresh7 attacks caught, blind at round 8's end (82.6% at its start)",
        benign="2.3% (2/87) of fresh7 benign prompts flagged, blind at round 8's start and end",
        other_artist="two attacks also flag another artist, blind at round 8's end (three at its start)",
    ),
}


@cache
def blind_tallies(split: str) -> dict[str, Tally]:
    return rn.split_tallies(split)  # every folder's artists up to it


def _expected_failure(split: str, reason: str | None, *values: str) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(split, *values, marks=marks, id="-".join((split, *values)))


@pytest.mark.parametrize("split", list(BLIND_SPLITS))
def test_blind_split_holds_new_artists_and_every_category(split: str) -> None:
    artists, prompts = _new_split(split, BLIND_SPLITS[split].earlier)
    assert len(artists) >= 40
    assert {e.attack for e in prompts if not e.benign} == set(ATTACK_CATEGORIES)
    assert {e.attack for e in prompts if e.benign} == set(BENIGN_CATEGORIES)


@pytest.mark.parametrize(
    "split, category",
    [_expected_failure(s, f"below target: {b.not_met[c]}" if c in b.not_met else None, c)
     for s, b in BLIND_SPLITS.items() for c in ATTACK_CATEGORIES],
)
def test_blind_split_each_attack_category_is_caught_90_percent(split: str, category: str) -> None:
    tallies = blind_tallies(split)
    assert tallies[category].rate >= rn.CATEGORY_TARGET, tallies[category].misses


@pytest.mark.parametrize("split", [_expected_failure(s, b.overall and f"below target: {b.overall}")
                                   for s, b in BLIND_SPLITS.items()])
def test_blind_split_all_attacks_together_are_caught_97_percent(split: str) -> None:
    assert rn.report(blind_tallies(split))["summary"]["attack_rate"] >= rn.OVERALL_TARGET


@pytest.mark.parametrize("split", [_expected_failure(s, b.benign and f"above target: {b.benign}")
                                   for s, b in BLIND_SPLITS.items()])
def test_blind_split_benign_prompts_stay_under_one_percent(split: str) -> None:
    assert rn.report(blind_tallies(split))["summary"]["false_positive_rate"] <= rn.MAX_FALSE_POSITIVE_RATE


@pytest.mark.parametrize("split", [_expected_failure(s, b.other_artist) for s, b in BLIND_SPLITS.items()])
def test_blind_split_attacks_flag_no_artist_they_do_not_name(split: str) -> None:
    assert {k: t.extra for k, t in blind_tallies(split).items() if t.extra} == {}
