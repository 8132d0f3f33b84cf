"""The keys under which the registry claims names: the name screen's own canonical form.

Two labels with a common key are the same name to the screen (case, accents, look-alike
letters from other scripts, spacing and punctuation folded), so the registry lets only one
artist hold it. Bump :data:`CLAIM_KEYS_VERSION` whenever canonicalisation changes: the
registry then rebuilds every claim on its next open.
"""

from __future__ import annotations

from stylegate.governance.screening.claims import claim_keys

# v2: script-preserving canonical keys plus the Latin transliteration (governance/screening)
CLAIM_KEYS_VERSION = "screen-canonical-2"


__all__ = ["CLAIM_KEYS_VERSION", "claim_keys", "claim_rules"]


def claim_rules(on_collision: str = "refuse"):  # -> ClaimRules
    from stylegate.registry.claims import ClaimRules

    return ClaimRules(keys=claim_keys, version=CLAIM_KEYS_VERSION, on_collision=on_collision)  # type: ignore[arg-type]
