"""Frequent given names of many countries, from the names-dataset package.

names-dataset (MIT, Philippe Rémy) ships the first names of people of 105 countries with
each name's popularity rank per country. A word right before a registered surname that is
a frequent given name somewhere ("Maxim" is the 146th name in Russia) and not one of the
artist's own given names names somebody else with that surname: "Maxim Gorky" is not
Arshile Gorky (see :func:`another_persons_given_name`).

The package's table is a 25 MB pickle that takes about 3 s and 900 MB to read, so it is
read once, in a child process, and the names ranked within :data:`MAX_RANK` in some
country (about 61,000) are kept in a small text file in the user's cache folder, keyed by
the package's version; later processes read that file (about 50 ms). Without the package
no word counts as a given name (a warning is logged): surnames then match as before.

Every ranked first name and surname (any rank, any country: about 1.4 million words) is
also kept, sorted, in a second cache file that is searched in place through ``mmap``
(:func:`is_persons_name`): it tells whether a registered name's word names other people
too ("Möbius", "Hirst" do; "Kandinsky", "Hokusai" do not), which the attributive rule of
``screening.names`` asks. Nothing of it is read into memory; the first look-up of a fresh
install extracts it once, in a child process, like the given names.
"""

from __future__ import annotations

import logging
import mmap
import os
import sys
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from stylegate.governance.screening.datacache import cache_file, ensure_extracted, package_version, write_atomically

log = logging.getLogger(__name__)

MAX_RANK = 1000  # a name among the 1,000 most given in at least one country is a frequent given name
# A word more common than this (Zipf, any screened language) is read as a word before it is
# read as a name: "Rose", "Moon", "Summer" are given names too.
MAX_WORD_ZIPF = 4.0
# A word up to this common is still read as a name when it is one of the 100 most given
# names somewhere ("Harry" 4.8, rank 83; "Franco" 4.5, rank 30) and the capital is not
# title case (see ``names._someone_else``); "Forest" (4.7, rank 476) stays a word.
NAME_WORD_ZIPF = 5.0
TOP_RANK = 100
VARIANT_SHARE = 0.4  # a spelling this close to one of the artist's given names is that name ("Vasily", "Wassily")
_FORMAT = "1"
_NAMES_FORMAT = "1"
_FREQUENT_FORMAT = "1"
# Countries whose people write the family name first (Japan, the Koreas, China, Taiwan, Hong
# Kong, Hungary, Vietnam): a frequent given name of these written right *after* a registered
# surname ("Yoshida Shigeru") names somebody else with that surname.
SURNAME_FIRST = frozenset({"JP", "KR", "KP", "CN", "TW", "HK", "MO", "HU", "VN"})


def _dataset_version() -> str | None:
    return package_version("names-dataset")


def cache_path(version: str) -> Path:
    """Where the given names of names-dataset ``version`` are kept (``STYLEGATE_NAMES_CACHE`` overrides)."""
    return cache_file(f"given-names-{version}-r{MAX_RANK}-v{_FORMAT}.tsv", "STYLEGATE_NAMES_CACHE")


def names_cache_path(version: str) -> Path:
    """Where every ranked given name and surname of names-dataset ``version`` is kept
    (``STYLEGATE_PERSON_NAMES_CACHE`` overrides)."""
    return cache_file(f"person-names-{version}-v{_NAMES_FORMAT}.txt", "STYLEGATE_PERSON_NAMES_CACHE")


def frequent_cache_path(version: str) -> Path:
    """Where the frequent surnames and surname-first given names of names-dataset ``version`` are kept."""
    return cache_file(f"frequent-names-{version}-r{MAX_RANK}-v{_FREQUENT_FORMAT}.tsv", "STYLEGATE_FREQUENT_NAMES_CACHE")


def extract_names(out: Path) -> int:
    """Write the canonical key of every ranked one-word first name and surname to ``out``.

    One key a line, sorted by their UTF-8 bytes (what :class:`SortedKeys` searches).
    """
    import gzip
    import pickle
    from importlib import resources

    from stylegate.governance.screening.canonical import canonical_word

    keys: set[str] = set()
    for file in ("first_names.pkl.gz", "last_names.pkl.gz"):
        source = resources.files("names_dataset").joinpath("v3", file)
        with source.open("rb") as raw, gzip.open(raw) as fh:
            table = pickle.load(fh)  # noqa: S301 - the installed package's own data file
        for name, info in table.items():
            if (info or {}).get("rank") and " " not in name:
                key = canonical_word(name)
                if key and "\n" not in key:
                    keys.add(key)
        del table  # the two tables together would take about 2 GB
    write_atomically(out, b"".join(k + b"\n" for k in sorted(k.encode("utf-8") for k in keys)))
    return len(keys)


class SortedKeys:
    """Membership in a file of sorted lines, by binary search over the bytes of a read-only ``mmap``."""

    def __init__(self, path: Path) -> None:
        self._fh = path.open("rb")
        size = os.fstat(self._fh.fileno()).st_size
        self._map: mmap.mmap | bytes = mmap.mmap(self._fh.fileno(), 0, access=mmap.ACCESS_READ) if size else b""

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str) or not key or "\n" in key:
            return False
        target, data = key.encode("utf-8"), self._map
        lo, hi = 0, len(data)  # [lo, hi) always holds whole lines
        while lo < hi:
            start = data.rfind(b"\n", lo, (lo + hi) // 2) + 1 or lo
            end = data.find(b"\n", start, hi)
            end = hi if end < 0 else end
            line = data[start:end]
            if line == target:
                return True
            if line < target:
                lo = end + 1
            else:
                hi = start
        return False


def extract(out: Path) -> int:
    """Read names-dataset's first names and write ``key<TAB>best rank`` lines to ``out`` (atomically)."""
    import gzip
    import pickle
    from importlib import resources

    from stylegate.governance.screening.canonical import canonical_word

    source = resources.files("names_dataset").joinpath("v3", "first_names.pkl.gz")
    with source.open("rb") as raw, gzip.open(raw) as fh:
        table = pickle.load(fh)  # noqa: S301 - the installed package's own data file
    best: dict[str, int] = {}
    for name, info in table.items():
        ranks = (info or {}).get("rank") or {}
        if not ranks or " " in name:
            continue
        rank = min(ranks.values())
        key = canonical_word(name)
        if rank <= MAX_RANK and key and rank < best.get(key, MAX_RANK + 1):
            best[key] = rank
    write_atomically(out, "".join(f"{k}\t{r}\n" for k, r in sorted(best.items())).encode("utf-8"))
    return len(best)


def extract_frequent(out: Path) -> int:
    """Write ``key<TAB>kind`` lines: ``S`` for a surname ranked within :data:`MAX_RANK` in some
    country, ``E`` for a given name ranked within it in a country of :data:`SURNAME_FIRST`."""
    import gzip
    import pickle
    from importlib import resources

    from stylegate.governance.screening.canonical import canonical_word

    rows: set[tuple[str, str]] = set()
    for file, kind, countries in (("last_names.pkl.gz", "S", None), ("first_names.pkl.gz", "E", SURNAME_FIRST)):
        source = resources.files("names_dataset").joinpath("v3", file)
        with source.open("rb") as raw, gzip.open(raw) as fh:
            table = pickle.load(fh)  # noqa: S301 - the installed package's own data file
        for name, info in table.items():
            ranks = (info or {}).get("rank") or {}
            if " " in name or not any(r and r <= MAX_RANK and (countries is None or c in countries)
                                      for c, r in ranks.items()):
                continue
            key = canonical_word(name)
            if key and "\n" not in key and "\t" not in key:
                rows.add((key, kind))
        del table
    write_atomically(out, "".join(f"{k}\t{kind}\n" for k, kind in sorted(rows)).encode("utf-8"))
    return len(rows)


def _extracted(path: Path, flags: list[str], extract_in_process: Callable[[Path], int], what: str) -> bool:
    """Whether ``path`` holds its extract, writing it first if missing: in a child process, so
    the gigabyte or two that names-dataset's pickles take while read go away with it; in this
    process if the child fails."""
    return ensure_extracted(path, ["stylegate.governance.screening.givennames", *flags, str(path)],
                            lambda: extract_in_process(path), what, (OSError, ValueError, KeyError, ImportError))


@lru_cache(maxsize=1)
def _ranks() -> dict[str, int]:
    """Canonical given name → best popularity rank over the countries (only ranks ≤ :data:`MAX_RANK`)."""
    version = _dataset_version()
    if version is None:
        log.warning("names-dataset is not installed: no word before a surname counts as another person's given name")
        return {}
    path = cache_path(version)
    if not _extracted(path, [], extract, f"names-dataset {version}'s given names"):
        return {}
    out: dict[str, int] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            key, _, rank = line.rstrip("\n").partition("\t")
            if key and rank.isdigit():
                out[key] = int(rank)
    log.debug("given names: %d from names-dataset %s", len(out), version)
    return out


@lru_cache(maxsize=1)
def _person_names() -> SortedKeys | None:
    """The sorted file of every ranked given name and surname, extracted on first use."""
    version = _dataset_version()
    if version is None:
        log.warning("names-dataset is not installed: no name's word counts as other people's name")
        return None
    path = names_cache_path(version)
    if not _extracted(path, ["--names"], extract_names, f"names-dataset {version}'s first names and surnames"):
        return None
    return SortedKeys(path)


@lru_cache(maxsize=1)
def _frequent() -> dict[str, str]:
    """Canonical key → kinds ("S" frequent surname, "E" surname-first given name), extracted on first use."""
    version = _dataset_version()
    if version is None:
        return {}
    path = frequent_cache_path(version)
    if not _extracted(path, ["--frequent"], extract_frequent, f"names-dataset {version}'s frequent surnames"):
        return {}
    out: dict[str, str] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            key, _, kind = line.rstrip("\n").partition("\t")
            if key:
                out[key] = out.get(key, "") + kind
    return out


def is_frequent_surname(key: str) -> bool:
    """Whether a canonical word is a surname ranked within :data:`MAX_RANK` in some country."""
    return "S" in _frequent().get(key, "")


def is_surname_first_given_name(key: str) -> bool:
    """Whether a canonical word is a frequent given name in a country that writes the surname first."""
    return "E" in _frequent().get(key, "")


def is_frequent_name(key: str) -> bool:
    """A frequent given name (anywhere) or a frequent surname: a name many other people bear."""
    return is_given_name(key) or is_frequent_surname(key)


def is_persons_name(key: str) -> bool:
    """Whether a canonical word is somebody's first name or surname in names-dataset (any rank, any country)."""
    names = _person_names()
    return names is not None and key in names


def load() -> None:
    """Read the given names now (they are otherwise read on first use; the first time, a few seconds)."""
    _ranks()


def rank(key: str) -> int | None:
    """Best popularity rank of a canonical given name over the countries, or None when not frequent."""
    return _ranks().get(key)


def is_given_name(key: str) -> bool:
    """Whether a canonical word is a frequent given name in at least one country."""
    return key in _ranks()


def is_variant(word: str, given: list[str]) -> bool:
    """Whether ``word`` spells one of the artist's ``given`` names another way ("Vasily", "Wassily").

    Up to :data:`VARIANT_SHARE` of its letters edited, or the same consonant skeleton
    (``screening.skeleton``).
    """
    from rapidfuzz.distance import Levenshtein

    from stylegate.governance.screening.skeleton import word_skeleton

    for g in given:
        if word == g:
            return True
        limit = int(VARIANT_SHARE * max(len(g), len(word)))
        # Edits keep the first sound: "Vasily" spells "Wassily" (v and w are one consonant
        # class), "Rabindranath" does not spell "Abanindranath".
        same_start = word[:1] == g[:1] or word_skeleton(word[:1]) == word_skeleton(g[:1])
        if same_start and Levenshtein.distance(word, g, score_cutoff=limit) <= limit:
            return True
        if len(g) >= 3 and word_skeleton(word) == word_skeleton(g):
            return True
    return False


def another_persons_given_name(key: str, given: list[str], word_zipf: float, top_names: bool = False) -> bool:
    """Whether ``key`` (the word before a registered surname) is somebody else's given name.

    It is a frequent given name (names-dataset), not more common than :data:`MAX_WORD_ZIPF`
    as a word (``word_zipf``; with ``top_names``, up to :data:`NAME_WORD_ZIPF` for a name
    ranked within :data:`TOP_RANK`), not a noun for a work of art ("Pop Art Warhol"), and
    not a spelling of the artist's ``given`` names.
    """
    from stylegate.governance.screening.cues import is_art_noun

    best = rank(key)
    limit = NAME_WORD_ZIPF if top_names and best is not None and best <= TOP_RANK else MAX_WORD_ZIPF
    if word_zipf >= limit or best is None or is_art_noun(key):
        return False
    return not is_variant(key, given)


if __name__ == "__main__":  # the child process of :func:`_ranks` and :func:`_person_names`
    if sys.argv[1] == "--names":
        print(extract_names(Path(sys.argv[2])))
    elif sys.argv[1] == "--frequent":
        print(extract_frequent(Path(sys.argv[2])))
    else:
        print(extract(Path(sys.argv[1])))
