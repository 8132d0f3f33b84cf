"""Durability of the audit log on both backends (SQLite, a real PostgreSQL server): concurrent
writer processes and writers killed with SIGKILL."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stylegate.governance.audit import AuditLog
from stylegate.governance.audit.signing import Signer

WORKERS = 4
PER_WORKER = 500


def _body(worker: int, i: int) -> dict:
    """Every fifth check is blocked on behalf of artist ``worker + 1`` (for the counters)."""
    blocked = i % 5 == 0
    evidence = [{"kind": "name", "artist": {"id": worker + 1, "name": f"A{worker}"}, "consent": "opt-out",
                 "score": 1.0, "threshold": 1.0, "action": "block"}] if blocked else []
    return {"worker": worker, "i": i, "prompt": f"w{worker} p{i}", "decision": "block" if blocked else "allow",
            "evidence": evidence}


def _writer(db: str, worker: int, count: int, out: str, start: multiprocessing.synchronize.Event) -> None:
    start.wait(30)
    log = AuditLog.open(db)  # all at once, on a database none of them created yet
    seqs = [log.append("check.prompt", _body(worker, i)) for i in range(count)]
    log.close()
    Path(out).write_text(json.dumps(seqs))


@pytest.mark.timeout(120)
def test_concurrent_processes_get_unique_contiguous_seqs(audit_target, tmp_path: Path) -> None:
    db = audit_target  # a SQLite file, or a real PostgreSQL database: appends serialise on the tree-state row
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    outs = [tmp_path / f"w{w}.json" for w in range(WORKERS)]
    procs = [ctx.Process(target=_writer, args=(str(db), w, PER_WORKER, str(outs[w]), start)) for w in range(WORKERS)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(100)
        assert p.exitcode == 0
    per_worker = [json.loads(o.read_text()) for o in outs]
    everything = sorted(s for seqs in per_worker for s in seqs)
    assert everything == list(range(1, WORKERS * PER_WORKER + 1))
    signer = Signer.generate()
    with AuditLog.open(db) as log:
        for w, seqs in enumerate(per_worker):
            assert seqs == sorted(seqs)
            for i in (0, PER_WORKER // 2, PER_WORKER - 1):
                assert log.entry(seqs[i])["body"]["worker"] == w and log.entry(seqs[i])["body"]["i"] == i
        log.checkpoint(signer)
        result = log.verify(signer.public_key)
        # the counters were updated inside each append's transaction: none lost, none doubled
        assert log.counters() == {w + 1: {"blocked_checks": PER_WORKER // 5} for w in range(WORKERS)}
        assert log.recount().ok
    assert result.ok, result.problems
    assert result.entries == WORKERS * PER_WORKER and result.unsigned == 0


CHILD = r"""
import os, sys
from stylegate.governance.audit import AuditLog
log = AuditLog.open(sys.argv[1])
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
i = int(sys.argv[3])
while True:
    seq = log.append("generate", {"i": i, "pad": "x" * 4000})
    os.write(fd, f"{seq} {i}\n".encode())
    i += 1
"""


def _acked(path: Path) -> list[tuple[int, int]]:
    if not path.exists():
        return []
    lines = path.read_text().split("\n")[:-1]  # a torn last line has no newline yet
    return [(int(a), int(b)) for a, b in (line.split() for line in lines)]


@pytest.mark.timeout(120)
def test_sigkill_mid_append_loses_no_acknowledged_entry(audit_target, tmp_path: Path) -> None:
    db, acks = audit_target, tmp_path / "acks.txt"
    AuditLog.open(db).close()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    for round_, extra in enumerate((40, 97, 151)):
        before = len(_acked(acks))
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(db), str(acks), str(before * 10 + round_ * 100000)], env=env)
        deadline = time.monotonic() + 60
        while len(_acked(acks)) < before + extra and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.005)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(30)
        assert child.returncode == -signal.SIGKILL
        acked = _acked(acks)
        assert len(acked) >= before + extra
        with AuditLog.open(db) as log:
            for seq, i in acked:
                assert log.entry(seq)["body"]["i"] == i
            assert len(log) >= acked[-1][0]
            result = log.verify()
            assert result.ok, result.problems
            # and the log takes new entries where the killed writer stopped
            assert log.append("generate", {"after": round_}) == len(log)
