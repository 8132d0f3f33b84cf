"""What every front end (CLI, HTTP service, demo, benches) calls: one library under all of them.

Each operation imports what it needs when it runs, so importing this package stays cheap.
"""

from __future__ import annotations

from stylegate.operations.ingest import (
    add_works,
    check_consistency,
    importing,
    init_home,
    rebuild_index,
    remove_artist,
    remove_works,
)

__all__ = [
    "add_works",
    "check_consistency",
    "importing",
    "init_home",
    "rebuild_index",
    "remove_artist",
    "remove_works",
]
