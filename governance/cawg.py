"""Consent in the CAWG Training and Data Mining vocabulary (``cawg.training-mining``, v1).

The CAWG assertion is a map of entries, each ``{"use": "allowed" | "notAllowed" |
"constrained", "constraint_info"?: str}``, under four pre-defined keys: ``cawg.data_mining``,
``cawg.ai_inference``, ``cawg.ai_generative_training`` and ``cawg.ai_training``.

:func:`consent_entries` expresses a registered artist's consent in that vocabulary (what
``/v1/lookup/names`` returns next to stylegate's own consent value); :func:`read_training_mining`
reads the assertion from a C2PA manifest (as returned by c2pa's Reader) of any origin,
accepting the older ``c2pa.training-mining`` label too, and refuses malformed entries.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from stylegate.registry.models import Consent

log = logging.getLogger(__name__)

LABEL = "cawg.training-mining"
LEGACY_LABELS = ("c2pa.training-mining",)
ENTRY_KEYS = ("cawg.data_mining", "cawg.ai_inference", "cawg.ai_generative_training", "cawg.ai_training")
USES = ("allowed", "notAllowed", "constrained")


def consent_entries(consent: str, royalty_rate: float | None = None) -> dict[str, dict[str, str]]:
    """The CAWG entries that say what stylegate enforces for an artist with ``consent``.

    ``opt-out``: nothing is allowed (generation in the style is blocked, works are not for
    training). ``royalty`` and ``credit``: use is constrained (paid per attributed generation
    at ``royalty_rate``, or credited); data mining for attribution itself stays allowed.
    """
    if consent == Consent.OPT_OUT:
        return {key: {"use": "notAllowed"} for key in ENTRY_KEYS}
    if consent == Consent.ROYALTY:
        rate = f" at a rate of {royalty_rate:g}" if royalty_rate is not None else ""
        info = f"royalty owed per attributed generation{rate}; attribution required"
    elif consent == Consent.CREDIT:
        info = "attribution (credit) required for every generation in this style"
    else:
        raise ValueError(f"unknown consent {consent!r}")
    entries = {key: {"use": "constrained", "constraint_info": info} for key in ENTRY_KEYS}
    entries["cawg.data_mining"] = {"use": "allowed"}
    return entries


def read_training_mining(manifest: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The training-and-data-mining entries of ``manifest``, or None when it has none.

    Returns ``{"label", "entries", "problems"}``: entries with an unknown ``use`` or a
    non-string ``constraint_info`` are left out and named in ``problems``.
    """
    if not manifest:
        return None
    for assertion in manifest.get("assertions") or []:
        label = str(assertion.get("label", ""))
        if label != LABEL and label not in LEGACY_LABELS:
            continue
        data = assertion.get("data") or {}
        raw = data.get("entries") if isinstance(data, Mapping) else None
        entries: dict[str, dict[str, str]] = {}
        problems: list[str] = []
        if not isinstance(raw, Mapping):
            problems.append("the assertion has no entries map")
            raw = {}
        for key, entry in raw.items():
            if not isinstance(entry, Mapping) or entry.get("use") not in USES:
                problems.append(f"{key}: 'use' must be one of {', '.join(USES)}")
                continue
            info = entry.get("constraint_info")
            if info is not None and not isinstance(info, str):
                problems.append(f"{key}: constraint_info must be a string")
                continue
            entries[str(key)] = {"use": str(entry["use"]), **({"constraint_info": info} if info else {})}
        return {"label": label, "entries": entries, "problems": problems}
    return None


def forbids_training(found: Mapping[str, Any] | None) -> bool:
    """True when the entries say the asset must not be used for (generative) AI training."""
    if not found:
        return False
    entries = found.get("entries") or {}
    return any(
        (entries.get(key) or {}).get("use") == "notAllowed"
        for key in ("cawg.ai_training", "cawg.ai_generative_training", "c2pa.ai_training", "c2pa.ai_generative_training")
    )


def signal_conflicts(signals: list[Mapping[str, Any]], consent: str) -> int:
    """How many works' own credentials forbid AI training while the artist's consent allows use."""
    if consent == Consent.OPT_OUT:
        return 0
    return sum(1 for signal in signals if forbids_training(signal.get("training_mining")))
