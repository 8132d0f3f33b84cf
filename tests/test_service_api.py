"""The HTTP API end to end: every /v1 route, success and failure, on the shipped StyleWorld CLIP.

One app (one workspace in a temp home) serves the module, once over a SQLite registry and once
over a fresh PostgreSQL database (the audit log follows it); each test signs up its own artists,
so the tests do not depend on each other's order. A second, tightly limited app checks 429
and the admin routes switched off.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from audit_db import RawDB
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from stylegate.cli import app as cli_app
from stylegate.governance.audit import AuditLog
from stylegate.operations.ingest import init_home
from stylegate.service.app import create_app
from stylegate.settings import Settings
from stylegate.styleworld import world
from stylegate.workspace import Workspace

ADMIN = "admintok"
MAX_IMAGE_BYTES = 200_000
MAX_IMAGE_PIXELS = 100 * 100  # the 64x64 StyleWorld renders fit, a 128x128 image does not
MAX_UPLOAD_FILES = 3
MAX_REQUEST_BYTES = 4096

MIRA = world.ARTISTS[0]  # opt-out
TOBIAH = world.ARTISTS[1]  # royalty
KENJI = world.ARTISTS[3]  # opt-out
SAOIRSE = world.ARTISTS[4]  # royalty
DARIO = world.ARTISTS[5]  # credit
assert [a.consent for a in (MIRA, TOBIAH, KENJI, SAOIRSE, DARIO)] == ["opt-out", "royalty", "opt-out", "royalty", "credit"]

_names = itertools.count(1)


# ------------------------------------------------------------------------------ fixtures

def initialised(settings: Settings) -> Settings:
    """The home of ``settings`` created the way `stylegate init` creates it (the service never does)."""
    init_home(Workspace(settings))
    return settings

@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp(f"service-{request.param}") / "home"
    url = request.getfixturevalue("pg_server").create_database() if request.param == "postgresql" else None
    try:
        yield Settings(home=home, database_url=url, admin_token=ADMIN, device="cpu", cpu_threads=1,
                       rate_limit_per_minute=100_000, rate_limit_burst=100_000,
                       account_rate_limit_per_minute=100_000, account_rate_limit_burst=100_000,
                       max_request_bytes=MAX_REQUEST_BYTES, max_image_bytes=MAX_IMAGE_BYTES,
                       max_image_pixels=MAX_IMAGE_PIXELS, max_upload_files=MAX_UPLOAD_FILES)
    finally:
        if url is not None:
            request.getfixturevalue("pg_server").drop_database(url)


@contextlib.contextmanager
def registry_db(settings: Settings) -> Iterator[RawDB]:
    """Raw SQL on the registry's database, whichever backend ``settings`` names."""
    db = RawDB(settings.db_url, schema=None)
    try:
        with db:
            yield db
    finally:
        db.close()


@pytest.fixture(scope="module")
def client(settings: Settings):
    with TestClient(create_app(initialised(settings))) as c:
        yield c


@pytest.fixture()
def quiet(tmp_path: Path):
    """A service over a home of its own, so no other test's artists or works sway its checks."""
    s = Settings(home=tmp_path / "home", admin_token=ADMIN, device="cpu", cpu_threads=1,
                 rate_limit_per_minute=100_000, rate_limit_burst=100_000,
                 account_rate_limit_per_minute=100_000, account_rate_limit_burst=100_000)
    with TestClient(create_app(initialised(s))) as c:
        yield c, s


@pytest.fixture()
def limited(tmp_path: Path):
    """Burst of 3, one request a minute after that."""
    s = Settings(home=tmp_path / "home", admin_token=None, device="cpu", cpu_threads=1,
                 rate_limit_per_minute=1, rate_limit_burst=3)
    with TestClient(create_app(initialised(s))) as c:
        yield c


@pytest.fixture(scope="module")
def no_admin(tmp_path_factory: pytest.TempPathFactory):
    """No admin token configured (and no tight rate limit)."""
    home = tmp_path_factory.mktemp("no-admin") / "home"
    s = Settings(home=home, admin_token=None, device="cpu", cpu_threads=1,
                 rate_limit_per_minute=100_000, rate_limit_burst=100_000)
    with TestClient(create_app(initialised(s))) as c:
        yield c


# ------------------------------------------------------------------------------ helpers
def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


ADMIN_H = auth(ADMIN)


def png(artist: world.StyleArtist = DARIO, subject: str = "cat", seed: int = 0, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    world.render(artist, subject, seed).save(buf, fmt)
    return buf.getvalue()


def files(*items: tuple[str, bytes]) -> list:
    return [("files", (name, data, "application/octet-stream")) for name, data in items]


def verify(client: TestClient, artist_id: int) -> None:
    """An administrator verifies the artist's identity (sign-ups start unverified)."""
    r = client.patch(f"/v1/admin/artists/{artist_id}", headers=ADMIN_H, json={"verified": True})
    assert r.status_code == 200 and r.json()["verified"] is True, r.text


def sign_up(client: TestClient, name: str | None = None, consent: str = "credit", **extra) -> tuple[int, str, dict]:
    body = {"name": name or f"Service Tester {next(_names)}x", "consent": consent,
            "contact": "artist@example.org", **extra}
    r = client.post("/v1/artists", json=body)
    assert r.status_code == 201, r.text
    data = r.json()
    return data["artist"]["id"], data["token"], data


def upload(client: TestClient, artist_id: int, token: str, *items: tuple[str, bytes]):
    return client.post(f"/v1/artists/{artist_id}/works", files=files(*items), headers=auth(token))


def index_ids(client: TestClient) -> list[int]:
    ctx = client.app.state.ctx
    with ctx.lock:
        return sorted(int(i) for i in ctx.workspace.index.ids())


def disk_state(settings: Settings) -> dict:
    """Everything an upload may touch on disk: index bytes, sidecar, stored files, temp files."""
    index = settings.index_path
    sidecar = index.with_name(index.name + ".json")
    return {
        "index": index.read_bytes(),
        "sidecar": sidecar.read_bytes(),
        "works": sorted(str(p.relative_to(settings.home)) for p in settings.works_dir.rglob("*") if p.is_file()),
        "tmp": sorted(str(p) for p in (settings.home / "tmp").rglob("*")) if (settings.home / "tmp").exists() else [],
    }


def portal_login(client: TestClient, token: str) -> None:
    """Sign in through the portal's form (pre-session CSRF token included); the client keeps the cookie."""
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text).group(1)
    r = client.post("/login", data={"token": token, "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303, r.text


def check_prompt(client: TestClient, prompt: str) -> dict:
    r = client.post("/v1/check/prompt", json={"prompt": prompt})
    assert r.status_code == 200, r.text
    return r.json()


# ------------------------------------------------------------------------------ sign-up and tokens
def test_sign_up_returns_the_token_once_and_stores_only_its_hash(client: TestClient, settings: Settings) -> None:
    artist_id, token, data = sign_up(client, aliases=["T. Once"], descriptors=["faint pencil grids"])
    assert token.startswith("sgt_") and len(token) >= 40
    artist = data["artist"]
    assert artist["aliases"] == ["T. Once"] and artist["descriptors"] == ["faint pencil grids"]
    assert artist["verified"] is False and artist["royalty_rate"] is None and artist["works"] == []
    assert artist["contact"] == "artist@example.org"

    me = client.get("/v1/artists/me", headers=auth(token))
    assert me.status_code == 200 and me.json()["id"] == artist_id
    assert token not in me.text
    assert token not in client.get(f"/v1/artists/{artist_id}", headers=auth(token)).text
    assert token not in client.get("/v1/admin/artists", headers=ADMIN_H).text

    with registry_db(settings) as db:
        (stored,) = db.execute("select token_hash from accounts where artist_id = ?", (artist_id,)).fetchone()
        assert stored == hashlib.sha256(token.encode()).hexdigest()
        tables = db.tables()
        assert "accounts" in tables
        for table in tables:
            for row in db.execute(f'select * from "{table}"'):
                assert not any(token in str(cell) for cell in row), (table, row)
    # nor in the audit log's tables
    audit_db = RawDB(settings.audit_target)
    try:
        for table in audit_db.tables():
            for row in audit_db.execute(f'select * from "{table}"'):
                assert not any(token in str(cell) for cell in row), (table, row)
    finally:
        audit_db.close()
    # nor anywhere in the raw database files (on SQLite: the registry and audit files)
    for path in settings.home.glob("*.db*"):
        assert token.encode() not in path.read_bytes(), path


def test_rotated_token_replaces_the_old_one(client: TestClient, settings: Settings) -> None:
    artist_id, old, _ = sign_up(client)
    r = client.post(f"/v1/artists/{artist_id}/token", headers=auth(old))
    assert r.status_code == 200
    new = r.json()["token"]
    assert new != old and new.startswith("sgt_")
    assert client.get("/v1/artists/me", headers=auth(old)).status_code == 401
    assert client.get("/v1/artists/me", headers=auth(new)).json()["id"] == artist_id
    with registry_db(settings) as db:
        (stored,) = db.execute("select token_hash from accounts where artist_id = ?", (artist_id,)).fetchone()
    assert stored == hashlib.sha256(new.encode()).hexdigest()


@pytest.mark.parametrize("body, field", [
    ({"consent": "opt-out", "contact": "a@example.org"}, "name"),
    ({"name": "No Consent", "contact": "a@example.org"}, "consent"),
    ({"name": "No Contact", "consent": "credit"}, "contact"),
    ({"name": "Bad Consent", "consent": "maybe", "contact": "a@example.org"}, "consent"),
    ({"name": "", "consent": "credit", "contact": "a@example.org"}, "name"),
    ({"name": "Too Many", "consent": "credit", "contact": "a@example.org", "aliases": ["x"] * 101}, "aliases"),
])
def test_sign_up_with_an_invalid_body_is_422(client: TestClient, body: dict, field: str) -> None:
    r = client.post("/v1/artists", json=body)
    assert r.status_code == 422
    assert any(field in e["loc"] for e in r.json()["detail"])


@pytest.mark.parametrize("name, contact, field", [
    ("12345", "a@example.org", "name"),  # only digits: it would read as an artist id
    ("1 2", "a@example.org", "name"),
    ("   ", "a@example.org", "name"),
    ("Tab\tName", "a@example.org", "name"),  # control characters
    ("Valid Name Contactless", "not-an-address", "contact"),
    ("Valid Name Control", "a\x05b@example.org", "contact"),
    ("Valid Name Spaced", "a b@example.org", "contact"),
])
def test_sign_up_against_the_registry_text_rules_is_422_and_registers_nothing(client: TestClient, name: str,
                                                                             contact: str, field: str) -> None:
    before = client.get("/v1/admin/artists", headers=ADMIN_H).json()
    r = client.post("/v1/artists", json={"name": name, "consent": "credit", "contact": contact})
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["detail"]] == [["body", field]]
    assert client.get("/v1/admin/artists", headers=ADMIN_H).json() == before


def test_a_rule_only_the_registry_knows_is_a_422_with_its_message(client: TestClient) -> None:
    name = "\u00df" * 150  # 150 characters, but 300 once case-folded ("ss")
    r = client.post("/v1/artists", json={"name": name, "consent": "credit", "contact": "s@example.org"})
    assert r.status_code == 422
    assert "too long once case-folded" in r.json()["detail"]


def test_aliases_descriptors_and_contact_are_cleaned(client: TestClient) -> None:
    _, _, data = sign_up(client, aliases=["  Spaced Alias  ", "spaced alias"], descriptors=["ink wash"],
                         contact="  trimmed@example.org ")
    artist = data["artist"]
    assert artist["aliases"] == ["Spaced Alias"] and artist["contact"] == "trimmed@example.org"
    for bad in ({"aliases": [""]}, {"aliases": ["ok", "\x07bell"]}, {"descriptors": ["  "]}, {"aliases": "one"},
                {"aliases": [1]}, {"consent": 3}):
        r = client.post("/v1/artists", json={"name": f"Rejected {next(_names)}x", "consent": "credit",
                                             "contact": "r@example.org", **bad})
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["detail"][0]["loc"][:2] == ["body", next(iter(bad))]


def test_duplicate_name_is_409_case_insensitively(client: TestClient) -> None:
    sign_up(client, name="Duplicate Dora")
    r = client.post("/v1/artists", json={"name": "DUPLICATE dora", "consent": "credit", "contact": "d@example.org"})
    assert r.status_code == 409
    assert "already exists" in r.json()["detail"]


@pytest.mark.parametrize("extra", [{"verified": True}, {"royalty_rate": 0.9}, {"id": 1}, {"works": []}])
def test_sign_up_cannot_set_privileged_fields(client: TestClient, extra: dict) -> None:
    name = f"Mass Assigner {next(_names)}x"
    r = client.post("/v1/artists", json={"name": name, "consent": "royalty", "contact": "m@example.org", **extra})
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["detail"]] == [["body", next(iter(extra))]]
    assert name not in {a["name"] for a in client.get("/v1/admin/artists", headers=ADMIN_H).json()}


# ------------------------------------------------------------------------------ reading and changing yourself
def test_read_update_and_delete_own_registration(client: TestClient) -> None:
    artist_id, token, _ = sign_up(client, consent="credit")
    h = auth(token)
    r = client.patch(f"/v1/artists/{artist_id}", headers=h,
                     json={"aliases": ["P. Atcher"], "descriptors": ["umber dots"], "consent": "royalty",
                           "contact": "new@example.org"})
    assert r.status_code == 200, r.text
    after = r.json()
    assert (after["aliases"], after["descriptors"], after["consent"], after["contact"]) == (
        ["P. Atcher"], ["umber dots"], "royalty", "new@example.org")
    assert client.get(f"/v1/artists/{artist_id}", headers=h).json() == after
    assert client.get("/v1/artists/me", headers=h).json() == after

    # an empty PATCH changes nothing; invalid values are refused
    assert client.patch(f"/v1/artists/{artist_id}", headers=h, json={}).json() == after
    for bad in ({"consent": "sometimes"}, {"contact": "x"}, {"contact": "no-at-sign.org"}, {"aliases": "one"}):
        r = client.patch(f"/v1/artists/{artist_id}", headers=h, json=bad)
        assert r.status_code == 422, (bad, r.text)
    assert client.get(f"/v1/artists/{artist_id}", headers=h).json() == after

    r = client.delete(f"/v1/artists/{artist_id}", headers=h)
    assert r.status_code == 200
    assert r.json() == {"deleted": True, "artist_id": artist_id, "works_removed": 0}
    assert client.get("/v1/artists/me", headers=h).status_code == 401  # the account went with it
    assert artist_id not in {a["id"] for a in client.get("/v1/admin/artists", headers=ADMIN_H).json()}


@pytest.mark.parametrize("field, value", [
    ("verified", True), ("royalty_rate", 0.99), ("id", 999), ("name", "Someone Else"),
    ("created_at", "2000-01-01T00:00:00+00:00"), ("works", []), ("token", "sgt_x"), ("clear_royalty_rate", True),
])
def test_patch_cannot_mass_assign(client: TestClient, settings: Settings, field: str, value: object) -> None:
    artist_id, token, _ = sign_up(client, consent="royalty")
    h = auth(token)
    before = client.get(f"/v1/artists/{artist_id}", headers=h).json()
    r = client.patch(f"/v1/artists/{artist_id}", headers=h, json={field: value, "aliases": ["Sneaky"]})
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["detail"]] == [["body", field]]
    assert client.get(f"/v1/artists/{artist_id}", headers=h).json() == before  # not even the alias
    with registry_db(settings) as db:
        assert db.execute("select verified from accounts where artist_id = ?", (artist_id,)).fetchone() == (0,)
        assert db.execute("select royalty_rate, name from artists where id = ?", (artist_id,)).fetchone() == (
            None, before["name"])


# ------------------------------------------------------------------------------ authentication and ownership
AUTHED_ROUTES = [
    ("GET", "/v1/artists/me"),
    ("GET", "/v1/artists/{a}"),
    ("PATCH", "/v1/artists/{a}"),
    ("DELETE", "/v1/artists/{a}"),
    ("POST", "/v1/artists/{a}/token"),
    ("GET", "/v1/artists/{a}/works"),
    ("POST", "/v1/artists/{a}/works"),
    ("GET", "/v1/artists/{a}/works/{w}"),
    ("GET", "/v1/artists/{a}/works/{w}/file"),
    ("DELETE", "/v1/artists/{a}/works/{w}"),
]


def _call(client: TestClient, method: str, path: str, headers: dict, image: bytes):
    kwargs: dict = {"headers": headers}
    if method == "PATCH":
        kwargs["json"] = {"consent": "credit", "aliases": ["Hijacked"]}
    if method == "POST" and path.endswith("/works"):
        kwargs["files"] = files(("intruder.png", image))
    return client.request(method, path, **kwargs)


@pytest.fixture()
def two_artists(client: TestClient):
    """Artists A and B, each with one work."""
    a_id, a_tok, _ = sign_up(client, consent="credit")
    b_id, b_tok, _ = sign_up(client, consent="credit")
    seed = next(_names) * 10
    ra = upload(client, a_id, a_tok, ("a.png", png(DARIO, "tree", seed)))
    rb = upload(client, b_id, b_tok, ("b.png", png(DARIO, "boat", seed)))
    assert ra.status_code == rb.status_code == 201, (ra.text, rb.text)
    return {"a": (a_id, a_tok, ra.json()["added"][0]["id"]), "b": (b_id, b_tok, rb.json()["added"][0]["id"])}


@pytest.mark.parametrize("method, template", AUTHED_ROUTES)
def test_missing_or_invalid_token_is_401(client: TestClient, two_artists: dict, method: str, template: str) -> None:
    a_id, a_tok, a_work = two_artists["a"]
    path = template.format(a=a_id, w=a_work)
    for headers in ({}, auth("sgt_" + "x" * 43), auth("nonsense"), {"Authorization": a_tok},
                    {"Authorization": f"Basic {a_tok}"}, {"Authorization": "Bearer "}):
        r = _call(client, method, path, headers, png(seed=7))
        assert r.status_code == 401, (headers, r.text)
        assert r.headers["www-authenticate"] == "Bearer"
    # nothing happened to A
    assert client.get(f"/v1/artists/{a_id}/works/{a_work}", headers=auth(a_tok)).status_code == 200
    assert client.get("/v1/artists/me", headers=auth(a_tok)).json()["aliases"] == []


@pytest.mark.parametrize("method, template", [r for r in AUTHED_ROUTES if "{a}" in r[1]])
def test_another_artists_token_is_403(client: TestClient, two_artists: dict, method: str, template: str) -> None:
    a_id, a_tok, a_work = two_artists["a"]
    b_id, b_tok, b_work = two_artists["b"]
    before = client.get(f"/v1/artists/{a_id}", headers=auth(a_tok)).json()
    ids_before = index_ids(client)
    r = _call(client, method, template.format(a=a_id, w=a_work), auth(b_tok), png(seed=8))
    assert r.status_code == 403, r.text
    assert "another artist" in r.json()["detail"]
    # A's registration, works, index vectors and token are untouched; B's token still works
    assert client.get(f"/v1/artists/{a_id}", headers=auth(a_tok)).json() == before
    assert index_ids(client) == ids_before
    assert client.get("/v1/artists/me", headers=auth(b_tok)).json()["id"] == b_id


@pytest.mark.parametrize("method, suffix", [("GET", ""), ("GET", "/file"), ("DELETE", "")])
def test_another_artists_work_under_your_own_path_is_404(client: TestClient, two_artists: dict, method: str,
                                                        suffix: str) -> None:
    a_id, a_tok, _ = two_artists["a"]
    b_id, b_tok, b_work = two_artists["b"]
    r = client.request(method, f"/v1/artists/{a_id}/works/{b_work}{suffix}", headers=auth(a_tok))
    assert r.status_code == 404
    assert str(b_id) not in r.json()["detail"]  # no hint whose work it is
    assert client.get(f"/v1/artists/{b_id}/works/{b_work}", headers=auth(b_tok)).status_code == 200
    assert b_work in index_ids(client)


def test_ids_in_paths(client: TestClient) -> None:
    artist_id, token, _ = sign_up(client)
    h = auth(token)
    # past the id columns' range (32-bit on PostgreSQL): refused before any query (was a 500 on
    # the admin routes on SQLite past 2**63, a 503 on PostgreSQL past 2**31)
    too_big = 2**31
    assert client.get("/v1/artists/99999999", headers=h).status_code == 403  # not yours
    assert client.get(f"/v1/artists/{2**31 - 1}", headers=h).status_code == 403
    assert client.get(f"/v1/artists/{2**63}", headers=h).status_code == 422
    for path in ("/v1/artists/0", f"/v1/artists/{too_big}", f"/v1/artists/{artist_id}/works/0",
                 f"/v1/artists/{artist_id}/works/{too_big}", f"/v1/artists/{artist_id}/works/{too_big}/file"):
        r = client.get(path, headers=h)
        assert r.status_code == 422, path
        assert r.json()["detail"][0]["loc"][0] == "path"
    for path in ("/v1/artists/abc", "/v1/artists/-1", f"/v1/artists/{artist_id}/works/abc", "/v1/artists/1.5"):
        assert client.get(path, headers=h).status_code == 404, path  # no such route
    assert client.get(f"/v1/artists/{artist_id}/works/99999999", headers=h).status_code == 404
    assert client.patch(f"/v1/admin/artists/{too_big}", headers=ADMIN_H, json={"verified": True}).status_code == 422
    assert client.delete(f"/v1/admin/artists/{too_big}", headers=ADMIN_H).status_code == 422
    assert client.patch(f"/v1/admin/artists/{2**31 - 1}", headers=ADMIN_H, json={"verified": True}).status_code == 404


@pytest.mark.parametrize("method, path, allow", [
    ("PUT", "/v1/artists/5", "GET, PATCH, DELETE"),
    ("OPTIONS", "/v1/artists/5", "GET, PATCH, DELETE"),
    ("PATCH", "/v1/artists/me", "GET"),  # not taken for an artist id
    ("DELETE", "/v1/artists/me", "GET"),
    ("PUT", "/v1/artists/5/works", "GET, POST"),
    ("POST", "/v1/artists/5/works/6", "GET, DELETE"),
    ("GET", "/v1/check/prompt", "POST"),
    ("PUT", "/v1/admin/artists/5", "PATCH, DELETE"),
])
def test_wrong_method_is_405_naming_every_allowed_method(client: TestClient, method: str, path: str, allow: str) -> None:
    r = client.request(method, path)
    assert r.status_code == 405
    assert r.headers["allow"] == allow


def test_malformed_bodies(client: TestClient) -> None:
    _, token, _ = sign_up(client)
    r = client.post("/v1/check/prompt", content=b'{"prompt": "\xff\xfe"}', headers={"content-type": "application/json"})
    assert r.status_code == 400  # not UTF-8: documented as 400 in the schema
    r = client.post("/v1/check/prompt", content=b'{"prompt": ', headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "json_invalid"
    r = client.post("/v1/check/prompt", content=b"{}", headers={"content-type": "application/json",
                                                               "content-length": "abc"})
    assert r.status_code == 400


def test_openapi_documents_the_routes_and_their_auth(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    ops = {(m.upper(), p): o for p, item in spec["paths"].items() for m, o in item.items()}
    expected = {("POST", "/v1/artists"), ("GET", "/v1/artists/me"), ("GET", "/v1/artists/{artist_id}"),
                ("PATCH", "/v1/artists/{artist_id}"), ("DELETE", "/v1/artists/{artist_id}"),
                ("POST", "/v1/artists/{artist_id}/token"), ("GET", "/v1/artists/{artist_id}/works"),
                ("POST", "/v1/artists/{artist_id}/works"), ("GET", "/v1/artists/{artist_id}/works/{work_id}"),
                ("DELETE", "/v1/artists/{artist_id}/works/{work_id}"),
                ("GET", "/v1/artists/{artist_id}/works/{work_id}/file"), ("POST", "/v1/check/prompt"),
                ("POST", "/v1/check/image"), ("POST", "/v1/lookup/names"), ("GET", "/v1/admin/artists"),
                ("PATCH", "/v1/admin/artists/{artist_id}"), ("DELETE", "/v1/admin/artists/{artist_id}")}
    assert expected <= set(ops)
    schemes = spec["components"]["securitySchemes"]
    assert schemes["ArtistToken"]["scheme"] == schemes["AdminToken"]["scheme"] == "bearer"
    for key, op in ops.items():
        if not key[1].startswith("/v1/"):
            continue
        security = [list(s) for s in op.get("security", [])]
        if key[1].startswith("/v1/admin/"):
            assert security == [["AdminToken"]], key
        elif key[1].startswith("/v1/artists/"):
            assert security == [["ArtistToken"]], key
        else:
            assert security == [], key
        assert {"400", "413", "429", "503"} <= set(op["responses"]), key
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


# ------------------------------------------------------------------------------ works
def test_upload_list_read_file_and_withdraw_works(client: TestClient, settings: Settings) -> None:
    artist_id, token, _ = sign_up(client, consent="credit")
    h = auth(token)
    assert client.get(f"/v1/artists/{artist_id}/works", headers=h).json() == []
    one, two = png(TOBIAH, "house", 11), png(TOBIAH, "bird", 12, fmt="JPEG")
    r = upload(client, artist_id, token, ("one.png", one), ("../../two.jpg", two))
    assert r.status_code == 201, r.text
    added = r.json()["added"]
    assert [w["format"] for w in added] == ["PNG", "JPEG"] and r.json()["duplicates"] == []
    assert added[0]["sha256"] == hashlib.sha256(one).hexdigest()
    assert (added[0]["width"], added[0]["height"], added[0]["size_bytes"]) == (64, 64, len(one))
    ids = [w["id"] for w in added]
    assert set(ids) <= set(index_ids(client))  # indexed at once
    assert client.get(f"/v1/artists/{artist_id}/works", headers=h).json() == added
    assert client.get(f"/v1/artists/{artist_id}", headers=h).json()["works"] == added
    assert not list((settings.home / "tmp").iterdir())  # upload folders are cleaned up

    r = client.get(f"/v1/artists/{artist_id}/works/{ids[0]}", headers=h)
    assert r.status_code == 200 and r.json() == added[0]
    r = client.get(f"/v1/artists/{artist_id}/works/{ids[0]}/file", headers=h)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png" and r.content == one
    r = client.get(f"/v1/artists/{artist_id}/works/{ids[1]}/file", headers=h)
    assert r.headers["content-type"] == "image/jpeg" and r.content == two

    # the same file again is a duplicate, not a second work
    r = upload(client, artist_id, token, ("again.png", one))
    assert r.status_code == 201
    assert r.json() == {"added": [], "duplicates": [{"file": "again.png", "detail": "already one of your works",
                                                     "work_id": ids[0]}]}

    r = client.delete(f"/v1/artists/{artist_id}/works/{ids[0]}", headers=h)
    assert r.status_code == 200 and r.json() == {"withdrawn": added[0]}
    assert ids[0] not in index_ids(client)
    assert client.get(f"/v1/artists/{artist_id}/works/{ids[0]}", headers=h).status_code == 404
    assert client.delete(f"/v1/artists/{artist_id}/works/{ids[0]}", headers=h).status_code == 404
    assert [w["id"] for w in client.get(f"/v1/artists/{artist_id}/works", headers=h).json()] == [ids[1]]

    # deleting the artist removes the rest: rows, vectors and files
    r = client.delete(f"/v1/artists/{artist_id}", headers=h)
    assert r.json()["works_removed"] == 1
    assert ids[1] not in index_ids(client)
    assert not any(p.is_file() and p.read_bytes() == two for p in settings.works_dir.rglob("*"))


def test_uploads_with_clashing_file_names_are_all_kept(client: TestClient, settings: Settings) -> None:
    artist_id, token, _ = sign_up(client)
    images = [png(TOBIAH, "cat", 700 + i) for i in range(3)]
    r = upload(client, artist_id, token, ("a.png", images[0]), ("2-a.png", images[1]), ("dir/a.png", images[2]))
    assert r.status_code == 201, r.text
    assert sorted(w["sha256"] for w in r.json()["added"]) == sorted(hashlib.sha256(i).hexdigest() for i in images)
    for work in r.json()["added"]:
        got = client.get(f"/v1/artists/{artist_id}/works/{work['id']}/file", headers=auth(token)).content
        assert hashlib.sha256(got).hexdigest() == work["sha256"]


def _gif() -> bytes:
    return png(fmt="GIF")


def _bmp() -> bytes:
    return png(fmt="BMP")


def _too_many_pixels() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (128, 128), (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


BAD_FILES = {
    "not an image": (lambda: b"hello, this is not an image at all", 422, "not an image"),
    "truncated png": (lambda: png(seed=3)[: len(png(seed=3)) // 2], 422, "truncated"),
    "gif": (_gif, 422, "GIF is not allowed"),
    "bmp": (_bmp, 422, "BMP is not allowed"),
    "too many pixels": (_too_many_pixels, 422, "(limit 10000)"),
    "too many bytes": (lambda: b"\x89PNG\r\n\x1a\n" + b"\0" * MAX_IMAGE_BYTES, 413, "larger than"),
    "empty": (lambda: b"", 422, "empty"),
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_a_bad_file_fails_the_whole_upload(client: TestClient, settings: Settings, kind: str) -> None:
    make, status, text = BAD_FILES[kind]
    artist_id, token, _ = sign_up(client)
    first = upload(client, artist_id, token, ("first.png", png(SAOIRSE, "flower", 100 + next(_names))))
    assert first.status_code == 201
    works_before = client.get(f"/v1/artists/{artist_id}/works", headers=auth(token)).json()
    ids_before, disk_before = index_ids(client), disk_state(settings)

    good = png(SAOIRSE, "tree", 200 + next(_names))
    r = upload(client, artist_id, token, ("good.png", good), ("bad.png", make()))
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    assert text in detail and detail.startswith("bad.png: ")
    assert str(settings.home) not in detail  # the server's own paths stay private
    assert client.get(f"/v1/artists/{artist_id}/works", headers=auth(token)).json() == works_before
    assert index_ids(client) == ids_before
    assert disk_state(settings) == disk_before
    # the good file alone is accepted afterwards: nothing half-imported blocks it
    r = upload(client, artist_id, token, ("good.png", good))
    assert r.status_code == 201 and len(r.json()["added"]) == 1


def test_upload_limits_on_count_body_size_and_emptiness(client: TestClient, settings: Settings) -> None:
    artist_id, token, _ = sign_up(client)
    h = auth(token)
    before = disk_state(settings)
    too_many = [(f"{i}.png", png(KENJI, "bird", 300 + i)) for i in range(MAX_UPLOAD_FILES + 1)]
    r = upload(client, artist_id, token, *too_many)
    assert r.status_code == 422 and f"at most {MAX_UPLOAD_FILES} files" in r.json()["detail"]
    # a multipart body over the whole-upload limit is refused before it is read
    huge = b"\0" * (settings.max_upload_bytes + 1)
    r = upload(client, artist_id, token, ("huge.png", huge))
    assert r.status_code == 413 and "request body over" in r.json()["detail"]
    r = client.post(f"/v1/artists/{artist_id}/works", headers=h, data={"other": "x"},
                    files=[("other", ("x.txt", b"x", "text/plain"))])
    assert r.status_code == 422
    assert client.get(f"/v1/artists/{artist_id}/works", headers=h).json() == []
    assert disk_state(settings) == before


# ------------------------------------------------------------------------------ checks
def test_changes_reach_the_gate_and_the_audit_log_at_once(quiet: tuple[TestClient, Settings]) -> None:
    client, settings = quiet
    sign_up(client, name=TOBIAH.name, consent="royalty")  # a bystander the prompt does not name
    prompt = f"a quiet harbour at dawn by {MIRA.name}"
    first = check_prompt(client, prompt)
    assert first["action"] == "allow", first  # not registered yet
    artist_id, token, _ = sign_up(client, name=MIRA.name, consent="opt-out", descriptors=list(MIRA.descriptors))
    h = auth(token)

    # Until an administrator verifies the sign-up, the policy lets the opt-out steer, not block.
    unverified = check_prompt(client, prompt)
    assert unverified["action"] == "steer", unverified
    mine = [e for e in unverified["evidence"] if e["artist"]["id"] == artist_id]
    assert mine and mine[0]["verified"] is False and "capped to steer" in mine[0]["rule"]
    assert MIRA.name not in unverified["steer"]["prompt"]

    r = client.patch(f"/v1/admin/artists/{artist_id}", headers=ADMIN_H, json={"verified": True})
    assert r.status_code == 200 and r.json()["verified"] is True
    blocked = check_prompt(client, prompt)
    assert blocked["action"] == "block"
    mine = [e for e in blocked["evidence"] if e["artist"]["id"] == artist_id]
    assert mine and mine[0]["artist"]["name"] == MIRA.name and mine[0]["kind"] == "name" and mine[0]["verified"]

    r = client.patch(f"/v1/artists/{artist_id}", headers=h, json={"consent": "royalty"})
    assert r.status_code == 200 and r.json()["consent"] == "royalty"
    attributed = check_prompt(client, prompt)
    assert attributed["action"] == "attribute"
    assert [a["artist"]["id"] for a in attributed["attribution"]] == [artist_id]

    assert client.delete(f"/v1/artists/{artist_id}", headers=h).status_code == 200
    allowed = check_prompt(client, prompt)
    assert allowed["action"] == "allow" and allowed["evidence"] == []

    seqs = [blocked["audit_seq"], attributed["audit_seq"], allowed["audit_seq"]]
    audit = AuditLog.open(settings.audit_target)
    try:
        entries = list(audit.entries())
        by_seq = {e["seq"]: e for e in entries}
        assert [by_seq[s]["kind"] for s in seqs] == ["check.prompt"] * 3
        assert [by_seq[s]["body"]["decision"] for s in seqs] == ["block", "attribute", "allow"]
        assert all(by_seq[s]["body"]["prompt"] == prompt for s in seqs)

        def registry(kind: str) -> list[int]:
            return [e["seq"] for e in entries if e["kind"] == kind and e["body"].get("artist", {}).get("id") == artist_id]

        (added,), (updated,), (removed,) = (registry("registry.artist.added"), registry("registry.artist.updated"),
                                            registry("registry.artist.removed"))
        # each change is logged before the check that saw it
        assert added < seqs[0] < updated < seqs[1] < removed < seqs[2]
        assert by_seq[updated]["body"]["changed"] == ["consent"]
        assert token not in json.dumps(entries)
        result = audit.verify()
        assert result.ok, result.problems
        assert result.entries == len(entries)
    finally:
        audit.close()


def test_an_index_that_lags_the_registry_is_a_503_without_server_paths(quiet: tuple[TestClient, Settings]) -> None:
    client, settings = quiet
    artist_id, token, _ = sign_up(client)
    assert upload(client, artist_id, token, ("w.png", png(seed=31))).status_code == 201
    settings.index_path.unlink()  # as if someone deleted it; the next registry change reloads it
    sign_up(client)
    r = client.post("/v1/check/prompt", json={"prompt": "a house"})
    assert r.status_code == 503
    detail = r.json()["detail"]
    assert "index rebuild" in detail and "<home>" in detail and str(settings.home) not in detail


def test_prompt_decision_has_the_same_shape_as_the_cli(client: TestClient, settings: Settings) -> None:
    artist_id, _, _ = sign_up(client, name=KENJI.name, consent="opt-out")
    verify(client, artist_id)
    prompt = f"a lighthouse by {KENJI.name}"
    api = check_prompt(client, prompt)
    env = {"STYLEGATE_DATABASE_URL": settings.database_url} if settings.database_url else {}
    cli = CliRunner().invoke(cli_app, ["--home", str(settings.home), "check", "prompt", prompt, "--json"], env=env)
    assert cli.exit_code == 3, cli.output
    shell = json.loads(cli.stdout.strip().splitlines()[-1])
    assert {"action", "evidence", "attribution", "audit_seq"} <= set(api)
    assert set(api) == set(shell)
    assert shell["audit_seq"] > api["audit_seq"]
    assert {k: v for k, v in api.items() if k != "audit_seq"} == {k: v for k, v in shell.items() if k != "audit_seq"}
    assert api["action"] == "block"
    for ev in api["evidence"]:
        assert {"kind", "artist", "score", "threshold"} <= set(ev)
        assert set(ev["artist"]) == {"id", "name"}
    assert any(ev["artist"] == {"id": artist_id, "name": KENJI.name} for ev in api["evidence"])


@pytest.mark.parametrize("body", [{}, {"prompt": ""}, {"prompt": 5},
                                  {"prompt": "a cat", "extra": 1}, ["a cat"]])
def test_invalid_prompt_check_is_422(client: TestClient, body: object) -> None:
    r = client.post("/v1/check/prompt", json=body)
    assert r.status_code == 422
    assert isinstance(r.json()["detail"], list)


def test_image_check_returns_an_audited_decision(client: TestClient, settings: Settings) -> None:
    artist_id, token, _ = sign_up(client, consent="opt-out")
    verify(client, artist_id)
    work = png(TOBIAH, "mountain", 4242)
    assert upload(client, artist_id, token, ("w.png", work)).status_code == 201
    r = client.post("/v1/check/image", files={"file": ("copy.png", work, "image/png")})
    assert r.status_code == 200, r.text
    decision = r.json()
    assert {"action", "evidence", "attribution", "audit_seq", "image"} <= set(decision)
    assert decision["image"] == {"path": "copy.png", "sha256": hashlib.sha256(work).hexdigest()}
    # provenance, as `stylegate check image` reports it: no manifest, and no output of ours
    assert decision["credentials"]["status"] == "no-manifest" and decision["credentials"]["soft_binding"] is None
    assert ("near-duplicate", artist_id) in {(e["kind"], e["artist"]["id"]) for e in decision["evidence"]}
    assert decision["action"] == "block"
    with AuditLog.open(settings.audit_target) as audit:
        entry = audit.entry(decision["audit_seq"])
    assert entry["kind"] == "check.image" and entry["body"]["image"] == decision["image"]
    assert entry["body"]["decision"] == "block"


@pytest.mark.parametrize("kind", ["not an image", "truncated png", "gif", "too many pixels", "too many bytes", "empty"])
def test_image_check_refuses_what_uploads_refuse(client: TestClient, kind: str) -> None:
    make, status, text = BAD_FILES[kind]
    r = client.post("/v1/check/image", files={"file": ("probe.png", make(), "image/png")})
    assert r.status_code == status, r.text
    assert text in r.json()["detail"]


def test_image_check_without_a_file_is_422(client: TestClient) -> None:
    assert client.post("/v1/check/image").status_code == 422
    assert client.post("/v1/check/image", files={"other": ("x.png", png(), "image/png")}).status_code == 422


def test_name_lookup(client: TestClient) -> None:
    artist_id, _, _ = sign_up(client, name=SAOIRSE.name, consent="royalty")
    r = client.post("/v1/lookup/names", json={"names": [SAOIRSE.name.upper(), "Nobody Registered Here"]})
    assert r.status_code == 200
    named, nobody = r.json()["results"]
    assert named["name"] == SAOIRSE.name.upper() and named["registered"] is True
    assert named["matches"][0]["artist"] == {"id": artist_id, "name": SAOIRSE.name}
    assert named["matches"][0]["consent"] == "royalty"
    assert nobody == {"name": "Nobody Registered Here", "registered": False, "matches": []}


def test_name_lookup_speaks_cawg_training_and_data_mining(client: TestClient) -> None:
    _, _, data = sign_up(client, consent="opt-out")
    r = client.post("/v1/lookup/names", json={"names": [data["artist"]["name"]]})
    assert r.status_code == 200, r.text
    cawg = r.json()["results"][0]["matches"][0]["cawg"]
    assert cawg["label"] == "cawg.training-mining"
    assert set(cawg["entries"]) == {"cawg.data_mining", "cawg.ai_inference", "cawg.ai_generative_training", "cawg.ai_training"}
    assert {e["use"] for e in cawg["entries"].values()} == {"notAllowed"}


@pytest.mark.parametrize("body", [{}, {"names": []}, {"names": ["a"] * 101}, {"names": "one"},
                                  {"names": ["   "]}, {"names": ["ok"], "extra": True}])
def test_invalid_name_lookup_is_422(client: TestClient, body: dict) -> None:
    assert client.post("/v1/lookup/names", json=body).status_code == 422


def test_json_body_over_the_request_limit_is_413(client: TestClient) -> None:
    names = [f"name number {i:05d}" for i in range(600)]  # about 10 kB of JSON
    body = json.dumps({"names": names})
    assert len(body) > 2 * MAX_REQUEST_BYTES
    r = client.post("/v1/lookup/names", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "request body over" in r.json()["detail"]
    # also when the length is not declared up front (a streamed body)
    r = client.post("/v1/lookup/names", content=iter([body.encode()[i:i + 1000] for i in range(0, len(body), 1000)]),
                    headers={"content-type": "application/json"})
    assert r.status_code == 413
    # a JSON body the size of a multipart limit is still a JSON body
    r = client.post("/v1/artists", json={"name": "Big Body", "consent": "credit", "contact": "b@example.org",
                                         "descriptors": ["x" * 50] * 100})
    assert r.status_code == 413


# ------------------------------------------------------------------------------ admin
def test_admin_routes_need_the_admin_token(client: TestClient) -> None:
    artist_id, token, _ = sign_up(client)
    routes = [("GET", "/v1/admin/artists", None), ("PATCH", f"/v1/admin/artists/{artist_id}", {"verified": True}),
              ("DELETE", f"/v1/admin/artists/{artist_id}", None)]
    for method, path, body in routes:
        r = client.request(method, path, json=body)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        for wrong in (auth("not-the-admin-token"), auth(token), auth(ADMIN + "x"), {"Authorization": ADMIN}):
            r = client.request(method, path, json=body, headers=wrong)
            assert r.status_code in (401, 403), (wrong, r.status_code)
            if wrong["Authorization"].startswith("Bearer "):
                assert r.status_code == 403
    me = client.get("/v1/artists/me", headers=auth(token))
    assert me.status_code == 200 and me.json()["verified"] is False


def test_admin_lists_verifies_and_sets_royalty_rates(client: TestClient) -> None:
    roy_id, roy_tok, _ = sign_up(client, consent="royalty")
    opt_id, opt_tok, _ = sign_up(client, consent="opt-out")
    listed = client.get("/v1/admin/artists", headers=ADMIN_H)
    assert listed.status_code == 200
    rows = {a["id"]: a for a in listed.json()}
    assert rows[roy_id]["contact"] == "artist@example.org" and rows[roy_id]["verified"] is False

    r = client.patch(f"/v1/admin/artists/{roy_id}", headers=ADMIN_H, json={"verified": True, "royalty_rate": 0.3})
    assert r.status_code == 200, r.text
    assert r.json()["verified"] is True and r.json()["royalty_rate"] == 0.3
    me = client.get("/v1/artists/me", headers=auth(roy_tok)).json()
    assert me["verified"] is True and me["royalty_rate"] == 0.3

    r = client.patch(f"/v1/admin/artists/{roy_id}", headers=ADMIN_H, json={"clear_royalty_rate": True})
    assert r.status_code == 200 and r.json()["royalty_rate"] is None and r.json()["verified"] is True

    # royalty rates are for royalty consent only; out-of-range and unknown fields are refused
    before = client.get("/v1/artists/me", headers=auth(opt_tok)).json()
    for body in ({"royalty_rate": 0.3}, {"royalty_rate": 0.3, "verified": True}):
        r = client.patch(f"/v1/admin/artists/{opt_id}", headers=ADMIN_H, json=body)
        assert r.status_code == 422 and "royalty" in json.dumps(r.json()["detail"])
    for body in ({"royalty_rate": 1.5}, {"royalty_rate": -0.1}, {"name": "Renamed"}, {"verified": "perhaps"},
                 {"verified": "yes"}, {"verified": 1}, {"clear_royalty_rate": "N"}, {"royalty_rate": "0.3"}):
        assert client.patch(f"/v1/admin/artists/{opt_id}", headers=ADMIN_H, json=body).status_code == 422
    assert client.get("/v1/artists/me", headers=auth(opt_tok)).json() == before  # all or nothing

    assert client.patch("/v1/admin/artists/99999999", headers=ADMIN_H, json={"verified": True}).status_code == 404
    assert client.patch("/v1/admin/artists/abc", headers=ADMIN_H, json={"verified": True}).status_code == 404


def test_admin_deletes_an_artist(client: TestClient) -> None:
    artist_id, token, _ = sign_up(client, consent="opt-out")
    assert upload(client, artist_id, token, ("w.png", png(KENJI, "cat", 5150))).status_code == 201
    r = client.delete(f"/v1/admin/artists/{artist_id}", headers=ADMIN_H)
    assert r.status_code == 200 and r.json() == {"deleted": True, "artist_id": artist_id, "works_removed": 1}
    assert client.get("/v1/artists/me", headers=auth(token)).status_code == 401
    assert artist_id not in {a["id"] for a in client.get("/v1/admin/artists", headers=ADMIN_H).json()}
    assert client.delete(f"/v1/admin/artists/{artist_id}", headers=ADMIN_H).status_code == 404


def test_admin_routes_are_off_without_an_admin_token(no_admin: TestClient) -> None:
    for i, (method, path) in enumerate([("GET", "/v1/admin/artists"), ("PATCH", "/v1/admin/artists/1"),
                                        ("DELETE", "/v1/admin/artists/1")]):
        for headers in (auth(f"guess-{i}"), auth(f"admin-{i}")):
            r = no_admin.request(method, path, headers=headers, json={"verified": True} if method == "PATCH" else None)
            assert r.status_code == 403 and "admin routes are off" in r.json()["detail"]


# ------------------------------------------------------------------------------ rate limit
def test_rate_limit_answers_429_with_retry_after(limited: TestClient) -> None:
    answers = [limited.post("/v1/check/prompt", json={"prompt": "a house"}) for _ in range(4)]
    assert [r.status_code for r in answers[:3]] == [200, 200, 200]
    r = answers[3]
    assert r.status_code == 429
    assert 1 <= int(r.headers["retry-after"]) <= 60
    assert "rate limit" in r.json()["detail"]
    # a made-up token buys no bucket of its own: it counts against the same address
    assert limited.post("/v1/check/prompt", json={"prompt": "a house"}, headers=auth("sgt_other")).status_code == 429
    # non-API pages are not limited by this one
    assert limited.get("/openapi.json").status_code == 200
    assert limited.post("/v1/check/prompt", json={"prompt": "a house"}).status_code == 429


def test_a_token_that_authenticated_gets_its_own_bucket(tmp_path: Path) -> None:
    s = Settings(home=tmp_path / "home", admin_token=None, device="cpu", cpu_threads=1,
                 rate_limit_per_minute=1, rate_limit_burst=4)
    with TestClient(create_app(initialised(s))) as c:
        r = c.post("/v1/artists", json={"name": "Bucket Owner", "consent": "credit", "contact": "b@example.org"})
        assert r.status_code == 201, r.text
        token, artist_id = r.json()["token"], r.json()["artist"]["id"]
        assert c.get("/v1/artists/me", headers=auth(token)).status_code == 200  # address: 2 of 4
        assert [c.post("/v1/check/prompt", json={"prompt": "a house"}).status_code for _ in range(3)] == [200, 200, 429]
        # the address is spent; the artist's token, which authenticated, has a bucket of its own (4)
        assert c.post("/v1/check/prompt", json={"prompt": "a house"}, headers=auth(token)).status_code == 200
        assert c.post(f"/v1/artists/{artist_id}/token", headers=auth(token)).status_code == 200
        # the old token's 401 withdraws its bucket at once (it still had one request left in it)
        assert c.get("/v1/artists/me", headers=auth(token)).status_code == 401
        assert c.get("/v1/artists/me", headers=auth(token)).status_code == 429


def test_portal_withdraw_of_another_artists_work_is_a_404_page(client: TestClient, two_artists: dict) -> None:
    (_, a_token, _), (b_id, b_token, b_work) = two_artists["a"], two_artists["b"]
    portal_login(client, a_token)
    try:
        page = client.get("/dashboard")
        form_token = re.search(r'name="form_token" value="([0-9a-f]+)"', page.text).group(1)
        r = client.post(f"/dashboard/works/{b_work}/withdraw", data={"form_token": form_token})
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
        assert f"You have no work #{b_work}" in r.text
    finally:
        client.cookies.clear()
    assert b_work in {w["id"] for w in client.get(f"/v1/artists/{b_id}/works", headers=auth(b_token)).json()}
