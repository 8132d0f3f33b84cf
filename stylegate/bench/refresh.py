"""Refresh latency: a registry change seen by a running gate, with 100,000 artists registered.

A real home (SQLite registry, default policy, CLIP embedder) is filled with synthetic artists
by bulk inserts, and its gate is built once (the figure a full rebuild costs). Then another
store on the same database (as another worker would) registers, renames, re-aliases,
changes the consent of and removes artists one at a time, and after each change the
running workspace's next ``gate()`` and ``check_prompt`` are timed: the gate must apply the
change (``GateCache`` through the registry's change log) and the check must show it.

Figures are printed, never asserted.
"""

from __future__ import annotations

import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

TARGET_REFRESH_MS = 50.0
_CHUNK = 5000


def _bulk_artists(store: Any, names: list[str]) -> None:
    """Insert artists in bulk (setup only), recorded as one change every running gate rebuilds on."""
    from sqlalchemy import insert, select, update

    from stylegate.registry import schema
    from stylegate.registry.changes import ALL
    from stylegate.registry.store import name_key

    now = "2026-01-01T00:00:00+00:00"
    with store.engine.begin() as conn:
        for lo in range(0, len(names), _CHUNK):
            conn.execute(insert(schema.artists), [
                {"name": n, "name_key": name_key(n), "aliases": [], "descriptors": [], "consent": "opt-out",
                 "royalty_rate": None, "created_at": now}
                for n in names[lo : lo + _CHUNK]
            ])
        revision = int(conn.execute(select(schema.meta.c.value).where(schema.meta.c.key == "revision")).scalar() or 0)
        conn.execute(update(schema.meta).where(schema.meta.c.key == "revision").values(value=str(revision + 1)))
        conn.execute(insert(schema.registry_changes).values(revision=revision + 1, artist_id=None, kind=ALL))


def measure_refresh(n_artists: int = 100_000, changes: int = 20, seed: int = 0,
                    say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Full build, then per-change refresh and check latency, for ``n_artists`` artists."""
    from stylegate.bench.names import synthetic_names
    from stylegate.operations.ingest import init_home
    from stylegate.registry.models import Consent
    from stylegate.registry.store import RegistryStore
    from stylegate.settings import Settings
    from stylegate.workspace import Workspace

    say = say or log.info
    names = synthetic_names(n_artists + 2 * changes, seed)
    registered, spare = names[:n_artists], names[n_artists:]
    with tempfile.TemporaryDirectory(prefix="stylegate-refresh-") as root:
        ws = Workspace(Settings(home=Path(root) / "home", device="cpu"))
        init_home(ws)
        say(f"registering {n_artists:,} artists in bulk")
        _bulk_artists(ws.store, registered)
        say("building the gate once (a full build)")
        start = time.perf_counter()
        gate = ws.gate()
        full_s = time.perf_counter() - start
        for prompt in ("a lighthouse in a storm", f"a lighthouse in the style of {registered[-1]}"):
            gate.check_prompt(prompt)  # warmed: the embedder, and what a blocked decision reads
        from stylegate.governance.screening.claims import claim_rules

        # another worker's store, with the same claim rules (other rules would rebuild every claim)
        writer = RegistryStore.open(ws.settings.db_url, create=False, claims=claim_rules(ws.policy.registry.name_collision))
        rows: list[dict[str, Any]] = []
        try:
            for k in range(changes):
                kind = ("add", "alias", "consent", "remove")[k % 4]
                name = spare[k]
                t0 = time.perf_counter()
                if kind == "add":
                    target = writer.add_artist(name, consent=Consent.OPT_OUT)
                elif kind == "alias":
                    target = writer.update_artist(writer.get_artist(registered[k]).id, aliases=(name,))
                elif kind == "consent":
                    target = writer.update_artist(writer.get_artist(registered[k]).id, consent=Consent.CREDIT)
                    name = target.name
                else:
                    target, _ = writer.remove_artist(writer.get_artist(registered[k]).id)
                    name = target.name
                t1 = time.perf_counter()
                refreshed = ws.gate()
                t2 = time.perf_counter()
                decision = refreshed.check_prompt(f"a harbour at dawn in the style of {name}")
                t3 = time.perf_counter()
                # Seen: the decision names the new or renamed artist, under its new consent, or
                # no longer names the removed one (other artists' similar names may still fire).
                named = {e.artist.id: e.consent for e in decision.evidence}
                seen = (target.id not in named if kind == "remove"
                        else named.get(target.id) == target.consent.value)
                rows.append({"kind": kind, "name": name, "action": decision.action.value, "write_ms": 1000 * (t1 - t0),
                             "refresh_ms": 1000 * (t2 - t1), "check_ms": 1000 * (t3 - t2), "seen": seen})
        finally:
            writer.close()
        cache = ws.gate_cache
        result = {
            "artists": n_artists,
            "full_build_s": round(full_s, 2),
            "changes": len(rows),
            "refreshes": cache.refreshes,
            "rebuilds_after_start": cache.rebuilds - 1,
            "seen": sum(r["seen"] for r in rows),
            "unseen": [f"{r['kind']} {r['name']!r}: {r['action']}" for r in rows if not r["seen"]],
        }
        for field in ("write_ms", "refresh_ms", "check_ms"):
            values = sorted(r[field] for r in rows)
            result[f"{field[:-3]}_p50_ms"] = round(statistics.median(values), 2)
            result[f"{field[:-3]}_max_ms"] = round(values[-1], 2)
        totals = sorted(r["refresh_ms"] + r["check_ms"] for r in rows)
        result["change_to_decision_max_ms"] = round(totals[-1], 2)
        result["by_kind"] = {
            kind: round(max(r["refresh_ms"] for r in rows if r["kind"] == kind), 2)
            for kind in dict.fromkeys(r["kind"] for r in rows)
        }
        ws.store.close()
    return result


def print_refresh(result: dict[str, Any]) -> None:
    from stylegate.output import table

    met = "met" if result["refresh_max_ms"] <= TARGET_REFRESH_MS and result["seen"] == result["changes"] else "NOT met"
    table(
        f"registry change → running gate, {result['artists']:,} artists (SQLite; target ≤ {TARGET_REFRESH_MS:g} ms)",
        ["full build s", "changes", "seen", "refreshed / rebuilt", "write ms p50", "refresh ms p50", "refresh ms max",
         "check ms p50", "change → decision ms max", "target"],
        [[result["full_build_s"], result["changes"], result["seen"],
          f"{result['refreshes']} / {result['rebuilds_after_start']}", result["write_p50_ms"], result["refresh_p50_ms"],
          result["refresh_max_ms"], result["check_p50_ms"], result["change_to_decision_max_ms"], met]],
    )
    table("refresh ms (max) by kind of change", list(result["by_kind"]), [list(result["by_kind"].values())])
