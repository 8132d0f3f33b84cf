"""/v1/check and /v1/lookup: the public API for other generators (rate and size limited)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, File, Request, UploadFile
from starlette.responses import StreamingResponse

from stylegate.errors import InputError
from stylegate.governance.cawg import LABEL as CAWG_LABEL
from stylegate.governance.cawg import consent_entries
from stylegate.governance.screening.rules import NameRules

from ..bulk import PROMPT_CHUNK, chunks, each_or_error, ndjson, spend_items
from ..context import ServiceContext
from ..limits import NDJSON, wants_ndjson
from ..responses import CHECK_ERRORS
from ..schemas import JSON_MAX_NAMES, DecisionOut, NameLookup, NameLookupOut, NameLookupResult, PromptBatch, PromptCheck
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


def _lookup_one(view: Any, name: str) -> dict:
    """Which registered artists ``name`` names, with their consent (the per-name result)."""
    matches = []
    for hit in view.names.find(name, rules=LOOKUP_RULES):
        artist = view.artists.get(hit.artist_id)
        if artist is None:
            continue
        cawg = {"label": CAWG_LABEL, "entries": consent_entries(artist.consent.value, artist.royalty_rate)}
        matches.append({"artist": artist.ref(), "consent": artist.consent.value, "matched": hit.matched,
                        "how": hit.how, "score": float(hit.score), "cawg": cawg})
    return {"name": name, "registered": bool(matches), "matches": matches}


_NDJSON_DOC = "JSON lines (`application/x-ndjson`): one object per item, in input order"


@router.post("/v1/lookup/names", response_model=NameLookupOut,
             responses={**CHECK_ERRORS, 200: {"content": {NDJSON: {"schema": {"type": "string"}}},
                                               "description": "one JSON object, or " + _NDJSON_DOC}})
def lookup_names(body: NameLookup, request: Request, ctx: ServiceContext = Depends(get_ctx)) -> Any:
    """Look up many names at once: which registered artists each one names (after the same
    canonicalisation and fuzzy matching as prompt screening), with their consent.

    Answered as one JSON object (`{"results": [...]}`, at most 100 names), or, with
    `Accept: application/x-ndjson`, as one result per line (up to 10,000 names, in a body of up
    to 64 x the JSON cap). Each name costs one rate-limit token."""
    stream = wants_ndjson(request.headers.get("accept"))
    if not stream and len(body.names) > JSON_MAX_NAMES:
        raise InputError(f"a JSON answer holds at most {JSON_MAX_NAMES} names: send 'Accept: {NDJSON}' "
                         "for up to 10,000, one result per line")
    spend_items(ctx, request, len(body.names))
    if stream:
        def lines() -> Iterator[list[dict]]:
            for _, part in chunks(body.names):
                with ctx.using() as ws:
                    view = ws.gate().view
                    found = [_lookup_one(view, name) for name in part]
                # through the JSON answer's model, so that a line is field for field one of its results
                yield [NameLookupResult.model_validate(r).model_dump(mode="json") for r in found]

        return ndjson(lines())
    with ctx.using() as ws:
        view = ws.gate().view
        return {"results": [_lookup_one(view, name) for name in body.names]}


@router.post("/v1/check/prompts", response_class=StreamingResponse,
             responses={**CHECK_ERRORS, 200: {"content": {NDJSON: {"schema": {"type": "string"}}},
                                               "description": _NDJSON_DOC + ": each what POST /v1/check/prompt "
                                               "answers, or {index, error} for an unusable prompt"}})
def check_prompts(body: PromptBatch, request: Request, ctx: ServiceContext = Depends(get_ctx)) -> StreamingResponse:
    """Check up to 10,000 prompts, each screened and audited exactly as `POST /v1/check/prompt`
    (its audit entry's source names the item's index). The answer is JSON lines, in input
    order; an unusable prompt is a line `{"index": i, "error": ...}` and the stream goes on.
    Each prompt costs one rate-limit token."""
    spend_items(ctx, request, len(body.prompts))
    source = _source(request)

    def lines() -> Iterator[list[dict]]:
        for offset, part in chunks(body.prompts, PROMPT_CHUNK):
            done = []
            for i, prompt in enumerate(part, start=offset):
                run = partial(check_prompt_text, ctx, prompt, {**source, "index": i})
                line, go_on = each_or_error(i, run, ctx.public_message)
                done.append(line)
                if not go_on:
                    yield done
                    return
            yield done

    return ndjson(lines())
