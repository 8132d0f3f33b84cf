"""`stylegate works`: add reference works to an artist."""

from __future__ import annotations

from pathlib import Path

import typer

from stylegate.errors import InputError
from stylegate.output import emit_json, message, progress_bar

from ._common import JsonOpt, handled, open_workspace

app = typer.Typer(help="Add reference works to an artist.", no_args_is_help=True)


@app.command("add")
@handled
def works_add(
    artist: str = typer.Argument(..., help="Artist id or exact name."),
    paths: list[Path] = typer.Argument(..., help="Image files or folders of images."),
    as_json: bool = JsonOpt,
) -> None:
    """Validate, store and index reference works; all or nothing."""
    ws = open_workspace()
    for path in paths:
        if not path.exists():
            raise InputError(f"no such file or folder: {path}")
    with progress_bar("adding works") as progress:
        from stylegate.operations.ingest import add_works

        result = add_works(ws, artist, paths, progress=progress)
    if as_json:
        emit_json({"added": [w.to_dict() for w in result.added], "duplicates": [{"path": p, "work_id": w} for p, w in result.duplicates],
                   "consent_signals": result.consent_signals})
        return
    message(f"added {len(result.added)} works" + (f"; skipped {len(result.duplicates)} duplicates" if result.duplicates else ""))
    for signal in result.consent_signals:
        uses = ", ".join(f"{k}={v['use']}" for k, v in signal["training_mining"]["entries"].items())
        message(f"  {signal['path']}: CAWG training-mining ({signal['status']}): {uses}"
                + (" (conflicts with the registered consent)" if signal["conflict"] else ""))
    for duplicate, work_id in result.duplicates:
        message(f"  duplicate: {duplicate} is already work #{work_id}")
