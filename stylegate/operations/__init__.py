"""The operations every front end calls (CLI, HTTP service, demo, benches): gate → audit → sign.

Front ends parse input and format output; the work happens here and returns typed outcomes
whose ``to_dict()`` is the JSON every front end shows. Names load lazily (PEP 562), so
importing this package stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "record_decision": "audit",
    "check_prompt": "checks",
    "check_prompt_lines": "checks",
    "check_image": "checks",
    "PromptOutcome": "checks",
    "LineOutcome": "checks",
    "ImageOutcome": "checks",
    "generate_to_dir": "generate",
    "write_generation": "generate",
    "GenerationOutcome": "generate",
    "init_home": "ingest",
    "add_works": "ingest",
    "remove_artist": "ingest",
    "remove_works": "ingest",
    "rebuild_index": "ingest",
    "check_consistency": "ingest",
    "importing": "ingest",
    "open_workspace": "workspaces",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
