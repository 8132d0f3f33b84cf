"""A royalty statement's HTML page in a real headless Chromium, offline: it loads nothing but
itself, lists every line with its amount, and shows the totals and the signed checkpoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_reports_browser import _open_offline
from test_statements import _issue, statements_home


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str) -> dict[str, Any]:
    """The statements' home on SQLite, and on PostgreSQL (the CLI reads the URL from the environment)."""
    if not db_url.startswith("sqlite"):
        monkeypatch.setenv("STYLEGATE_DATABASE_URL", db_url)
    return statements_home(tmp_path, monkeypatch)


def test_statement_page_renders_in_chromium(home: dict[str, Any], browser: Any, artifacts_dir: Path) -> None:  # noqa: F811
    issued = _issue(home["root"], "--period", "2026-11")
    entry = next(s for s in issued["statements"] if s["artist"]["id"] == home["ids"]["ada"])
    doc = json.loads(Path(entry["json"]).read_text("utf-8"))
    path = Path(entry["html"])
    ctx, page, requests, errors = _open_offline(browser, path)
    try:
        assert requests == [path.as_uri()], "the page must load nothing but itself"
        assert errors == []
        assert page.title() == "Royalty statement 2026-11: Ada Royal"
        assert f"#{home['ids']['ada']} Ada Royal (royalty)" in page.locator("dl.meta").inner_text()
        rows = page.locator("table.lines tbody tr")
        assert rows.count() == len(doc["lines"]) == 2
        for i, line in enumerate(doc["lines"]):
            cells = rows.nth(i).locator("th, td").all_inner_texts()
            assert cells[0] == str(line["seq"]) and cells[7] == f"{line['amount']:.6f}"
            assert rows.nth(i).is_visible()
        totals = page.locator("table.totals").inner_text()
        assert f"{doc['totals']['amount']:.6f}" in totals and "generations the log commits to" in totals
        assert doc["checkpoint"]["note"].splitlines()[0] in page.locator("pre.note").inner_text()
        assert page.get_by_role("columnheader", name="amount").is_visible()
        shot = artifacts_dir / "royalty-statement.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
    finally:
        ctx.close()
