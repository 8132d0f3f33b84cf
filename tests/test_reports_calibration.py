"""The calibration report: built from a real evaluation on the StyleWorld CLIP, written as
CSV/Parquet/HTML, and rendered in a real headless Chromium (offline)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from test_reports_browser import _open_offline

from stylegate.bench.fixtures import register_styleworld
from stylegate.governance.matching.calibration import calibrate
from stylegate.governance.policy import load_policy
from stylegate.operations.audit import record_decision
from stylegate.operations.ingest import init_home
from stylegate.reports.calibration import build_calibration_report
from stylegate.reports.render import write_report
from stylegate.settings import Settings
from stylegate.styleworld import world
from stylegate.workspace import Workspace


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("calreport")
    ws = Workspace(Settings(home=base / "home", device="cpu"))
    init_home(ws)
    register_styleworld(ws, base / "ref", per_artist=4, artists=world.ARTISTS[:4])
    gate = ws.gate()
    for prompt in (f"a boat in {world.describe(world.ARTISTS[0])}", f"a cat by {world.ARTISTS[1].name}"):
        record_decision(ws, "check.prompt", gate.check_prompt(prompt), prompt=prompt)
    result = calibrate(ws.registry_view(), ws.embedder.embed_texts, ws.embedder.embed_images,
                       ws.embedder.identity.to_dict(), ws.policy, fit=False, max_copies=64)
    return build_calibration_report(result, ws.policy.calibration.embedder.model_dump(), ws.audit), result


def test_report_evaluates_the_thresholds_in_force(report) -> None:
    rep, result = report
    ops = rep.operating_points.set_index("kind")
    shipped = load_policy().thresholds
    assert ops.loc["style", "threshold"] == shipped.style
    assert ops.loc["near_duplicate", "threshold"] == shipped.near_duplicate
    assert ops.loc["style", "frr"] == pytest.approx(result.fits["style"].frr)
    assert rep.meta["bound"] is True
    # every curve is monotone: raising the threshold never raises FAR nor lowers FRR
    for _, g in rep.curves.groupby("kind"):
        g = g.sort_values("threshold")
        assert g["far"].is_monotonic_decreasing and g["frr"].is_monotonic_increasing
    assert set(rep.recent["evidence_kind"]) >= {"description", "name"}
    assert (rep.recent["delta"] >= 0).all()


def test_csv_and_parquet_hold_every_table(report, tmp_path: Path) -> None:
    rep, _ = report
    back = pd.read_parquet(write_report(rep, tmp_path / "c.parquet", "parquet"))
    assert set(back["table"]) == {"operating_point", "curve", "artist", "recent"}
    assert len(back) == len(rep.operating_points) + len(rep.curves) + len(rep.artists) + len(rep.recent)
    csv = pd.read_csv(write_report(rep, tmp_path / "c.csv", "csv"))
    assert len(csv) == len(back)


def test_calibration_report_renders_in_chromium(report, tmp_path: Path, browser, artifacts_dir) -> None:
    rep, _ = report
    path = write_report(rep, tmp_path / "calibration.html", "html")
    ctx, page, requests, errors = _open_offline(browser, path)
    try:
        assert requests == [path.as_uri()] and errors == []
        kinds = list(rep.operating_points["kind"])
        det = page.locator("figure", has_text="DET curve: style")
        assert det.count() == 1
        # one DET and one ROC chart per evidence kind, each with its curve and operating point
        assert page.locator("polyline.curve").count() == 2 * len(kinds)
        assert page.locator("circle.operating-point").count() == 2 * len(kinds)
        box = det.locator("svg").bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 100
        # the ROC operating point sits where its FAR and 1 − FRR put it on the axes
        roc = page.locator("figure", has_text="ROC curve: style").locator("svg")
        cy = float(roc.locator("circle.operating-point").get_attribute("cy"))
        frr = float(rep.operating_points.set_index("kind").loc["style", "frr"])
        top, span = 14, 300 - 14 - 44
        assert cy == pytest.approx(top + frr * span, abs=0.2)
        body = page.inner_text("body")
        assert "styleworld-clip" in body and "Worst artists" in body
        worst = rep.artists.iloc[0]["artist"]
        assert worst in page.locator("figure", has_text="Worst artists").inner_text()
        assert re.search(re.escape(f"{load_policy().thresholds.style:g}") + r"\b", body)  # the style threshold in force
        assert page.locator("table caption").count() == 4
        shot = artifacts_dir / "calibration-report.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
    finally:
        ctx.close()
