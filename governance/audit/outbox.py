"""The registry → audit outbox: changes the audit log could not take wait here, then are replayed.

A registry change is committed before its audit entry is appended, so a failed append (disk
full, locked too long) cannot undo it. The entry is parked instead: one JSON line each in
``<home>/audit-pending.jsonl``, fsynced, ``{"kind", "body", "parked_at", "error"}``. The next
open of the log replays the file oldest first, each entry gaining ``parked: {at, error}``. One
process claims the file by renaming it to ``audit-pending.jsonl.<pid>``; what it fails to
append goes back to the queue.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from .entry import AuditKind, utc_now

if TYPE_CHECKING:  # pragma: no cover
    from .log import AuditLog

log = logging.getLogger(__name__)

PENDING_AUDIT_FILE = "audit-pending.jsonl"

LogSource = Union["AuditLog", Callable[[], "AuditLog"]]


class AuditOutbox:
    """The parked-entries queue of one home. ``unaudited`` lists what this process parked."""

    def __init__(self, home: str | os.PathLike[str]) -> None:
        self.home = Path(home).expanduser()
        self.unaudited: list[str] = []  # "kind: error" for each entry parked, not yet audited

    @property
    def path(self) -> Path:
        return self.home / PENDING_AUDIT_FILE

    def deliver(self, audit_log: LogSource, kind: AuditKind | str, body: Mapping[str, Any]) -> int | None:
        """Append ``body`` to the log (or to the log a callable opens); park it on any failure.

        Returns the entry's sequence number, or None when it was parked.
        """
        try:
            target = audit_log() if callable(audit_log) else audit_log
            return target.append(kind, body)
        except Exception as exc:  # noqa: BLE001 - any failure: keep the entry, tell the caller
            self.park(kind, body, exc)
            return None

    def park(self, kind: AuditKind | str, body: Mapping[str, Any], exc: BaseException) -> None:
        """Write one entry durably to the queue and remember it in :attr:`unaudited`."""
        kind = str(kind)
        line = json.dumps({"kind": kind, "body": dict(body), "parked_at": utc_now(), "error": str(exc)}, sort_keys=True)
        self.home.mkdir(parents=True, exist_ok=True)
        self._append_lines(self.path, [line])
        self.unaudited.append(f"{kind}: {exc}")
        log.error("audit log refused %s (%s); parked in %s", kind, exc, self.path)

    def replay(self, audit_log: AuditLog) -> int:
        """Append parked entries to ``audit_log``, oldest first; returns how many were appended."""
        path = self.path
        if not path.exists():
            return 0
        claimed = path.with_name(f"{path.name}.{os.getpid()}")
        try:
            os.replace(path, claimed)
        except FileNotFoundError:
            return 0  # another process claimed it
        lines = [ln for ln in claimed.read_text("utf-8").splitlines() if ln.strip()]
        done = 0
        try:
            for line in lines:
                item = json.loads(line)
                body = {**item["body"], "parked": {"at": item["parked_at"], "error": item["error"]}}
                audit_log.append(item["kind"], body)
                done += 1
        finally:
            rest = lines[done:]
            if rest:  # put back what was not appended, ahead of anything parked meanwhile
                self._append_lines(path, rest)
            claimed.unlink()
        log.warning("appended %d parked registry entries to the audit log", done)
        return done

    def return_claims(self, alive: Callable[[int], bool]) -> int:
        """Put entries a process claimed for replay back in the queue when that process is gone
        (killed mid-replay); returns how many entries went back."""
        returned = 0
        for claimed in self.home.glob(f"{PENDING_AUDIT_FILE}.*"):
            pid = claimed.name.rsplit(".", 1)[1]
            if not pid.isdigit() or alive(int(pid)):
                continue
            lines = [ln for ln in claimed.read_text("utf-8").splitlines() if ln.strip()]
            self._append_lines(self.path, lines)  # replayed on the next open of the log
            claimed.unlink()
            returned += len(lines)
        return returned

    @staticmethod
    def _append_lines(path: Path, lines: list[str]) -> None:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write("".join(ln + "\n" for ln in lines))
            fh.flush()
            os.fsync(fh.fileno())
