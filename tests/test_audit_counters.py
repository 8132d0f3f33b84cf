"""Per-artist counters kept by every append, on both backends: they equal a full recount, the
attribution report's totals and hand-counted figures; an old log gets them on open; a damaged
counter is found (and fixed) by the recount; the CLI and the dashboard read them."""

from __future__ import annotations

from pathlib import Path

import pytest
from audit_db import RawDB, raw_sql

from stylegate.governance.audit import AuditKind, AuditLog, DecisionRecord
from stylegate.governance.policy import AttributionSettings, load_policy
from stylegate.reports.attribution import build_attribution_report

ADA = {"id": 1, "name": "Ada Royal"}   # royalty, rate 0.2
BO = {"id": 2, "name": "Bo Held"}      # royalty, unverified: held shares
CY = {"id": 3, "name": "Cy Credit"}    # credit
DEE = {"id": 4, "name": "Dee Optout"}  # opt-out
RATES = {1: 0.2, 2: None, 3: None, 4: None}


def _attr(artist, share, consent, held=False):
    return {"artist": artist, "share": share, "consent": consent, "held": held}


def _ev(artist, consent, action, kind="name"):
    return {"kind": kind, "artist": artist, "consent": consent, "score": 0.9, "threshold": 0.5,
            "rule": f"{consent}.{kind}", "action": action}


def _rec(action, evidence=(), attribution=()):
    return DecisionRecord.from_decision({"action": action, "subject": "prompt", "evidence": list(evidence),
                                         "attribution": list(attribution), "reasons": []}, prompt="a painting")


def _mixed(log: AuditLog) -> None:
    """A mixed history (the figures it yields are counted by hand in EXPECTED)."""
    split = [_attr(ADA, 0.6, "royalty"), _attr(BO, 0.4, "royalty", held=True)]
    g = AuditKind.GENERATE
    log.append(g, _rec("attribute", [_ev(ADA, "royalty", "attribute", "style")], split))        # 1
    log.append(AuditKind.CHECK_PROMPT, _rec("attribute", attribution=split))                    # 2 a check: no generation
    log.append(g, _rec("steer", attribution=[_attr(CY, 1.0, "credit")]))                        # 3
    log.append(g, _rec("block", [_ev(DEE, "opt-out", "block"), _ev(DEE, "opt-out", "block", "style"),
                                 _ev(ADA, "royalty", "attribute", "style")]))                   # 4 blocked for Dee only
    log.append(g, _rec("attribute", attribution=[_attr(ADA, 0.25, "royalty"), _attr(CY, 0.75, "credit")]))  # 5
    log.append(AuditKind.GENERATE_CORRECTION, {"corrects": 5, "unwritten": ["a.png"], "written": []})  # 6 voids 5
    log.append(AuditKind.GENERATE_CORRECTION, {"corrects": 5, "unwritten": ["a.png"], "written": []})  # 7 twice: once
    log.append(AuditKind.GENERATE_CORRECTION, {"corrects": 1, "unwritten": ["b.png"], "written": ["c.png"]})  # 8 kept
    log.append(AuditKind.CHECK_PROMPT, _rec("block", [_ev(DEE, "opt-out", "block"), _ev(ADA, "royalty", "attribute")]))  # 9
    log.append(AuditKind.CHECK_IMAGE, _rec("block", [_ev(DEE, "opt-out", "block", "style"),
                                                     _ev(ADA, "opt-out", "block", "style")]))   # 10
    log.append(AuditKind.CHECK_IMAGE, _rec("allow", [_ev(ADA, "royalty", "attribute", "style")]))  # 11
    log.append(g, _rec("allow"))                                                                # 12 nobody
    log.append("registry.artist.added", {"artist": ADA})                                        # 13 not counted
    log.append(g, _rec("attribute", attribution=[_attr(ADA, 1.0, "royalty")]))                  # 14


EXPECTED = {
    1: {"generations": 2, "share_micros": 1_600_000, "royalty_micros": 1_600_000, "blocked_checks": 1},
    2: {"generations": 1, "share_micros": 400_000, "royalty_held_micros": 400_000},
    3: {"generations": 1, "share_micros": 1_000_000},
    4: {"blocked_generations": 1, "blocked_checks": 2},
}


def test_counters_follow_every_append_and_equal_a_recount(audit_target) -> None:
    with AuditLog.open(audit_target) as log:
        _mixed(log)
        assert log.counters() == EXPECTED
        assert log.counters(4) == {4: EXPECTED[4]} and log.counters(99) == {}
        result = log.recount()
        assert result.ok and result.entries == 14 and result.counters == 11, result.mismatches
        assert log.verify().ok


def test_counters_agree_with_the_attribution_report(audit_target) -> None:
    policy = load_policy().model_copy(update={"attribution": AttributionSettings(price_per_generation=2.0,
                                                                                 default_royalty_rate=0.1)})
    with AuditLog.open(audit_target) as log:
        _mixed(log)
        counters = log.counters()
        totals = build_attribution_report(log, policy=policy, registry=RATES).totals()
    for row in totals.to_dict("records"):
        c = counters[int(row["artist_id"])]
        assert row["generations"] == c.get("generations", 0)
        assert row["share_sum"] == pytest.approx(c.get("share_micros", 0) / 1e6)
        rate = RATES[int(row["artist_id"])] or 0.1
        assert row["royalties"] == pytest.approx(2.0 * rate * c.get("royalty_micros", 0) / 1e6)
        assert row["blocked_on_behalf"] == c.get("blocked_generations", 0)


def test_bulk_appends_count_like_single_ones(audit_target, tmp_path: Path) -> None:
    entries = _entries(tmp_path)
    with AuditLog.open(audit_target) as log:
        seqs = log.append_many(entries, batch=4)  # corrections land in a later batch than some generations
        assert seqs == list(range(1, 15))
        assert log.counters() == EXPECTED and log.recount().ok and log.verify().ok


def test_a_log_from_before_the_counters_gets_them_on_open(audit_target) -> None:
    with AuditLog.open(audit_target) as log:
        _mixed(log)
    with RawDB(audit_target) as db:  # take the log back to the layout older versions wrote
        db.execute("DROP TABLE counters")
        db.execute("DROP TABLE voided")
        db.execute("ALTER TABLE tree_state DROP COLUMN counted")
    with AuditLog.open(audit_target) as log:
        assert log.counters() == EXPECTED
        log.append(AuditKind.GENERATE, _rec("attribute", attribution=[_attr(CY, 1.0, "credit")]))
        assert log.counters(3)[3]["generations"] == 2 and log.recount().ok and log.verify().ok


def test_an_appender_without_counters_is_caught_up(audit_target, tmp_path: Path) -> None:
    """An older stylegate appending beside this one leaves ``counted`` behind: the next append catches up."""
    with AuditLog.open(tmp_path / "first3.db") as first:
        for e in list(_entries(tmp_path))[:3]:
            first.append(e[0], e[1])
        early = first.counters()
    with AuditLog.open(audit_target) as log:
        _mixed(log)
        with RawDB(audit_target) as db:  # the counters as they stood after entry 3, as an old writer leaves them
            db.execute("DELETE FROM counters")
            db.execute("DELETE FROM voided")
            for artist, values in early.items():
                for name, value in values.items():
                    db.execute("INSERT INTO counters (artist_id, name, value) VALUES (?, ?, ?)", (artist, name, value))
            db.execute("UPDATE tree_state SET counted = 3")
        log.append("registry.artist.added", {"artist": CY})  # catches up 4..14 under its lock, then counts 15
        check = RawDB(audit_target)
        assert check.execute("SELECT counted FROM tree_state").fetchone()[0] == 15
        stored: dict[int, dict[str, int]] = {}
        for artist, name, value in check.execute("SELECT artist_id, name, value FROM counters").fetchall():
            if value:
                stored.setdefault(int(artist), {})[name] = int(value)
        check.close()
        assert stored == EXPECTED and log.recount().ok


def _entries(tmp_path: Path) -> list[tuple[str, dict]]:
    with AuditLog.open(tmp_path / "mixed.db") as single:
        if len(single) == 0:
            _mixed(single)
        return [(e["kind"], e["body"]) for e in single.entries()]


def test_recount_names_a_damaged_counter_and_fixes_it(audit_target) -> None:
    with AuditLog.open(audit_target) as log:
        _mixed(log)
        raw_sql(audit_target, "UPDATE counters SET value = value + 5 WHERE artist_id = 2 AND name = 'generations'")
        raw_sql(audit_target, "INSERT INTO counters (artist_id, name, value) VALUES (7, 'blocked_checks', 3)")
        result = log.recount()
        assert not result.ok and not result.fixed
        assert result.mismatches == [
            {"artist_id": 2, "counter": "generations", "stored": 6, "recomputed": 1},
            {"artist_id": 7, "counter": "blocked_checks", "stored": 3, "recomputed": 0},
        ]
        fixed = log.recount(fix=True)
        assert fixed.fixed and len(fixed.mismatches) == 2
        assert log.counters() == EXPECTED and log.recount().ok


def test_the_recount_command(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`stylegate audit recount` on a home whose registry (and so audit log) is on either database."""
    import json

    from typer.testing import CliRunner

    from stylegate.cli import app
    from stylegate.settings import Settings

    if not db_url.startswith("sqlite"):
        monkeypatch.setenv("STYLEGATE_DATABASE_URL", db_url)
    home = tmp_path / "home"
    runner = CliRunner()
    assert runner.invoke(app, ["--home", str(home), "init"]).exit_code == 0
    target = Settings(home=home).audit_target
    assert isinstance(target, Path) == db_url.startswith("sqlite")
    with AuditLog.open(target) as log:
        _mixed(log)
    ok = runner.invoke(app, ["--home", str(home), "audit", "recount", "--json"])
    assert ok.exit_code == 0 and json.loads(ok.stdout)["ok"] is True, ok.output
    raw_sql(target, "UPDATE counters SET value = 0 WHERE artist_id = 4 AND name = 'blocked_checks'")
    bad = runner.invoke(app, ["--home", str(home), "audit", "recount"])
    assert bad.exit_code == 1 and "artist 4 blocked_checks: stored 0, recounted 2" in bad.output
    fixed = runner.invoke(app, ["--home", str(home), "audit", "recount", "--fix", "--json"])
    assert fixed.exit_code == 0 and json.loads(fixed.stdout)["fixed"] is True
    assert runner.invoke(app, ["--home", str(home), "audit", "recount"]).exit_code == 0
    assert runner.invoke(app, ["--home", str(home), "audit", "verify"]).exit_code == 0
