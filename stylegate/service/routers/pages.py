"""The artist portal: server-rendered pages with plain HTML forms (no JavaScript needed).

Signing up or in opens a server-side session: the cookie holds a random session id (only its
sha256 is stored) that expires after ``STYLEGATE_SESSION_TTL_MINUTES``; signing out deletes
it, and rotating the API token or deleting the registration ends every session. Every form
that changes something carries a form token derived from the session (CSRF protection); the
sign-in and sign-up forms, before there is a session, carry the HMAC of a random pre-session
cookie instead (a signed double-submit cookie). Pages are left out of the OpenAPI schema:
they are for people, the /v1 API is for programs.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from stylegate.errors import InputError, StylegateError

from ..actions import ingest_uploads, mail_confirmation, own_work, sign_up, work_file_response
from ..context import ServiceContext
from ..schemas import SignUp
from ..security import PRESESSION_COOKIE, SESSION_COOKIE, session_artist
from ..views import artist_counts, artist_out

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

CONSENTS = [
    ("opt-out", "Opt out: refuse generations in my name or style"),
    ("royalty", "Royalty: allow them and pay me a share"),
    ("credit", "Credit: allow them and credit me"),
]
_EMPTY_FORM = {"name": "", "aliases": "", "descriptors": "", "consent": "", "contact": ""}
NO_STORE = {"Cache-Control": "no-store"}
PRESESSION = "pre-session"
FORM_EXPIRED = "The form expired; please try again."
MAIL_NOTICES = {
    "sent": "We sent a confirmation link to your contact address.",
    "not-configured": "Confirmation mail is not configured on this server, so your address stays unconfirmed.",
    "failed": "The confirmation mail could not be sent; try again later.",
    "already-confirmed": "Your contact address is already confirmed.",
}


def _templates(request: Request) -> Jinja2Templates:
    return request.app.state.templates


def _ctx(request: Request) -> ServiceContext:
    return request.app.state.ctx


def render(request: Request, name: str, status: int = 200, *, session: tuple[int, str] | None | bool = True,
           **values) -> HTMLResponse:
    """A page; ``session`` is the caller's session if it knows it (None: signed out), else it is
    looked up. A signed-in page's header carries the sign-out form and its form token."""
    ctx = _ctx(request)
    if session is True:
        session = session_artist(request, ctx)
    values["signed_in"] = bool(session)
    values["logout_token"] = ctx.form_token(session[1]) if isinstance(session, tuple) else ""
    values.setdefault("consents", CONSENTS)
    return _templates(request).TemplateResponse(request, name, values, status_code=status)


def _lines(text: str) -> list[str]:
    return [ln.strip() for ln in text.splitlines() if ln.strip()]


def _see(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax",
                        secure=_ctx(request).settings.secure_cookies, path="/")


def _open_session(request: Request, artist_id: int) -> tuple[int, str]:
    """A new session for ``artist_id``. An id the browser brought along is closed, never
    adopted (no session fixation)."""
    ctx = _ctx(request)
    with ctx.lock:
        ctx.accounts.close_session(request.cookies.get(SESSION_COOKIE))
        return artist_id, ctx.accounts.open_session(artist_id, ctx.session_ttl, now=ctx.now())


def _sign_in(response: Response, request: Request, session: tuple[int, str]) -> None:
    """Put the session's id in the cookie (it expires with the session)."""
    ttl = _ctx(request).session_ttl
    _cookie(response, request, SESSION_COOKIE, session[1], int(ttl.total_seconds()))
    response.delete_cookie(PRESESSION_COOKIE, path="/")


def _sign_out(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def _session_or_redirect(request: Request):
    session = session_artist(request, _ctx(request))
    return session if session is not None else _see("/login")


def _signed_form(request: Request, form_token: str) -> tuple[int, str] | Response:
    """The session of a form POST whose form token checks out, or the page to answer instead."""
    session = _session_or_redirect(request)
    if isinstance(session, Response):
        return session
    if not _ctx(request).form_token_ok(session[1], form_token):
        return _dashboard(request, error=FORM_EXPIRED, status=403)
    return session


def _presession_page(request: Request, name: str, status: int = 200, **values) -> HTMLResponse:
    """A sign-in or sign-up page with its pre-session CSRF token (and the cookie it is tied to)."""
    ctx = _ctx(request)
    nonce = request.cookies.get(PRESESSION_COOKIE) or ""
    if not (16 <= len(nonce) <= 100):
        nonce = secrets.token_urlsafe(32)
    response = render(request, name, status, csrf_token=ctx.form_token(nonce, PRESESSION), **values)
    _cookie(response, request, PRESESSION_COOKIE, nonce, None)
    return response


def _presession_ok(request: Request, csrf_token: str) -> bool:
    return _ctx(request).form_token_ok(request.cookies.get(PRESESSION_COOKIE), csrf_token, PRESESSION)


# ------------------------------------------------------------------ public pages
@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    return render(request, "index.html")


@router.get("/signup", response_class=HTMLResponse)
def signup_page(request: Request) -> HTMLResponse:
    return _presession_page(request, "signup.html", form=_EMPTY_FORM)


@router.post("/signup", response_class=HTMLResponse)
def signup_submit(request: Request, name: str = Form(""), aliases: str = Form(""), descriptors: str = Form(""),
                  consent: str = Form(""), contact: str = Form(""), csrf_token: str = Form("")) -> Response:
    form = {"name": name, "aliases": aliases, "descriptors": descriptors, "consent": consent, "contact": contact}
    if not _presession_ok(request, csrf_token):
        return _presession_page(request, "signup.html", 403, form=form, error=FORM_EXPIRED)
    try:
        body = SignUp.model_validate({"name": name, "aliases": _lines(aliases), "descriptors": _lines(descriptors),
                                      "consent": consent, "contact": contact})
    except ValueError as exc:
        fields = ", ".join(sorted({str(e["loc"][0]) for e in getattr(exc, "errors", lambda: [])()})) or "the form"
        return _presession_page(request, "signup.html", 422, form=form, error=f"Please check {fields}.")
    ctx = _ctx(request)
    try:
        artist_id, token = sign_up(ctx, body)
    except InputError as exc:
        return _presession_page(request, "signup.html", 422, form=form, error=ctx.public_message(exc))
    mail = mail_confirmation(ctx, artist_id)
    with ctx.using():
        artist = artist_out(ctx, artist_id)
    session = _open_session(request, artist_id)
    response = render(request, "welcome.html", 201, artist=artist, token=token, session=session,
                      notice=MAIL_NOTICES[mail])
    response.headers.update(NO_STORE)  # the token is shown once: keep the page out of caches
    _sign_in(response, request, session)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return _presession_page(request, "login.html")


@router.post("/login", response_class=HTMLResponse)
def login_submit(request: Request, token: str = Form(""), csrf_token: str = Form("")) -> Response:
    """Sign in with the API token once; from then on the session cookie, not the token, is used."""
    ctx = _ctx(request)
    if not _presession_ok(request, csrf_token):
        return _presession_page(request, "login.html", 403, error=FORM_EXPIRED, session=None)
    with ctx.lock:
        artist_id = ctx.accounts.authenticate(token.strip())
    if artist_id is None:
        return _presession_page(request, "login.html", 401, error="That token is not valid.", session=None)
    response = _see("/dashboard")
    _sign_in(response, request, _open_session(request, artist_id))
    return response


@router.post("/logout")
def logout(request: Request, form_token: str = Form("")) -> Response:
    """Sign out: the session is deleted on the server, not only forgotten by the browser."""
    session = session_artist(request, _ctx(request))
    if session is None:
        response = _see("/")
        _sign_out(response)
        return response
    if not _ctx(request).form_token_ok(session[1], form_token):
        return render(request, "index.html", 403, error=FORM_EXPIRED, session=session)
    with _ctx(request).lock:
        _ctx(request).accounts.close_session(session[1])
    response = _see("/")
    _sign_out(response)
    return response


@router.get("/confirm", response_class=HTMLResponse)
def confirm_contact(request: Request, token: str = Query("", max_length=200)) -> Response:
    """The link in a confirmation mail: confirms the contact address once, if still valid."""
    ctx = _ctx(request)
    with ctx.lock:
        artist_id = ctx.accounts.confirm_contact(token, now=ctx.now())
    headers = {**NO_STORE, "Referrer-Policy": "no-referrer"}  # the token is in this page's address
    if artist_id is None:
        response = render(request, "confirm.html", 400, confirmed=False,
                          error="This confirmation link is not valid: it was used already, has expired, or was "
                                "sent to an address this account no longer has.")
    else:
        log.info("contact address confirmed for artist #%d", artist_id)
        response = render(request, "confirm.html", 200, confirmed=True, notice="Your contact address is confirmed.")
    response.headers.update(headers)
    return response


# ------------------------------------------------------------------ the artist's pages
def _notice(notice: str | None, added: int, duplicates: int, work: int | None) -> str | None:
    """The dashboard's notice after a redirect, built from a fixed set: a link cannot make the
    portal display text of its choosing (content spoofing)."""
    if notice == "consent":
        return "Consent saved."
    if notice == "added":
        dup = f", {duplicates} already registered" if duplicates else ""
        return f"{added} work{'' if added == 1 else 's'} added{dup}."
    if notice == "withdrawn" and work is not None:
        return f"Work #{work} withdrawn."
    if notice is not None and notice.startswith("mail-") and notice[5:] in MAIL_NOTICES:
        return MAIL_NOTICES[notice[5:]]
    return None


def _dashboard(request: Request, *, notice: str | None = None, error: str | None = None, status: int = 200) -> Response:
    session = _session_or_redirect(request)
    if isinstance(session, Response):
        return session
    artist_id, session_id = session
    ctx = _ctx(request)
    from stylegate.governance.cawg import signal_conflicts
    from stylegate.operations.statements import artist_statements

    with ctx.using() as ws:
        artist = artist_out(ctx, artist_id)
        counts = artist_counts(ctx, artist_id)
        signal_conflict = signal_conflicts(list(ws.store.consent_signals(artist_id).values()), artist["consent"])
        statements = artist_statements(ws, artist_id)
    return render(request, "dashboard.html", status, artist=artist, counts=counts, signal_conflict=signal_conflict,
                  statements=statements,
                  form_token=ctx.form_token(session_id), notice=notice, error=error, session=session,
                  mail_configured=ctx.mailer.configured)


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, notice: str | None = None, added: int = Query(0, ge=0), duplicates: int = Query(0, ge=0),
              work: int | None = Query(None, ge=0)) -> Response:
    return _dashboard(request, notice=_notice(notice, added, duplicates, work))


@router.post("/dashboard/consent")
def change_consent(request: Request, consent: str = Form(""), form_token: str = Form("")) -> Response:
    session = _signed_form(request, form_token)
    if isinstance(session, Response):
        return session
    artist_id, _ = session
    if consent not in {c for c, _ in CONSENTS}:
        return _dashboard(request, error="Choose one of the consent options.", status=422)
    with _ctx(request).using() as ws:
        ws.store.update_artist(artist_id, consent=consent)
    return _see("/dashboard?notice=consent")


@router.post("/dashboard/confirm-contact")
def resend_confirmation(request: Request, form_token: str = Form("")) -> Response:
    """Mail a new confirmation link to the contact address (rate-limited like sign-up)."""
    session = _signed_form(request, form_token)
    if isinstance(session, Response):
        return session
    return _see(f"/dashboard?notice=mail-{mail_confirmation(_ctx(request), session[0])}")


@router.post("/dashboard/works/{work_id}/withdraw")
def withdraw(request: Request, work_id: int, form_token: str = Form("")) -> Response:
    session = _signed_form(request, form_token)
    if isinstance(session, Response):
        return session
    artist_id, _ = session
    ctx = _ctx(request)
    try:
        with ctx.using() as ws:
            work = own_work(ctx, artist_id, work_id)
            from stylegate.operations.ingest import remove_works

            remove_works(ws, [work.id])
    except HTTPException as exc:  # not one of yours: say so on the page, not in JSON
        return _dashboard(request, error=str(exc.detail).capitalize() + ".", status=exc.status_code)
    return _see(f"/dashboard?notice=withdrawn&work={work_id}")


@router.get("/dashboard/works/{work_id}/image")
def work_image(request: Request, work_id: int) -> Response:
    session = _session_or_redirect(request)
    if isinstance(session, Response):
        return session
    ctx = _ctx(request)
    with ctx.using():
        work = own_work(ctx, session[0], work_id)
    return work_file_response(ctx, work)


@router.get("/dashboard/statements/{statement_id}.{fmt}")
def statement_file(request: Request, statement_id: str, fmt: str) -> Response:
    """Download one of your own statements as JSON (for the verifier) or as its HTML page."""
    session = _session_or_redirect(request)
    if isinstance(session, Response):
        return session
    from stylegate.operations.statements import artist_statements

    if fmt not in ("json", "html"):
        raise HTTPException(404, "no such statement")
    with _ctx(request).using() as ws:
        found = next((r for r in artist_statements(ws, session[0]) if r["statement_id"] == statement_id), None)
    path = None if found is None else found["json_path" if fmt == "json" else "html_path"]
    if path is None:
        raise HTTPException(404, "no such statement")
    media = "application/json" if fmt == "json" else "text/html; charset=utf-8"
    headers = {**NO_STORE, "Content-Disposition": f'attachment; filename="{statement_id}.{fmt}"'} if fmt == "json" else NO_STORE
    return Response(path.read_bytes(), media_type=media, headers=headers)


@router.get("/statements/verify_statement.py")
def statement_verifier() -> Response:
    """The standalone verifier (standard library and ``cryptography`` only), for anyone."""
    from stylegate.operations.statements import verifier_source

    return Response(verifier_source().read_bytes(), media_type="text/x-python; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="verify_statement.py"'})


@router.get("/statements/audit-key.pem")
def statement_key(request: Request) -> Response:
    """The operator's audit public key, which signs statements and checkpoints."""
    from stylegate.operations.audit import audit_public_key

    with _ctx(request).using() as ws:
        path = audit_public_key(ws)
    if path is None:
        raise HTTPException(404, "this workspace has no audit key yet")
    return Response(Path(path).read_bytes(), media_type="application/x-pem-file",
                    headers={"Content-Disposition": 'attachment; filename="audit-ed25519.pub.pem"'})


@router.post("/dashboard/delete")
def delete_registration(request: Request, confirm: str = Form(""), form_token: str = Form("")) -> Response:
    session = _signed_form(request, form_token)
    if isinstance(session, Response):
        return session
    artist_id, _ = session
    if confirm != "yes":
        return _dashboard(request, error="Tick the box to confirm the deletion.", status=422)
    with _ctx(request).using() as ws:
        from stylegate.operations.ingest import remove_artist

        remove_artist(ws, str(artist_id))  # the account and its sessions go with it
    response = _see("/")
    _sign_out(response)
    return response


@router.get("/upload", response_class=HTMLResponse)
def upload_page(request: Request) -> Response:
    session = _session_or_redirect(request)
    if isinstance(session, Response):
        return session
    ctx = _ctx(request)
    return render(request, "upload.html", form_token=ctx.form_token(session[1]), session=session,
                  max_files=ctx.settings.max_upload_files, max_mb=ctx.settings.max_image_bytes // (1024 * 1024))


@router.post("/upload")
async def upload_submit(request: Request, files: list[UploadFile] = File(default=[]), form_token: str = Form("")) -> Response:
    session = session_artist(request, _ctx(request))
    if session is None:
        return _see("/login")
    artist_id, session_id = session
    ctx = _ctx(request)

    def again(message: str, status: int) -> Response:
        return render(request, "upload.html", status, error=message, form_token=ctx.form_token(session_id),
                      session=session,
                      max_files=ctx.settings.max_upload_files, max_mb=ctx.settings.max_image_bytes // (1024 * 1024))

    if not ctx.form_token_ok(session_id, form_token):
        return again(FORM_EXPIRED, 403)
    try:
        result = await ingest_uploads(ctx, artist_id, [f for f in files if f.filename])
    except HTTPException as exc:  # a file over the size limit
        return again(f"Nothing was added: {exc.detail}", exc.status_code)
    except InputError as exc:
        return again(f"Nothing was added: {ctx.public_message(exc)}", 422)
    except StylegateError as exc:
        return again(f"Nothing was added: {ctx.public_message(exc)}", 503)
    return _see(f"/dashboard?notice=added&added={len(result.added)}&duplicates={len(result.duplicates)}")

