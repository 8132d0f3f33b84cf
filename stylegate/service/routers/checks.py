"""/v1/check and /v1/lookup: the public API for other generators (rate and size limited)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Request, UploadFile

from stylegate.errors import InputError
from stylegate.governance.cawg import LABEL as CAWG_LABEL
from stylegate.governance.cawg import consent_entries
from stylegate.governance.screening.rules import NameRules

from ..context import ServiceContext
from ..responses import CHECK_ERRORS
from ..schemas import DecisionOut, NameLookup, NameLookupOut, PromptCheck
from ..security import get_ctx

router = APIRouter(tags=["checks"])


def _source(request: Request) -> dict:
    return {"api": request.url.path, "client": request.client.host if request.client else None}


def check_prompt_text(ctx: ServiceContext, prompt: str, source: dict) -> dict:
    """Check a prompt through the gate and audit it; the decision as the CLI prints it."""
    from stylegate.operations.checks import check_prompt as run_check

    with ctx.using() as ws:
        return run_check(ws, prompt, source=source).to_dict()


@router.post("/v1/check/prompt", response_model=DecisionOut, responses=CHECK_ERRORS)
def check_prompt(body: PromptCheck, request: Request, ctx: ServiceContext = Depends(get_ctx)) -> dict:
    """Screen a prompt for registered names and described styles. A blocked prompt is a
    normal answer (200) whose ``action`` is ``block``."""
    return check_prompt_text(ctx, body.prompt, _source(request))


@router.post("/v1/check/image", response_model=DecisionOut, responses=CHECK_ERRORS)
async def check_image(request: Request, file: UploadFile = File(..., description="PNG, JPEG or WEBP image"),
                      ctx: ServiceContext = Depends(get_ctx)) -> dict:
    """Match one image against registered styles and works (validated like uploads; the body
    may hold one image of at most STYLEGATE_MAX_IMAGE_BYTES). The answer is what
    ``stylegate check image --json`` prints, the upload's file name standing in for the path."""
    from starlette.concurrency import run_in_threadpool

    from stylegate.operations.checks import check_image as run_check

    if len((await request.form()).getlist("file")) != 1:  # the parsed form, cached: not read twice
        raise InputError("send exactly one image, in the 'file' field")
    limit = ctx.settings.max_image_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        from fastapi import HTTPException

        raise HTTPException(413, f"image larger than {limit} bytes")
    name = (file.filename or "upload")[:200]

    def run() -> dict:
        with ctx.using() as ws:
            return run_check(ws, data, name, source=_source(request), max_bytes=limit).to_dict()

    return await run_in_threadpool(run)


# A looked-up name is a name by definition: no rule waits for a style cue.
LOOKUP_RULES = NameRules(context_required=frozenset())


@router.post("/v1/lookup/names", response_model=NameLookupOut, responses=CHECK_ERRORS)
def lookup_names(body: NameLookup, ctx: ServiceContext = Depends(get_ctx)) -> dict:
    """Look up many names at once: which registered artists each one names (after the same
    canonicalisation and fuzzy matching as prompt screening), with their consent."""
    results = []
    with ctx.using() as ws:
        view = ws.gate().view
        for name in body.names:
            if not name.strip() or len(name) > 2000:
                raise InputError("each name must be 1 to 2,000 characters")
            matches = []
            for hit in view.names.find(name, rules=LOOKUP_RULES):
                artist = view.artists.get(hit.artist_id)
                if artist is None:
                    continue
                cawg = {"label": CAWG_LABEL, "entries": consent_entries(artist.consent.value, artist.royalty_rate)}
                matches.append({"artist": artist.ref(), "consent": artist.consent.value, "matched": hit.matched,
                                "how": hit.how, "score": float(hit.score), "cawg": cawg})
            results.append({"name": name, "registered": bool(matches), "matches": matches})
    return {"results": results}
