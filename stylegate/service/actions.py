"""What the JSON routers and the portal pages both do: sign up, mail a confirmation link,
take uploaded works, serve a stored work. Routers import these; they never import each other."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import HTTPException, UploadFile
from fastapi.responses import FileResponse

from stylegate.errors import InputError, InvalidWork
from stylegate.operations.ingest import add_works

from .context import ServiceContext, safe_filenames
from .mail import MailFailed, MailNotConfigured
from .schemas import SignUp

if TYPE_CHECKING:  # pragma: no cover
    from stylegate.registry.models import ImportResult, Work

log = logging.getLogger(__name__)


def sign_up(ctx: ServiceContext, body: SignUp) -> tuple[int, str]:
    """Register the artist and open their account in one transaction; returns (id, token)."""
    with ctx.using() as ws:
        with ws.store.transaction() as tx:
            artist = ws.store.add_artist(body.name, consent=body.consent, aliases=tuple(body.aliases),
                                         descriptors=tuple(body.descriptors), tx=tx)
            token = ctx.accounts.create(artist.id, body.contact, tx)
    return artist.id, token


def mail_confirmation(ctx: ServiceContext, artist_id: int) -> str:
    """Mail a fresh confirmation link to the artist's contact address (earlier links stop
    working). Returns what happened: sent, not-configured, failed or already-confirmed."""
    if not ctx.mailer.configured:
        return "not-configured"
    with ctx.using() as ws:
        account = ctx.accounts.get(artist_id)
        if account.contact_confirmed:
            return "already-confirmed"
        name = ws.store.get_artist(artist_id).name
        token, contact = ctx.accounts.start_confirmation(artist_id, ctx.confirm_ttl, now=ctx.now())
    try:  # outside the lock: a slow mail server must not stall every other request
        ctx.mailer.send(ctx.mailer.confirmation_message(contact, token, name))
    except (MailNotConfigured, MailFailed):
        return "failed"
    log.info("confirmation mail sent for artist #%d", artist_id)
    return "sent"


MEDIA_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


async def save_uploads(ctx: ServiceContext, files: list[UploadFile], folder: Path) -> list[Path]:
    """Write uploaded files into ``folder`` (each capped at the image size limit)."""
    if not files:
        raise InputError("no files uploaded")
    if len(files) > ctx.settings.max_upload_files:
        raise InputError(f"at most {ctx.settings.max_upload_files} files per upload")
    limit = ctx.settings.max_image_bytes
    paths = []
    for name, upload in zip(safe_filenames([f.filename for f in files]), files):
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise HTTPException(413, f"{name}: larger than {limit} bytes")
        path = folder / name
        path.write_bytes(data)
        paths.append(path)
    return paths


async def ingest_uploads(ctx: ServiceContext, artist_id: int, files: list[UploadFile]) -> ImportResult:
    """Save uploads in a private folder and add them as the artist's works, all or nothing.

    A file that fails validation is named by its upload name, never the server's temp path.
    """
    from starlette.concurrency import run_in_threadpool

    with ctx.upload_dir() as folder:
        paths = await save_uploads(ctx, files, folder)

        def ingest() -> ImportResult:
            with ctx.using() as ws:
                try:
                    return add_works(ws, str(artist_id), paths)
                except InvalidWork as exc:
                    raise InvalidWork(Path(exc.path).name, exc.reason) from None

        return await run_in_threadpool(ingest)


def work_file_response(ctx: ServiceContext, work: Work) -> FileResponse:
    """The stored image of ``work`` with its media type."""
    from stylegate.registry.works import resolve_work_path

    return FileResponse(resolve_work_path(ctx.settings.works_dir, work.path),
                        media_type=MEDIA_TYPES.get(work.format, "application/octet-stream"))


def own_work(ctx: ServiceContext, artist_id: int, work_id: int):
    """The work if it belongs to ``artist_id``; 404 otherwise (no hint whose it is)."""
    works = {w.id: w for w in ctx.workspace.store.list_works(artist_id)}
    if work_id not in works:
        raise HTTPException(404, f"you have no work #{work_id}")
    return works[work_id]
