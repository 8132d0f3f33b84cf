"""The artist portal lists the artist's royalty statements with downloads and the server's
verification of each, in a real headless Chromium (JavaScript off) against a live server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_service_browser import BROWSER_ADMIN, live_server, no_js  # noqa: F401  (fixtures)
from test_statements import _body

from stylegate.governance.audit import AuditLog
from stylegate.governance.audit import log as audit_mod
from stylegate.styleworld import world


def test_dashboard_lists_statements_with_downloads_and_verification(
        live_server: Any, no_js: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, artifacts_dir: Path) -> None:  # noqa: F811
    ctx, page_errors = no_js
    api = httpx.Client(base_url=live_server.base_url, timeout=60)
    me = api.post("/v1/artists", json={"name": world.ARTISTS[3].name, "consent": "royalty", "contact": "r@example.org"})
    assert me.status_code == 201, me.text
    artist, token = me.json()["artist"], me.json()["token"]
    assert api.patch(f"/v1/admin/artists/{artist['id']}", json={"verified": True},
                     headers={"Authorization": f"Bearer {BROWSER_ADMIN}"}).status_code == 200
    log = AuditLog.open(live_server.audit_target)  # two attributed generations in November 2026
    attribution = [{"artist": {"id": artist["id"], "name": artist["name"]}, "share": 1.0, "consent": "royalty"}]
    for day in ("03", "04"):
        monkeypatch.setattr(audit_mod, "utc_now", lambda day=day: f"2026-11-{day}T10:00:00.000000+00:00")
        log.append("generate", _body("attribute", attribution))
    monkeypatch.undo()
    log.close()
    issue = subprocess.run([sys.executable, "-m", "stylegate", "--home", str(live_server.home), "statements", "issue",
                            "--period", "2026-11", "--json"], capture_output=True, text=True, timeout=300,
                           env=live_server.env)
    assert issue.returncode == 0, issue.stderr
    mine = next(s for s in json.loads(issue.stdout)["statements"] if s["artist"]["id"] == artist["id"])

    page = ctx.new_page()
    page.goto(live_server.url("/login"))
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/dashboard")
    rows = page.locator("#statements tbody tr")
    assert rows.count() == 1
    cells = rows.first.locator("td").all_inner_texts()
    assert cells[0] == "2026-11" and cells[1] == mine["statement_id"] and cells[2] == "2"
    assert cells[5] == "verified"
    page.screenshot(path=str(artifacts_dir / "portal-statements.png"), full_page=True)

    # The JSON download is the signed statement; with the downloaded verifier and key it checks out.
    with page.expect_download() as got:
        page.get_by_role("link", name="JSON").click()
    statement = tmp_path / "mine.json"
    got.value.save_as(statement)
    assert json.loads(statement.read_text())["statement_id"] == mine["statement_id"]
    verifier, key = tmp_path / "verify_statement.py", tmp_path / "key.pem"
    for link, target in (("standalone verifier", verifier), ("operator's public key", key)):
        with page.expect_download() as got:
            page.get_by_role("link", name=link).click()
        got.value.save_as(target)
    checked = subprocess.run([sys.executable, "-I", str(verifier), str(statement), "--key", str(key)],
                             capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    html = page.goto(live_server.url(f"/dashboard/statements/{mine['statement_id']}.html"))
    assert html is not None and html.status == 200 and page.title().startswith("Royalty statement 2026-11")

    # An edited statement on the server shows as not valid, with the reason.
    path = Path(mine["json"])
    doc = json.loads(path.read_text())
    doc["lines"][0]["amount"] = 99.0
    path.write_text(json.dumps(doc))
    page.goto(live_server.url("/dashboard"))
    verdict = page.locator("#statements tbody tr td.verdict").inner_text()
    assert verdict.startswith("not valid: bad_signature"), verdict

    # Another artist's session cannot download it.
    other = api.post("/v1/artists", json={"name": world.ARTISTS[4].name, "consent": "credit", "contact": "o@example.org"})
    page.goto(live_server.url("/login"))
    page.get_by_label("API token").fill(other.json()["token"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/dashboard")
    assert page.locator("#statements").count() == 0
    assert page.request.get(live_server.url(f"/dashboard/statements/{mine['statement_id']}.json")).status == 404
    assert page_errors == []
