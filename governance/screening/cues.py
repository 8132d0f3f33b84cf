"""Context around a name in a prompt: style cues, and signs that it was disguised.

A lone surname or a one-word name that is also a common word ("Queen", "Nielsen") counts
only when the prompt treats it as an artist: a *style cue* next to it ("by", "in the style
of", "-esque", "#", "@", "im Stil von", "в стиле", "w stylu", "風", "스타일", …) or an
*obfuscation* (letter spacing, leetspeak, homoglyphs, zero-width or compatibility
characters), which nobody uses on an ordinary word.

Cues are *strong* (they name a style or an artist: "in the style of", "art by", "#") or
*weak* ("by", "von", "par", a possessive): a weak cue counts for a common word only when the
word is capitalised as a name ("a painting by Heart", not "Learned by heart"), or when the
prompt uses no capitals at all, so case tells nothing.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from stylegate.governance.screening.scripts import COMMON, is_unspaced, script_of

# Phrases written before a name, casefolded, longest first within each language.
STRONG_BEFORE = (
    # English
    "in the style of", "in the manner of", "in the vein of", "style of", "styled after", "styled like",
    "inspired by", "art by", "artwork by", "painting by", "painted by", "drawn by", "drawing by",
    "illustrated by", "illustration by", "artist", "à la", "a la",
    # German, French, Spanish, Italian, Portuguese, Dutch, Nordic
    "im stil von", "im stile von", "im stil", "nach art von", "inspiriert von",
    "dans le style de", "dans le style d'", "à la manière de", "a la maniere de", "style de", "inspiré par",
    "al estilo de", "en el estilo de", "estilo de", "inspirado en", "nello stile di", "alla maniera di",
    "stile di", "no estilo de", "ao estilo de", "in de stijl van", "stijl van", "i stil med", "i stilen til",
    "i stil av", "i samme stil som",
    # Polish, Czech, Russian, Ukrainian, Greek, Turkish
    "w stylu", "na wzór", "ve stylu", "inspirováno", "inspirovaný", "inspirovaná", "inspirované",
    "inspirowany", "inspirowana", "inspirowane", "inšpirované", "в стиле", "в манере", "в стилі", "у стилі", "στο στυλ του",
    "στο στυλ της", "σε στυλ", "tarzında",
    # Arabic, Hindi, Chinese, Japanese, Korean
    "بأسلوب", "على طريقة", "की शैली में", "仿", "模仿",
    # Thai: "style", "in the style of"
    "สไตล์", "ในสไตล์ของ", "ในสไตล์", "แบบ",
    # Bulgarian, Macedonian, Serbian, Persian, Hebrew
    # Romanian, Catalan, Hungarian, Slovak, Slovenian, Croatian, Lithuanian, Latvian
    "în stilul lui", "în stilul", "in stilul lui", "a l'estil de", "en l'estil de", "estil de", "v štýle", "v slogu",
    "u stilu", "στο ύφος του", "στο ύφος της", "στο ύφος",
    "в стила на", "по стила на", "в маниера на", "во стилот на", "у стилу", "по узору на", "به سبک", "בסגנון",
    "בהשראת",
)
WEAK_BEFORE = (
    "by", "after", "like", "von", "nach", "par", "de", "d'", "por", "di", "da", "av", "door", "af",
    "od", "от", "від", "από", "του", "της", "من", "podle", "według",
)
# Phrases written after a name (glued or spaced), casefolded.
STRONG_AFTER = (
    "style", "styled", "styles", "esque", "inspired", "aesthetic", "stil", "stijl", "stile", "estilo",
    "styl", "stylu", "стиль", "стилю", "στυλ", "tarzı", "tarzında", "tyyliin", "tyyliä", "tyylinen",
    "stílusában", "stílusú", "stílusa", "idéző", "stiliumi", "stiliaus", "stilā", "stilu", "stilius",
    "की शैली", "शैली", "जैसा", "जैसी", "जैसे", "के अंदाज़ में", "风格", "風格", "画风", "畫風", "風", "风", "スタイル", "画風", "タッチ", "っぽい",
    "스타일", "화풍", "풍", "式", "笔意", "筆意", "画法",
    # Tamil, Bengali, Urdu, Georgian, Armenian (written after the name)
    "பாணியில்", "பாணியிலான", "பாணி", "ஸ்டைல்", "শৈলীতে", "ধাঁচে", "স্টাইলে", "کے انداز میں", "سٹائل",
    "სტილში", "სტილით", "ոճով",
)
# Nouns that make the word before them a place's name ("Sorolla street", "Kusama station"):
# a lone surname followed by one of them needs a style cue like a common word.
PLACE_AFTER = frozenset({
    "street", "st", "avenue", "ave", "road", "rd", "lane", "boulevard", "square", "plaza", "station",
    "bridge", "park", "airport", "district", "quarter", "harbour", "harbor", "hall", "tower",
    "straße", "strasse", "platz", "bahnhof", "gasse", "calle", "rue", "gare", "via", "piazza",
    "ulica", "улица", "проспект", "площадь", "通り", "駅",
    # a station or line of a transit network named after someone ("Tsereteli metro station")
    "metro", "subway", "underground", "tram", "metró", "метро", "станция",
})


def place_after(prompt: str, end: int) -> str:
    """The place noun right after a name ending at ``end`` ("street" in "Sorolla street"), or ""."""
    rest = prompt[end:]
    stripped = rest.lstrip(" \t-")
    if not stripped or len(stripped) == len(rest) and not is_unspaced(script_of(stripped[0])):
        return ""  # glued letters are part of another word
    word = ""
    for ch in stripped:
        if not (ch.isalpha() or _is_mark(ch)):
            break
        word += ch
        if is_unspaced(script_of(ch)) and word.casefold() in PLACE_AFTER:
            return word
    return word if word.casefold().rstrip(".") in PLACE_AFTER else ""


# Businesses and buildings named after their owner ("Larsson's bakery", "Miller's pub"): a
# possessive followed by one of them is an owner's name, not a style, so it is no cue.
ESTABLISHMENTS = frozenset({
    "bakery", "shop", "store", "market", "restaurant", "cafe", "café", "diner", "bar", "pub", "tavern", "inn",
    "hotel", "motel", "garage", "workshop", "farm", "ranch", "pharmacy", "clinic", "salon", "barbershop",
    "butcher", "deli", "grocery", "bistro", "brewery", "winery", "factory", "bookshop", "bookstore", "boutique", "bakeri", "bageri", "konditori", "bäckerei", "laden",
    "panadería", "boulangerie",
})


def establishment_after(prompt: str, end: int) -> str:
    """The business noun right after a possessive name ("bakery" in "Larsson's bakery"), or ""."""
    rest = prompt[end:]
    for mark in _POSSESSIVE:
        if rest.startswith(mark):
            rest = rest[len(mark) :]
            break
    rest = rest.lstrip(" \t")
    word = ""
    for ch in rest:
        if not (ch.isalpha() or _is_mark(ch)):
            break
        word += ch
    return word if word.casefold() in ESTABLISHMENTS else ""


def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch).startswith("M")


_TRIM = " \t\"'«»“”„‚‘’()[]:;,.-–—_*"
_POSSESSIVE = ("'s", "’s", "ʼs", "'", "’")


@dataclass(frozen=True)
class Cue:
    text: str  # the cue as written ("in the style of", "#", "'s", "風")
    strong: bool
    # A possessive is the weakest cue ("a baker's dozen"): it needs a capital letter even in
    # a prompt written all in lower case.
    possessive: bool = False


POSSESSIVE = Cue("'s", False, True)


def _boundary_before(text: str, at: int) -> bool:
    """No letter right before position ``at`` (a cue must start a word)."""
    return at <= 0 or not text[at - 1].isalpha()


def _is_cjk_like(cue: str) -> bool:
    return any(is_unspaced(script_of(c)) for c in cue)


def style_cue(prompt: str, start: int, end: int) -> Cue | None:
    """The style cue next to the span ``prompt[start:end]``, strongest first, or None."""
    before_raw = prompt[:start]
    if before_raw.endswith("#") or before_raw.endswith("@"):
        return Cue(before_raw[-1], True)
    before = before_raw.casefold().rstrip(_TRIM)
    after_raw = prompt[end:]
    after = after_raw.casefold().lstrip(" \t-–_")
    found: Cue | None = None
    for strong, phrases in ((True, STRONG_BEFORE), (False, WEAK_BEFORE)):
        for phrase in phrases:
            if before.endswith(phrase) and (_is_cjk_like(phrase) or _boundary_before(before, len(before) - len(phrase))):
                return Cue(phrase, strong)
    for phrase in STRONG_AFTER:
        if after.startswith(phrase):
            rest = after[len(phrase) :]
            if _is_cjk_like(phrase) or not rest or not rest[0].isalpha():
                return Cue(phrase, True)
    for mark in _POSSESSIVE:
        rest = after_raw[len(mark) :]
        if after_raw.startswith(mark) and (not rest or not rest[0].isalpha()):
            found = POSSESSIVE
            break
    return found


# Art-sharing sites named in a comma-separated tag list ("castle, rutkowski, artstation"):
# in such a list a tag that is a whole name is a style tag.
PLATFORMS = ("artstation", "deviantart", "pixiv", "behance", "cgsociety")


def tag_list_cue(prompt: str, start: int, end: int) -> Cue | None:
    """A strong cue when ``prompt[start:end]`` is a whole tag of a tag list that names an art site."""
    tags = prompt.split(",")
    if len(tags) < 3:
        return None
    at = 0
    site = ""
    whole = False
    for tag in tags:
        lo = at + len(tag) - len(tag.lstrip())
        hi = at + len(tag.rstrip())
        if lo == start and hi == end:
            whole = True
        else:
            folded = tag.casefold()
            site = site or next((p for p in PLATFORMS if p in folded), "")
        at += len(tag) + 1
    return Cue(site, True) if whole and site else None


def counts(cue: Cue, prompt: str, start: int, end: int, min_zipf: float = 3.0) -> bool:
    """Whether ``cue`` makes a common word next to it a name (see the module doc).

    A weak cue before a word written in lower case in a prompt without capitals counts
    unless the word is an ordinary word of the cue's language (see :func:`binds_ordinary_word`).
    """
    if cue.strong:
        return True
    if cue.possessive:
        return _first_letter_upper(prompt, start, end)
    if not capitalised(prompt, start, end):
        return False
    return _first_letter_upper(prompt, start, end) or not binds_ordinary_word(cue, prompt, start, end, min_zipf)


def binds_ordinary_word(cue: Cue, prompt: str, start: int, end: int, min_zipf: float = 3.0) -> str:
    """The language in which a weak cue reads as a plain preposition before an ordinary word, or "".

    "un perro de raza" (a pedigree dog): "de" is Spanish "of" as much as "by", and "raza"
    (breed) is a common Spanish word (Zipf >= ``min_zipf`` in Spanish). The language is the
    one of the cue's languages that best covers the prompt's other words
    (``screening.language``). An art noun in the two words before the cue ("un cuadro de
    raza", "a painting by heart") makes the cue a style cue again.
    """
    from stylegate.governance.screening import language

    if cue.strong or cue.possessive:
        return ""
    before = prompt[:start].casefold().rstrip(_TRIM)
    if not before.endswith(cue.text):
        return ""
    head = before[: len(before) - len(cue.text)].split()
    if any(is_art_noun(w) for w in head[-2:]):
        return ""
    others = [w.strip(_TRIM) for w in (prompt[:start] + " " + prompt[end:]).split()]
    langs = language.best_languages([w for w in others if w.casefold() != cue.text], language.cue_languages(cue.text))
    return language.ordinary_in(prompt[start:end].strip(_TRIM), langs, min_zipf)


# Nouns for a picture or a work of art, in the screened languages: next to one, a weak cue
# is about who made the work ("un cuadro de Raza"), and a name before one names its maker
# ("a Banksy mural"). Compared on canonical keys (case and accents folded).
ART_NOUNS = (
    "painting", "paintings", "portrait", "drawing", "sketch", "illustration", "artwork", "art", "print", "etching",
    "engraving", "woodcut", "woodblock", "lithograph", "mural", "fresco", "watercolor", "watercolour", "canvas",
    "comic", "comics", "manga", "sculpture", "stencil", "picture", "masterpiece",
    "cuadro", "pintura", "retrato", "dibujo", "ilustración", "grabado", "acuarela", "obra", "arte", "boceto", "lienzo",
    "tableau", "peinture", "dessin", "gravure", "aquarelle", "fresque", "oeuvre", "esquisse", "toile",
    "quadro", "desenho", "ilustração", "gravura", "aquarela", "tela", "dipinto", "pittura", "ritratto", "disegno",
    "illustrazione", "incisione", "acquerello", "affresco", "opera",
    "gemälde", "bild", "zeichnung", "porträt", "holzschnitt", "radierung", "aquarell", "kunstwerk",
    "schilderij", "tekening", "portret", "illustratie", "målning", "maleri", "teckning", "tegning", "porträtt",
    "portrett", "obraz", "rysunek", "ilustracja", "kresba", "portrét", "картина", "портрет", "рисунок",
    "иллюстрация", "гравюра", "малюнок", "πίνακας", "πορτρέτο", "لوحة",
)


@lru_cache(maxsize=1)
def _art_keys() -> frozenset[str]:
    from stylegate.governance.screening.canonical import canonical_word

    return frozenset(k for k in (canonical_word(w) for w in ART_NOUNS) if k)


def is_art_noun(word: str) -> bool:
    """Whether ``word`` (any case, accents or punctuation around it) names a picture or work of art."""
    from stylegate.governance.screening.canonical import canonical_word

    return canonical_word(word.strip(_TRIM)) in _art_keys()


# Articles of the languages that put a noun's modifiers before it (English, German, Dutch,
# the Nordic languages): between one and a noun, a name is a modifier ("a Möbius strip",
# "a Kawasaki motorcycle", "the Munch Museum"), a brand or a thing named after someone. In
# the Romance languages a name after an article is the head noun ("un Sorolla" is a
# painting by Sorolla), so their articles are not listed.
DETERMINERS = frozenset({
    "a", "an", "the", "ein", "eine", "einen", "einem", "einer", "eines", "der", "die", "das", "den", "dem", "des",
    "een", "het", "en", "ett", "et", "ei", "det",
})
# Closed-class words after a name: the name is then the head of its phrase ("a Moebius in
# the desert" is a work by Moebius), not a modifier.
_CLOSED = frozenset({
    "and", "or", "but", "nor", "of", "in", "on", "at", "by", "for", "with", "from", "to", "into", "onto", "over",
    "under", "near", "behind", "above", "below", "beside", "between", "without", "about", "like", "as", "is",
    "was", "are", "were", "be", "has", "had", "have", "that", "which", "who", "whose", "this", "these", "those",
    "und", "oder", "aber", "von", "mit", "im", "am", "auf", "aus", "für", "ist", "war", "nach", "bei", "unter",
    "über", "vor", "hinter", "neben", "zu", "zum", "zur", "en", "op", "met", "uit", "voor", "naar", "bij",
    "och", "og", "eller", "med", "på", "av", "til", "till", "fra", "från", "är", "er", "som",
})


def attributive(prompt: str, start: int, end: int) -> str:
    """The noun a name modifies between an article and it ("strip" in "a Möbius strip"), or "".

    Only words separated by spaces count (punctuation ends the phrase), and a noun for a
    work of art is no modifier's head: "a Banksy mural" names the mural's maker.
    """
    head = prompt[:start]
    words = head.split()
    if not words or not head[-1:].isspace() or words[-1].casefold() not in DETERMINERS:
        return ""
    rest = prompt[end:]
    if not rest[:1].isspace() and not rest.startswith("-"):
        return ""  # glued letters, or punctuation: no phrase continues
    word = ""
    for ch in rest.lstrip(" \t-"):
        if not (ch.isalpha() or _is_mark(ch)):
            break
        word += ch
    if not word or word.casefold() in _CLOSED or is_art_noun(word):
        return ""
    tail = rest.lstrip(" \t-")[len(word) :]
    if tail[:1] and (tail[0].isalnum() or tail[0] in "'’"):
        return ""  # "a Moebius's ..." or a word running on into digits
    return word


def _first_letter_upper(prompt: str, start: int, end: int) -> bool:
    for ch in prompt[start:end]:
        if ch.isalpha():
            return ch.isupper() or not (ch.islower() or ch.isupper())
    return False


def capitalised(prompt: str, start: int, end: int) -> bool:
    """Whether the span may be a proper name by its case.

    True when its first letter is upper case or of an uncased script, and when the prompt
    has no upper-case letter at all (written all in lower case, case says nothing).
    """
    if not any(c.isupper() for c in prompt):
        return True
    return _first_letter_upper(prompt, start, end)


_SEPARATORS = "_.·•/\\|~*+=-:"


def obfuscation(prompt: str, start: int, end: int, label: str) -> str:
    """How the span was disguised ("" when it is written plainly).

    ``label`` is the registered name the span matched: letters split apart or joined by
    separators that the name itself does not have ("Q u e e n", "qu_een") are a disguise;
    the hyphen of "Lindqvist-Osei" or the initials of "P. S. Krøyer" are not.
    """
    from stylegate.governance.screening.canonical import is_ignorable, tokenize

    raw = prompt[start:end]
    if any(is_ignorable(c) for c in raw):
        return "zero-width characters"
    if unicodedata.normalize("NFKC", raw) != unicodedata.normalize("NFC", raw):
        return "compatibility characters"
    for word in raw.split():
        scripts = {script_of(c) for c in word if c.isalpha()} - {COMMON}
        if len(scripts) > 1 and not all(is_unspaced(s) for s in scripts):
            return "mixed scripts (homoglyphs)"
        if any(c.isalpha() for c in word) and any(c.isdigit() or c in "@$!|+" for c in word.rstrip(_TRIM)):
            return "leetspeak"
    # Scripts written without spaces are read a character at a time: that is no disguise.
    pieces = [t.text for t in tokenize(raw) if not is_unspaced(t.script)]
    initials = sum(len(t.text) == 1 for t in tokenize(label))
    if sum(len(p) == 1 for p in pieces) >= initials + 2:
        return "split letters"
    inner = raw.strip(_TRIM)
    for k, ch in enumerate(inner):
        if ch in _SEPARATORS and ch not in label and 0 < k < len(inner) - 1 and inner[k - 1].isalnum() and inner[k + 1].isalnum():
            return "separators inside the name"
    return ""
