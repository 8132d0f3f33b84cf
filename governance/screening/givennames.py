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
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

MAX_RANK = 1000  # a name among the 1,000 most given in at least one country is a frequent given name
# A word more common than this (Zipf, any screened language) is read as a word before it is
# read as a name: "Rose", "Moon", "Summer" are given names too.
MAX_WORD_ZIPF = 4.0
VARIANT_SHARE = 0.4  # a spelling this close to one of the artist's given names is that name ("Vasily", "Wassily")
_FORMAT = "1"


def _dataset_version() -> str | None:
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version("names-dataset")
    except PackageNotFoundError:
        return None


def cache_path(version: str) -> Path:
    """Where the given names of names-dataset ``version`` are kept (``STYLEGATE_NAMES_CACHE`` overrides)."""
    override = os.environ.get("STYLEGATE_NAMES_CACHE")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("stylegate", appauthor=False)) / f"given-names-{version}-r{MAX_RANK}-v{_FORMAT}.tsv"


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
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=out.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.writelines(f"{k}\t{r}\n" for k, r in sorted(best.items()))
    os.replace(tmp, out)
    return len(best)


@lru_cache(maxsize=1)
def _ranks() -> dict[str, int]:
    """Canonical given name → best popularity rank over the countries (only ranks ≤ :data:`MAX_RANK`)."""
    version = _dataset_version()
    if version is None:
        log.warning("names-dataset is not installed: no word before a surname counts as another person's given name")
        return {}
    path = cache_path(version)
    if not path.exists():
        log.info("reading names-dataset %s's given names once into %s (a few seconds)", version, path)
        done = subprocess.run(  # a child process: the 900 MB the pickle takes go away with it
            [sys.executable, "-m", "stylegate.governance.screening.givennames", str(path)],
            capture_output=True, text=True, check=False,
        )
        if done.returncode != 0 or not path.exists():
            log.warning("could not extract the given names (%s); reading them in this process", done.stderr[-300:])
            try:
                extract(path)
            except (OSError, ValueError, KeyError, ImportError) as exc:
                log.warning("names-dataset could not be read (%s): no given names", exc)
                return {}
    out: dict[str, int] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            key, _, rank = line.rstrip("\n").partition("\t")
            if key and rank.isdigit():
                out[key] = int(rank)
    log.debug("given names: %d from names-dataset %s", len(out), version)
    return out


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
        if Levenshtein.distance(word, g, score_cutoff=limit) <= limit:
            return True
        if len(g) >= 3 and word_skeleton(word) == word_skeleton(g):
            return True
    return False


def another_persons_given_name(key: str, given: list[str], word_zipf: float) -> bool:
    """Whether ``key`` (the word before a registered surname) is somebody else's given name.

    It is a frequent given name (names-dataset), not more common than :data:`MAX_WORD_ZIPF`
    as a word (``word_zipf``), not a noun for a work of art ("Pop Art Warhol"), and not a
    spelling of the artist's ``given`` names.
    """
    from stylegate.governance.screening.cues import is_art_noun

    if word_zipf >= MAX_WORD_ZIPF or not is_given_name(key) or is_art_noun(key):
        return False
    return not is_variant(key, given)


if __name__ == "__main__":  # the child process of :func:`_ranks`
    print(extract(Path(sys.argv[1])))
