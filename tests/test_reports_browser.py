"""The HTML reports in a real headless Chromium, offline: they render, chart and show the totals.

A full-page screenshot of each is saved under test-artifacts/ (STYLEGATE_TEST_ARTIFACTS).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_reports import RATES, _policy, fill_log

from stylegate.reports.attribution import build_attribution_report
from stylegate.reports.audit_summary import build_audit_summary
from stylegate.reports.render import write_report


@pytest.fixture()
def log(audit_target, monkeypatch: pytest.MonkeyPatch):
    """The reports' audit log, on SQLite and on PostgreSQL (the reports read it from either)."""
    from stylegate.governance.audit import AuditLog

    lg = fill_log(AuditLog.open(audit_target, create=True), monkeypatch)
    yield lg
    lg.close()


def _open_offline(browser, path: Path):
    """Open ``path`` in a fresh offline context; returns the page, requests seen and errors."""
    ctx = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: errors.append(f"failed: {r.url}"))
    page.goto(path.as_uri(), wait_until="load")
    return ctx, page, requests, errors


def _bar_widths(figure) -> list[float]:
    """Rendered widths of a horizontal bar chart's bars, top to bottom."""
    rects = figure.locator("svg rect")
    return [rects.nth(i).bounding_box()["width"] for i in range(rects.count())]


def test_attribution_report_renders_in_chromium(log, tmp_path, browser, artifacts_dir):  # noqa: F811
    rep = build_attribution_report(log, policy=_policy(), registry=RATES)
    path = write_report(rep, tmp_path / "attribution.html", "html")
    ctx, page, requests, errors = _open_offline(browser, path)
    try:
        assert requests == [path.as_uri()], "the page must load nothing but itself"
        assert errors == []
        assert page.title() == rep.title
        charts = page.locator('svg[role="img"]')
        assert charts.count() == 4
        for i in range(charts.count()):
            box = charts.nth(i).bounding_box()
            assert box is not None and box["width"] > 200 and box["height"] > 60
        # The top-artists chart draws bars in proportion to the royalties owed.
        top = page.locator("figure", has_text="Top artists by royalties owed")
        totals = rep.totals().sort_values(["royalties", "share_sum"], ascending=False)
        widths = _bar_widths(top)
        assert len(widths) == len(totals)
        owed = list(totals["royalties"])
        assert widths == sorted(widths, reverse=True)
        assert widths[0] > 0
        assert widths[1] / widths[0] == pytest.approx(owed[1] / owed[0], rel=0.02)
        body = page.inner_text("body")
        for name in ("Ada Royal", "Bo Default", "Cy Credit", "Dee Optout"):
            assert name in body
        assert f"{rep.total_royalties:.6g}" in body
        # Tables are real tables with captions and column headers, visible on the page.
        assert page.locator("table caption").count() == 3
        assert page.get_by_role("columnheader", name="royalties").first.is_visible()
        shot = artifacts_dir / "attribution-report.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
    finally:
        ctx.close()


def test_audit_summary_renders_in_chromium(log, tmp_path, browser, artifacts_dir):  # noqa: F811
    summary = build_audit_summary(log)
    path = write_report(summary, tmp_path / "audit.html", "html")
    ctx, page, requests, errors = _open_offline(browser, path)
    try:
        assert requests == [path.as_uri()] and errors == []
        assert page.locator('svg[role="img"]').count() >= 2
        mix = page.locator("figure", has_text="Decision mix")
        counts = summary.decisions.groupby("decision", sort=True)["count"].sum()
        widths = _bar_widths(mix)
        assert len(widths) == len(counts)
        ratio = [w / max(widths) for w in widths]
        assert ratio == pytest.approx([c / counts.max() for c in counts], rel=0.02)
        page.screenshot(path=str(artifacts_dir / "audit-summary.png"), full_page=True)
        assert (artifacts_dir / "audit-summary.png").stat().st_size > 10_000
    finally:
        ctx.close()
