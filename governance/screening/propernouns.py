"""Words that spelling dictionaries know only as proper nouns, from Debian's hunspell dictionaries.

wordfreq folds case, so "Rembrandt" (Zipf 3.6) and "queen" (4.9) look alike: both are
frequent. Hunspell dictionaries (LibreOffice's, packaged by Debian as ``hunspell-en-us``,
``hunspell-de-de``, …) keep case: ordinary words are written in lower case ("queen",
"potter"), proper nouns capitalised ("Rembrandt", "Picasso", "Kawasaki"). A word that some
dictionary of a screened language lists capitalised and no dictionary lists in lower case
is a proper noun, not an ordinary word (:func:`is_proper_only`); ``screening.names`` then
asks names-dataset and the gazetteer whether it is a frequent name of other people or a
place before letting a famous one-word name stand alone.

Only the dictionaries' stems are read (affix rules are not expanded): a name is a stem,
and an ordinary word's stem is enough to tell that the word is ordinary. The proper-only
keys (canonicalised like prompt tokens) are written once to a sorted file in the user's
cache folder, keyed by the dictionaries' names and sizes, and searched in place through
``mmap`` (``givennames.SortedKeys``). Without dictionaries nothing counts as a proper noun
(a warning is logged) and frequent names need a style cue as before.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
from functools import lru_cache
from pathlib import Path

from stylegate.governance.screening.datacache import cache_file, ensure_extracted, write_atomically
from stylegate.governance.screening.givennames import SortedKeys

log = logging.getLogger(__name__)

DEFAULT_DIR = "/usr/share/hunspell"
# One dictionary per screened language (``frequency.LANGUAGES``) that Debian packages.
DICTIONARIES = (
    "en_US", "de_DE", "fr", "es_ES", "it_IT", "pt_PT", "nl", "sv_SE", "nb_NO", "da_DK", "pl_PL", "cs_CZ",
    "ru_RU", "uk_UA", "el_GR", "tr_TR", "he_IL", "hi_IN",
)
# The Debian packages that hold them (``.ci/run`` and the tests install these).
DEBIAN_PACKAGES = (
    "hunspell-en-us", "hunspell-de-de", "hunspell-fr-classical", "hunspell-es", "hunspell-it", "hunspell-pt-pt",
    "hunspell-nl", "hunspell-sv", "hunspell-no", "hunspell-da", "hunspell-pl", "hunspell-cs", "hunspell-ru",
    "hunspell-uk", "hunspell-el", "hunspell-tr", "hunspell-he", "hunspell-hi",
)
_FORMAT = "1"


def dictionary_dir() -> Path:
    """Where the ``.dic``/``.aff`` files are (``STYLEGATE_HUNSPELL_DIR`` overrides)."""
    return Path(os.environ.get("STYLEGATE_HUNSPELL_DIR", DEFAULT_DIR))


def installed_dictionaries(folder: Path | None = None) -> list[Path]:
    """The ``.dic`` files of :data:`DICTIONARIES` present in ``folder`` (default :func:`dictionary_dir`)."""
    folder = dictionary_dir() if folder is None else folder
    return [folder / f"{name}.dic" for name in DICTIONARIES if (folder / f"{name}.dic").is_file()]


def _encoding(dic: Path) -> str:
    aff = dic.with_suffix(".aff")
    try:
        with aff.open("rb") as fh:
            for raw in fh:
                if raw.startswith(b"SET "):
                    return raw[4:].strip().decode("ascii", "replace") or "utf-8"
    except OSError:
        pass
    return "utf-8"


def read_stems(dic: Path) -> tuple[set[str], set[str]]:
    """The canonical keys of a dictionary's lower-case stems and of its capitalised stems."""
    from stylegate.governance.screening.canonical import canonical_word

    lower: set[str] = set()
    upper: set[str] = set()
    text = dic.read_text(encoding=_encoding(dic), errors="replace")
    for line in text.splitlines()[1:]:  # the first line is the entry count
        word = line.split("/", 1)[0].split("\t", 1)[0].strip()
        if not word or " " in word or not word[0].isalpha():
            continue
        key = canonical_word(word)
        if not key or "\n" in key:
            continue
        (upper if word[0].isupper() else lower).add(key)
    return lower, upper


def extract(out: Path, dictionaries: list[Path]) -> int:
    """Write the sorted keys written capitalised in some dictionary and lower-case in none."""

    lower: set[str] = set()
    upper: set[str] = set()
    for dic in dictionaries:
        low, up = read_stems(dic)
        lower |= low
        upper |= up
    proper = sorted(k.encode("utf-8") for k in upper - lower)
    write_atomically(out, b"".join(k + b"\n" for k in proper))
    return len(proper)


def cache_path(dictionaries: list[Path]) -> Path:
    """The extract's file, named by a digest of the dictionaries' paths and sizes."""
    digest = hashlib.sha256(
        "".join(f"{d}:{d.stat().st_size};" for d in dictionaries).encode("utf-8")
    ).hexdigest()[:16]
    return cache_file(f"proper-nouns-{digest}-v{_FORMAT}.txt")


@lru_cache(maxsize=1)
def _proper() -> SortedKeys | None:
    dictionaries = installed_dictionaries()
    if not dictionaries:
        log.warning("no hunspell dictionaries in %s: no frequent word counts as a proper noun "
                    "(install hunspell-en-us, hunspell-de-de, …)", dictionary_dir())
        return None
    path = cache_path(dictionaries)
    # In a child process: the stems of all dictionaries take a few hundred MB while read.
    ensure_extracted(path, [__name__, str(path), *map(str, dictionaries)], lambda: extract(path, dictionaries),
                     f"{len(dictionaries)} hunspell dictionaries' proper nouns")
    return SortedKeys(path)


def is_proper_only(key: str) -> bool:
    """Whether a canonical word is a proper noun in some dictionary and an ordinary word in none."""
    proper = _proper()
    return proper is not None and key in proper


if __name__ == "__main__":  # the child process of :func:`_proper`
    print(extract(Path(sys.argv[1]), [Path(a) for a in sys.argv[2:]]))
