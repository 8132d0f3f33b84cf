"""Case endings on a name: "Rutkowskiego" (Rutkowski), "Кувшиновой" (Кувшинова), "Stålenhags".

Declining languages change the end of a surname: they add an ending, or replace the last
one or two letters with one. A registered one-word key of :data:`MIN_STEM` or more letters
is filed under its stems (the key, and the key less its last one or two letters, each at
least :data:`MIN_STEM` long); a prompt token matches when removing one to
:data:`MAX_ENDING` letters from its end leaves a stem of the key, and the ending is letters
of the same script. Short names never inflect (their stems would be ordinary words), and
an inflected form is longer than the key (a same-length change is a
misspelling), and the caller refuses inflected forms that are common words themselves ("monetary").

Two weaker kinds, read like a common word (they stand only next to a style cue or after the
artist's given name, see ``names._inflected``), found by :meth:`InflectionIndex.search_replaced`:

- a *replaced ending*: the key's last one or two letters (vowels, "y", "j" or a final "s":
  the nominative endings of Slavic, Baltic and Greek surnames) replaced by up to two such
  letters, or dropped, without lengthening the word: Polish "Matejki" (Matejko), Russian
  "Риверы" (Rivera), Ukrainian "Мурашка" (Мурашко), Lithuanian "Čiurlionio" (Čiurlionis),
  Greek "Γύζη" (Γύζης). The key has :data:`MIN_STEM` or more letters and keeps at least
  ``MIN_STEM - 1`` of them.
- Finnish *consonant gradation* of surnames in "-nen": the "-se-" stem with a case ending,
  "Halosen", "Halosta", "Haloselle" (Halonen).

Georgian surnames in "-ი" drop it before a case ending, and a stem vowel "ე", "ა" or "ო"
before the last consonant drops with it (syncope): "წერეთლის" is the genitive of
"წერეთელი" (Tsereteli); "ფიროსმანის" of "ფიროსმანი" keeps it. Found by
:meth:`InflectionIndex.search_replaced` (:func:`_georgian_keys`), for keys of :data:`MIN_STEM`
or more letters: a weak form like the others, since Georgian names streets and places in the
genitive ("წერეთლის გამზირი", Tsereteli Avenue).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from stylegate.governance.screening.keyindex import FiledKeys
from stylegate.governance.screening.scripts import script_of

log = logging.getLogger(__name__)

MIN_STEM = 5
MAX_ENDING = 4  # letters an ending may add beyond the stem
MAX_CUT = 2  # letters of the key an ending may replace
MAX_REPLACED = 2  # letters a replaced ending may put in their place
# Letters of a declinable ending (nominative or case), in the scripts declined surnames are
# written in; canonical keys fold Latin "l" to "i", so the vowels are read after folding.
_ENDING_LETTERS = frozenset("aeiouyj" "аеиоуыэюяіїєйь" "αεηιουωσς")
_FINAL_S = frozenset("sσςс")
# The instrumental of a name ending in a vowel, one letter longer than it (Czech "Picassem",
# Slovak "Picassom", Ukrainian "Мурашком" of Мурашко): a replaced ending, so it needs a cue.
_INSTRUMENTAL = frozenset({"em", "om", "ем", "ом", "ей", "ой"})
# Slavic feminine surnames: -ova, -eva, -ina, -ska, -cka (Latin and Cyrillic).
_FEMININE = re.compile(r"(?:ov|ev|in|yn|sk|ck|ов|ев|ёв|ин|ын|ск|цк)[aа]$")


class InflectionIndex(FiledKeys):
    """Keys filed under their stems (compactly: ``keyindex``)."""

    def __init__(self) -> None:
        super().__init__(self._stems_of)

    @staticmethod
    def _stems_of(key: str) -> set[str]:
        # One letter shorter than MIN_STEM is kept for same-length endings after a given name.
        stems = {key[: len(key) - cut] for cut in range(MAX_CUT + 1) if len(key) - cut >= MIN_STEM - 1}
        fleeting = fleeting_stem(key)
        if fleeting:
            stems.add(fleeting)
        return stems

    def accepts(self, key: str) -> bool:
        """Short names never inflect: their stems would be ordinary words."""
        return len(key) >= MIN_STEM

    def stems_filed(self, tokens: Iterable[str]) -> dict[str, set[str]]:
        """Keys filed under every stem :meth:`search` and :meth:`search_replaced` may ask
        about for ``tokens``, in one lookup."""
        stems: set[str] = set()
        for token in tokens:
            if len(token) < MIN_STEM - 1:
                continue
            stems.update(token[: len(token) - ending] for ending in range(0, MAX_ENDING + 1)
                         if len(token) - ending >= MIN_STEM - 1)
            stems.update(_gradation_stems(token))
            stems.update(stem for stem, _ in _fleeting_keys(token))
        return self._index.candidates_many({stem: [stem] for stem in stems}) if stems and len(self._index) else {}

    def search(self, token: str, same_length: bool = False, filed: dict[str, set[str]] | None = None) -> list[str]:
        """Registered keys of which ``token`` is an inflected form (never ``token`` itself).

        ``same_length`` also accepts an ending that replaces the key's last letters without
        lengthening it ("Yerka" → "Yerki"); the caller allows that only after a declined form
        of the artist's given name ("Jacka Yerki").
        """
        if len(token) < MIN_STEM or not len(self._index):
            return []
        out: list[str] = []
        shortest = MIN_STEM - 1 if same_length else MIN_STEM
        stems = [token[: len(token) - ending] for ending in range(1, MAX_ENDING + 1) if len(token) - ending >= shortest]
        if filed is None or any(stem not in filed for stem in stems):
            filed = self._index.candidates_many({stem: [stem] for stem in stems})
        for stem in stems:
            # A hash collision files a key under a stem it does not have: check the stem.
            # An ending replaces only vowel letters or a final "s" of the key: "-ов", "-ин" of a
            # Russian surname stay in every case ("Кувшиновым"), so "кувшинками" is no form of it.
            keys = [k for k in sorted(filed.get(stem, ())) if k.startswith(stem) and len(k) - len(stem) <= MAX_CUT
                    and _replaceable(k[len(stem) :])]
            if not keys:
                continue
            tail = token[len(stem) :]
            script = script_of(stem[-1])
            if not all(c.isalpha() and script_of(c) == script for c in tail):
                continue
            # An ending lengthens the name: a same-length change is a misspelling, not a case.
            if len(stem) < MIN_STEM:  # only a same-length ending may leave so short a stem
                keys = [k for k in keys if len(k) == len(token)]
            out.extend(k for k in keys if (len(k) < len(token) or (same_length and len(k) == len(token) and k != token)) and k not in out)
        return out

    def search_replaced(self, token: str, filed: dict[str, set[str]] | None = None) -> list[str]:
        """Keys of which ``token`` is a replaced ending or a Finnish "-nen" gradation form
        (see the module doc); never ``token`` itself, never a form longer than a plain ending's."""
        if len(token) < MIN_STEM - 1 or not len(self._index):
            return []
        probes = [token[: len(token) - ending] for ending in range(0, MAX_REPLACED + 1)
                  if len(token) - ending >= MIN_STEM - 1]
        grades = _gradation_stems(token)
        asked = probes + grades + [stem for stem, _ in _fleeting_keys(token)]
        if filed is None or any(stem not in filed for stem in asked):
            filed = self._index.candidates_many({stem: [stem] for stem in asked})
        out: list[str] = []
        for stem in probes:
            new = token[len(stem) :]
            instrumental = new in _INSTRUMENTAL
            if not instrumental and not all(c in _ENDING_LETTERS for c in new):
                continue
            for key in sorted(filed.get(stem, ())):
                old = key[len(stem) :]
                longer = len(token) - len(key)
                if (key == token or not key.startswith(stem) or not 1 <= len(old) <= MAX_CUT or len(key) < MIN_STEM
                        or longer > (1 if instrumental else 0) or key in out):
                    continue
                if not new and is_masculine_of(token, key):
                    continue  # a feminine surname never declines to the masculine: "Goncharov" is not "Goncharova"
                if all(c in _ENDING_LETTERS for c in old[:-1]) and (old[-1] in _ENDING_LETTERS or old[-1] in _FINAL_S):
                    if script_of(stem[-1]) == script_of(key[-1]) and all(script_of(c) == script_of(stem[-1]) for c in new):
                        out.append(key)
        for stem, key in _fleeting_keys(token):  # "čapka", "čapkem" → "čapek"
            if key in filed.get(stem, ()) and key not in out and key != token:
                out.append(key)
        for stem in grades:  # "haios" + "en" → "haionen": the key is the stem's "n" + "en"
            key = stem + "en"
            if key in filed.get(stem, ()) and key not in out and key != token:
                out.append(key)
        georgian = _georgian_keys(token)
        if georgian:
            nominatives = {key[: len(key) - MAX_CUT]: key for key in georgian}
            got = self._index.candidates_many({stem: [stem] for stem in nominatives})
            out.extend(key for stem, key in nominatives.items() if key in got.get(stem, ()) and key not in out)
        return out


# West Slavic surnames in "-ek", "-ec" lose that "e" before a case ending (the fleeting e):
# Czech "Čapek" is "Čapka", "Čapkem", "Čapkovi"; Polish "Bednarek" is "Bednarka", "Bednarkiem".
_FLEETING = re.compile(r"(?<=[^aeiouy])e(?=[kc]$)")
_FLEETING_ENDINGS = ("a", "u", "e", "i", "y", "em", "om", "ou", "ovi", "owi", "iem", "ovi", "ech", "ami", "ów", "ův", "ova")


def fleeting_stem(key: str) -> str:
    """The stem of a "-ek"/"-ec" surname without its fleeting "e" ("capek" → "capk"), or ""."""
    if len(key) < MIN_STEM or not key.isascii() or not _FLEETING.search(key):
        return ""
    return key[:-2] + key[-1]


def _fleeting_keys(token: str) -> list[tuple[str, str]]:
    """(stem, key) for each way ``token`` may be a fleeting-e surname with a case ending."""
    out = []
    for ending in _FLEETING_ENDINGS:
        if token.endswith(ending) and len(token) - len(ending) >= MIN_STEM - 1:
            stem = token[: len(token) - len(ending)]
            if stem[-1] in "kc" and stem[-2] not in "aeiouy":
                out.append((stem, stem[:-1] + "e" + stem[-1]))
    return out


def _replaceable(cut: str) -> bool:
    """Whether a case ending may replace these last letters of a key (vowels, or a final "s")."""
    return all(c in _ENDING_LETTERS for c in cut[:-1]) and (not cut or cut[-1] in _ENDING_LETTERS or cut[-1] in _FINAL_S)


# Letters of a case ending on the first part of a hyphenated surname (Slavic: "-а", "-ым", "-ому").
_FIRST_PART_ENDING = _ENDING_LETTERS | frozenset("мхmhg")
MIN_FIRST_PART = 3  # letters the first part keeps once its ending is off


def first_part_stems(first: str) -> list[str]:
    """The first part of a hyphenated surname with a case ending of one to three letters taken
    off: Russian declines both parts ("Петрова-Водкина" is "Петров-Водкин"), the last part's
    ending is :meth:`InflectionIndex.search`'s. Each keeps :data:`MIN_FIRST_PART` letters."""
    out = []
    for cut in range(1, 4):
        stem, tail = first[:-cut], first[-cut:]
        if len(stem) < MIN_FIRST_PART or not all(c in _FIRST_PART_ENDING for c in tail):
            break
        if script_of(stem[-1]) == script_of(tail[0]):
            out.append(stem)
    return out


def is_masculine_of(word: str, surname: str) -> bool:
    """Whether ``word`` is the masculine form of a Slavic feminine ``surname`` ("goncharov" of
    "goncharova", "kowalski"-style "-sk" of "-ska"): another person, never a case or a slip."""
    return bool(_FEMININE.search(surname)) and word == surname[:-1]


def _gradation_stems(token: str) -> list[str]:
    """Stems of a Finnish "-nen" surname a token may decline from: "halosen" → "halon" (Halonen).

    The "-se-" stem of such a surname is the key less "nen" plus "s"; a case ending of one to
    four letters follows it. The probe is the key less its last two letters, which the
    index files (see :meth:`InflectionIndex._stems_of`).
    """
    if not token.isascii() or len(token) < MIN_STEM + 1:
        return []
    out = []
    for i in range(MIN_STEM - 2, len(token) - 1):
        if token[i] == "s" and 1 <= len(token) - i - 1 <= MAX_ENDING and token[i + 1] in "aeiout":
            out.append(token[:i] + "n")
    return out


# Georgian case endings on a name (genitive, instrumental, adverbial, ergative) and the
# stem vowels that syncopate before them.
_GEORGIAN_ENDINGS = ("ის", "ით", "ად", "მა")
_GEORGIAN_SYNCOPE = "ეაო"
_GEORGIAN_FINAL = "ი"


def _georgian_keys(token: str) -> list[str]:
    """The nominatives a Georgian declined name may come from: "წერეთლის" → "წერეთლი",
    "წერეთელი", "წერეთალი", "წერეთოლი" (each at least :data:`MIN_STEM` letters)."""
    if len(token) < MIN_STEM or script_of(token[-1]) != "GEORGIAN":
        return []
    for ending in _GEORGIAN_ENDINGS:
        if token.endswith(ending):
            stem = token[: -len(ending)]
            break
    else:
        return []
    if len(stem) < MIN_STEM - 2 or stem[-1] in _GEORGIAN_SYNCOPE + _GEORGIAN_FINAL:
        return []  # the stem ends in its consonant; a vowel there is another ending
    keys = [stem + _GEORGIAN_FINAL] + [stem[:-1] + v + stem[-1] + _GEORGIAN_FINAL for v in _GEORGIAN_SYNCOPE]
    return [k for k in keys if len(k) >= MIN_STEM]


_APOSTROPHES = "'’ʼ"


def apostrophe_ending_end(prompt: str, end: int) -> int:
    """Where a case ending written after an apostrophe ends, or ``end`` when none follows.

    Turkish (and Azerbaijani, and Finnish for foreign names) writes a proper name's case
    ending after an apostrophe: "Eyüboğlu'nun tarzında", "Goya'nın", "Mondrian'ın". A
    style cue after the name comes after that ending. An ending of one to four letters
    other than a possessive "s" counts.
    """
    if end >= len(prompt) or prompt[end] not in _APOSTROPHES:
        return end
    k = end + 1
    while k < len(prompt) and prompt[k].isalpha():
        k += 1
    ending = prompt[end + 1 : k]
    if not 1 <= len(ending) <= MAX_ENDING or ending.casefold() == "s":
        return end
    return k
