"""Which name rules need context, as the policy's ``[names]`` section sets them.

Every name hit has a *rule* (see :mod:`stylegate.governance.screening.names`): ``full-name``,
``single`` (a one-word name or alias), ``surname``, ``inflection``, ``fuzzy`` or
``phonetic``. When the matched word is common (its Zipf frequency in any of the screened
languages is at least ``common_zipf``, or it is a common English word) the rule is also
read with a ``common-`` prefix. A hit whose rule, or ``transliteration`` for hits found
through another script, is listed in ``context_required`` stands only next to a style cue
or on an obfuscated spelling. ``skeleton`` (a whole name in another script matched on its
consonant skeleton, ``screening.skeleton``) can be listed too; a short skeleton needs a cue
whatever the policy.

Two context keys are not rules but readings of a lone name (a one-word name, a surname or
an inflected one): ``place`` (the prompt uses it as a place's name: inside a longer place
name, after "the village of" or a locative preposition, before ", <country>"; see
``screening.places``) and ``native-word`` (a short name written in a script other than
Latin that is an ordinary word of a language written in that script, wordfreq; see
``screening.language.native_word``); and for a full name, ``institution`` (it starts the
name of an institution: "the Jan Matejko Academy of Fine Arts", "Fundació Joan Miró"; listed
by default since round 8: a museum, school or foundation named after an artist is no request
for the style, and a style cue still makes it count); and ``frequent-surname`` (a surname
alone that is among the 1,000 most frequent surnames of some country, names-dataset:
"O'Keeffe", "Murata", "Takeuchi" are many people's, not one artist's). Listed, such a hit needs a style cue or an obfuscation
like a common word. ``place_population``: a lone name that is the main name of a place
of this many people or more (GeoNames, ``screening.gazetteer``) is read as a common word.
"""

from __future__ import annotations

from dataclasses import dataclass, field

RULES = ("full-name", "single", "surname", "inflection", "fuzzy", "phonetic")
READINGS = ("place", "native-word", "institution", "frequent-surname")
CONTEXT_KEYS = RULES + tuple(f"common-{r}" for r in RULES) + ("transliteration", "skeleton") + READINGS


@dataclass(frozen=True)
class NameRules:
    common_zipf: float = 3.0
    context_required: frozenset[str] = field(
        default_factory=lambda: frozenset({
            "common-single", "common-surname", "common-inflection", "common-fuzzy", "common-phonetic", "place",
            "native-word", "frequent-surname", "institution",
        })
    )
    place_population: int = 15000

    def reads_ordinary(self, reading: str) -> bool:
        """Whether a lone name read as ``reading`` ("place", "native-word") needs context."""
        return reading in self.context_required

    def needs_context(self, rule: str, common: bool, via: str) -> bool:
        if rule in self.context_required or (common and f"common-{rule}" in self.context_required):
            return True
        return via == "transliteration" and "transliteration" in self.context_required


DEFAULT_RULES = NameRules()
