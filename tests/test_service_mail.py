"""Contact confirmation through a real SMTP server (aiosmtpd on 127.0.0.1, a free port).

The product speaks SMTP with ``smtplib``; each test reads the mail the server really received,
follows its link with the TestClient and checks the account's state.
"""

from __future__ import annotations

import email
import email.policy
import re
import socket
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from audit_db import RawDB
from fastapi.testclient import TestClient

from stylegate.operations.ingest import init_home
from stylegate.service.app import create_app
from stylegate.settings import Settings
from stylegate.workspace import Workspace

PUBLIC_URL = "https://portal.stylegate.test"
FROM = "portal@stylegate.test"
UNLIMITED = 1_000_000



def initialised(settings: Settings) -> Settings:
    """The home of ``settings`` created the way `stylegate init` creates it (the service never does)."""
    init_home(Workspace(settings))
    return settings

def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), msg))
        return "250 OK"

    def link(self, index: int = -1) -> str:
        body = self.messages[index][1].get_content()
        return re.search(r"https?://\S+/confirm\?token=\S+", body).group(0)


class SmtpServer:
    def __init__(self, **controller_options: Any) -> None:
        self.inbox = Inbox()
        self.port = _free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **controller_options)


@pytest.fixture()
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.controller.start()
    yield server
    server.controller.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def serve(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator:
    """``serve(**settings)``: a started app over a fresh home (SQLite, or a fresh PostgreSQL database)."""
    opened: list[TestClient] = []
    databases: list[str] = []
    server = request.getfixturevalue("pg_server") if request.param == "postgresql" else None

    def start(**overrides: Any) -> TestClient:
        values: dict[str, Any] = {"home": tmp_path / f"home-{len(opened)}", "admin_token": None, "device": "cpu",
                                      "cpu_threads": 1, "rate_limit_per_minute": UNLIMITED, "rate_limit_burst": UNLIMITED,
                                      "account_rate_limit_per_minute": UNLIMITED, "account_rate_limit_burst": UNLIMITED,
                                      "public_url": PUBLIC_URL}
        if server is not None:
            databases.append(server.create_database())
            values["database_url"] = databases[-1]
        values.update(overrides)
        client = TestClient(create_app(initialised(Settings(**values))))
        client.__enter__()
        opened.append(client)
        return client

    yield start
    for client in opened:
        client.__exit__(None, None, None)
    for url in databases:
        assert server is not None
        server.drop_database(url)


def mail_settings(server: SmtpServer) -> dict[str, Any]:
    return {"smtp_host": "127.0.0.1", "smtp_port": server.port, "smtp_from": FROM, "smtp_timeout_s": 5}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sign_up(client: TestClient, name: str, contact: str, **kwargs: Any) -> dict:
    r = client.post("/v1/artists", json={"name": name, "consent": "credit", "contact": contact}, **kwargs)
    assert r.status_code == 201, r.text
    return r.json()


def follow(client: TestClient, link: str):
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}" == PUBLIC_URL
    return client.get(f"{parts.path}?{parts.query}")


def me(client: TestClient, token: str) -> dict:
    return client.get("/v1/artists/me", headers=auth(token)).json()


def portal_login(client: TestClient, token: str) -> None:
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text).group(1)
    assert client.post("/login", data={"token": token, "csrf_token": csrf}, follow_redirects=False).status_code == 303


def contact_state(client: TestClient) -> str:
    return re.search(r'id="contact-state">([^<]+)<', client.get("/dashboard").text).group(1)


def test_sign_up_mails_a_single_use_link_that_confirms_the_contact(smtp: SmtpServer, serve) -> None:
    client = serve(**mail_settings(smtp))
    data = sign_up(client, "Mailed Artist", "mailed@example.org")
    assert data["confirmation_mail"] == "sent" and data["artist"]["contact_confirmed"] is False
    [(rcpt, msg)] = smtp.inbox.messages
    assert rcpt == ["mailed@example.org"] and msg["To"] == "mailed@example.org" and msg["From"] == FROM
    assert "Confirm your contact address" in msg["Subject"]
    link = smtp.inbox.link()
    token = link.split("token=", 1)[1]
    # only the token's hash is stored
    settings = client.app.state.ctx.settings
    db = RawDB(settings.db_url, schema=None)
    try:
        stored = db.execute("select token_hash, contact from contact_confirmations").fetchall()
    finally:
        db.close()
    assert len(stored) == 1 and stored[0][1] == "mailed@example.org" and token not in stored[0][0]
    for path in settings.home.glob("*.db*"):  # on SQLite, nor anywhere in the raw files
        assert token.encode() not in path.read_bytes(), path

    assert me(client, data["token"])["contact_confirmed"] is False
    r = follow(client, link)
    assert r.status_code == 200 and "Your contact address is confirmed." in r.text
    assert r.headers["referrer-policy"] == "no-referrer"
    assert me(client, data["token"])["contact_confirmed"] is True
    portal_login(client, data["token"])
    assert contact_state(client) == "confirmed"
    # the link works once
    again = follow(client, link)
    assert again.status_code == 400 and "not valid" in again.text
    assert me(client, data["token"])["contact_confirmed"] is True
    # identity verification is still the administrator's
    assert me(client, data["token"])["verified"] is False


def test_portal_sign_up_and_a_resent_link_replaces_the_first(smtp: SmtpServer, serve) -> None:
    client = serve(**mail_settings(smtp))
    page = client.get("/signup")
    csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text).group(1)
    r = client.post("/signup", data={"name": "Portal Mailed Artist", "consent": "royalty",
                                     "contact": "portal@example.org", "csrf_token": csrf})
    assert r.status_code == 201 and "We sent a confirmation link" in r.text
    assert len(smtp.inbox.messages) == 1
    first = smtp.inbox.link()
    assert contact_state(client) == "not confirmed yet"
    form = re.search(r'action="/dashboard/confirm-contact">\s*<input type="hidden" name="form_token" value="([0-9a-f]+)"',
                     client.get("/dashboard").text).group(1)
    r = client.post("/dashboard/confirm-contact", data={"form_token": form})
    assert r.status_code == 200 and "We sent a confirmation link" in r.text
    assert len(smtp.inbox.messages) == 2
    second = smtp.inbox.link()
    assert second != first
    assert follow(client, first).status_code == 400  # the resent link replaced it
    assert contact_state(client) == "not confirmed yet"
    assert follow(client, second).status_code == 200
    assert contact_state(client) == "confirmed"


def test_an_expired_link_or_one_for_an_old_address_confirms_nothing(smtp: SmtpServer, serve) -> None:
    client = serve(confirm_ttl_minutes=30, **mail_settings(smtp))
    data = sign_up(client, "Slow Artist", "slow@example.org")
    ctx = client.app.state.ctx
    sent_at = ctx.now()
    ctx.now = lambda: sent_at + timedelta(minutes=31)
    assert follow(client, smtp.inbox.link()).status_code == 400
    assert me(client, data["token"])["contact_confirmed"] is False
    ctx.now = lambda: sent_at
    # a new link (from the API), then the address changes before it is used
    artist_id = data["artist"]["id"]
    r = client.post(f"/v1/artists/{artist_id}/contact/confirmation", headers=auth(data["token"]))
    assert r.status_code == 200 and r.json() == {"confirmation_mail": "sent"}
    for_old_address = smtp.inbox.link()
    r = client.patch(f"/v1/artists/{artist_id}", headers=auth(data["token"]), json={"contact": "new@example.org"})
    assert r.status_code == 200 and r.json()["contact_confirmed"] is False
    assert smtp.inbox.messages[-1][0] == ["new@example.org"]
    assert follow(client, for_old_address).status_code == 400
    assert follow(client, smtp.inbox.link()).status_code == 200
    assert me(client, data["token"])["contact_confirmed"] is True
    # a confirmed address changed again is unconfirmed again
    r = client.patch(f"/v1/artists/{artist_id}", headers=auth(data["token"]), json={"contact": "newer@example.org"})
    assert r.json()["contact_confirmed"] is False


def test_the_link_is_built_from_the_public_url_not_the_host_header(smtp: SmtpServer, serve) -> None:
    client = serve(**mail_settings(smtp))
    sign_up(client, "Host Header Artist", "host@example.org", headers={"Host": "evil.example"})
    link = smtp.inbox.link()
    assert link.startswith(PUBLIC_URL + "/confirm?token=") and "evil.example" not in link


def test_without_smtp_settings_no_mail_is_sent_and_the_portal_says_so(serve) -> None:
    client = serve()
    data = sign_up(client, "Unmailed Artist", "unmailed@example.org")
    assert data["confirmation_mail"] == "not-configured"
    portal_login(client, data["token"])
    dashboard = client.get("/dashboard").text
    assert contact_state(client) == "not confirmed"
    assert "confirmation mail is not configured" in dashboard and "/dashboard/confirm-contact" not in dashboard
    r = client.post(f"/v1/artists/{data['artist']['id']}/contact/confirmation", headers=auth(data["token"]))
    assert r.json() == {"confirmation_mail": "not-configured"}
    assert client.get("/confirm?token=sgc_" + "x" * 43).status_code == 400
    assert me(client, data["token"])["contact_confirmed"] is False


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # loopback only, on purpose
def test_smtp_login_and_a_refused_login(serve) -> None:
    def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = auth_data.login == b"portal" and auth_data.password == b"s3cret"
        return AuthResult(success=ok, handled=False)

    server = SmtpServer(authenticator=authenticator, auth_require_tls=False, auth_required=True)
    server.controller.start()
    try:
        good = serve(smtp_user="portal", smtp_password="s3cret", **mail_settings(server))
        assert sign_up(good, "Auth Artist", "auth@example.org")["confirmation_mail"] == "sent"
        assert len(server.inbox.messages) == 1
        bad = serve(smtp_user="portal", smtp_password="wrong", **mail_settings(server))
        data = sign_up(bad, "Refused Artist", "refused@example.org")
        assert data["confirmation_mail"] == "failed"  # the sign-up itself still succeeds
        assert len(server.inbox.messages) == 1
    finally:
        server.controller.stop()


def test_an_unreachable_smtp_server_fails_the_mail_not_the_sign_up(serve) -> None:
    client = serve(smtp_host="127.0.0.1", smtp_port=_free_port(), smtp_from=FROM, smtp_timeout_s=2)
    data = sign_up(client, "Offline Mail Artist", "offline@example.org")
    assert data["confirmation_mail"] == "failed" and data["artist"]["contact_confirmed"] is False
    assert "127.0.0.1" not in str(data)
