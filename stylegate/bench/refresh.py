"""Refresh latency: a registry change seen by a running gate, with 100,000 artists registered.

A real home (SQLite registry, default policy, CLIP embedder) is filled with synthetic artists
by bulk inserts, and its gate is built once (the figure a full rebuild costs). Then another
store on the same database (as another worker would) registers, renames, re-aliases,
changes the consent of and removes artists one at a time, and after each change the
running workspace's next ``gate()`` and ``check_prompt`` are timed: the gate must apply the
change (``GateCache`` through the registry's change log) and the check must show it.

With ``works=True`` every artist also has at least one work (synthetic unit vectors written
straight into the registry's rows and the index file, a few artists with several so style
norms exist), and another workspace on the same home adds rendered works to one artist
and withdraws them again through the real ingest (embedding, files, index delta and save):
the running gate's next ``gate()`` must hold the new works (index, view, style norms) and
its ``check_image`` of the added image must name the artist.

Figures are printed, never asserted.
"""

from __future__ import annotations

import logging
import math
import os
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


def _bulk_works(ws: Any, seed: int, several_every: int = 100) -> int:
    """One synthetic work per artist (``several_every``-th artists: three near one centre), rows
    and index written in bulk (setup only); the index grows in chunks, as a registry grown by
    uploads does (an ``auto`` index stays Flat), and is saved for the registry's snapshot."""
    import numpy as np
    from sqlalchemy import insert, select

    from stylegate.registry import schema
    from stylegate.registry.style_index import StyleIndex

    store = ws.store
    with store.engine.begin() as conn:
        artist_ids = [int(r[0]) for r in conn.execute(select(schema.artists.c.id).order_by(schema.artists.c.id))]
    rng = np.random.default_rng(seed)
    dim = ws.embedder.dim
    owners = np.repeat(artist_ids, [3 if k % several_every == 0 else 1 for k in range(len(artist_ids))])
    centres = rng.normal(size=(len(artist_ids), dim)).astype(np.float32)
    position = {a: k for k, a in enumerate(artist_ids)}
    vectors = centres[[position[int(a)] for a in owners]] + 0.3 * rng.normal(size=(len(owners), dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    now = "2026-01-01T00:00:00+00:00"
    with store.engine.begin() as conn:
        first = int(conn.execute(select(schema.works.c.id).order_by(schema.works.c.id.desc())).scalar() or 0) + 1
        for lo in range(0, len(owners), _CHUNK):
            conn.execute(insert(schema.works), [
                {"id": first + k, "artist_id": int(owners[k]), "sha256": f"{first + k:064x}",
                 "path": f"synthetic/{first + k}.png", "format": "PNG", "width": 64, "height": 64,
                 "size_bytes": 1, "added_at": now}
                for k in range(lo, min(lo + _CHUNK, len(owners)))
            ])
    index = StyleIndex.create(dim, ws.embedder.identity.to_dict(), ws.settings.index_factory)
    ids = np.arange(first, first + len(owners), dtype=np.int64)
    for lo in range(0, len(ids), 25_000):
        index.add(ids[lo : lo + 25_000], vectors[lo : lo + 25_000])
    index.save(ws.settings.index_path, store.snapshot_hash())
    ws.gate_cache.invalidate_index()
    return len(ids)


def measure_works_refresh(ws: Any, root: Path, targets: list[Any], changes: int, say: Callable[[str], None]) -> list[dict[str, Any]]:
    """Works added to and withdrawn from ``targets`` by another workspace on the home; each
    change timed to the running gate's next ``gate()`` and ``check_image``."""
    from stylegate.operations.ingest import add_works, remove_works
    from stylegate.styleworld import world
    from stylegate.workspace import Workspace

    other = Workspace(ws.settings)  # another process's workspace on the same home and database
    rows: list[dict[str, Any]] = []
    say(f"adding and withdrawing works of {changes // 2} artists from another workspace")
    try:
        for k in range(changes):
            target = targets[k // 2]
            if k % 2 == 0:
                folder = root / f"upload-{k}"
                folder.mkdir()
                images = [world.render(world.ARTISTS[k % len(world.ARTISTS)], world.SUBJECTS[j], 100 + k) for j in range(2)]
                for j, image in enumerate(images):
                    image.save(folder / f"{j}.png")
                t0 = time.perf_counter()
                added = add_works(other, target.id, [folder]).added
                kind, changed = "works add", [w.id for w in added]
            else:
                t0 = time.perf_counter()
                remove_works(other, changed)
                kind = "works withdraw"
            t1, c1 = time.perf_counter(), time.process_time()
            gate = ws.gate()
            t2, c2 = time.perf_counter(), time.process_time()
            decision = gate.check_image(images[0])
            t3 = time.perf_counter()
            view = gate.view
            held = set(view.artist_works.get(target.id, ((), None))[0])
            present = all(w in view.work_artist and w in view.index and w in held for w in changed)
            absent = not any(w in view.work_artist or w in view.index or w in held for w in changed)
            named = any(e.artist is not None and e.artist.id == target.id for e in decision.evidence)
            seen = (present and named) if kind == "works add" else absent
            rows.append({"kind": kind, "name": target.name, "action": decision.action.value, "write_ms": 1000 * (t1 - t0),
                         "refresh_ms": 1000 * (t2 - t1), "refresh_cpu_ms": 1000 * (c2 - c1),
                         "check_ms": 1000 * (t3 - t2), "seen": seen})
    finally:
        other.store.close()
    return rows


def measure_refresh(n_artists: int = 100_000, changes: int = 20, seed: int = 0,
                    say: Callable[[str], None] | None = None, works: bool = False,
                    works_changes: int = 20) -> dict[str, Any]:
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
        n_works = 0
        if works:
            say(f"writing one synthetic work per artist ({n_artists:,} artists) into the registry and index")
            n_works = _bulk_works(ws, seed)
        say("building the gate once (a full build)")
        start = time.perf_counter()
        gate = ws.gate()
        full_s = time.perf_counter() - start
        loads_at_start = ws.gate_cache.index_loads
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
                    # with works, a registered artist's removal is a works change too (the
                    # ingest's, measured below): here the artist this run added three changes ago
                    gone = spare[k - 3] if works else registered[k]
                    target, _ = writer.remove_artist(writer.get_artist(gone).id)
                    name = target.name
                t1, c1 = time.perf_counter(), time.process_time()
                refreshed = ws.gate()
                t2, c2 = time.perf_counter(), time.process_time()
                decision = refreshed.check_prompt(f"a harbour at dawn in the style of {name}")
                t3 = time.perf_counter()
                # Seen: the decision names the new or renamed artist, under its new consent, or
                # no longer names the removed one (other artists' similar names may still fire).
                named = {e.artist.id: e.consent for e in decision.evidence}
                seen = (target.id not in named if kind == "remove"
                        else named.get(target.id) == target.consent.value)
                rows.append({"kind": kind, "name": name, "action": decision.action.value, "write_ms": 1000 * (t1 - t0),
                             "refresh_ms": 1000 * (t2 - t1), "refresh_cpu_ms": 1000 * (c2 - c1),
                             "check_ms": 1000 * (t3 - t2), "seen": seen})
        finally:
            writer.close()
        if works:
            targets = [ws.store.get_artist(registered[_works_target(j, n_artists)]) for j in range((works_changes + 1) // 2)]
            rows += measure_works_refresh(ws, Path(root), targets, works_changes, say)
        cache = ws.gate_cache
        result = {
            "artists": n_artists,
            "works": n_works,
            "full_build_s": round(full_s, 2),
            "changes": len(rows),
            "refreshes": cache.refreshes,
            "rebuilds_after_start": cache.rebuilds - 1,
            "index_loads_after_start": cache.index_loads - loads_at_start,
            "seen": sum(r["seen"] for r in rows),
            "unseen": [f"{r['kind']} {r['name']!r}: {r['action']}" for r in rows if not r["seen"]],
        }
        for field in ("write_ms", "refresh_ms", "refresh_cpu_ms", "check_ms"):
            values = sorted(r[field] for r in rows)
            result[f"{field[:-3]}_p50_ms"] = round(statistics.median(values), 2)
            result[f"{field[:-3]}_max_ms"] = round(values[-1], 2)
        totals = sorted(r["refresh_ms"] + r["check_ms"] for r in rows)
        result["change_to_decision_max_ms"] = round(totals[-1], 2)
        if works:
            works_rows = [r for r in rows if r["kind"].startswith("works")]
            for field in ("refresh_ms", "refresh_cpu_ms"):
                values = sorted(r[field] for r in works_rows)
                name = field[:-3]
                result[f"works_{name}_p50_ms"] = round(statistics.median(values), 2)
                result[f"works_{name}_p90_ms"] = round(_quantile(values, 0.9), 2)
                result[f"works_{name}_max_ms"] = round(values[-1], 2)
            result["works_rows"] = [{k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()}
                                    for r in works_rows]
            result["works_check_p50_ms"] = round(statistics.median(r["check_ms"] for r in works_rows), 2)
        result["by_kind"] = {
            kind: round(max(r["refresh_ms"] for r in rows if r["kind"] == kind), 2)
            for kind in dict.fromkeys(r["kind"] for r in rows)
        }
        result["load_average"] = [round(x, 2) for x in os.getloadavg()]
        ws.store.close()
    return result


def _works_target(j: int, n_artists: int) -> int:
    """The registered artist the ``j``-th works change goes to: alternately one with several
    works (``_bulk_works`` gives every 100th three; with two more it is past STYLE_TOP_M, the
    costlier case for the style norms) and one with a single work."""
    several = 100 * (1 + (10 + j // 2) % max(1, (n_artists - 1) // 100))
    return several if j % 2 == 0 else several - 37


def _quantile(values: list[float], q: float) -> float:
    """The ``q`` quantile of sorted ``values`` (nearest rank: a measured value, never between two)."""
    return values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))]


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
    if "works_refresh_max_ms" in result:
        table(f"works changes → running gate, {result['artists']:,} artists with {result['works']:,} works "
              f"(target ≤ {TARGET_REFRESH_MS:g} ms)",
              ["works refresh ms p50", "p90", "max", "CPU ms p50", "CPU p90", "CPU max", "check image ms p50"],
              [[result["works_refresh_p50_ms"], result["works_refresh_p90_ms"], result["works_refresh_max_ms"],
                result["works_refresh_cpu_p50_ms"], result["works_refresh_cpu_p90_ms"],
                result["works_refresh_cpu_max_ms"], result["works_check_p50_ms"]]])
