"""Whether a name in a prompt is (part of) the name of a place or an institution.

Two sources: GeoNames' populated places (``screening.gazetteer``: 400,000 names of
200,000 cities, towns and villages of 500 or more people, with their populations), and a
small grammar of how place and institution names are written. A lone surname or one-word
name reads as a place, and so needs a style cue like a common word (the policy's
``place`` key), when

- it is the main name of a place of ``place_population`` or more people ("Miyazaki",
  "Valencia": :func:`is_place`), read like a common word whatever surrounds it;
- it sits inside a longer place name of the gazetteer ("Santiago de Compostela");
- a joining word of place names follows it, then a place ("<X> de Gaia", "<X> am Main":
  the joining words are counted from the gazetteer, ``gazetteer.place_words``);
- a settlement or shrine noun comes before it ("the village of <X>", "Santuario di <X>",
  "село <X>"), or, when it is a place itself, a capitalised word that starts many place
  names ("San", "Bad", "Villa", also counted from the gazetteer);
- it is a place of any size and a locative preposition precedes it ("a farm near <X>"),
  or a comma and a country, a region or a large place follows it ("<X>, Norway"; country
  names in 20-odd languages from pycountry's ISO 3166 translations, regions from ISO
  3166-2).

:func:`proper_name_head` (institutions: "<Surname> State Museum", "Hotel <Surname>")
completes it. Each reading is returned as a reason, for the suppressed hit's explanation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache

from stylegate.governance.screening import gazetteer

log = logging.getLogger(__name__)

DEFAULT_PLACE_POPULATION = 15000  # a lone name that is the main name of a place this large is ambiguous


def is_place(token: str, min_population: int = DEFAULT_PLACE_POPULATION) -> bool:
    """Whether a canonical token is the main name of a place of ``min_population`` or more people.

    Main names only: GeoNames' alternate names include other languages' spellings that
    read like surnames ("Amano", "Gorky" as names of large cities).
    """
    return gazetteer.is_place(token, min_population, alternates=False)


# Prepositions before a place, in the screened languages (closed-class words, not data):
# "a farm near <X>", "w <X>", "в <X>". A lone name that is a place after one is the place.
LOCATIVE = frozenset("""
in near at around outside from to towards toward across through beyond nearby above below past
bei nahe aus nach um nahe neben
à en près vers depuis dans
en cerca desde hacia junto
a in presso vicino verso da
em perto no na nos nas
in bij nabij naar
i på vid ved nær nära utanför
w we pod koło obok przy niedaleko z ze
v ve u nedaleko poblíž
в во у под около возле близ из до край близо при
σε στο στη στην στον κοντά από
""".split())
# Nouns for a settlement, a district or a shrine, written before its name, with or without
# "of" ("the village of <X>", "Santuario di <X>", "село <X>", "wieś <X>").
SETTLEMENTS = frozenset("""
village town city hamlet municipality commune borough township parish settlement suburb district county
province region valley island sanctuary shrine basilica abbey monastery
dorf stadt gemeinde ortschaft ortsteil kreis landkreis wallfahrtskirche kloster
village ville commune bourg hameau sanctuaire basilique abbaye
pueblo aldea ciudad villa municipio santuario basílica
paese borgo città comune frazione santuario basilica abbazia
cidade vila aldeia município santuário
dorp stad gemeente
stad kommune kommun socken
kylä kaupunki kunta
wieś miasto gmina miasteczko sanktuarium
vesnice město obec
село деревня город посёлок поселок станица хутор район монастырь
град село градче махала манастир
χωριό πόλη δήμος μονή
köy kasaba şehir ilçe
""".split())
MAX_WINDOW = 3  # words looked at on each side of the name for a longer place name


@dataclass(frozen=True)
class _Word:
    text: str
    start: int
    end: int


MAX_REACH = 120  # characters looked at on each side of the span


@lru_cache(maxsize=256)
def _words(prompt: str, start: int, end: int) -> tuple[list[_Word], int, int]:
    """The words of the phrase holding ``[start, end)`` (punctuation other than hyphens ends a
    phrase; hyphens and spaces separate words), and the indices of the span's first and last word."""
    import unicodedata

    def in_word(ch: str) -> bool:
        return ch.isalnum() or ch in "'’" or (not ch.isascii() and unicodedata.category(ch).startswith("M"))

    def in_phrase(ch: str) -> bool:  # hyphens join the words of a name ("Saint-Nicolas-de-Redon")
        return in_word(ch) or ch in " \t-‐"

    lo = start
    while lo > max(0, start - MAX_REACH) and in_phrase(prompt[lo - 1]):
        lo -= 1
    hi = end
    while hi < min(len(prompt), end + MAX_REACH) and in_phrase(prompt[hi]):
        hi += 1
    words: list[_Word] = []
    k = lo
    while k < hi:
        if not in_word(prompt[k]):
            k += 1
            continue
        s = k
        while k < hi and in_word(prompt[k]):
            k += 1
        words.append(_Word(prompt[s:k], s, k))
    first = next((n for n, w in enumerate(words) if w.end > start), 0)
    last = max((n for n, w in enumerate(words) if w.start < end), default=first)
    return words, first, max(first, last)


def _capitalised(word: str, lowercase_prompt: bool) -> bool:
    first = next((c for c in word if c.isalpha()), "")
    return lowercase_prompt or first.isupper() or (bool(first) and not first.islower())


def _key(words: list[_Word]) -> str:
    return gazetteer.place_key(" ".join(w.text for w in words))


def _regions() -> frozenset[str]:
    """Country names (English and pycountry's translations) and ISO 3166-2 regions, keyed
    (extracted with the gazetteer, ``gazetteer.region_names``)."""
    return gazetteer.place_words()["region"]


def _region(words: list[_Word]) -> str:
    """The country, region or large place (1 to 3 words) that starts ``words``, or ""."""
    for n in range(min(3, len(words)), 0, -1):
        key = _key(words[:n])
        if key in _regions() or gazetteer.is_place(key, gazetteer.ALT_MIN_POPULATION):
            return " ".join(w.text for w in words[:n])
    return ""


def _place_after(words: list[_Word], lowercase: bool) -> str:
    """The place (1 to 3 capitalised words of the gazetteer) that starts ``words``, or ""."""
    for n in range(min(3, len(words)), 0, -1):
        if all(_capitalised(w.text, lowercase) for w in (words[0], words[n - 1])) and gazetteer.population(_key(words[:n])) is not None:
            return " ".join(w.text for w in words[:n])
    return ""


def joins_place_names(word: str) -> bool:
    """Whether ``word`` is one of the lower-case words that join place names ("de", "am", "sur")."""
    return gazetteer.place_key(word) in gazetteer.place_words()["join"]


def place_name_around(prompt: str, start: int, end: int) -> tuple[str, int] | None:
    """The longer place name of the gazetteer that the span is part of, and where it starts, or None.

    "Santiago de Compostela", "Saint-Nicolas-de-Redon": up to :data:`MAX_WINDOW` words on
    each side, within one phrase, the first and last of them capitalised (unless the prompt
    has no capitals at all).
    """
    words, i, j = _words(prompt, start, end)
    lowercase = not any(c.isupper() for c in prompt)
    lo, hi = max(0, i - MAX_WINDOW), min(len(words) - 1, j + MAX_WINDOW)
    keys = {k: gazetteer.place_key(words[k].text) for k in range(lo, hi + 1)}  # each word keyed once
    caps = {k: _capitalised(words[k].text, lowercase) for k in keys}
    for a in range(lo, i + 1):
        if not caps[a]:
            continue
        for b in range(hi, j - 1, -1):
            if (a, b) == (i, j) or b - a + 1 > gazetteer.MAX_PLACE_WORDS or not caps[b]:
                continue
            key = " ".join(k for k in (keys[n] for n in range(a, b + 1)) if k)
            if gazetteer.population(key) is not None:
                return prompt[words[a].start : words[b].end], words[a].start
    return None


def place_reading(prompt: str, start: int, end: int, min_population: int = DEFAULT_PLACE_POPULATION) -> str:
    """Why the span ``prompt[start:end]`` reads as (part of) a place's name, or "" (see the module doc)."""
    words, i, j = _words(prompt, start, end)
    if not words:
        return ""
    lowercase = not any(c.isupper() for c in prompt)
    span_key = _key(words[i : j + 1])
    if is_place(span_key, min_population):
        return f"{span_key!r} is a town of {min_population:,} or more people"
    around = place_name_around(prompt, start, end)
    if around is not None:
        return f"part of the place name {around[0]!r}"
    joins = gazetteer.place_words()["join"]
    from stylegate.governance.screening import lexicon

    # "<X> de <Place>": a joining word of place names, then a place.
    if j + 2 < len(words):
        join = _key(words[j + 1 : j + 2])
        if join in joins and not lexicon.is_common(join):
            place = _place_after(words[j + 2 :], lowercase)
            if place:
                return f"{words[j + 1].text!r} {place!r} after it: a place's name"
    # "the village of <X>", "Santuario di <X>", "село <X>", "San <X>".
    if i > 0:
        before = words[i - 1]
        head = before
        if _key([before]) in joins and i > 1:
            head = words[i - 2]
        head_key = head.text.casefold()
        starts = gazetteer.place_words()["start"]
        if head_key in SETTLEMENTS or (
            head is before and len(head.text) >= 3 and _capitalised(head.text, False) and _key([head]) in starts
            and gazetteer.population(span_key) is not None  # "Forest" starts place names, but "Misty Forest <X>"
        ):
            return f"{head.text!r} before it: a place's name"
    # A place of any size where the prompt puts a place.
    if gazetteer.population(span_key) is not None:
        if i > 0 and words[i - 1].text.casefold() in LOCATIVE and not prompt[words[i - 1].end : start].strip():
            return f"a place ({span_key!r}) after {words[i - 1].text!r}"
        rest = prompt[end:].lstrip(" \t")
        if rest.startswith(","):
            after, _, _ = _words(prompt, end + prompt[end:].index(",") + 1, len(prompt))
            region = _region([w for w in after if w.start > end])
            if region:
                return f"a place ({span_key!r}) before {', ' + region!r}"
    return ""


# Head nouns of the proper names of places, buildings, institutions, businesses and awards,
# in the languages the gate screens. A surname inside such a name ("<Surname> State Museum",
# "<Surname> hotel", "Hotel <Surname>", "ulica <Surname-genitive>") names the place, not a
# style. Generic vocabulary: no corpus word or prompt is listed here.
#
# Institutions count in any case ("the Mondrian hotel"): nobody paints "a hotel" in an
# artist's manner by writing "<Surname> hotel".
INSTITUTIONS = frozenset("""
museum museums gallery galleries archive archives library hotel hotels motel hostel inn resort spa lodge
lab labs laboratory laboratories institute institution academy college university gymnasium lyceum
hospital clinic infirmary centre center foundation society trust prize award awards medal scholarship
fellowship trophy festival competition lecture observatory zoo aquarium company corporation corp inc ltd
llc bank brewery winery distillery restaurant cafe café bistro bar pub bakery shop store mall
street avenue road lane boulevard crescent alley
museet museo musée museu muzeum muziejus muzejs múzeum muzej müzesi galleria galerie galeria galería
gatvė iela utca út tér katu kuja gata gatan gade vej vei veien straße strasse weg platz allee gasse
ulica ulice náměstí trg koleji lisesi okulu üniversitesi caddesi sokak sokağı meydanı gimnázium
gimnazjum gimnazija liceum lycée liceo akademia akademie académie academia hotell hôtel hostal teatro
théâtre teatr stiftung fundación fundação fundació fundacja nadace fondation fondazione institut instituto istituto universität
université universidad università universitet uniwersytet krankenhaus
музей музея галерея гостиница отель улица площадь проспект переулок набережная театр университет
институт академия гимназия парк бульвар шоссе вокзал станция завод фабрика колхоз совхоз
μουσείο πινακοθήκη οδός πλατεία ξενοδοχείο θέατρο πανεπιστήμιο σχολείο πάρκο
""".split())
# Places and buildings that are also what artists paint ("a Hiroshige bridge" is a style):
# these count only capitalised, as the head of a proper name ("Halonen Bay", "Astrup Pier").
NAMED_PLACES = frozenset("""
park gardens garden square plaza bay beach lake river creek falls island islands peninsula cape mountain
mountains hill hills valley glacier fjord pier wharf harbour harbor port bridge tower towers station
airport stadium arena theatre theater cinema hall house palace castle manor villa farm farms ranch estate
mill mine church cathedral chapel temple monastery abbey district quarter village town county borough
building complex monument memorial cemetery school market group
puisto bahía baie bucht lahti järvi lago lac sjö vatn parque parc parco
""".split())
# Written before the name ("Hotel <Surname>", "Lake <Surname>", "ulica <Surname>").
NAMED_BEFORE = frozenset("""
lake mount mt cape fort port saint st san santa são casa palazzo château schloss villa club klub colegio
rue calle avenida rua viale corso piazza plac ul aleja
""".split())
MAX_NAME_WORDS = 3  # capitalised words between a surname and the head noun of a proper name


def _words_after(prompt: str, end: int) -> list[tuple[str, str]]:
    """Up to ``MAX_NAME_WORDS + 1`` words after ``end``: (word, the gap before it); stops at punctuation."""
    out: list[tuple[str, str]] = []
    k = end
    while len(out) <= MAX_NAME_WORDS and k < len(prompt):
        gap_start = k
        while k < len(prompt) and prompt[k] in " \t-‐":
            k += 1
        gap = prompt[gap_start:k]
        start = k
        while k < len(prompt) and (prompt[k].isalpha() or prompt[k] in "'’" or _is_mark(prompt[k])):
            k += 1
        if k == start or (not gap and out) or (not gap and not out):
            break  # punctuation, or letters glued to the name (part of another word)
        out.append((prompt[start:k], gap))
    return out


def _is_mark(ch: str) -> bool:
    import unicodedata

    return unicodedata.category(ch).startswith("M")


# "Named after" in the names of institutions: Polish "im." (imienia), Russian "им." (имени),
# Ukrainian "ім." (імені). Only with the dot: German "im" is "in the" ("im Rutkowski-Stil").
NAMED_AFTER = frozenset({"im.", "imienia", "им.", "имени", "ім.", "імені"})


def proper_name_head(prompt: str, start: int, end: int) -> str:
    """The head noun when the span is part of the proper name of a place or institution, or "".

    "Levitan House Museum", "the Mondrian hotel", "Avetisyan Dental Clinic", "Halonen Bay",
    "Hotel Wyspiański", "ulica Matejki": the head comes right after the span, or after up to
    :data:`MAX_NAME_WORDS` capitalised words that continue the name; or it is the word right
    before the span. A lone surname there is read like a common word: it stands only next
    to a style cue. A full name is not asked about (it stands on its own).
    """
    for n, (word, _gap) in enumerate(_words_after(prompt, end)):
        folded = word.casefold().rstrip("'’")
        if folded in INSTITUTIONS or (word[:1].isupper() and folded in NAMED_PLACES):
            return word
        if not word[:1].isupper() or n >= MAX_NAME_WORDS:
            break  # a lower-case word that is no head ends the name
    k = start
    while k > 0 and prompt[k - 1] in " \t":
        k -= 1
    if k == start or k == 0:
        return ""  # nothing, or letters glued to the span
    word_end = k
    while k > 0 and (prompt[k - 1].isalpha() or _is_mark(prompt[k - 1]) or prompt[k - 1] == "."):
        k -= 1
    word = prompt[k:word_end]
    if word.casefold() in NAMED_AFTER:
        return word  # "Teatr im. Witkacego": an institution named after the person
    before = word.casefold().rstrip(".")
    if before in INSTITUTIONS or (word[:1].isupper() and (before in NAMED_PLACES or before in NAMED_BEFORE)):
        return word
    return ""


def institution_before(prompt: str, start: int) -> str:
    """The capitalised institution noun right before a full name starting at ``start``
    ("Fundació Joan Miró", "Museo Joaquín Sorolla", "Fondation Louis Vuitton"), or ""."""
    k = start
    while k > 0 and prompt[k - 1] in " \t":
        k -= 1
    if k == start or k == 0:
        return ""
    word_end = k
    while k > 0 and (prompt[k - 1].isalpha() or _is_mark(prompt[k - 1])):
        k -= 1
    word = prompt[k:word_end]
    return word if word[:1].isupper() and word.casefold() in INSTITUTIONS else ""


def institution_after(prompt: str, end: int) -> str:
    """The institution noun that a full name ending at ``end`` starts the name of, or "".

    "the Jan Matejko Academy of Fine Arts", "Szinyei Merse Pál Gimnázium": an
    :data:`INSTITUTIONS` noun right after the name, or after up to :data:`MAX_NAME_WORDS`
    capitalised words, itself capitalised. Place nouns that are also what artists paint ("house", "garden",
    "bridge") do not count here: "Claude Monet garden" may well ask for the style.
    """
    for n, (word, _gap) in enumerate(_words_after(prompt, end)):
        if not word[:1].isupper():
            break  # "Joaquín Sorolla street scene": a lower-case noun is no part of a proper name
        if word.casefold().rstrip("'’") in INSTITUTIONS:
            return word
        if n >= MAX_NAME_WORDS:
            break
    return ""


def load() -> None:
    """Open the gazetteer and read the place-forming words and regions now (otherwise on first use)."""
    gazetteer.load()
    gazetteer.place_words()
