"""The artist portal: server-rendered pages with plain HTML forms (no JavaScript needed).

Signing up or in puts the API token in an HttpOnly, SameSite=Lax cookie; every form that
changes something carries a form token derived from the session (CSRF protection). Pages
are left out of the OpenAPI schema: they are for people, the /v1 API is for programs.
"""

from __future__ import annotations

from typing import List

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from stylegate.errors import InputError, StylegateError

from ..context import ServiceContext
from ..schemas import SignUp
from ..security import SESSION_COOKIE, session_artist
from ..views import artist_counts, artist_out
from .artists import sign_up
from .works import ingest_uploads, own_work, work_file_response

router = APIRouter(include_in_schema=False)

CONSENTS = [
    ("opt-out", "Opt out: refuse generations in my name or style"),
    ("royalty", "Royalty: allow them and pay me a share"),
    ("credit", "Credit: allow them and credit me"),
]
_EMPTY_FORM = {"name": "", "aliases": "", "descriptors": "", "consent": "", "contact": ""}
NO_STORE = {"Cache-Control": "no-store"}


def _templates(request: Request) -> Jinja2Templates:
    return request.app.state.templates


def _ctx(request: Request) -> ServiceContext:
    return request.app.state.ctx


def render(request: Request, name: str, status: int = 200, **values) -> HTMLResponse:
    if "signed_in" not in values:  # callers that know say so: no second session lookup
        values["signed_in"] = session_artist(request, _ctx(request)) is not None
    values.setdefault("consents", CONSENTS)
    return _templates(request).TemplateResponse(request, name, values, status_code=status)


def _lines(text: str) -> list[str]:
    return [ln.strip() for ln in text.splitlines() if ln.strip()]


def _see(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _sign_in(response: Response, request: Request, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax",
                        secure=_ctx(request).settings.secure_cookies, path="/")


def _session_or_redirect(request: Request):
    session = session_artist(request, _ctx(request))
    return session if session is not None else _see("/login")


def _signed_form(request: Request, form_token: str) -> tuple[int, str] | Response:
    """The session of a form POST whose form token checks out, or the page to answer instead."""
    session = _session_or_redirect(request)
    if isinstance(session, Response):
        return session
    if not _ctx(request).form_token_ok(session[1], form_token):
        return _dashboard(request, error="The form expired; please try again.", status=403)
    return session


# ------------------------------------------------------------------ public pages
@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    return render(request, "index.html")


@router.get("/signup", response_class=HTMLResponse)
def signup_page(request: Request) -> HTMLResponse:
    return render(request, "signup.html", form=_EMPTY_FORM)


@router.post("/signup", response_class=HTMLResponse)
def signup_submit(request: Request, name: str = Form(""), aliases: str = Form(""), descriptors: str = Form(""),
                  consent: str = Form(""), contact: str = Form("")) -> Response:
    form = {"name": name, "aliases": aliases, "descriptors": descriptors, "consent": consent, "contact": contact}
    try:
        body = SignUp(name=name, aliases=_lines(aliases), descriptors=_lines(descriptors), consent=consent,
                      contact=contact)
    except ValueError as exc:
        fields = ", ".join(sorted({str(e["loc"][0]) for e in getattr(exc, "errors", lambda: [])()})) or "the form"
        return render(request, "signup.html", 422, form=form, error=f"Please check {fields}.")
    ctx = _ctx(request)
    try:
        artist_id, token = sign_up(ctx, body)
    except InputError as exc:
        return render(request, "signup.html", 422, form=form, error=str(exc))
    with ctx.using():
        artist = artist_out(ctx, artist_id)
    response = render(request, "welcome.html", 201, artist=artist, token=token, signed_in=True)
    response.headers.update(NO_STORE)  # the token is shown once: keep the page out of caches
    _sign_in(response, request, token)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return render(request, "login.html")


@router.post("/login", response_class=HTMLResponse)
def login_submit(request: Request, token: str = Form("")) -> Response:
    ctx = _ctx(request)
    with ctx.lock:
        artist_id = ctx.accounts.authenticate(token.strip())
    if artist_id is None:
        return render(request, "login.html", 401, error="That token is not valid.", signed_in=False)
    response = _see("/dashboard")
    _sign_in(response, request, token.strip())
    return response


@router.post("/logout")
def logout() -> Response:
    response = _see("/")
    response.delete_cookie(SESSION_COOKIE, path="/")
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
    return None


def _dashboard(request: Request, *, notice: str | None = None, error: str | None = None, status: int = 200) -> Response:
    session = _session_or_redirect(request)
    if isinstance(session, Response):
        return session
    artist_id, token = session
    ctx = _ctx(request)
    with ctx.using():
        artist = artist_out(ctx, artist_id)
        counts = artist_counts(ctx, artist_id)
    return render(request, "dashboard.html", status, artist=artist, counts=counts, form_token=ctx.form_token(token),
                  notice=notice, error=error, signed_in=True)


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
            ws.remove_works([work.id])
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


@router.post("/dashboard/delete")
def delete_registration(request: Request, confirm: str = Form(""), form_token: str = Form("")) -> Response:
    session = _signed_form(request, form_token)
    if isinstance(session, Response):
        return session
    artist_id, _ = session
    if confirm != "yes":
        return _dashboard(request, error="Tick the box to confirm the deletion.", status=422)
    with _ctx(request).using() as ws:
        ws.remove_artist(str(artist_id))
    response = _see("/")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/upload", response_class=HTMLResponse)
def upload_page(request: Request) -> Response:
    session = _session_or_redirect(request)
    if isinstance(session, Response):
        return session
    ctx = _ctx(request)
    return render(request, "upload.html", form_token=ctx.form_token(session[1]), signed_in=True,
                  max_files=ctx.settings.max_upload_files, max_mb=ctx.settings.max_image_bytes // (1024 * 1024))


@router.post("/upload")
async def upload_submit(request: Request, files: List[UploadFile] = File(default=[]), form_token: str = Form("")) -> Response:
    session = session_artist(request, _ctx(request))
    if session is None:
        return _see("/login")
    artist_id, token = session
    ctx = _ctx(request)

    def again(message: str, status: int) -> Response:
        return render(request, "upload.html", status, error=message, form_token=ctx.form_token(token), signed_in=True,
                      max_files=ctx.settings.max_upload_files, max_mb=ctx.settings.max_image_bytes // (1024 * 1024))

    if not ctx.form_token_ok(token, form_token):
        return again("The form expired; please try again.", 403)
    try:
        result = await ingest_uploads(ctx, artist_id, [f for f in files if f.filename])
    except HTTPException as exc:  # a file over the size limit
        return again(f"Nothing was added: {exc.detail}", exc.status_code)
    except InputError as exc:
        return again(f"Nothing was added: {ctx.public_message(exc)}", 422)
    except StylegateError as exc:
        return again(f"Nothing was added: {ctx.public_message(exc)}", 503)
    return _see(f"/dashboard?notice=added&added={len(result.added)}&duplicates={len(result.duplicates)}")

