"""Skeleton rule forms added for generalisation (``screening.skeleton.label_forms``).

Cyrillic and Greek "h" written as "kh"/"ch", Slavic and Nordic "j" as a glide, a three-word
name written with its first and last word, a surname alone next to a style cue, and the
bound on a one-edit match whose edit falls in a short word. The artists here are in none
of the corpora under tests/realnames.
"""

from __future__ import annotations

import pytest

from stylegate.governance.screening.canonical import tokenize
from stylegate.governance.screening.names import NameMatcher
from stylegate.governance.screening.skeleton import Form, SkeletonIndex, _edit_in_long_word, label_forms

ARTISTS = [
    (1, "Jan Stanisławski"), (2, "Konstantin Alekseyevich Korovin"), (3, "Ilya Glazunov"),
]


@pytest.fixture(scope="module")
def matcher() -> NameMatcher:
    return NameMatcher(ARTISTS)


def test_a_cyrillic_kh_is_read_as_the_h_it_transliterates() -> None:
    labels = ["Harald Sohlberg"]
    index = SkeletonIndex()
    index.add(0, labels[0])
    prompt = "Харальд Сульберг, зимняя ночь в горах"
    found = index.find(prompt, tokenize(prompt), labels)
    assert [(m.label_id, m.edits, m.part) for m in found] == [(0, 0, "name")]  # "khar'ald" read as "har'ald"


def test_a_latin_j_is_also_read_as_a_glide(matcher: NameMatcher) -> None:
    found = matcher.find("Ян Станиславский, украинский пейзаж")  # Jan is "Ян", not "Джан"
    assert [(h.artist_id, h.how, h.edits) for h in found] == [(1, "skeleton", 0)]
    skeletons = {f.skeleton for f in label_forms("Jan Stanisławski")[1]}
    assert {"SNSTNSRPSK", "NSTNSRPSK"} <= skeletons  # "j" as a consonant and as a glide


def test_a_three_word_name_by_its_first_and_last_word(matcher: NameMatcher) -> None:
    found = matcher.find("Константин Коровин, парижское кафе")
    assert [(h.artist_id, h.how) for h in found] == [(2, "skeleton")]
    assert matcher.find("Константин Алексеевич, парижское кафе") == []  # first and middle word is no name


def test_a_surname_alone_in_another_script_needs_a_style_cue(matcher: NameMatcher) -> None:
    found = matcher.find("グラズノフ風の肖像画")
    assert [(h.artist_id, h.how, h.cue) for h in found] == [(3, "skeleton-surname", "風")]
    assert found[0].evidence()["transliteration"] == "gurazunofu"
    assert matcher.find("グラズノフの交響曲") == []  # Glazunov the composer: no style cue


def test_a_surname_alone_in_an_abjad_needs_its_vowel_letters_and_a_cue() -> None:
    # Arabic writes a foreign name's vowels with its long-vowel letters (غلازونوف "ghlazunuf"):
    # those letters, agreeing as they sound, and a style cue make the one word the name.
    m = NameMatcher([(1, "Ilya Glazunov")])
    assert [h.how for h in m.find("على طريقة غلازونوف")] == ["skeleton-surname"]
    assert m.find("غلازونوف") == []  # no style cue
    assert m.find("على طريقة غلزنف") == []  # the consonants only: one word says too little


def test_an_edit_in_a_short_word_is_bounded() -> None:
    # "Ивана Купала" (Ivan Kupala night) against a name of skeleton VPN|KPRK: the edit is in a three-symbol word
    form = Form("VPNKPRK", ("VPN", "KPRK"), 2)
    assert not _edit_in_long_word("VPNKPR", "ivana kupala", form)
    chelmonski = Form("SPSRMNSK", ("SP", "SRMNSK"), 2)
    assert _edit_in_long_word("SPKRMNSK", "yuzef khelmonskiy", chelmonski)  # the edit is in a six-symbol word


def test_a_short_skeleton_spelt_out_letter_for_letter_stands_without_a_cue() -> None:
    m = NameMatcher([(1, "Jan Lebenstein"), (2, "Josef Čapek")])
    found = m.find("Йозеф Чапек, обложка книги")  # SPSPK: five symbols, under the six that stand alone
    assert [(h.artist_id, h.how) for h in found] == [(2, "skeleton-spelt")]
    assert m.find("Юзеф Чепак, обложка книги") == []  # the same skeleton, other vowels: no name spelt out


def test_a_skeleton_whose_letters_disagree_is_no_name() -> None:
    # Consonant classes agree by chance; in a large registry that happens to ordinary phrases.
    m = NameMatcher([(1, "Gaurav Kapoorvam")])  # a skeleton like the Tamil "கோவில் கோபுரம்" (temple tower)
    labels_reading = "kovil kopurm"
    from stylegate.governance.screening.skeleton import _reading_agreement

    assert _reading_agreement(labels_reading, "Gaurav Kapoorvam", "LATIN", "TAMIL") < 50
    assert m.find("கோவில் கோபுரம் இரவில்") == []
    assert _reading_agreement("mondeulian", "Piet Mondrian", "LATIN", "HANGUL") >= 50  # a name in Hangul keeps its letters
    assert _reading_agreement("m'rk s'g'l", "Marc Chagall", "LATIN", "HEBREW") >= 50  # an abjad: consonants compared
