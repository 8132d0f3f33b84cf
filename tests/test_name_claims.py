"""Issue #18: names belong to one artist, and verification decides what a claim may do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import initialised
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from stylegate.cli import app
from stylegate.errors import DuplicateArtist, InputError
from stylegate.registry.claims import ClaimRules
from stylegate.registry.store import RegistryStore
from stylegate.service.app import create_app
from stylegate.settings import Settings
from stylegate.workspace import Workspace

runner = CliRunner()
ADMIN = "admin-token-for-claims"


def sg(home: Path, *args: str):
    return runner.invoke(app, ["--home", str(home), *args])


def dispute_policy(home: Path) -> None:
    policy = home / "policy.toml"
    text = policy.read_text("utf-8")
    assert 'name_collision = "refuse"' in text
    policy.write_text(text.replace('name_collision = "refuse"', 'name_collision = "dispute"'), "utf-8")


@pytest.fixture()
def home(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home with one artist; its registry on SQLite (in the home) or on PostgreSQL."""
    if not db_url.startswith("sqlite"):
        monkeypatch.setenv("STYLEGATE_DATABASE_URL", db_url)
    home = tmp_path / "home"
    assert sg(home, "init").exit_code == 0
    assert sg(home, "artists", "add", "Mira Okonkwo", "--alias", "The Teal Painter", "--consent", "royalty").exit_code == 0
    assert (home / "registry.db").exists() == db_url.startswith("sqlite")  # the registry is where db_url says
    assert (home / "audit.db").exists() == db_url.startswith("sqlite")  # and the audit log goes with it
    return home


# ------------------------------------------------------------------------- collisions
@pytest.mark.parametrize("twin", [
    "Mir\u0430 Okonkwo",        # Cyrillic а inside a Latin name
    "MIRA OKONKWO",             # case
    "Mira  Okonkwo",            # spacing
    "Mira_Okonkwo",             # separators
    "Míra Okonkwó",             # diacritics
    "Ｍｉｒａ Ｏｋｏｎｋｗｏ",      # full width
])
def test_a_twin_of_a_registered_name_is_refused(home: Path, twin: str) -> None:
    as_name = sg(home, "artists", "add", twin, "--consent", "opt-out")
    assert as_name.exit_code == 2 and "already" in as_name.output and "'Mira Okonkwo'" in as_name.output
    as_alias = sg(home, "artists", "add", "Someone Else", "--alias", twin, "--consent", "royalty")
    assert as_alias.exit_code == 2 and "already claimed" in as_alias.output
    listed = json.loads(sg(home, "artists", "list", "--json").stdout)["artists"]
    assert [a["name"] for a in listed] == ["Mira Okonkwo"]


def test_an_alias_taken_later_by_an_update_is_refused(home: Path) -> None:
    assert sg(home, "artists", "add", "Tobiah Renn", "--consent", "royalty").exit_code == 0
    ws = Workspace(Settings(home=home, device="cpu"))
    with pytest.raises(DuplicateArtist, match="The Teal Painter"):
        ws.store.update_artist("Tobiah Renn", aliases=["the teal-painter"])
    assert ws.store.get_artist("Tobiah Renn").aliases == ()
    ws.store.update_artist("Tobiah Renn", aliases=["Renn"])  # a free alias is fine
    assert ws.store.get_artist("Tobiah Renn").aliases == ("Renn",)


def test_a_removed_artists_names_are_free_again(home: Path) -> None:
    assert sg(home, "artists", "remove", "Mira Okonkwo").exit_code == 0
    assert sg(home, "artists", "add", "Mira Okonkwo", "--consent", "opt-out").exit_code == 0


@pytest.mark.parametrize("label", ["🎨🎨", "★ ★", "!?!"])
def test_a_name_the_screen_cannot_match_is_refused(home: Path, label: str) -> None:
    result = sg(home, "artists", "add", label, "--consent", "opt-out")
    assert result.exit_code == 2 and "no letters or digits" in result.output
    alias = sg(home, "artists", "add", "Real Name", "--alias", label, "--consent", "opt-out")
    assert alias.exit_code == 2 and "alias" in alias.output


# --------------------------------------------------------------------------- disputes
def test_by_policy_a_colliding_alias_becomes_a_dispute_an_administrator_decides(home: Path) -> None:
    dispute_policy(home)
    added = sg(home, "artists", "add", "Tobiah Renn", "--alias", "the teal painter", "--alias", "Renn",
               "--consent", "royalty", "--json")
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["aliases"] == ["Renn"]  # registered without the disputed alias
    disputes = json.loads(sg(home, "artists", "disputes", "--json").stdout)["disputes"]
    assert [(d["label"], d["claimant"]["name"], d["holder"]["name"], d["status"]) for d in disputes] == [
        ("the teal painter", "Tobiah Renn", "Mira Okonkwo", "open")]
    # while disputed, the alias still only finds its holder
    check = json.loads(sg(home, "check", "prompt", "a harbour by the teal painter", "--json").stdout)
    assert {e["artist"]["name"] for e in check["evidence"]} == {"Mira Okonkwo"}

    granted = sg(home, "artists", "resolve", str(disputes[0]["id"]), "--grant", "--json")
    assert granted.exit_code == 0 and json.loads(granted.stdout)["status"] == "granted"
    artists = {a["name"]: a for a in json.loads(sg(home, "artists", "list", "--json").stdout)["artists"]}
    assert artists["Tobiah Renn"]["aliases"] == ["Renn", "the teal painter"]
    assert artists["Mira Okonkwo"]["aliases"] == []
    check = json.loads(sg(home, "check", "prompt", "a harbour by the teal painter", "--json").stdout)
    assert {e["artist"]["name"] for e in check["evidence"]} == {"Tobiah Renn"}
    again = sg(home, "artists", "resolve", str(disputes[0]["id"]), "--reject")
    assert again.exit_code == 2 and "already decided" in again.output
    assert sg(home, "artists", "disputes", "--json").stdout.count('"id"') == 0
    assert sg(home, "audit", "verify").exit_code == 0


def test_a_primary_name_cannot_be_granted_away(home: Path) -> None:
    dispute_policy(home)
    assert sg(home, "artists", "add", "Tobiah Renn", "--alias", "mira okonkwo", "--consent", "royalty").exit_code == 0
    (dispute,) = json.loads(sg(home, "artists", "disputes", "--json").stdout)["disputes"]
    refused = sg(home, "artists", "resolve", str(dispute["id"]), "--grant")
    assert refused.exit_code == 2 and "primary name" in refused.output
    assert sg(home, "artists", "resolve", str(dispute["id"]), "--reject").exit_code == 0


def test_collisions_registered_before_the_rules_changed_become_disputes(db_url: str) -> None:
    url = db_url
    with RegistryStore.open(url) as old:  # the registry's plain rules cannot see look-alike letters
        old.add_artist("Mira Okonkwo", consent="opt-out")
        old.add_artist("Tobiah Renn", consent="royalty", aliases=["Mir\u0430 Okonkwo", "Renn"])
    from stylegate.governance.screening.claims import claim_rules

    with RegistryStore.open(url, claims=claim_rules()) as store:
        assert store.get_artist("Tobiah Renn").aliases == ("Renn",)
        (dispute,) = store.list_disputes()
        assert (dispute.label, dispute.claimant_id, dispute.holder_id) == ("Mir\u0430 Okonkwo", 2, 1)
    with RegistryStore.open(url, claims=claim_rules()) as store:  # rebuilt once, not on every open
        assert len(store.list_disputes()) == 1


def test_a_key_function_that_finds_nothing_refuses_the_label(db_url: str) -> None:
    rules = ClaimRules(keys=lambda label: (), version="nothing")
    with RegistryStore.open(db_url, claims=rules) as store:
        with pytest.raises(InputError, match="nothing the name screen can match"):
            store.add_artist("Anyone", consent="credit")
        assert store.list_artists() == []


# ------------------------------------------------------------------ verification (API)
@pytest.fixture()
def service(tmp_path: Path):
    settings = initialised(Settings(home=tmp_path / "svc", admin_token=ADMIN, device="cpu", cpu_threads=1,
                                    rate_limit_per_minute=100_000, rate_limit_burst=100_000))
    with TestClient(create_app(settings)) as client:
        yield client, settings


def _sign_up(client: TestClient, name: str, consent: str, **extra) -> tuple[int, dict]:
    r = client.post("/v1/artists", json={"name": name, "consent": consent, "contact": "a@example.org", **extra})
    return r.status_code, r.json()


def test_a_strangers_sign_up_cannot_take_a_registered_name(service) -> None:
    client, _ = service
    assert _sign_up(client, "Mira Okonkwo", "royalty")[0] == 201
    status, body = _sign_up(client, "Mir\u0430 Okonkwo", "opt-out")
    assert status == 409 and "already claimed" in body["detail"]
    status, body = _sign_up(client, "Impostor", "royalty", aliases=["mira okonkwo"])
    assert status == 409


def test_unverified_opt_outs_steer_and_unverified_shares_are_held(service, tmp_path: Path) -> None:
    client, settings = service
    _, opt_out = _sign_up(client, "Kenji Arbelo", "opt-out")
    _, royalty = _sign_up(client, "Saoirse Vallin", "royalty")
    steer = client.post("/v1/check/prompt", json={"prompt": "a lighthouse by Kenji Arbelo"}).json()
    assert steer["action"] == "steer" and steer["evidence"][0]["verified"] is False
    assert "Kenji Arbelo" not in steer["steer"]["prompt"]
    paid = client.post("/v1/check/prompt", json={"prompt": "a lighthouse by Saoirse Vallin"}).json()
    assert paid["action"] == "attribute" and paid["attribution"][0].get("held") is True

    admin = {"Authorization": f"Bearer {ADMIN}"}
    for artist in (opt_out, royalty):
        assert client.patch(f"/v1/admin/artists/{artist['artist']['id']}", headers=admin,
                            json={"verified": True}).status_code == 200
    blocked = client.post("/v1/check/prompt", json={"prompt": "a lighthouse by Kenji Arbelo"}).json()
    assert blocked["action"] == "block" and blocked["evidence"][0]["verified"] is True
    paid = client.post("/v1/check/prompt", json={"prompt": "a lighthouse by Saoirse Vallin"}).json()
    assert "held" not in paid["attribution"][0]


def test_the_attribution_report_holds_unverified_royalties(service, tmp_path: Path) -> None:
    client, settings = service
    _, royalty = _sign_up(client, "Saoirse Vallin", "royalty")
    out = tmp_path / "gen"
    held = sg(settings.home, "generate", "a cat by Saoirse Vallin", "--steps", "4", "--out", str(out))
    assert held.exit_code == 0, held.output
    admin = {"Authorization": f"Bearer {ADMIN}"}
    client.patch(f"/v1/admin/artists/{royalty['artist']['id']}", headers=admin, json={"verified": True})
    assert sg(settings.home, "generate", "a cat by Saoirse Vallin", "--steps", "4", "--seed", "7",
              "--out", str(out)).exit_code == 0
    report = sg(settings.home, "report", "attribution", "--format", "csv", "--out", str(tmp_path / "a.csv"))
    assert report.exit_code == 0, report.output
    import pandas as pd

    row = pd.read_csv(tmp_path / "a.csv").set_index("artist_name").loc["Saoirse Vallin"]
    assert row["generations"] == 2
    assert row["royalties"] > 0 and row["royalties_held"] > 0
    assert row["royalties"] == pytest.approx(row["royalties_held"])  # one paid, one held, same price


def test_admin_routes_list_and_decide_disputes(tmp_path: Path) -> None:
    settings = initialised(Settings(home=tmp_path / "svc", admin_token=ADMIN, device="cpu", cpu_threads=1))
    dispute_policy(settings.home)
    with TestClient(create_app(settings)) as client:
        _decide_disputes_over_http(client)


def _decide_disputes_over_http(client: TestClient) -> None:
    admin = {"Authorization": f"Bearer {ADMIN}"}
    assert _sign_up(client, "Mira Okonkwo", "royalty", aliases=["The Teal Painter"])[0] == 201
    status, body = _sign_up(client, "Tobiah Renn", "royalty", aliases=["the teal painter"])
    assert status == 201 and body["artist"]["aliases"] == []
    assert client.get("/v1/admin/disputes").status_code in (401, 403)
    (dispute,) = client.get("/v1/admin/disputes", headers=admin).json()
    assert dispute["label"] == "the teal painter" and dispute["holder"]["name"] == "Mira Okonkwo"
    decided = client.post(f"/v1/admin/disputes/{dispute['id']}", headers=admin, json={"grant": True})
    assert decided.status_code == 200 and decided.json()["status"] == "granted"
    assert client.get("/v1/admin/disputes", headers=admin).json() == []
    assert len(client.get("/v1/admin/disputes?status=all", headers=admin).json()) == 1
    assert client.post(f"/v1/admin/disputes/{dispute['id']}", headers=admin, json={"grant": False}).status_code == 422
