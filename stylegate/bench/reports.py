"""`stylegate bench reports`: the dashboard counters and the reports over a large audit log.

A synthetic log of N entries is written through :meth:`AuditLog.append_many` (the bulk path:
the same canonical entries, leaf hashes, tree heads and counters as single appends, a few
thousand per transaction), so the log it builds verifies. The mix resembles a busy gate: about
half prompt checks (one in eight blocked), a tenth image checks, the rest generations (allowed
with one to three attributed artists, steered, or blocked on behalf of an opted-out artist),
and a correction now and then. Bodies carry evidence, embedder and index identities and a
prompt, as real entries do.

Then it times: one artist's dashboard counters (the O(1) read, many samples), the attribution
report, the audit summary, a counter recount and a full verification. Figures are printed,
never asserted.
"""

from __future__ import annotations

import logging
import platform
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

CONSENTS = ("royalty", "credit", "opt-out")
SUBJECTS = ("a lighthouse", "a harbour at dusk", "a cat on a windowsill", "a mountain lake", "a city street")
MODEL = {"name": "styleworld-clip", "sha256": "ab" * 32, "dim": 64}
INDEX = {"factory": "IDMap2,Flat", "count": 4000, "snapshot_hash": "cd" * 32}


def _artist(rng: random.Random, n_artists: int) -> tuple[dict[str, Any], str]:
    i = rng.randrange(n_artists)
    return {"id": i + 1, "name": f"Artist {i + 1:05d}"}, CONSENTS[i % 3]


def _evidence(artist: dict[str, Any], consent: str, action: str, kind: str, score: float) -> dict[str, Any]:
    return {"kind": kind, "artist": artist, "consent": consent, "score": round(score, 6), "threshold": 0.3,
            "rule": f"{consent}.{kind}", "action": action, "verified": True}


def synthetic_entries(n: int, n_artists: int = 1000, seed: int = 0) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(kind, body)`` for a mixed log of ``n`` entries (see the module doc)."""
    rng = random.Random(seed)
    generations: list[int] = []
    for seq in range(1, n + 1):
        r = rng.random()
        prompt = f"{rng.choice(SUBJECTS)} number {seq}"
        base = {"subject": "prompt", "reasons": [], "policy_hash": "ef" * 32, "model": MODEL, "index": INDEX,
                "prompt": prompt}
        if r < 0.5:
            kind = "check.prompt"
        elif r < 0.6:
            kind = "check.image"
        elif r < 0.605 and generations:
            yield "generate.correction", {"corrects": rng.choice(generations[-50:]), "unwritten": ["0.png"],
                                          "written": []}
            continue
        else:
            kind = "generate"
            generations.append(seq)
        artist, consent = _artist(rng, n_artists)
        score = 0.2 + rng.random() * 0.3
        if consent == "opt-out" and score > 0.3:
            body = {**base, "decision": "block", "evidence": [_evidence(artist, consent, "block", "style", score)],
                    "attribution": []}
        elif score > 0.3:
            k = rng.randint(1, 3)
            people = [artist] + [_artist(rng, n_artists)[0] for _ in range(k - 1)]
            shares = [round(1.0 / k, 6)] * k
            shares[0] = round(1.0 - sum(shares[1:]), 6)
            attribution: list[dict[str, Any]] = [{"artist": p, "share": s, "consent": "credit" if p["id"] % 3 == 2 else "royalty",
                            "held": False} for p, s in zip(people, shares) if p["id"] % 3 != 0]
            total = sum(a["share"] for a in attribution)
            for a in attribution:  # renormalise over the paid artists, as the gate does
                a["share"] = round(a["share"] / total, 6) if total else 0.0
            if attribution:
                attribution[0]["share"] = round(1.0 - sum(a["share"] for a in attribution[1:]), 6)
            body = {**base, "decision": "attribute" if attribution else "allow",
                    "evidence": [_evidence(artist, consent, "attribute", "style", score)], "attribution": attribution}
        else:
            body = {**base, "decision": "allow", "evidence": [], "attribution": []}
        yield kind, body


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def run_reports_bench(*, entries: int = 1_000_000, audit_url: str | None = None, artists: int = 1000,
                      verify: bool = True, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Synthesise ``entries`` entries into a fresh log (SQLite in a temp dir, or the PostgreSQL
    database ``audit_url``, which must hold no audit log yet) and time the reads."""
    from tqdm import tqdm

    from stylegate.bench.timing import latency_summary
    from stylegate.governance.audit import AuditLog
    from stylegate.governance.policy import load_policy
    from stylegate.reports.attribution import build_attribution_report
    from stylegate.reports.audit_summary import build_audit_summary

    with tempfile.TemporaryDirectory(prefix="stylegate-bench-reports-") as tmp:
        target: str | Path = audit_url or Path(tmp) / "audit.db"
        with AuditLog.open(target) as audit:
            if len(audit):
                raise ValueError(f"{audit.location} already holds {len(audit)} audit entries; give an empty database")
            log(f"writing {entries:,} synthetic entries to {audit.location} ({audit.backend})")
            with tqdm(total=entries, unit="entry", disable=None) as bar:
                write_s, _ = _timed(lambda: audit.append_many(synthetic_entries(entries, artists), progress=bar.update))
            log(f"  written in {write_s:.1f} s ({entries / write_s:,.0f} entries/s)")
            policy = load_policy()
            samples = []
            for i in range(200):
                start = time.perf_counter()
                audit.counters(1 + (i * 7919) % artists)
                samples.append(time.perf_counter() - start)
            timings: dict[str, Any] = {"dashboard_counters": latency_summary(samples)}
            log(f"  dashboard counters p50 {timings['dashboard_counters']['p50_ms']} ms")
            attribution_s, report = _timed(lambda: build_attribution_report(audit, policy=policy))
            log(f"  attribution report {attribution_s:.1f} s")
            summary_s, summary = _timed(lambda: build_audit_summary(audit))
            log(f"  audit summary {summary_s:.1f} s")
            recount_s, recount = _timed(audit.recount)
            log(f"  recount {recount_s:.1f} s")
            verify_s, verified = _timed(audit.verify) if verify else (None, None)
            backend = audit.backend
    timings.update({
        "attribution_report_s": round(attribution_s, 2),
        "audit_summary_s": round(summary_s, 2),
        "recount_s": round(recount_s, 2),
        "verify_s": None if verify_s is None else round(verify_s, 2),
    })
    return {
        "backend": backend,
        "entries": entries,
        "artists": artists,
        "write_s": round(write_s, 2),
        "write_per_s": round(entries / write_s, 1),
        **timings,
        "report_generations": int(report.meta["generations"]),
        "report_rows": int(len(report.rows)),
        "summary_entries": int(summary.meta["entries"]),
        "recount_ok": recount.ok,
        "verify_ok": None if verified is None else bool(verified.ok),
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
    }


def print_reports_bench(r: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    d = r["dashboard_counters"]
    table = Table(title=f"Reports over {r['entries']:,} audit entries ({r['backend']}, {r['artists']} artists)")
    table.add_column("step")
    table.add_column("time", justify="right")
    table.add_column("note")
    table.add_row("write (append_many)", f"{r['write_s']:.1f} s", f"{r['write_per_s']:,.0f} entries/s, verifiable log")
    table.add_row("dashboard counters", f"{d['p50_ms']:.2f} ms p50", f"p99 {d['p99_ms']:.2f} ms, {d['n']} reads")
    table.add_row("attribution report", f"{r['attribution_report_s']:.1f} s",
                  f"{r['report_generations']:,} generations, {r['report_rows']:,} rows (target ≤ 60 s)")
    table.add_row("audit summary", f"{r['audit_summary_s']:.1f} s", f"{r['summary_entries']:,} decisions (target ≤ 60 s)")
    table.add_row("recount", f"{r['recount_s']:.1f} s", "ok" if r["recount_ok"] else "MISMATCH")
    if r["verify_s"] is not None:
        table.add_row("audit verify", f"{r['verify_s']:.1f} s", "ok" if r["verify_ok"] else "FAILED")
    Console().print(table)
    print(r["machine"])
