"""The artist portal in a real headless Chromium against a live ``stylegate serve``.

A real uvicorn server (``python -m stylegate --home <tmp> serve``) runs in a subprocess; the
browser uses the pages the way a person would: labelled fields, buttons, file uploads, with
JavaScript switched off (the portal has none). The public JSON API is called over HTTP on
the same server. Full-page screenshots go to test-artifacts/ (STYLEGATE_TEST_ARTIFACTS).
"""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image

from stylegate.styleworld import world

STARTUP_LIMIT_S = 180  # how long to wait for the server to answer at all (not a performance check)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, base_url: str, home: Path, proc: subprocess.Popen, log_path: Path,
                 env: dict[str, str]) -> None:
        self.base_url, self.home, self.proc, self.log_path = base_url, home, proc, log_path
        self.env = env  # what the server runs with (a CLI call on its home needs the same database)

    @property
    def database_url(self) -> str | None:
        return self.env.get("STYLEGATE_DATABASE_URL")

    @property
    def audit_target(self) -> str | Path:
        """The server's audit log: its PostgreSQL database, or the home's SQLite file."""
        return self.database_url or self.home / "audit.db"

    def url(self, path: str) -> str:
        return self.base_url + path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


BROWSER_ADMIN = "browser-test-admin-token"


@pytest.fixture()
def live_server(tmp_path: Path, db_url: str):
    """``stylegate serve`` on a free port over a fresh home, on its SQLite files or a fresh
    PostgreSQL database; stopped with SIGTERM afterwards."""
    home = tmp_path / "home"
    port = _free_port()
    log_path = tmp_path / "server.log"
    env = {k: v for k, v in os.environ.items() if k not in ("STYLEGATE_HOME", "STYLEGATE_DATABASE_URL")}
    if not db_url.startswith("sqlite"):
        env["STYLEGATE_DATABASE_URL"] = db_url
    env.setdefault("STYLEGATE_DEVICE", "cpu")
    env["STYLEGATE_ADMIN_TOKEN"] = BROWSER_ADMIN
    # only `stylegate init` creates a home; the server opens it
    init = subprocess.run([sys.executable, "-m", "stylegate", "--home", str(home), "init"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, check=False)
    assert init.returncode == 0, init.stdout + init.stderr
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "stylegate", "--home", str(home), "serve", "--host", "127.0.0.1", "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    server = LiveServer(f"http://127.0.0.1:{port}", home, proc, log_path, env)
    try:
        deadline = time.monotonic() + STARTUP_LIMIT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the server exited with {proc.returncode} before answering:\n{server.log()}")
            try:
                if httpx.get(server.url("/"), timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not answer within {STARTUP_LIMIT_S} s:\n{server.log()}")
            time.sleep(0.25)
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                pytest.fail(f"the server did not stop on SIGTERM:\n{server.log()}")
    # A clean shutdown: uvicorn ran the lifespan's shutdown and exited on SIGTERM (0, or by the
    # signal it re-raises after a graceful shutdown), with no traceback logged.
    log = server.log()
    assert proc.returncode in (0, -signal.SIGTERM), log
    assert "Application shutdown complete" in log and "Finished server process" in log, log
    assert "Traceback" not in log, log


@pytest.fixture()
def no_js(browser):
    """A browser context with JavaScript off, as a person without JS would see the portal."""
    ctx = browser.new_context(java_script_enabled=False, viewport={"width": 1100, "height": 900})
    errors: list[str] = []
    ctx.on("weberror", lambda e: errors.append(str(e.error)))
    yield ctx, errors
    ctx.close()


def _png(path: Path, artist: int, seed: int) -> Path:
    world.render(world.ARTISTS[artist], "cat", seed).save(path, "PNG")
    return path


def _png_bytes(artist: int, seed: int) -> bytes:
    buf = io.BytesIO()
    world.render(world.ARTISTS[artist], "cat", seed).save(buf, "PNG")
    return buf.getvalue()


def _unlabelled_controls(page) -> list[str]:
    """Visible form controls with no accessible label (no <label>, aria-label or aria-labelledby)."""
    return page.evaluate("""() => [...document.querySelectorAll('input, select, textarea')]
        .filter(el => el.type !== 'hidden' && el.getClientRects().length > 0)
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                      && !el.getAttribute('aria-labelledby'))
        .map(el => el.outerHTML)""")


def _assert_controls_labelled(page) -> int:
    """Every visible control has a label, and get_by_label with that label's text finds exactly it."""
    assert _unlabelled_controls(page) == []
    controls = page.evaluate("""() => [...document.querySelectorAll('input, select, textarea')]
        .filter(el => el.type !== 'hidden' && el.getClientRects().length > 0)
        .map(el => ({id: el.id, label: el.labels[0].textContent.trim()}))""")
    assert controls, "the page has no form controls"
    for c in controls:
        assert c["id"] and c["label"], c
        found = page.get_by_label(c["label"], exact=True)
        assert found.count() == 1, c
        assert found.get_attribute("id") == c["id"], c
    # Every button has an accessible name too.
    nameless = page.evaluate("""() => [...document.querySelectorAll('button')]
        .filter(b => !b.textContent.trim() && !b.getAttribute('aria-label')).map(b => b.outerHTML)""")
    assert nameless == []
    return len(controls)


def _count(page, cell_id: str) -> int:
    return int(page.locator(f"#{cell_id}").inner_text().strip())


def _thumbnail_widths(page) -> list[int]:
    return page.evaluate("() => [...document.querySelectorAll('#works img')].map(i => i.complete ? i.naturalWidth : -1)")


def _screenshot(page, path: Path) -> None:
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000, f"{path.name} is suspiciously small"
    with Image.open(path) as im:
        assert im.width >= 1000 and im.height >= 600
        assert len(im.convert("L").getcolors(maxcolors=1 << 16) or range(1 << 16)) > 2, "a blank screenshot"


# ============================================================================ the full portal flow
def test_portal_signup_upload_consent_and_checks(live_server, no_js, tmp_path, artifacts_dir):
    ctx, page_errors = no_js
    page = ctx.new_page()
    artist = world.ARTISTS[0]
    name, descriptor = artist.name, artist.descriptors[0]

    # 1. Home page → "Sign up" link → the form, filled through its labels.
    page.goto(live_server.url("/"))
    assert page.title().endswith("stylegate artist portal")
    page.get_by_role("link", name="Sign up", exact=True).click()
    page.wait_for_url("**/signup")
    assert page.get_by_role("heading", level=1).inner_text() == "Sign up"
    assert _assert_controls_labelled(page) == 7  # name, aliases, descriptors, 3 consents, e-mail
    page.get_by_label("Your name as people write it").fill(name)
    page.get_by_label("Your style, in a few words").fill(descriptor)
    page.get_by_label("Opt out").check()
    page.get_by_label("E-mail address").fill("mira@example.org")
    _screenshot(page, artifacts_dir / "portal-signup.png")
    with page.expect_response(lambda r: r.url.endswith("/signup") and r.request.method == "POST") as signed:
        page.get_by_role("button", name="Sign up").click()
    assert signed.value.status == 201
    assert signed.value.headers.get("cache-control") == "no-store"  # the token page stays out of caches
    assert page.get_by_role("heading", level=1).inner_text() == f"Welcome, {name}"
    token = page.locator("#api-token").inner_text().strip()
    assert re.fullmatch(r"sgt_[A-Za-z0-9_-]{20,}", token), token
    # The token works as an API bearer token and belongs to the artist just registered.
    me = httpx.get(live_server.url("/v1/artists/me"), headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert me.status_code == 200, me.text
    assert me.json()["name"] == name and me.json()["consent"] == "opt-out"
    assert me.json()["descriptors"] == [descriptor] and me.json()["contact"] == "mira@example.org"
    artist_id = me.json()["id"]
    # The session cookie is HttpOnly (not readable by page scripts), SameSite=Lax, and holds a
    # server-side session id that expires, never the API token.
    cookies = {c["name"]: c for c in ctx.cookies()}
    session = cookies["sg_session"]
    assert session["httpOnly"] is True and session["sameSite"] == "Lax"
    assert session["value"] != token and session["value"].startswith("sgs_")
    assert session["expires"] > time.time()

    # 2. Dashboard, then the upload page: two works through the file input.
    page.get_by_role("link", name="Go to your dashboard").click()
    page.wait_for_url("**/dashboard")
    assert page.get_by_role("heading", level=1).inner_text() == name
    assert f"Artist #{artist_id}" in page.locator("main").inner_text()
    assert page.locator("#current-consent").inner_text() == "opt-out"
    assert page.get_by_text("No works yet.").is_visible()
    assert _count(page, "count-checks-blocked") == 0
    _assert_controls_labelled(page)

    page.get_by_role("link", name="Upload works").first.click()
    page.wait_for_url("**/upload")
    assert page.get_by_role("heading", level=1).inner_text() == "Upload reference works"
    assert _assert_controls_labelled(page) == 1
    _screenshot(page, artifacts_dir / "portal-upload.png")
    # A file that is not an image: an error naming the file (not the server's folders), nothing added.
    bogus = tmp_path / "notes.png"
    bogus.write_bytes(b"these are my notes, not a picture")
    page.get_by_label("Images").set_input_files(bogus)
    with page.expect_response(lambda r: r.url.endswith("/upload") and r.request.method == "POST") as rejected:
        page.get_by_role("button", name="Upload", exact=True).click()
    assert rejected.value.status == 422
    alert = page.get_by_role("alert").inner_text()
    assert alert.startswith("Nothing was added: notes.png: not an image"), alert
    assert str(tmp_path) not in alert and "upload-" not in alert, alert
    assert _assert_controls_labelled(page) == 1  # the form is shown again, ready for another try

    files = [_png(tmp_path / "cat-1.png", 0, 1), _png(tmp_path / "cat-2.png", 0, 2)]
    page.get_by_label("Images").set_input_files(files)
    page.get_by_role("button", name="Upload", exact=True).click()
    page.wait_for_url(re.compile(r".*/dashboard\?notice=.*"))
    assert page.get_by_role("status").inner_text() == "2 works added."
    rows = page.locator("#works tbody tr")
    assert rows.count() == 2
    assert page.locator("#works caption").inner_text() == "2 works in the style index"
    assert _thumbnail_widths(page) == [64, 64]
    for i in range(2):
        assert "64×64 PNG" in rows.nth(i).inner_text()
        assert rows.nth(i).get_by_role("img").get_attribute("alt").startswith("Reference work #")
    # The thumbnails are the uploaded pictures (same pixels), served only to this session.
    served = []
    for src in page.locator("#works img").evaluate_all("imgs => imgs.map(i => i.src)"):
        r = page.request.get(src)
        assert r.status == 200 and r.headers["content-type"] == "image/png"
        served.append(Image.open(io.BytesIO(r.body())).convert("RGB").tobytes())
    uploaded = [Image.open(f).convert("RGB").tobytes() for f in files]
    assert sorted(served) == sorted(uploaded)
    assert httpx.get(page.locator("#works img").first.evaluate("i => i.src"), timeout=30,
                     follow_redirects=False).status_code == 303  # no cookie: sent to sign in
    works = httpx.get(live_server.url(f"/v1/artists/{artist_id}/works"),
                      headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
    assert len(works) == 2
    _assert_controls_labelled(page)
    _screenshot(page, artifacts_dir / "portal-dashboard.png")

    # 3. Consent: royalty → saved and shown (and the gate sees it), then back to opt-out.
    page.get_by_label("Change consent").select_option("royalty")
    page.get_by_role("button", name="Save consent").click()
    page.wait_for_url(re.compile(r".*/dashboard\?notice=.*"))
    assert page.get_by_role("status").inner_text() == "Consent saved."
    assert page.locator("#current-consent").inner_text() == "royalty"
    assert "royalty rate: policy default" in page.locator("main").inner_text()
    assert page.get_by_label("Change consent").input_value() == "royalty"
    prompt = f"a cat in the style of {name}"
    allowed = httpx.post(live_server.url("/v1/check/prompt"), json={"prompt": prompt}, timeout=60)
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["action"] != "block"
    assert any(a["artist"]["id"] == artist_id for a in allowed.json()["attribution"]), allowed.json()
    page.reload()
    assert _count(page, "count-checks-blocked") == 0  # an attributed check is not a block

    page.get_by_label("Change consent").select_option("opt-out")
    page.get_by_role("button", name="Save consent").click()
    page.wait_for_url(re.compile(r".*/dashboard\?notice=.*"))
    assert page.locator("#current-consent").inner_text() == "opt-out"
    assert "royalty rate" not in page.locator("main").inner_text()

    # 4. The public API on the same server: a prompt naming the artist is steered while the
    #    sign-up is unverified, and blocked, citing them, once an administrator verified it.
    steered = httpx.post(live_server.url("/v1/check/prompt"), json={"prompt": prompt}, timeout=60)
    assert steered.status_code == 200 and steered.json()["action"] == "steer", steered.text
    verified = httpx.patch(live_server.url(f"/v1/admin/artists/{artist_id}"), json={"verified": True},
                           headers={"Authorization": f"Bearer {BROWSER_ADMIN}"}, timeout=60)
    assert verified.status_code == 200 and verified.json()["verified"] is True, verified.text
    checked = httpx.post(live_server.url("/v1/check/prompt"), json={"prompt": prompt}, timeout=60)
    assert checked.status_code == 200, checked.text
    decision = checked.json()
    assert decision["action"] == "block", decision
    assert any(ev["artist"]["id"] == artist_id and ev["artist"]["name"] == name for ev in decision["evidence"]), decision
    clean = httpx.post(live_server.url("/v1/check/prompt"), json={"prompt": "a cat on a windowsill"}, timeout=60)
    assert clean.status_code == 200 and clean.json()["action"] != "block", clean.text

    # 5. The dashboard counts the blocked check after a reload.
    page.reload()
    assert _count(page, "count-checks-blocked") == 1
    assert page.locator("#works tbody tr").count() == 2

    # 6. No page script ran (the context has JavaScript off) and nothing failed on the way.
    assert page_errors == []
    page.close()


# ============================================================================ signing in
def test_portal_sign_in_and_ownership(live_server, no_js):
    ctx, page_errors = no_js
    api = httpx.Client(base_url=live_server.base_url, timeout=60)
    me = api.post("/v1/artists", json={"name": world.ARTISTS[1].name, "consent": "credit", "contact": "t@example.org",
                                       "descriptors": [world.ARTISTS[1].descriptors[0]]})
    other = api.post("/v1/artists", json={"name": world.ARTISTS[2].name, "consent": "opt-out", "contact": "i@example.org"})
    assert me.status_code == 201 and other.status_code == 201, (me.text, other.text)
    my_id, my_token = me.json()["artist"]["id"], me.json()["token"]
    other_id, other_token = other.json()["artist"]["id"], other.json()["token"]
    uploads = {}
    for aid, tok, idx in ((my_id, my_token, 1), (other_id, other_token, 2)):
        r = api.post(f"/v1/artists/{aid}/works", files=[("files", ("w.png", _png_bytes(idx, 7), "image/png"))],
                     headers={"Authorization": f"Bearer {tok}"})
        assert r.status_code == 201, r.text
        uploads[aid] = r.json()["added"][0]["id"]

    page = ctx.new_page()
    # Signed out, the dashboard sends you to the sign-in page.
    page.goto(live_server.url("/dashboard"))
    assert page.url == live_server.url("/login")
    assert _assert_controls_labelled(page) == 1

    # A wrong token: an error, still signed out.
    page.get_by_label("API token").fill("sgt_" + "x" * 43)
    with page.expect_response(lambda r: r.url.endswith("/login") and r.request.method == "POST") as resp:
        page.get_by_role("button", name="Sign in").click()
    assert resp.value.status == 401
    assert page.get_by_role("alert").inner_text() == "That token is not valid."
    assert "sg_session" not in {c["name"] for c in ctx.cookies()}
    assert page.get_by_role("link", name="Sign in").is_visible()  # the signed-out navigation

    # The real token: the dashboard of that artist.
    page.get_by_label("API token").fill(my_token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/dashboard")
    assert page.get_by_role("heading", level=1).inner_text() == world.ARTISTS[1].name
    assert page.locator("#current-consent").inner_text() == "credit"
    assert page.locator("#works tbody tr").count() == 1
    assert _thumbnail_widths(page) == [64]

    # Own work image: served. Another artist's work image (it exists): 404 for this session.
    own = page.goto(live_server.url(f"/dashboard/works/{uploads[my_id]}/image"))
    assert own.status == 200 and own.headers["content-type"] == "image/png"
    foreign = page.goto(live_server.url(f"/dashboard/works/{uploads[other_id]}/image"))
    assert foreign.status == 404
    assert page.request.get(live_server.url(f"/dashboard/works/{uploads[other_id]}/image")).status == 404
    # The other artist's own API token still reaches it: the 404 is about ownership, not a missing work.
    theirs = api.get(f"/v1/artists/{other_id}/works/{uploads[other_id]}/file",
                     headers={"Authorization": f"Bearer {other_token}"})
    assert theirs.status_code == 200 and theirs.content[:8] == b"\x89PNG\r\n\x1a\n"

    # The dashboard's notices come from a fixed set: a crafted link cannot put its own text there.
    page.goto(live_server.url("/dashboard?notice=Your+token+expired.+Send+it+to+evil%40example.org&error=Pay+now"))
    assert page.get_by_role("heading", level=1).inner_text() == world.ARTISTS[1].name
    assert page.get_by_role("status").count() == 0 and page.get_by_role("alert").count() == 0
    assert "evil@example.org" not in page.content() and "Pay now" not in page.content()
    page.goto(live_server.url("/dashboard?notice=added&added=1&duplicates=0"))
    assert page.get_by_role("status").inner_text() == "1 work added."

    # A stale or forged form token is refused: the consent stays as it was.
    forged = page.request.post(live_server.url("/dashboard/consent"), form={"consent": "opt-out", "form_token": "0" * 64})
    assert forged.status == 403 and "The form expired" in forged.text()
    page.reload()
    assert page.locator("#current-consent").inner_text() == "credit"

    # Signing out ends the session.
    page.goto(live_server.url("/dashboard"))
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(live_server.url("/"))
    page.goto(live_server.url("/dashboard"))
    assert page.url == live_server.url("/login")
    assert page_errors == []
    api.close()
    page.close()
