"""Bulk requests: items charged to the rate limit one token each, answers as JSON lines.

A bulk request (``POST /v1/check/prompts``, or ``POST /v1/lookup/names`` with
``Accept: application/x-ndjson``) holds up to :data:`~stylegate.service.schemas.BULK_MAX_ITEMS` items and is answered with one
JSON object per line, in input order, computed and sent a chunk at a time (the workspace lock is
held per chunk, never across a send, so single checks interleave with a long bulk answer).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import StreamingResponse

from .context import ServiceContext
from .limits import NDJSON

log = logging.getLogger(__name__)

CHUNK = 100  # names computed per lock hold and per write to the socket
PROMPT_CHUNK = 16  # prompts per write (about 10 ms each: the first line comes soon)

T = TypeVar("T")


def spend_items(ctx: ServiceContext, request: Request, items: int) -> None:
    """Charge a request of ``items`` items one token each (429 with ``Retry-After`` while the
    bucket is short of them; 413 when it can never hold that many)."""
    wait = ctx.limits.charge_items(dict(request.scope), items)  # the client key reads headers and client only
    if wait == 0.0:
        return
    if math.isinf(wait):
        most = ctx.limits.max_items
        raise HTTPException(413, f"{items} items cost {items} rate-limit tokens, and a client's bucket holds at most "
                                 f"{most} (STYLEGATE_RATE_LIMIT_BURST): send at most {most} items per request")
    seconds = str(math.ceil(wait))
    raise HTTPException(429, f"rate limit exceeded: {items} items cost {items} tokens; try again in {seconds} s",
                        headers={"Retry-After": seconds})


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[tuple[int, Sequence[T]]]:
    """(offset, slice) of ``items`` in order."""
    for start in range(0, len(items), size):
        yield start, items[start:start + size]


def ndjson(lines: Iterable[Sequence[dict[str, Any]]]) -> StreamingResponse:
    """A streamed JSON-lines answer: each chunk of objects written as one block of lines."""

    def encoded() -> Iterator[bytes]:
        for chunk in lines:
            yield "".join(json.dumps(obj, ensure_ascii=False) + "\n" for obj in chunk).encode()

    return StreamingResponse(encoded(), media_type=NDJSON)


def each_or_error(index: int, run: Callable[[], dict[str, Any]], public: Callable[[Exception], str]) -> tuple[dict[str, Any], bool]:
    """(the line for item ``index``, whether the stream may go on): the item's answer, or
    ``{"index": i, "error": ...}`` for an unusable item (the stream goes on) or a failure of the
    service (the stream ends there: the status line went out long ago)."""
    from stylegate.errors import InputError, StylegateError

    try:
        return run(), True
    except InputError as exc:
        return {"index": index, "error": public(exc)}, True
    except StylegateError as exc:
        log.error("bulk request stopped at item %d: %s", index, exc)
        return {"index": index, "error": public(exc), "stopped": True}, False
    except Exception:
        log.exception("bulk request failed at item %d", index)
        return {"index": index, "error": "internal error: the rest of the request was not processed",
                "stopped": True}, False
