"""The error responses routes declare in OpenAPI, shared so that routers never import each other."""

from __future__ import annotations

from typing import Any

from .schemas import ErrorOut, InvalidOut

Responses = dict[int | str, dict[str, Any]]

AUTH_ERRORS: Responses = {401: {"model": ErrorOut, "description": "missing or invalid token"},
                          403: {"model": ErrorOut, "description": "another artist's data"},
                          404: {"model": ErrorOut, "description": "no such artist"}}
LIMIT_ERRORS: Responses = {
    400: {"model": ErrorOut, "description": "malformed request (unreadable body, invalid Content-Length)"},
    413: {"model": ErrorOut, "description": "body too large"},
    429: {"model": ErrorOut, "description": "rate limited"},
    503: {"model": ErrorOut, "description": "the registry, style index or model needs the operator "
                                            "(e.g. `stylegate index rebuild`)"}}
INVALID: Responses = {422: {"model": InvalidOut, "description": "invalid field or value"}}
CHECK_ERRORS: Responses = {**LIMIT_ERRORS, 422: {"model": InvalidOut, "description": "unusable prompt, image or names"}}
