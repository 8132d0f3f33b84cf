"""Canonicalisation holds against every character-level trick the red-team generator uses."""

from __future__ import annotations

import string
import unicodedata

import pytest

from stylegate.bench import redteam_corpus as redteam
from stylegate.governance.screening.canonical import fold_char, fold_key, name_key, tokenize

KEY = name_key("Mira Okonkwo")


@pytest.mark.parametrize("letter, glyphs", sorted(redteam._HOMOGLYPHS.items()))
def test_each_homoglyph_folds_to_its_latin_letter(letter: str, glyphs: str) -> None:
    for glyph in glyphs:
        assert fold_key(fold_char(glyph)) == fold_key(letter.lower()), (glyph, unicodedata.name(glyph))


def test_look_alikes_outside_the_basic_table_come_from_the_confusables_data() -> None:
    # Latin alpha and script g (same script, still confusable), Greek lunate sigma (NFKC would
    # turn it into a final sigma first), Greek kappa (UTS #39 maps it to Latin kra).
    assert [fold_char(c) for c in "ɑɡϲκ"] == ["a", "g", "c", "k"]


@pytest.mark.parametrize("style", redteam._MATH_STYLES)
def test_every_mathematical_alphabet_folds_to_ascii(style: str) -> None:
    for letter in string.ascii_letters:
        assert fold_key(fold_char(redteam._math_letter(style, letter))) == fold_key(letter.lower())


@pytest.mark.parametrize("ignorable", redteam._ZERO_WIDTH + ("\u200e", "\u202e", "\ufe0f", "\U000e0041"))
def test_default_ignorables_vanish(ignorable: str) -> None:
    assert name_key(f"Mi{ignorable}ra Okon{ignorable}kwo") == KEY


@pytest.mark.parametrize(
    "text",
    [
        redteam.full_width("Mira Okonkwo"),
        redteam.enclosed("Mira Okonkwo", parenthesised=False),
        redteam.enclosed("Mira Okonkwo", parenthesised=True),
        "M\u0336i\u0336r\u0336a\u0336 O\u0301k\u0308o\u0303nkwo",  # strike-through and accents
        "Mïrà Økönkwö",
        "M!r@ 0k0nkw0",
        "Mir@ Okonkw0",  # "@" still reads as a letter at the end of a word
        "MIRA OKONKWO",
        "mIrA oKoNkWo",
    ],
)
def test_obfuscations_fold_to_the_plain_key(text: str) -> None:
    assert "".join(name_key(text)) == "".join(KEY)


def test_punctuation_after_a_word_is_not_read_as_leetspeak() -> None:
    assert [t.text for t in tokenize("wow! a cat| ok+")] == ["wow", "a", "cat", "ok"]


def test_spans_point_at_the_obfuscated_original() -> None:
    text = "a cat by M\u200bira Оkonkwо, at dusk"
    tokens = tokenize(text)
    assert [text[t.start : t.end] for t in tokens][3:5] == ["M\u200bira", "Оkonkwо"]


def test_the_build_word_cache_files_what_each_name_files_on_its_own() -> None:
    """``_build_ops`` reads a label word by word through a cache; it must file exactly what
    canonicalising the whole label does, in every script and spelling trick."""
    import json
    from pathlib import Path

    from stylegate.governance.screening.names import _build_ops, _ops

    labels = ["SimonStalenhag", "S1m0n St@lenhag", "Мірα Okonkwo", "宮崎駿", "宮崎 駿", "Hilma af Klint",
              "Кувшинова Илья", "Μ. Okonkwo", "Jean-Michel Basquiat", "simon\u200bstalenhag x", "O'Keeffe Georgia",
              "Ａｎｎ Ｓｍｉｔｈ", "McDonald Ann", "Anneke  van der Molen", " Ann"]
    root = Path(__file__).parent / "realnames"
    for path in (root / "artists.json", root / "fresh" / "artists.json"):
        def walk(x: object) -> None:
            if isinstance(x, str):
                labels.append(x)
            elif isinstance(x, list):
                for y in x:
                    walk(y)
            elif isinstance(x, dict):
                for y in x.values():
                    walk(y)
        walk(json.loads(path.read_text(encoding="utf-8")))
    words: dict = {}
    for label in labels + labels:  # the second pass reads every word from the cache
        assert _build_ops(label, words) == _ops(label), label
