"""Which canonical keys a registered name or alias claims, and which labels are unusable.

The registry refuses a second artist's claim on a key that is already claimed (it is given
:func:`claim_keys` by the shell; ``registry`` never imports ``governance``). Two labels
collide when they read the same after canonicalisation: case, diacritics, spacing and
punctuation folded, mixed-script look-alikes read as Latin ("Mirа" with a Cyrillic "а" is
"Mira"), and a non-Latin name also claims its Latin transliteration ("Кувшинова" claims
"kuvshinova").
"""

from __future__ import annotations

import unicodedata

from stylegate.errors import InvalidName
from stylegate.governance.screening.canonical import is_ignorable, latin_key, name_tokens

# Fewer canonical characters than this is an initial or a fragment, not a name.
MIN_KEY_CHARS = 2


def validate_label(label: str) -> tuple[str, ...]:
    """The canonical key of ``label``; raises :class:`InvalidName` when it cannot be used.

    A label is refused when it is not text, when nothing of it survives canonicalisation
    (only punctuation, symbols, emoji), when a letter of it is lost (the key would be a
    fragment of the name), or when its key is shorter than :data:`MIN_KEY_CHARS`.
    """
    if not isinstance(label, str):
        raise InvalidName(repr(label), "a name must be text")
    if not label.strip():
        raise InvalidName(label, "it is empty")
    tokens = name_tokens(label)
    if not tokens:
        raise InvalidName(label, "it has no letters or digits (only punctuation, symbols or emoji)")
    covered = [False] * len(label)
    for token in tokens:
        for k in range(token.start, token.end):
            covered[k] = True
    lost = [
        ch
        for ch, hit in zip(label, covered)
        if not hit and unicodedata.category(ch)[0] in "LN" and not is_ignorable(ch)
    ]
    if lost:
        raise InvalidName(label, f"its letters {''.join(lost)!r} do not survive canonicalisation, so the key would be a fragment")
    key = tuple(t.text for t in tokens)
    if len("".join(key)) < MIN_KEY_CHARS:
        raise InvalidName(label, f"its canonical form {''.join(key)!r} is shorter than {MIN_KEY_CHARS} characters")
    return key


def claim_keys(label: str) -> frozenset[str]:
    """The canonical keys under which ``label`` is claimed; raises :class:`InvalidName`.

    Each key is the label's canonical tokens joined without separators, so spacing and
    punctuation do not distinguish claims ("Lindqvist-Osei" = "Lindqvist Osei"): the key in
    the label's own script, and its Latin transliteration when that differs.
    """
    key = validate_label(label)
    keys = {"".join(key)}
    latin = "".join(latin_key(label))
    if latin:
        keys.add(latin)
    return frozenset(keys)


# Bump whenever canonicalisation changes: the registry then rebuilds every claim on its next open.
# v2: script-preserving canonical keys plus the Latin transliteration (governance/screening)
CLAIM_KEYS_VERSION = "screen-canonical-2"


def claim_rules(on_collision: str = "refuse"):  # -> ClaimRules
    """The registry's claim rules: these keys, their version and what a collision does."""
    from stylegate.registry.claims import ClaimRules

    return ClaimRules(keys=claim_keys, version=CLAIM_KEYS_VERSION, on_collision=on_collision)  # type: ignore[arg-type]
