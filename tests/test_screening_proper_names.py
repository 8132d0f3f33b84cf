"""A surname inside the proper name of a place or institution (``places.proper_name_head``).

"<Surname> State Museum", "the <Surname> hotel", "Hotel <Surname>", "<Surname> Bay": the
surname names the place, so it stands only next to a style cue, like a common word. The
artists here are in none of the corpora under tests/realnames.
"""

from __future__ import annotations

import pytest

from stylegate.governance.screening.names import NameMatcher
from stylegate.governance.screening.places import proper_name_head
from stylegate.governance.screening.rules import DEFAULT_RULES, NameRules

ARTISTS = [(1, "Ivan Meštrović"), (2, "Amedeo Modigliani"), (3, "Lyonel Feininger"), (4, "Ilya Glazunov")]


@pytest.fixture(scope="module")
def matcher() -> NameMatcher:
    return NameMatcher(ARTISTS)


@pytest.mark.parametrize(
    "prompt",
    [
        "the Meštrović Gallery in Split, sunny afternoon",
        "Glazunov State Art Gallery, main staircase",
        "lobby of Hotel Modigliani in Rome",
        "a rooftop pool at the Modigliani hotel",
        "Feininger Bay at dusk with sailing boats",
        "a tram on Glazunov street in winter",
    ],
)
def test_a_lone_surname_in_a_place_or_institution_name_is_no_hit(matcher: NameMatcher, prompt: str) -> None:
    assert matcher.find(prompt) == []


@pytest.mark.parametrize(
    "prompt, artist",
    [
        ("portrait of a woman in the style of Modigliani", 2),
        ("a Feininger church at dusk", 3),  # a subject, lower case: not the head of a proper name
        ("Glazunov style portrait", 4),
        ("by Meštrović", 1),
    ],
)
def test_the_same_surnames_still_match_as_a_style(matcher: NameMatcher, prompt: str, artist: int) -> None:
    assert [h.artist_id for h in matcher.find(prompt)] == [artist]


def test_a_style_cue_still_counts_before_a_named_place(matcher: NameMatcher) -> None:
    found = matcher.find("a seaside village painted by Feininger, Baltic light")
    assert [(h.artist_id, h.rule) for h in found] == [(3, "surname")]


def test_a_full_name_inside_an_institution_name_needs_a_cue(matcher: NameMatcher) -> None:
    # An institution named after the artist is no request for the style (the policy's
    # "institution" reading, listed by default); before or after the name, and a cue still counts.
    assert matcher.find("the Ivan Meštrović Gallery in Split") == []
    assert matcher.find("the courtyard of the Fundació Ivan Meštrović") == []
    assert matcher.find("Fundació Ivan Meštrović, the courtyard") == []  # nor a sound-alike window over it
    assert [(h.artist_id, h.rule) for h in matcher.find("a bust in the style of Ivan Meštrović Gallery pieces")] == [
        (1, "full-name")]
    rules = NameRules(context_required=DEFAULT_RULES.context_required - {"institution"})
    found = matcher.find("the Ivan Meštrović Gallery in Split", rules=rules)
    assert [(h.artist_id, h.rule) for h in found] == [(1, "full-name")]


@pytest.mark.parametrize(
    "prompt, word, head",
    [
        ("the Rodchenko Regional Art Museum", "Rodchenko", "Museum"),  # up to three capitalised words between
        ("the Rodchenko museum", "Rodchenko", "museum"),  # an institution counts in lower case
        ("Hotel Rodchenko", "Rodchenko", "Hotel"),
        ("музей Родченко", "Родченко", "музей"),
        ("Rodchenko Pier", "Rodchenko", "Pier"),
        ("a Rodchenko pier", "Rodchenko", ""),  # a subject in lower case is no proper name
        ("Rodchenko, museum quality print", "Rodchenko", ""),  # punctuation ends the name
        ("Rodchenko poster of a woman shouting into a Museum", "Rodchenko", ""),  # a lower-case word ends it
        ("Rodchenkomuseum", "Rodchenko", ""),  # glued letters are another word
    ],
)
def test_proper_name_head(prompt: str, word: str, head: str) -> None:
    start = prompt.index(word)
    assert proper_name_head(prompt, start, start + len(word)) == head
