"""Payouts per period from issued statements: a minimum payout carried over, and escrow.

The ledger is replayed from the issued statements, period by period in time order (a
correction replaces the statement it corrects). Per artist: what a period's statement makes
payable is added to the balance carried in; a balance of at least ``minimum_payout`` is paid,
a smaller one is carried to the next period. Amounts held for an unverified artist go to
escrow; escrow is released into the balance of the period being paid out once the artist is
verified (the registry's status now), and otherwise stays held.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from stylegate.errors import InputError

PAYOUT_COLUMNS = [
    "period", "artist_id", "artist_name", "consent", "verified", "statement_id", "earned", "carried_in",
    "released_from_escrow", "due", "minimum_payout", "status", "paid", "carried_out", "escrow_held",
]


def current_statements(docs: Iterable[Mapping[str, Any]]) -> dict[str, dict[int, Mapping[str, Any]]]:
    """``{period label: {artist id: statement}}``, each correction in place of what it corrects."""
    docs = list(docs)
    corrected = {d.get("corrects") for d in docs if d.get("corrects")}
    out: dict[str, dict[int, Mapping[str, Any]]] = {}
    for d in sorted(docs, key=lambda d: str(d.get("issued_at", ""))):
        if d.get("statement_id") in corrected:
            continue
        out.setdefault(str(d["period"]["label"]), {})[int(d["artist"]["id"])] = d
    return out


@dataclass
class _Account:
    name: str
    consent: str
    balance: float = 0.0
    escrow: float = 0.0


def build_payouts(
    docs: Iterable[Mapping[str, Any]], period: str, *, verified: Mapping[int, bool], minimum_payout: float
) -> pd.DataFrame:
    """One row per artist with a statement in or before ``period``: what is paid, carried or held."""
    if not math.isfinite(minimum_payout) or minimum_payout < 0:
        raise InputError(f"the minimum payout must be a non-negative number, not {minimum_payout!r}")
    by_period = current_statements(docs)
    if period not in by_period:
        issued = ", ".join(sorted(by_period)) or "none"
        raise InputError(f"no statements were issued for {period} (issued: {issued}); run `stylegate statements issue` first")
    target = next(iter(by_period[period].values()))["period"]
    order = sorted((p for p in by_period.values()), key=lambda group: (next(iter(group.values()))["period"]["since"],
                                                                        next(iter(group.values()))["period"]["until"]))
    accounts: dict[int, _Account] = {}
    rows: list[dict[str, Any]] = []
    for group in order:
        label = next(iter(group.values()))["period"]
        if label["since"] > target["since"]:
            break
        final = label["label"] == period
        seen: set[int] = set()
        for aid, doc in sorted(group.items()):
            acct = accounts.setdefault(aid, _Account(doc["artist"]["name"], doc["artist"]["consent"]))
            acct.name, acct.consent = doc["artist"]["name"], doc["artist"]["consent"]
            seen.add(aid)
            earned = float(doc["totals"]["amount_payable"])
            acct.escrow += float(doc["totals"]["amount_held"])
            row = _settle(acct, aid, earned, verified.get(aid, False) and final, minimum_payout)
            if final:
                rows.append(dict(row, period=period, verified=bool(verified.get(aid, False)), statement_id=doc["statement_id"]))
        if final:
            for aid in sorted(set(accounts) - seen):  # a balance or escrow from before, no statement now
                acct = accounts[aid]
                row = _settle(acct, aid, 0.0, verified.get(aid, False), minimum_payout)
                rows.append(dict(row, period=period, verified=bool(verified.get(aid, False)), statement_id=""))
    return pd.DataFrame(rows, columns=PAYOUT_COLUMNS) if rows else pd.DataFrame(columns=PAYOUT_COLUMNS)


def _settle(acct: _Account, aid: int, earned: float, release: bool, minimum: float) -> dict[str, Any]:
    carried_in = acct.balance
    released = acct.escrow if release else 0.0
    if release:
        acct.escrow = 0.0
    due = carried_in + earned + released
    if due > 0 and due >= minimum:
        paid, status = due, "paid"
    else:
        paid, status = 0.0, ("carried" if due > 0 else ("held" if acct.escrow > 0 else "none"))
    acct.balance = due - paid
    return {"artist_id": aid, "artist_name": acct.name, "consent": acct.consent, "earned": earned, "carried_in": carried_in,
            "released_from_escrow": released, "due": due, "minimum_payout": float(minimum), "status": status, "paid": paid,
            "carried_out": acct.balance, "escrow_held": acct.escrow}
