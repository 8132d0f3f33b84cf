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
"""

from __future__ import annotations

from dataclasses import dataclass, field

RULES = ("full-name", "single", "surname", "inflection", "fuzzy", "phonetic")
CONTEXT_KEYS = RULES + tuple(f"common-{r}" for r in RULES) + ("transliteration", "skeleton")


@dataclass(frozen=True)
class NameRules:
    common_zipf: float = 3.0
    context_required: frozenset[str] = field(
        default_factory=lambda: frozenset({"common-single", "common-surname", "common-inflection", "common-fuzzy", "common-phonetic"})
    )

    def needs_context(self, rule: str, common: bool, via: str) -> bool:
        if rule in self.context_required or (common and f"common-{rule}" in self.context_required):
            return True
        return via == "transliteration" and "transliteration" in self.context_required


DEFAULT_RULES = NameRules()
