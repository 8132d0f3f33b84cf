"""Abuse of the HTTP API and the portal: hostile sign-ups, token games, oversized bodies,
session fixation and expiry. Bounded and loopback-only: every client is a TestClient over the
ASGI app, and different "addresses" are different 127.0.0.x values in the ASGI scope.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import itertools
import json
import re
import secrets
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from audit_db import RawDB
from fastapi.testclient import TestClient

from stylegate.governance.policy import default_policy_text
from stylegate.operations.ingest import init_home
from stylegate.service.app import create_app
from stylegate.settings import Settings
from stylegate.styleworld import world
from stylegate.workspace import Workspace

_seeds = itertools.count(9000)
UNLIMITED = 1_000_000



def initialised(settings: Settings) -> Settings:
    """The home of ``settings`` created the way `stylegate init` creates it (the service never does)."""
    init_home(Workspace(settings))
    return settings

def png(seed: int | None = None) -> bytes:
    buf = io.BytesIO()
    world.render(world.ARTISTS[5], "boat", next(_seeds) if seed is None else seed).save(buf, "PNG")
    return buf.getvalue()


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"home": tmp_path / "home", "admin_token": None, "device": "cpu", "cpu_threads": 1,
                                  "rate_limit_per_minute": UNLIMITED, "rate_limit_burst": UNLIMITED,
                                  "account_rate_limit_per_minute": UNLIMITED, "account_rate_limit_burst": UNLIMITED}
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(params=["sqlite", "postgresql"])
def serve(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator:
    """``serve(**settings)``: a started app over a fresh home, as a TestClient (closed afterwards);
    its registry (and audit log) on SQLite, or in a fresh PostgreSQL database."""
    opened: list[TestClient] = []
    databases: list[str] = []
    server = request.getfixturevalue("pg_server") if request.param == "postgresql" else None

    def start(**overrides: Any) -> TestClient:
        overrides.setdefault("home", tmp_path / ("home" if not opened else f"home-{len(opened)}"))
        if server is not None and "database_url" not in overrides:
            databases.append(server.create_database())
            overrides["database_url"] = databases[-1]
        client = TestClient(create_app(initialised(settings_for(tmp_path, **overrides))), client=("127.0.0.1", 50000))
        client.__enter__()
        opened.append(client)
        return client

    yield start
    for client in opened:
        client.__exit__(None, None, None)
    for url in databases:
        assert server is not None
        server.drop_database(url)


def other_address(client: TestClient, host: str) -> TestClient:
    """Another client of the same (already started) app, from another loopback address."""
    return TestClient(client.app, client=(host, 50001))


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sign_up(client: TestClient, name: str, **extra: Any):
    return client.post("/v1/artists", json={"name": name, "consent": "credit", "contact": "a@example.org", **extra})


def signed_up(client: TestClient, name: str) -> tuple[int, str]:
    r = sign_up(client, name)
    assert r.status_code == 201, r.text
    return r.json()["artist"]["id"], r.json()["token"]


def csrf(client: TestClient, page: str) -> str:
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get(page).text).group(1)


def form_token(client: TestClient) -> str:
    return re.search(r'name="form_token" value="([0-9a-f]+)"', client.get("/dashboard").text).group(1)


def portal_login(client: TestClient, token: str) -> str:
    """Sign in through the form; returns the session cookie the portal set."""
    r = client.post("/login", data={"token": token, "csrf_token": csrf(client, "/login")}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/dashboard", r.text
    return client.cookies["sg_session"]


def plant(client: TestClient, session: str) -> None:
    """Put ``session`` in the client's session cookie (replacing whatever the portal set)."""
    client.cookies.clear()
    client.cookies.set("sg_session", session, domain="testserver.local")


def artist_count(client: TestClient) -> int:
    ctx = client.app.state.ctx
    with ctx.lock:
        return len(ctx.workspace.store.list_artists())


def db_rows(settings: Settings, sql: str, *args: object) -> list[tuple]:
    db = RawDB(settings.db_url, schema=None)
    try:
        return [tuple(row) for row in db.execute(sql, args).fetchall()]
    finally:
        db.close()


# ------------------------------------------------------------------------------ hostile sign-ups
def test_many_sign_ups_from_one_address_hit_the_account_limit(serve) -> None:
    client = serve(account_rate_limit_burst=3, account_rate_limit_per_minute=1)
    answers = [sign_up(client, f"Flood Artist {i}x").status_code for i in range(5)]
    assert answers == [201, 201, 201, 429, 429]
    # the portal's sign-up form shares the address's allowance (the form itself still loads)
    page_csrf = csrf(client, "/signup")
    r = client.post("/signup", data={"name": "Flood Artist Portal", "consent": "credit", "contact": "p@example.org",
                                     "csrf_token": page_csrf})
    assert r.status_code == 429 and "Retry-After" in r.headers
    # so does signing in
    assert client.post("/login", data={"token": "sgt_x", "csrf_token": page_csrf}).status_code == 429
    assert artist_count(client) == 3  # the refused sign-ups registered nothing
    # another address is not held back by this one
    assert sign_up(other_address(client, "127.0.0.2"), "Patient Artist").status_code == 201


@pytest.mark.parametrize("extra", [{"verified": True}, {"contact_confirmed": True}, {"royalty_rate": 0.9},
                                   {"token": "sgt_mine"}, {"id": 1}, {"works": []}])
def test_sign_up_with_fields_it_must_not_set_is_422(serve, extra: dict) -> None:
    client = serve()
    r = sign_up(client, "Sneaky Artist", **extra)
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["detail"]] == [["body", next(iter(extra))]]
    assert artist_count(client) == 0


@pytest.mark.parametrize("field, value", [("name", "N" * 1000), ("aliases", ["A" * 1000]),
                                          ("aliases", [f"alias {i}" for i in range(500)]),
                                          ("descriptors", ["d" * 5000]), ("contact", "x" * 400 + "@example.org")])
def test_oversized_sign_up_fields_are_422(serve, field: str, value: object) -> None:
    client = serve()
    body = {"name": "Big Field Artist", "consent": "credit", "contact": "a@example.org", field: value}
    r = client.post("/v1/artists", json=body)
    assert r.status_code == 422, r.text
    assert field in json.dumps(r.json()["detail"])
    assert artist_count(client) == 0


def test_oversized_portal_sign_up_is_a_422_page(serve) -> None:
    client = serve()
    r = client.post("/signup", data={"name": "N" * 1000, "consent": "credit", "contact": "a@example.org",
                                     "csrf_token": csrf(client, "/signup")})
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    assert "Please check name" in r.text
    assert artist_count(client) == 0


# ------------------------------------------------------------------------------ token games
def test_made_up_tokens_are_401s_counted_against_the_address(serve) -> None:
    client = serve(rate_limit_burst=5, rate_limit_per_minute=1)
    ctx = client.app.state.ctx
    lookups: list[str | None] = []
    real = ctx.accounts.authenticate

    def counting(token: str | None) -> int | None:
        lookups.append(token)
        return real(token)

    ctx.accounts.authenticate = counting
    codes = [client.get("/v1/artists/me", headers=auth("sgt_" + secrets.token_urlsafe(32))).status_code
             for _ in range(12)]
    assert codes == [401] * 5 + [429] * 7
    assert len(lookups) == 5  # the flood stops at the address's allowance, not at the database
    # a fresh made-up token per request is not a fresh bucket, on any route
    assert client.post("/v1/check/prompt", json={"prompt": "a house"},
                       headers=auth("sgt_" + secrets.token_urlsafe(32))).status_code == 429


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Bearer  sgt_a b", "Basic c2d0XzE6eA==", "sgt_" + "x" * 43,
                                    "Bearer " + "sgt_" + "y" * 10_000, "Bearer \u00e9\u00e9", "bearer sgt_short"])
def test_malformed_authorization_headers_are_401_and_count_against_the_address(serve, header: str) -> None:
    client = serve(rate_limit_burst=2, rate_limit_per_minute=1)
    headers = {"Authorization": header.encode("utf-8")}  # raw bytes, non-ASCII included
    first = [client.get("/v1/artists/me", headers=headers) for _ in range(3)]
    assert [r.status_code for r in first] == [401, 401, 429]
    assert first[0].headers["www-authenticate"] == "Bearer"
    assert client.get("/v1/artists/me").status_code == 429  # the same address, even without a header


def test_a_valid_token_of_artist_a_on_artist_b_is_403(serve) -> None:
    client = serve()
    a_id, a_token = signed_up(client, "Artist Alpha")
    b_id, b_token = signed_up(client, "Artist Beta")
    before = client.get(f"/v1/artists/{b_id}", headers=auth(b_token)).json()
    for method, path, kwargs in [("GET", f"/v1/artists/{b_id}", {}),
                                 ("PATCH", f"/v1/artists/{b_id}", {"json": {"consent": "opt-out"}}),
                                 ("POST", f"/v1/artists/{b_id}/token", {}),
                                 ("POST", f"/v1/artists/{b_id}/contact/confirmation", {}),
                                 ("POST", f"/v1/artists/{b_id}/works", {"files": [("files", ("x.png", png(), "image/png"))]}),
                                 ("DELETE", f"/v1/artists/{b_id}", {})]:
        r = client.request(method, path, headers=auth(a_token), **kwargs)
        assert r.status_code == 403, (method, path, r.text)
    assert client.get(f"/v1/artists/{b_id}", headers=auth(b_token)).json() == before
    assert client.get("/v1/artists/me", headers=auth(a_token)).json()["id"] == a_id


def test_an_uploaded_copy_of_another_artists_work_does_not_reveal_its_id(serve) -> None:
    client = serve()
    a_id, a_token = signed_up(client, "Original Artist")
    b_id, b_token = signed_up(client, "Copying Artist")
    image = png()
    r = client.post(f"/v1/artists/{a_id}/works", files=[("files", ("mine.png", image, "image/png"))],
                    headers=auth(a_token))
    assert r.status_code == 201, r.text
    a_work = r.json()["added"][0]["id"]
    r = client.post(f"/v1/artists/{b_id}/works", files=[("files", ("copy.png", image, "image/png"))],
                    headers=auth(b_token))
    assert r.status_code == 201, r.text
    assert r.json() == {"added": [], "duplicates": [{"file": "copy.png", "detail": "already registered",
                                                     "work_id": None}]}
    # the artist's own repeat still names their own work
    r = client.post(f"/v1/artists/{a_id}/works", files=[("files", ("again.png", image, "image/png"))],
                    headers=auth(a_token))
    assert r.json()["duplicates"] == [{"file": "again.png", "detail": "already one of your works", "work_id": a_work}]


# ------------------------------------------------------------------------------ oversized bodies
def test_image_check_takes_one_image_not_an_upload(serve) -> None:
    client = serve(max_image_bytes=100_000)
    one = png()
    blob = one + b"\0" * (90_000 - len(one))  # under the image limit by itself
    r = client.post("/v1/check/image", files=[("file", ("a.png", blob, "image/png"))])
    assert r.status_code != 413, r.text
    r = client.post("/v1/check/image", files=[("file", ("a.png", blob, "image/png")), ("file", ("b.png", blob, "image/png"))])
    assert r.status_code == 413 and "request body over" in r.json()["detail"]
    # two small images fit in the body, but an image check is of one image
    r = client.post("/v1/check/image", files=[("file", ("a.png", one, "image/png")), ("file", ("b.png", png(), "image/png"))])
    assert r.status_code == 422 and "exactly one image" in r.json()["detail"]


def test_upload_routes_keep_the_upload_cap(serve) -> None:
    client = serve(max_image_bytes=100_000, max_upload_files=3)
    artist_id, token = signed_up(client, "Uploading Artist")
    images = [("files", (f"{i}.png", png(), "image/png")) for i in range(3)]
    padded = [("files", (n, d + b"\0" * (60_000 - len(d)), t)) for _, (n, d, t) in images]  # 180 kB: over one image
    r = client.post(f"/v1/artists/{artist_id}/works", files=padded, headers=auth(token))
    assert r.status_code != 413, r.text  # (the padding makes them invalid images: 422, but not too large)
    r = client.post(f"/v1/artists/{artist_id}/works", files=images, headers=auth(token))
    assert r.status_code == 201 and len(r.json()["added"]) == 3, r.text


def test_json_and_form_routes_have_the_small_cap_whatever_the_content_type(serve) -> None:
    client = serve(max_request_bytes=4096)
    artist_id, token = signed_up(client, "Capped Artist")
    big = {"names": [f"name {i:05d}" for i in range(1000)]}
    assert client.post("/v1/lookup/names", json=big).status_code == 413
    r = client.post("/v1/lookup/names", files=[("names", ("x.bin", b"\0" * 20_000, "application/octet-stream"))])
    assert r.status_code == 413  # multipart is no way around the cap of a JSON route
    r = client.patch(f"/v1/artists/{artist_id}", headers=auth(token), files=[("f", ("x", b"\0" * 20_000, "x/y"))])
    assert r.status_code == 413
    r = client.post("/login", files=[("token", ("t", b"\0" * 20_000, "text/plain"))])
    assert r.status_code == 413


def _asgi_post(app, path: str, headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> tuple[int, int]:
    """POST a streamed body (no Content-Length) straight into the ASGI app; returns
    (status, bytes the app pulled from the client before answering)."""
    pulled = 0
    sent: list[dict] = []
    queue = list(chunks)

    async def receive() -> dict:
        nonlocal pulled
        if not queue:
            return {"type": "http.request", "body": b"", "more_body": False}
        chunk = queue.pop(0)
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(queue)}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"testserver"), *headers], "client": ("127.0.0.1", 50000),
             "server": ("testserver", 80)}
    # a thread of its own: the session may already run an event loop here (Playwright's)
    runner = threading.Thread(target=lambda: asyncio.run(app(scope, receive, send)))
    runner.start()
    runner.join(timeout=120)
    assert not runner.is_alive()
    return next(m["status"] for m in sent if m["type"] == "http.response.start"), pulled


def test_an_oversized_image_check_is_refused_before_it_is_read(serve) -> None:
    client = serve(max_image_bytes=100_000)
    boundary = b"abuse-boundary"
    head = (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
            b"Content-Type: image/png\r\n\r\n")
    body = head + b"\0" * 10_000_000 + b"\r\n--" + boundary + b"--\r\n"  # 10 MB, a hundred images' worth
    ctype = [(b"content-type", b"multipart/form-data; boundary=" + boundary)]
    # declared up front: refused without reading a byte
    declared = [*ctype, (b"content-length", str(len(body)).encode())]
    assert _asgi_post(client.app, "/v1/check/image", declared, [body[i:i + 65536] for i in range(0, len(body), 65536)]) \
        == (413, 0)
    # streamed without a length: refused once the image limit is passed, long before the end
    status, pulled = _asgi_post(client.app, "/v1/check/image", ctype,
                                [body[i:i + 65536] for i in range(0, len(body), 65536)])
    assert status == 413
    assert pulled < len(body) // 20


def test_a_streamed_json_body_over_the_cap_is_413(serve) -> None:
    client = serve(max_request_bytes=4096)
    body = json.dumps({"prompt": "a house " * 5000}).encode()
    status, pulled = _asgi_post(client.app, "/v1/check/prompt", [(b"content-type", b"application/json")],
                                [body[i:i + 1024] for i in range(0, len(body), 1024)])
    assert status == 413 and pulled < len(body) // 4


# ------------------------------------------------------------------------------ prompt limit from the policy
def test_the_prompt_limit_is_the_policys(tmp_path: Path, serve) -> None:
    home = tmp_path / "home"
    home.mkdir()
    policy = default_policy_text()
    assert "max_chars = 2000" in policy
    (home / "policy.toml").write_text(policy.replace("max_chars = 2000", "max_chars = 40"), "utf-8")
    client = serve()
    assert client.post("/v1/check/prompt", json={"prompt": "h" * 40}).status_code == 200
    r = client.post("/v1/check/prompt", json={"prompt": "h" * 41})
    assert r.status_code == 422 and "policy limit is 40" in r.json()["detail"]
    # and the schema does not promise a different fixed limit
    prompt_schema = client.get("/openapi.json").json()["components"]["schemas"]["PromptCheck"]["properties"]["prompt"]
    assert "maxLength" not in prompt_schema and "max_chars" in prompt_schema["description"]


def test_a_prompt_longer_than_the_old_fixed_limit_passes_when_the_policy_allows_it(tmp_path: Path, serve) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "policy.toml").write_text(default_policy_text().replace("max_chars = 2000", "max_chars = 3000"), "utf-8")
    client = serve()
    assert client.post("/v1/check/prompt", json={"prompt": "a quiet harbour " * 150}).status_code == 200  # 2,400


# ------------------------------------------------------------------------------ sessions
def test_an_api_token_in_the_cookie_is_no_session(serve) -> None:
    client = serve()
    _, token = signed_up(client, "Cookie Artist")
    plant(client, token)
    r = client.get("/dashboard", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    r = client.post("/dashboard/consent", data={"consent": "opt-out", "form_token": "0" * 64}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"


def test_the_session_id_is_stored_only_as_a_hash(serve) -> None:
    client = serve()
    artist_id, token = signed_up(client, "Hashed Session Artist")
    session = portal_login(client, token)
    assert session.startswith("sgs_") and session != token
    settings = client.app.state.ctx.settings
    assert db_rows(settings, "select id_hash, artist_id from sessions") == [
        (hashlib.sha256(session.encode()).hexdigest(), artist_id)]


def test_an_expired_session_sends_you_to_sign_in(serve) -> None:
    client = serve(session_ttl_minutes=60)
    _, token = signed_up(client, "Expiring Artist")
    portal_login(client, token)
    ctx = client.app.state.ctx
    assert client.get("/dashboard", follow_redirects=False).status_code == 200
    signed_in_at = ctx.now()
    ctx.now = lambda: signed_in_at + timedelta(minutes=59)
    assert client.get("/dashboard", follow_redirects=False).status_code == 200
    ctx.now = lambda: signed_in_at + timedelta(minutes=61)
    r = client.get("/dashboard", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    r = client.post("/upload", files=[("files", ("x.png", png(), "image/png"))], follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"


def test_a_planted_session_id_is_replaced_at_sign_in(serve) -> None:
    client = serve()
    _, attacker_token = signed_up(client, "Planting Attacker")
    _, victim_token = signed_up(client, "Planted Victim")
    planted = portal_login(client, attacker_token)  # the attacker's own valid session
    victim = other_address(client, "127.0.0.3")
    plant(victim, planted)  # planted in the victim's browser
    session = portal_login(victim, victim_token)
    assert session != planted
    assert "Planted Victim" in victim.get("/dashboard").text
    # the planted id was closed, so it opens neither account
    plant(client, planted)
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


def test_sign_in_and_sign_up_forms_need_their_pre_session_token(serve) -> None:
    client = serve()
    _, token = signed_up(client, "Csrf Artist")
    assert client.post("/login", data={"token": token}).status_code == 403
    assert client.post("/login", data={"token": token, "csrf_token": "0" * 64}).status_code == 403
    # a token minted for another browser's pre-session cookie does not work with this one
    other = other_address(client, "127.0.0.4")
    other_csrf = csrf(other, "/login")
    csrf(client, "/login")
    assert client.post("/login", data={"token": token, "csrf_token": other_csrf}).status_code == 403
    assert "sg_session" not in client.cookies
    r = client.post("/signup", data={"name": "Forged Signup", "consent": "credit", "contact": "f@example.org"})
    assert r.status_code == 403 and artist_count(client) == 1


def test_logout_is_a_post_with_the_form_token_and_deletes_the_session(serve) -> None:
    client = serve()
    _, token = signed_up(client, "Leaving Artist")
    session = portal_login(client, token)
    assert client.post("/logout", data={}, follow_redirects=False).status_code == 403  # a forged sign-out
    assert client.get("/dashboard", follow_redirects=False).status_code == 200
    assert client.get("/logout").status_code == 405
    r = client.post("/logout", data={"form_token": form_token(client)}, follow_redirects=False)
    assert r.status_code == 303
    plant(client, session)  # replaying the old cookie
    assert client.get("/dashboard", follow_redirects=False).status_code == 303
    assert db_rows(client.app.state.ctx.settings, "select count(*) from sessions") == [(0,)]


def test_token_rotation_and_deletion_end_every_session(serve) -> None:
    client = serve()
    artist_id, token = signed_up(client, "Rotating Artist")
    second = other_address(client, "127.0.0.5")
    portal_login(client, token)
    portal_login(second, token)
    new = client.post(f"/v1/artists/{artist_id}/token", headers=auth(token)).json()["token"]
    for c in (client, second):
        assert c.get("/dashboard", follow_redirects=False).status_code == 303
    portal_login(client, new)
    settings = client.app.state.ctx.settings
    assert db_rows(settings, "select count(*) from sessions") == [(1,)]
    assert client.delete(f"/v1/artists/{artist_id}", headers=auth(new)).status_code == 200
    assert client.get("/dashboard", follow_redirects=False).status_code == 303
    assert db_rows(settings, "select count(*) from sessions") == [(0,)]


def test_portal_posts_are_rate_limited_by_address(serve) -> None:
    client = serve()
    _, token = signed_up(client, "Busy Artist")
    portal_login(client, token)
    tok = form_token(client)
    limited = serve(rate_limit_burst=3, rate_limit_per_minute=1)  # a second app over its own home
    _, token2 = signed_up(limited, "Busy Artist Two")
    portal_login(limited, token2)
    tok2 = form_token(limited)
    codes = [limited.post("/dashboard/consent", data={"consent": "credit", "form_token": tok2},
                          follow_redirects=False).status_code for _ in range(3)]
    assert codes == [303, 429, 429]  # the sign-up, the sign-in and one form post spent the burst of 3
    assert client.post("/dashboard/consent", data={"consent": "credit", "form_token": tok},
                       follow_redirects=False).status_code == 303
