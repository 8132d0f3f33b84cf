"""How long royalty statements take to issue and verify on a log of a given size.

Builds a fresh home in a temporary folder with ``artists`` registered royalty and credit
artists and ``entries`` attributed generations in November 2026, appended through the real
audit log, then times ``issue_statements`` for the month, the standalone verifier on the
largest statement, and the workspace verification (consistency proof and recount).
Run it with ``stylegate bench statements [--entries N] [--artists K] [--json]``.
"""

from __future__ import annotations

import functools
import json
import tempfile
import time
from pathlib import Path
from typing import Any


def _append_generations(ws: Any, artists: list[Any], entries: int) -> None:
    from stylegate.governance.audit import DecisionRecord
    from stylegate.governance.audit import log as audit_log

    real_now = audit_log.utc_now
    try:
        for k in range(entries):
            a, b = artists[k % len(artists)], artists[(k * 7 + 3) % len(artists)]
            pairs = [(a, 1.0)] if a.id == b.id else [(a, 0.7), (b, 0.3)]
            attribution = [{"artist": {"id": x.id, "name": x.name}, "share": share, "consent": str(x.consent.value)}
                           for x, share in pairs]
            stamp = f"2026-11-{1 + k * 29 // entries:02d}T{(k // 60) % 24:02d}:{k % 60:02d}:00.000000+00:00"
            audit_log.utc_now = functools.partial(str, stamp)  # the entry's time: a day in November
            record = DecisionRecord.from_decision({"action": "attribute", "subject": "prompt", "evidence": [],
                                                   "attribution": attribution, "reasons": []},
                                                  prompt=f"prompt {k}", policy_hash="bench", model={"id": "bench"})
            ws.audit.append("generate", record)
    finally:
        audit_log.utc_now = real_now


def run_statements_bench(entries: int = 10_000, artists: int = 10) -> dict[str, Any]:
    import stylegate
    from stylegate.governance.audit.signing import key_paths
    from stylegate.governance.audit.statement_verify import verify_statement as verify_standalone
    from stylegate.operations.statements import issue_statements, verify_statement
    from stylegate.reports.statement_period import parse_period

    with tempfile.TemporaryDirectory(prefix="stylegate-bench-statements-") as tmp:
        ws = stylegate.open_workspace(Path(tmp) / "home", create=True, device="cpu")
        registered = [ws.store.add_artist(f"Bench Painter {chr(65 + i % 26)}{i}", consent="royalty" if i % 3 else "credit",
                                          royalty_rate=0.1 if i % 3 else None) for i in range(artists)]
        _append_generations(ws, registered, entries)
        start = time.perf_counter()
        outcome = issue_statements(ws, parse_period("2026-11"))
        issue_s = time.perf_counter() - start
        biggest = max(outcome.statements, key=lambda s: (s["lines"], s["artist"]["id"]))
        path = Path(biggest["json"])
        key = key_paths(ws.settings.home)[1].read_bytes()
        start = time.perf_counter()
        doc = json.loads(path.read_text("utf-8"))
        standalone = verify_standalone(doc, key)
        standalone_s = time.perf_counter() - start
        start = time.perf_counter()
        full = verify_statement(ws, doc)
        workspace_s = time.perf_counter() - start
        ws.audit.close()
        return {
            "log_entries": outcome.checkpoint_size, "statements": len(outcome.statements),
            "lines": sum(s["lines"] for s in outcome.statements), "issue_s": round(issue_s, 3),
            "largest_statement_lines": biggest["lines"], "largest_statement_bytes": path.stat().st_size,
            "standalone_verify_s": round(standalone_s, 3), "standalone_ok": standalone.ok,
            "workspace_verify_s": round(workspace_s, 3), "workspace_ok": full.verdict["ok"],
        }


def print_statements_bench(result: dict[str, Any]) -> None:
    from stylegate.output import table

    table(f"royalty statements: {result['statements']} artists, {result['lines']:,} lines, "
          f"{result['log_entries']:,} log entries", ["step", "seconds", "result"], [
              ["issue every statement", result["issue_s"], f"{result['statements']} signed statements"],
              ["standalone verify, largest", result["standalone_verify_s"],
               f"{result['largest_statement_lines']:,} lines, {result['largest_statement_bytes']:,} bytes: "
               + ("verified" if result["standalone_ok"] else "NOT VERIFIED")],
              ["workspace verify (consistency, recount)", result["workspace_verify_s"],
               "verified" if result["workspace_ok"] else "NOT VERIFIED"],
          ])
