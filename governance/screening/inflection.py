"""Case endings on a name: "Rutkowskiego" (Rutkowski), "Кувшиновой" (Кувшинова), "Stålenhags".

Declining languages change the end of a surname: they add an ending, or replace the last
one or two letters with one. A registered one-word key of :data:`MIN_STEM` or more letters
is filed under its stems (the key, and the key less its last one or two letters, each at
least :data:`MIN_STEM` long); a prompt token matches when removing one to
:data:`MAX_ENDING` letters from its end leaves a stem of the key, and the ending is letters
of the same script. Short names never inflect (their stems would be ordinary words), and
an inflected form is longer than the key (a same-length change is a
misspelling), and the caller refuses inflected forms that are common words themselves ("monetary").
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from stylegate.governance.screening.keyindex import FiledKeys
from stylegate.governance.screening.scripts import script_of

log = logging.getLogger(__name__)

MIN_STEM = 5
MAX_ENDING = 4  # letters an ending may add beyond the stem
MAX_CUT = 2  # letters of the key an ending may replace


class InflectionIndex(FiledKeys):
    """Keys filed under their stems (compactly: ``keyindex``)."""

    def __init__(self) -> None:
        super().__init__(self._stems_of)

    @staticmethod
    def _stems_of(key: str) -> set[str]:
        # One letter shorter than MIN_STEM is kept for same-length endings after a given name.
        return {key[: len(key) - cut] for cut in range(MAX_CUT + 1) if len(key) - cut >= MIN_STEM - 1}

    def accepts(self, key: str) -> bool:
        """Short names never inflect: their stems would be ordinary words."""
        return len(key) >= MIN_STEM

    def stems_filed(self, tokens: Iterable[str]) -> dict[str, set[str]]:
        """Keys filed under every stem :meth:`search` may ask about for ``tokens``, in one lookup."""
        stems = {
            token[: len(token) - ending]
            for token in tokens if len(token) >= MIN_STEM
            for ending in range(1, MAX_ENDING + 1) if len(token) - ending >= MIN_STEM - 1
        }
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
            keys = [k for k in sorted(filed.get(stem, ())) if k.startswith(stem) and len(k) - len(stem) <= MAX_CUT]
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
