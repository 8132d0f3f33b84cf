"""Payouts from issued statements: the policy's minimum payout carries small balances to the next
period, and an unverified claimant's shares stay in escrow until an administrator verifies them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from test_statements import _attr, _body, _cli, _issue

import stylegate
from stylegate.governance.audit import log as audit_mod
from stylegate.registry.accounts import AccountStore


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    root = tmp_path / "home"
    ws = stylegate.open_workspace(root, create=True, device="cpu")
    policy = root / "policy.toml"
    policy.write_text(policy.read_text("utf-8").replace("minimum_payout = 1.0", "minimum_payout = 0.01"), "utf-8")
    ada = ws.store.add_artist("Ada Royal", consent="royalty", royalty_rate=0.2)
    eve = ws.store.add_artist("Eve Portal", consent="royalty")
    with ws.store.transaction(write=True) as tx:  # signed up through the portal: unverified
        AccountStore(ws.store).create(eve.id, "eve@example.org", tx)
    with monkeypatch.context() as m:
        def at(when: str, body: Any) -> int:
            m.setattr(audit_mod, "utc_now", lambda: when)
            return ws.audit.append("generate", body)

        held = dict(_attr(eve, 1.0), held=True)
        at("2026-10-05T10:00:00.000000+00:00", _body("attribute", [_attr(ada, 1.0)]))
        at("2026-10-06T10:00:00.000000+00:00", _body("attribute", [held]))
        at("2026-11-05T10:00:00.000000+00:00", _body("attribute", [_attr(ada, 1.0)]))
    ws.audit.close()
    return {"root": root, "ada": ada.id, "eve": eve.id}


def _payouts(root: Path, period: str, fmt: str = "csv") -> pd.DataFrame:
    result = _cli(root, "statements", "payouts", "--period", period, "--format", fmt, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    frame = pd.read_csv(out["path"]) if fmt == "csv" else pd.read_parquet(out["path"])
    assert len(frame) == out["artists"]
    return frame.set_index("artist_id")


def test_minimum_payout_carries_over_and_escrow_waits_for_verification(home: dict[str, Any]) -> None:
    root, ada, eve = home["root"], home["ada"], home["eve"]
    _issue(root, "--period", "2026-10")
    october = _payouts(root, "2026-10")
    price = 0.04
    assert october.loc[ada, "status"] == "carried"  # 0.008 is below the minimum of 0.01
    assert october.loc[ada, "paid"] == 0 and october.loc[ada, "carried_out"] == pytest.approx(price * 0.2)
    assert october.loc[eve, "status"] == "held" and not october.loc[eve, "verified"]
    assert october.loc[eve, "escrow_held"] == pytest.approx(price * 0.1) and october.loc[eve, "paid"] == 0

    _issue(root, "--period", "2026-11")
    november = _payouts(root, "2026-11", "parquet")
    assert november.loc[ada, "carried_in"] == pytest.approx(price * 0.2)
    assert november.loc[ada, "status"] == "paid" and november.loc[ada, "paid"] == pytest.approx(2 * price * 0.2)
    assert november.loc[ada, "carried_out"] == 0
    assert november.loc[eve, "status"] == "held" and november.loc[eve, "escrow_held"] == pytest.approx(price * 0.1)

    ws = stylegate.open_workspace(root)
    AccountStore(ws.store).update(eve, verified=True)  # an administrator verifies Eve
    released = _payouts(root, "2026-11")
    assert bool(released.loc[eve, "verified"]) is True
    assert released.loc[eve, "released_from_escrow"] == pytest.approx(price * 0.1) and released.loc[eve, "escrow_held"] == 0
    assert released.loc[eve, "status"] == "carried"  # 0.004 released, still below the minimum


def test_payouts_refuse_an_unissued_period_and_an_edited_statement(home: dict[str, Any]) -> None:
    root = home["root"]
    assert _cli(root, "statements", "payouts", "--period", "2026-10").exit_code == 2
    issued = _issue(root, "--period", "2026-10")
    path = Path(issued["statements"][0]["json"])
    doc = json.loads(path.read_text("utf-8"))
    doc["totals"]["amount_payable"] = 1000.0
    path.write_text(json.dumps(doc), "utf-8")
    result = _cli(root, "statements", "payouts", "--period", "2026-10")
    assert result.exit_code == 1 and "does not verify" in result.output


def test_an_invalid_minimum_payout_is_a_policy_error(home: dict[str, Any]) -> None:
    policy = home["root"] / "policy.toml"
    policy.write_text(policy.read_text("utf-8").replace("minimum_payout = 0.01", "minimum_payout = -5"), "utf-8")
    result = _cli(home["root"], "statements", "payouts", "--period", "2026-10")
    assert result.exit_code == 2 and "royalties.minimum_payout" in result.output
