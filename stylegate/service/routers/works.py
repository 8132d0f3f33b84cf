"""/v1/artists/{id}/works: upload (multipart), list, read and withdraw your reference works."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, File, UploadFile
from fastapi.responses import FileResponse

from stylegate.operations.ingest import remove_works

from ..actions import MEDIA_TYPES, ingest_uploads, own_work, work_file_response
from ..context import ServiceContext
from ..responses import AUTH_ERRORS, INVALID, LIMIT_ERRORS
from ..schemas import InvalidOut, UploadOut, WorkId, WorkOut, WorkWithdrawn
from ..security import get_ctx, owner
from ..views import work_out

if TYPE_CHECKING:  # pragma: no cover
    from stylegate.registry.models import ImportResult

router = APIRouter(prefix="/v1/artists/{artist_id:int}/works", tags=["works"])



@router.get("", response_model=list[WorkOut], responses={**AUTH_ERRORS, **INVALID, **LIMIT_ERRORS})
def list_works(artist_id: int = Depends(owner), ctx: ServiceContext = Depends(get_ctx)) -> list[dict]:
    with ctx.using() as ws:
        return [work_out(w) for w in ws.store.list_works(artist_id)]


@router.post("", status_code=201, response_model=UploadOut,
             responses={**AUTH_ERRORS, **LIMIT_ERRORS,
                        422: {"model": InvalidOut, "description": "a file failed validation, or too many files"}})
async def upload_works(files: list[UploadFile] = File(..., description="PNG, JPEG or WEBP images"),
                       artist_id: int = Depends(owner), ctx: ServiceContext = Depends(get_ctx)) -> dict:
    """Upload reference works: validated like `stylegate works add` (format allow-list, pixel
    and size limits, truncated files), all or nothing, indexed at once."""
    result = await ingest_uploads(ctx, artist_id, files)
    with ctx.using():
        duplicates = duplicates_out(ctx, artist_id, result)
    return {"added": [work_out(w) for w in result.added], "duplicates": duplicates}


def duplicates_out(ctx: ServiceContext, artist_id: int, result: ImportResult) -> list[dict]:
    """The files an upload skipped as already registered. The existing work's id is named
    only when it is the caller's own: another artist's work ids are not disclosed."""
    own = {w.id for w in ctx.workspace.store.list_works(artist_id)}
    return [{"file": Path(p).name, "detail": "already one of your works", "work_id": w} if w in own
            else {"file": Path(p).name, "detail": "already registered", "work_id": None}
            for p, w in result.duplicates]


@router.get("/{work_id:int}", response_model=WorkOut, responses={**AUTH_ERRORS, **INVALID, **LIMIT_ERRORS})
def read_work(work_id: WorkId, artist_id: int = Depends(owner), ctx: ServiceContext = Depends(get_ctx)) -> dict:
    with ctx.using():
        return work_out(own_work(ctx, artist_id, work_id))


@router.get("/{work_id:int}/file", response_class=FileResponse,
            responses={**AUTH_ERRORS, **INVALID, **LIMIT_ERRORS, 200: {"content": {m: {} for m in MEDIA_TYPES.values()}}})
def read_work_file(work_id: WorkId, artist_id: int = Depends(owner), ctx: ServiceContext = Depends(get_ctx)):
    """The stored image of one of your works."""
    with ctx.using():
        work = own_work(ctx, artist_id, work_id)
    return work_file_response(ctx, work)


@router.delete("/{work_id:int}", response_model=WorkWithdrawn, responses={**AUTH_ERRORS, **INVALID, **LIMIT_ERRORS})
def withdraw_work(work_id: WorkId, artist_id: int = Depends(owner), ctx: ServiceContext = Depends(get_ctx)) -> dict:
    """Withdraw a work: its row, its vector in the style index and its stored file."""
    with ctx.using() as ws:
        work = own_work(ctx, artist_id, work_id)
        remove_works(ws, [work.id])
    return {"withdrawn": work_out(work)}
