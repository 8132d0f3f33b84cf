"""Retroactive re-audit findings (``scan.finding`` entries) as a table for attribution reports.

A finding says that a past generated image, checked again against a later registry by
``stylegate scan --past-generations``, now falls in a style the gate blocks (``now-blocked``)
or owes attribution to artists it did not credit (``new-attribution``). The generation's own
entry is never changed; royalties are still computed from it, and the finding sits beside it.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from stylegate.governance.audit import AuditKind

from ._source import EntrySource, TimeBound, iter_entries

FINDING_COLUMNS = ["seq", "time", "scan_id", "generation_seq", "image", "path", "finding", "was_action", "action",
                   "artists", "attributed"]


def findings_frame(source: EntrySource, since: TimeBound = None, until: TimeBound = None) -> pd.DataFrame:
    """One row per ``scan.finding`` entry with ``since <= time < until``: which generation, what
    changed, and the artists now in its evidence (``artists``) and attribution (``attributed``)."""
    rows: list[dict[str, Any]] = []
    for e in iter_entries(source, kinds=[AuditKind.SCAN_FINDING], since=since, until=until):
        b = e.get("body") or {}
        names = {int(ev["artist"]["id"]): ev["artist"]["name"] for ev in b.get("evidence", [])}
        rows.append({
            "seq": int(e["seq"]), "time": str(e["time"]), "scan_id": str(b.get("scan_id", "")),
            "generation_seq": int(b.get("generation_seq") or 0), "image": str(b.get("image", "")),
            "path": str(b.get("path", "")), "finding": str(b.get("finding", "")), "was_action": str(b.get("was_action", "")),
            "action": str(b.get("action", "")),
            "artists": ", ".join(f"#{a} {names.get(int(a), '')}".strip() for a in b.get("artists", [])),
            "attributed": ", ".join(f"#{x['artist']['id']} {x['artist']['name']} ({x['share']:.2f})"
                                    for x in b.get("attribution", [])),
        })
    if rows:
        return pd.DataFrame(rows, columns=FINDING_COLUMNS)
    ints = {"seq", "generation_seq"}
    return pd.DataFrame({c: pd.Series([], dtype="int64" if c in ints else "str") for c in FINDING_COLUMNS})
