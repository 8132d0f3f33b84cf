"""The artist dashboard reads the audit log's per-artist counters, on both databases: entries
appended by another writer show on the next page load with the counted figures."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from stylegate.governance.audit import AuditKind, AuditLog, DecisionRecord
from stylegate.operations.ingest import init_home
from stylegate.service.app import create_app
from stylegate.settings import Settings
from stylegate.workspace import Workspace

UNLIMITED = 1_000_000


def _rec(action: str, evidence=(), attribution=()) -> DecisionRecord:
    return DecisionRecord.from_decision({"action": action, "subject": "prompt", "evidence": list(evidence),
                                         "attribution": list(attribution), "reasons": []}, prompt="a harbour")


def _cell(html: str, cell_id: str) -> str:
    found = re.search(rf'id="{cell_id}">([^<]*)<', html)
    assert found, cell_id
    return found.group(1).strip()


def test_the_dashboard_shows_the_counters(tmp_path: Path, db_url: str) -> None:
    settings = Settings(home=tmp_path / "home", database_url=None if db_url.startswith("sqlite") else db_url,
                        admin_token=None, device="cpu", rate_limit_per_minute=UNLIMITED, rate_limit_burst=UNLIMITED,
                        account_rate_limit_per_minute=UNLIMITED, account_rate_limit_burst=UNLIMITED)
    init_home(Workspace(settings))
    with TestClient(create_app(settings), client=("127.0.0.1", 50000)) as client:
        r = client.post("/v1/artists", json={"name": "Nell Quayside", "consent": "credit", "contact": "n@example.org"})
        assert r.status_code == 201, r.text
        me, token = r.json()["artist"], r.json()["token"]
        csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get("/login").text).group(1)
        assert client.post("/login", data={"token": token, "csrf_token": csrf}, follow_redirects=False).status_code == 303
        page = client.get("/dashboard").text
        assert (_cell(page, "count-generations"), _cell(page, "count-blocked"), _cell(page, "count-checks-blocked")) \
            == ("0", "0", "0")

        artist = {"id": me["id"], "name": me["name"]}
        other = {"id": me["id"] + 100, "name": "Someone Else"}
        block = {"kind": "name", "artist": artist, "consent": "opt-out", "score": 1.0, "threshold": 1.0,
                 "action": "block", "rule": "opt-out.name"}
        with AuditLog.open(settings.audit_target) as log:  # another writer on the same log
            for share in (0.5, 0.25, 1.0):
                log.append(AuditKind.GENERATE, _rec("attribute", attribution=[
                    {"artist": artist, "share": share, "consent": "credit"},
                    *([{"artist": other, "share": 1 - share, "consent": "credit"}] if share < 1 else [])]))
            log.append(AuditKind.GENERATE, _rec("block", evidence=[block]))
            for _ in range(2):
                log.append(AuditKind.CHECK_PROMPT, _rec("block", evidence=[block]))
            log.append(AuditKind.CHECK_PROMPT, _rec("block", evidence=[{**block, "artist": other}]))
            expected = log.counters(me["id"])[me["id"]]
        assert expected == {"generations": 3, "share_micros": 1_750_000, "blocked_generations": 1, "blocked_checks": 2}
        page = client.get("/dashboard").text
        assert _cell(page, "count-generations") == "3"
        assert _cell(page, "count-blocked") == "1"
        assert _cell(page, "count-checks-blocked") == "2"
        assert "1.750" in page  # the sum of shares
