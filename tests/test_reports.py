"""Attribution / royalty reports and the audit summary, from a real audit log."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

import stylegate.governance.audit.log as audit_mod
from stylegate.errors import AuditError, ReportError
from stylegate.governance.audit import AuditLog, DecisionRecord
from stylegate.governance.policy import AttributionSettings, load_policy
from stylegate.reports.attribution import artist_rates, build_attribution_report
from stylegate.reports.audit_summary import build_audit_summary
from stylegate.reports.render import render_html, write_report

ADA = {"id": 1, "name": "Ada Royal"}      # royalty, rate 0.2
BO = {"id": 2, "name": "Bo Default"}      # royalty, no rate -> policy default 0.1
CY = {"id": 3, "name": "Cy Credit"}       # credit
DEE = {"id": 4, "name": "Dee Optout"}     # opt-out
RATES = {1: 0.2, 2: None, 3: None, 4: None}


def _policy():
    return load_policy().model_copy(update={"attribution": AttributionSettings(price_per_generation=1.0,
                                                                               default_royalty_rate=0.1)})


def _attr(artist, share, consent):
    return {"artist": artist, "share": share, "consent": consent}


def _ev(kind, artist, consent, score, threshold, action):
    return {"kind": kind, "artist": artist, "consent": consent, "score": score, "threshold": threshold,
            "rule": f"{consent}.{kind}", "action": action}


def _body(action, *, evidence=(), attribution=(), subject="prompt"):
    return DecisionRecord.from_decision({"action": action, "subject": subject, "evidence": list(evidence),
                          "attribution": list(attribution), "reasons": []},
                         prompt="a painting", policy_hash="p1", model={"id": "m"}, index={"id": "i"},
                         images=["x.png"], seeds=[1])


def _append_at(log: AuditLog, monkeypatch, when: str, kind: str, body: dict) -> int:
    monkeypatch.setattr(audit_mod, "utc_now", lambda: when)
    return log.append(kind, body)


@pytest.fixture()
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    lg = fill_log(AuditLog.open(tmp_path / "audit.db"), monkeypatch)
    yield lg
    lg.close()


def fill_log(lg: AuditLog, monkeypatch: pytest.MonkeyPatch) -> AuditLog:
    """The reports' audit log: nine entries in January and February 2024 (see the seq comments)."""
    a = lambda when, kind, body: _append_at(lg, monkeypatch, when, kind, body)  # noqa: E731
    split = [_attr(ADA, 0.6, "royalty"), _attr(BO, 0.4, "royalty")]
    a("2024-01-01T10:00:00.000000+00:00", "generate",                                   # seq 1 (Monday)
      _body("attribute", evidence=[_ev("style", ADA, "royalty", 0.7, 0.6, "attribute")], attribution=split))
    a("2024-01-03T09:00:00.000000+00:00", "check.prompt",                               # seq 2
      _body("attribute", evidence=[_ev("description", ADA, "royalty", 0.25, 0.23, "attribute"),
                                   _ev("style", BO, "royalty", 0.70, 0.60, "attribute")], attribution=split))
    a("2024-01-03T12:00:00.000000+00:00", "generate", _body("steer", attribution=split))  # seq 3
    a("2024-01-08T08:00:00.000000+00:00", "generate",                                   # seq 4 (next Monday)
      _body("allow", attribution=[_attr(CY, 1.0, "credit")]))
    a("2024-01-09T08:00:00.000000+00:00", "generate",                                   # seq 5: blocked for Dee
      _body("block", evidence=[_ev("name", DEE, "opt-out", 1.0, 1.0, "block"),
                               _ev("style", DEE, "opt-out", 0.62, 0.6, "block")]))
    a("2024-02-02T08:00:00.000000+00:00", "generate",                                   # seq 6
      _body("attribute", attribution=[_attr(BO, 0.5, "royalty"), _attr(CY, 0.5, "credit")]))
    a("2024-02-03T08:00:00.000000+00:00", "generate",                                   # seq 7: blocked for Dee
      _body("block", evidence=[_ev("name", DEE, "opt-out", 1.0, 1.0, "block"),
                               _ev("style", ADA, "royalty", 0.9, 0.6, "attribute")]))
    a("2024-02-04T08:00:00.000000+00:00", "generate", _body("allow"))                  # seq 8: nobody attributed
    a("2024-02-05T08:00:00.000000+00:00", "registry.artist.added", {"artist": ADA})    # seq 9: ignored
    return lg


def _by_artist(df: pd.DataFrame) -> dict[int, dict]:
    return {int(r["artist_id"]): r for r in df.to_dict("records")}


def test_rows_shares_and_royalties(log):
    rep = build_attribution_report(log, policy=_policy(), registry=RATES)
    rows = rep.rows
    assert sorted(rows["seq"].unique()) == [1, 3, 4, 6]
    # attributed shares of each allowed generation sum to 1 (all its artists are royalty/credit here)
    assert rows.groupby("seq")["share"].sum().tolist() == pytest.approx([1.0, 1.0, 1.0, 1.0])
    # 0.6*0.2 + 0.4*0.1 (twice) + credit 0 + 0.5*0.1 + credit 0
    assert rep.total_royalties == pytest.approx(0.12 + 0.04 + 0.12 + 0.04 + 0.05)
    assert rows.loc[rows["artist_id"] == 3, "royalty"].sum() == 0
    assert set(rows.loc[rows["artist_id"] == 2, "rate"]) == {0.1}
    tot = _by_artist(rep.totals())
    assert (tot[1]["generations"], tot[1]["share_sum"], tot[1]["royalties"]) == (2, pytest.approx(1.2), pytest.approx(0.24))
    assert (tot[2]["generations"], tot[2]["share_sum"], tot[2]["royalties"]) == (3, pytest.approx(1.3), pytest.approx(0.13))
    assert (tot[3]["generations"], tot[3]["share_sum"], tot[3]["royalties"]) == (2, pytest.approx(1.5), 0)
    assert tot[4]["blocked_on_behalf"] == 2 and tot[4]["generations"] == 0 and tot[4]["consent"] == "opt-out"
    assert tot[1]["blocked_on_behalf"] == 0  # royalty evidence in a block is not "on behalf"
    assert rep.summary["royalties"].sum() == pytest.approx(0.37)
    mix = rep.decisions.groupby("decision")["count"].sum().to_dict()
    assert mix == {"allow": 2, "attribute": 2, "block": 2, "steer": 1}


def test_registry_store_rates(tmp_path):
    from stylegate.registry.store import RegistryStore, sqlite_url

    store = RegistryStore.open(sqlite_url(tmp_path / "registry.db"))
    store.add_artist("Ada Royal", consent="royalty", royalty_rate=0.2)
    store.add_artist("Bo Default", consent="royalty")
    assert artist_rates(store) == {1: 0.2, 2: None}


def test_periods(log):
    month = build_attribution_report(log, policy=_policy(), registry=RATES, period="month").summary
    got = {(r["period"], r["artist_id"]): (r["generations"], round(r["share_sum"], 6), round(r["royalties"], 6),
                                           r["blocked_on_behalf"]) for r in month.to_dict("records")}
    assert got == {
        ("2024-01", 1): (2, 1.2, 0.24, 0), ("2024-01", 2): (2, 0.8, 0.08, 0), ("2024-01", 3): (1, 1.0, 0.0, 0),
        ("2024-01", 4): (0, 0.0, 0.0, 1),
        ("2024-02", 2): (1, 0.5, 0.05, 0), ("2024-02", 3): (1, 0.5, 0.0, 0), ("2024-02", 4): (0, 0.0, 0.0, 1),
    }
    week = build_attribution_report(log, policy=_policy(), registry=RATES, period="week").summary
    assert sorted(set(week["period"])) == ["2024-01-01", "2024-01-08", "2024-01-29"]
    assert week.groupby("period")["royalties"].sum().round(6).to_dict() == {
        "2024-01-01": 0.32, "2024-01-08": 0.0, "2024-01-29": 0.05}
    day = build_attribution_report(log, policy=_policy(), registry=RATES, period="day").summary
    assert sorted(set(day["period"])) == ["2024-01-01", "2024-01-03", "2024-01-08", "2024-01-09",
                                          "2024-02-02", "2024-02-03"]
    assert day.groupby("period")["blocked_on_behalf"].sum().to_dict()["2024-01-09"] == 1
    with pytest.raises(ValueError, match="period"):
        build_attribution_report(log, policy=_policy(), period="year")


def test_since_until(log):
    rep = build_attribution_report(log, policy=_policy(), registry=RATES, since="2024-01-03", until="2024-02-03")
    assert sorted(rep.rows["seq"].unique()) == [3, 4, 6]
    assert rep.total_royalties == pytest.approx(0.12 + 0.04 + 0.05)
    assert rep.summary["blocked_on_behalf"].sum() == 1  # seq 5 in, seq 7 (2024-02-03) out: until is exclusive
    from datetime import date
    same = build_attribution_report(log.path, policy=_policy(), registry=RATES,
                                    since=date(2024, 1, 3), until=date(2024, 2, 3))
    pd.testing.assert_frame_equal(same.summary, rep.summary)
    # plain entry dicts filter the same way
    entries = list(log.entries())
    again = build_attribution_report(entries, policy=_policy(), registry=RATES, since="2024-01-03", until="2024-02-03")
    pd.testing.assert_frame_equal(again.summary, rep.summary)


def test_default_policy_values(log):
    pol = load_policy()
    rep = build_attribution_report(log, registry={1: 0.2})
    price, dflt = pol.attribution.price_per_generation, pol.attribution.default_royalty_rate
    assert rep.total_royalties == pytest.approx(price * (2 * (0.6 * 0.2 + 0.4 * dflt) + 0.5 * dflt))


def test_bad_shares_raise(tmp_path, monkeypatch):
    lg = AuditLog.open(tmp_path / "bad.db")
    _append_at(lg, monkeypatch, "2024-03-01T00:00:00.000000+00:00", "generate",
               _body("attribute", attribution=[_attr(ADA, 0.6, "royalty")]))
    seq = _append_at(lg, monkeypatch, "2024-03-01T01:00:00.000000+00:00", "generate",
                     _body("attribute", attribution=[_attr(ADA, 0.5, "royalty"), _attr(BO, 0.4, "royalty")]))
    with pytest.raises(ReportError, match=r"audit entry 1\b.*sum to 0\.6") as info:
        build_attribution_report(lg, policy=_policy())
    assert isinstance(info.value, AuditError) and isinstance(info.value, ValueError)
    with pytest.raises(ValueError, match=rf"audit entry {seq}\b"):
        build_attribution_report(lg, policy=_policy(), since="2024-03-01T00:30:00+00:00")
    lg.close()


def test_csv_parquet_round_trip(log, tmp_path):
    rep = build_attribution_report(log, policy=_policy(), registry=RATES, period="week")
    pq = write_report(rep, tmp_path / "out" / "r.parquet", "parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(pq), rep.summary)
    csv = write_report(rep, tmp_path / "out" / "r.csv", "csv")
    pd.testing.assert_frame_equal(pd.read_csv(csv), rep.summary, check_exact=False, rtol=1e-12)
    raw = write_report(rep.rows, tmp_path / "rows.parquet", "parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(raw), rep.rows)
    with pytest.raises(ValueError, match="format"):
        write_report(rep, tmp_path / "r.xlsx", "xlsx")  # type: ignore[arg-type]


def _assert_offline(text: str) -> None:
    assert "http://" not in text and "https://" not in text
    assert "<script" not in text.lower() and "<link" not in text.lower()
    assert not re.search(r"""(src|href)\s*=""", text, re.I)
    assert "@import" not in text and "url(" not in text


def test_html_self_contained(log, tmp_path):
    rep = build_attribution_report(log, policy=_policy(), registry=RATES)
    path = write_report(rep, tmp_path / "r.html", "html")
    text = path.read_text("utf-8")
    for name in ("Ada Royal", "Bo Default", "Cy Credit", "Dee Optout"):
        assert name in text
    assert text.count("<svg") >= 3 and 'role="img"' in text
    assert "<caption>" in text and '<th scope="col">' in text and '<html lang="en">' in text
    _assert_offline(text)
    # a plain DataFrame and an empty report render too
    _assert_offline(render_html(rep.rows))
    empty = build_attribution_report(log, policy=_policy(), since="2030-01-01")
    assert empty.summary.empty and empty.total_royalties == 0
    _assert_offline(write_report(empty, tmp_path / "e.html", "html").read_text("utf-8"))


def test_html_escapes_names(tmp_path, monkeypatch):
    lg = AuditLog.open(tmp_path / "x.db")
    evil = {"id": 9, "name": "<img src=x onerror=alert(1)>"}
    _append_at(lg, monkeypatch, "2024-03-01T00:00:00.000000+00:00", "generate",
               _body("attribute", attribution=[_attr(evil, 1.0, "royalty")]))
    text = render_html(build_attribution_report(lg, policy=_policy()))
    assert "<img" not in text and "&lt;img src=x" in text
    lg.close()


def test_audit_summary(log, tmp_path):
    s = build_audit_summary(log)
    dec = {(r["entry_kind"], r["decision"]): r["count"] for r in s.decisions.to_dict("records")}
    assert dec == {("check.prompt", "attribute"): 1, ("generate", "allow"): 2, ("generate", "attribute"): 2,
                   ("generate", "block"): 2, ("generate", "steer"): 1}
    ev = {(r["evidence_kind"], r["decision"]): (r["entries"], r["evidence"]) for r in s.by_evidence.to_dict("records")}
    assert ev == {("description", "attribute"): (1, 1), ("name", "block"): (2, 2), ("style", "attribute"): (2, 2),
                  ("style", "block"): (2, 2)}
    nt = {r["evidence_kind"]: r for r in s.near_threshold.to_dict("records")}
    # style deltas: 0.1 (seq1), 0.1 (seq2), 0.02 (seq5), 0.3 (seq7) -> one within ±0.05
    assert (nt["style"]["n"], nt["style"]["near"], nt["style"]["above"]) == (4, 1, 4)
    assert nt["style"]["q50"] == pytest.approx(0.1) and nt["style"]["max"] == pytest.approx(0.3)
    assert (nt["name"]["n"], nt["name"]["near"], nt["name"]["threshold"]) == (2, 2, 1.0)
    assert nt["description"]["near"] == 1 and nt["description"]["min"] == pytest.approx(0.02)
    only_checks = build_audit_summary(log, kinds=["check.prompt"], margin=0.01)
    assert only_checks.decisions["count"].sum() == 1 and only_checks.near_threshold["near"].sum() == 0
    assert build_audit_summary(log, since="2024-02-01").decisions["count"].sum() == 3
    text = write_report(s, tmp_path / "s.html", "html").read_text("utf-8")
    assert "<svg" in text and "near-duplicate" not in text and "description" in text
    _assert_offline(text)
    pq = write_report(s, tmp_path / "s.parquet", "parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(pq), s.decisions)
    empty = build_audit_summary(log, since="2030-01-01")
    assert empty.decisions.empty and empty.near_threshold.empty
    _assert_offline(render_html(empty))
