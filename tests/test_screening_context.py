"""Context rules that keep ordinary uses of a name's words from firing (issue #11, items 5 and 6).

Written with artists and words that are not in tests/realnames/: each rule is checked both
ways (the ordinary prompt is not flagged, the attack next to it still is) and the dropped
candidate says why.
"""

from __future__ import annotations

import pytest

from stylegate.governance.screening import cues, givennames, language
from stylegate.governance.screening.canonical import canonical_word
from stylegate.governance.screening.names import NameHit, NameMatcher

ARTISTS = [
    (1, "Piet Mondrian"), (2, "Yves Klein"), (3, "Nicolas Poussin"), (4, "Wassily Kandinsky"),
    (5, "Frederic Church"), (6, "Egon Schiele"),
]


@pytest.fixture(scope="module")
def matcher() -> NameMatcher:
    return NameMatcher(ARTISTS)


def found(matcher: NameMatcher, prompt: str) -> list[int]:
    return [h.artist_id for h in matcher.find(prompt)]


def dropped(matcher: NameMatcher, prompt: str) -> list[tuple[NameHit, str]]:
    out: list[tuple[NameHit, str]] = []
    assert matcher.find(prompt, suppressed=out) == []
    return out


# ------------------------------------------- (a) another person's given name before a surname
def test_another_persons_frequent_given_name_before_a_surname_is_someone_else(matcher: NameMatcher) -> None:
    # "Jasper" is a common English word and a frequent given name (names-dataset).
    assert givennames.is_given_name("jasper")
    assert found(matcher, "Jasper Kandinsky at a press conference") == []
    assert found(matcher, "Jasper Mondrian, portrait photo") == []
    assert found(matcher, "Mondrian, portrait photo") == [1]  # the surname alone is still the artist


def test_the_artists_own_given_name_and_its_spellings_still_match(matcher: NameMatcher) -> None:
    assert found(matcher, "Wassily Kandinsky composition") == [4]
    assert found(matcher, "Vasily Kandinsky composition") == [4]  # a spelling of "Wassily"
    assert givennames.is_variant("vasily", ["wassily"]) and not givennames.is_variant("jasper", ["wassily"])


def test_a_cue_bound_to_the_surname_alone_still_counts(matcher: NameMatcher) -> None:
    assert found(matcher, "Jasper, in the style of Kandinsky") == [4]  # punctuation: not one name


def test_a_word_more_common_than_a_given_name_is_read_as_a_word(matcher: NameMatcher) -> None:
    # "Forest" is a given name somewhere too, but far more often a word (Zipf >= 4).
    assert givennames.is_given_name("forest")
    assert found(matcher, "Misty Forest Kandinsky") == [4]


def test_another_persons_given_name_needs_the_dataset_and_the_word_rules() -> None:
    assert not givennames.another_persons_given_name("jasper", ["wassily"], word_zipf=5.0)  # a word first
    assert not givennames.another_persons_given_name("art", [], word_zipf=3.0)  # "Pop Art Warhol": an art noun
    assert givennames.another_persons_given_name("jasper", ["wassily"], word_zipf=3.6)
    assert not givennames.is_given_name("kandinsky")


# -------------------------------------- (b) a weak cue before an ordinary word of its language
def test_weak_cue_before_an_ordinary_word_of_its_language_is_a_preposition(matcher: NameMatcher) -> None:
    # German "von klein auf" (from childhood), French "une photo de poussin" (a photo of a chick),
    # English "led by church leaders": the cue's language reads the word as a word.
    for prompt, lang in (("kinder, die von klein auf malen", "de"), ("une photo de poussin dans la paille", "fr"),
                         ("led by church leaders", "en")):
        ((_, why),) = dropped(matcher, prompt)
        assert f"before an ordinary word of {lang!r}" in why


def test_weak_cue_still_counts_next_to_an_art_noun_or_capitalised(matcher: NameMatcher) -> None:
    assert found(matcher, "ein bild von klein") == [2]
    assert found(matcher, "un tableau de poussin") == [3]
    assert found(matcher, "a painting by church") == [5]
    assert found(matcher, "ein Feuerwerk von Klein") == [2]  # written as a name in a prompt with capitals
    assert found(matcher, "niagara falls in the style of church") == [5]  # a strong cue always counts


def test_the_prompts_language_is_chosen_among_the_cues_languages() -> None:
    assert language.cue_languages("de") == ("es", "fr", "pt")
    assert language.best_languages("el gato duerme en la casa".split(), ("es", "fr", "pt")) == ("es",)
    assert language.best_languages("le chat dort dans la maison".split(), ("es", "fr", "pt")) == ("fr",)
    assert language.ordinary_in("gato", ("es",), 3.0) == "es"
    assert language.ordinary_in("gato", ("fr",), 3.0) == ""


def test_a_word_common_only_in_another_language_keeps_the_cue(matcher: NameMatcher) -> None:
    # "klein" is German for small but no French word: after French "de" it is a name.
    cue = cues.Cue("de", False)
    prompt = "une sculpture bleue de klein"
    start = prompt.index("klein")
    assert cues.binds_ordinary_word(cue, prompt, start, start + 5) == ""
    assert found(matcher, prompt) == [2]


# ------------------------------------------- (c) a name between an article and a noun
# Only a word that names other people or things too is read as a modifier there. The
# artists below were chosen by the data, not by a corpus: "Hirst" and "Koons" are surnames
# in names-dataset but rare words; "Chagall", "Magritte", "Rothko", "Mondrian" and
# "Kandinsky" are nobody else's name in names-dataset, no city, and below Zipf 3 everywhere.
OTHERS = [(11, "Damien Hirst"), (12, "Jeff Koons")]
DISTINCT = [(21, "Marc Chagall"), (22, "René Magritte"), (23, "Mark Rothko")]


@pytest.fixture(scope="module")
def attributive_matcher() -> NameMatcher:
    return NameMatcher(ARTISTS + OTHERS + DISTINCT)


def test_a_name_that_is_other_peoples_too_between_an_article_and_a_noun_is_a_modifier(
    attributive_matcher: NameMatcher,
) -> None:
    assert givennames.is_persons_name(canonical_word("Hirst")) and givennames.is_persons_name(canonical_word("Koons"))
    for prompt, artist in (("the Hirst family at a barbecue", 11), ("a Koons household in Ohio", 12)):
        ((hit, why),) = dropped(attributive_matcher, prompt)
        assert hit.artist_id == artist and "modifier of" in why and "other people's name" in why
    assert cues.attributive("ein Schiele Museum in Wien", 4, 11) == "Museum"


def test_a_name_that_names_nobody_else_before_a_noun_is_the_artist(attributive_matcher: NameMatcher) -> None:
    for word in ("Chagall", "Magritte", "Rothko", "Mondrian", "Kandinsky"):
        assert not givennames.is_persons_name(canonical_word(word))
    assert found(attributive_matcher, "a Chagall village under a violet sky") == [21]
    assert found(attributive_matcher, "a Magritte apple hiding a face") == [22]
    assert found(attributive_matcher, "the Rothko colour fields on a hotel wall") == [23]
    assert found(attributive_matcher, "a Mondrian dress on a runway") == [1]
    assert found(attributive_matcher, "a Kandinsky composition of circles") == [4]
    assert found(attributive_matcher, "the Hirst family, in the style of Hirst") == [11]  # a cue still counts


def test_a_common_word_needs_a_cue_in_attributive_position_too(attributive_matcher: NameMatcher) -> None:
    # "Klein" is a German word (Zipf 5.3) and a frequent surname: "a Klein bottle" is topology.
    ((hit, why),) = dropped(attributive_matcher, "a Klein bottle made of glass")
    assert hit.artist_id == 2 and "ordinary word" in why


def test_the_person_names_file_is_searched_in_place(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "names.txt"
    keys = sorted(k.encode() for k in ("hirst", "koons", "möbius", "a", "zz", "müller", "klein"))
    path.write_bytes(b"".join(k + b"\n" for k in keys))
    found_keys = givennames.SortedKeys(path)
    for key in ("hirst", "koons", "möbius", "a", "zz", "müller", "klein"):
        assert key in found_keys
    for key in ("", "hirs", "hirstt", "b", "zzz", "mobius", "kandinsky", "a\nb"):
        assert key not in found_keys
    (tmp_path / "empty.txt").write_bytes(b"")
    assert "hirst" not in givennames.SortedKeys(tmp_path / "empty.txt")


def test_a_work_or_a_phrase_head_after_the_name_still_names_the_artist(matcher: NameMatcher) -> None:
    assert found(matcher, "a Mondrian painting on a white wall") == [1]  # a noun for a work of art
    assert found(matcher, "a Mondrian in the museum") == [1]  # the name heads its phrase
    assert found(matcher, "a dress, Mondrian style") == [1]


def test_without_an_article_a_lone_surname_before_a_noun_still_fires(matcher: NameMatcher) -> None:
    # "kittelsen troll"-style tags: a lone surname then the subject; no article, no modifier reading.
    assert found(matcher, "mondrian grid composition") == [1]
    assert cues.attributive("mondrian grid composition", 0, 8) == ""


def test_romance_articles_do_not_make_a_modifier() -> None:
    # "un Mondrian luminoso" is a painting by Mondrian: Romance languages put adjectives after.
    assert cues.attributive("un Mondrian luminoso", 3, 11) == ""


def test_a_suppressed_hit_says_why_when_no_cue_at_all(matcher: NameMatcher) -> None:
    ((hit, why),) = dropped(matcher, "the Church of England")
    assert hit.artist_id == 5 and "no style cue" in why


# ------------------------------------------- the given-name table and its cache
def test_the_given_names_are_read_from_the_cache_file(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    cache = tmp_path / "given.tsv"
    cache.write_text("zorbatch\t7\nnot a line\n", encoding="utf-8")
    monkeypatch.setenv("STYLEGATE_NAMES_CACHE", str(cache))
    givennames._ranks.cache_clear()
    try:
        assert givennames.rank("zorbatch") == 7 and not givennames.is_given_name("jasper")
    finally:
        monkeypatch.delenv("STYLEGATE_NAMES_CACHE")
        givennames._ranks.cache_clear()
    assert givennames.is_given_name("jasper")


@pytest.mark.slow
def test_the_cache_is_extracted_from_names_dataset(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "given.tsv"
    count = givennames.extract(out)
    ranks = dict(line.split("\t") for line in out.read_text(encoding="utf-8").splitlines())
    assert count == len(ranks) > 10_000
    assert int(ranks["jasper"]) <= givennames.MAX_RANK and "kandinsky" not in ranks


@pytest.mark.slow
def test_the_person_names_are_extracted_from_names_dataset(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "names.txt"
    count = givennames.extract_names(out)
    lines = out.read_bytes().splitlines()
    assert count == len(lines) > 1_000_000 and lines == sorted(lines)
    names = givennames.SortedKeys(out)
    assert "hirst" in names and "jasper" in names and "kandinsky" not in names and "hokusai" not in names
