"""`stylegate index`: maintain the FAISS style index."""

from __future__ import annotations

import typer

from stylegate.output import emit_json, message, progress_bar

from ._common import JsonOpt, handled, open_workspace

app = typer.Typer(help="Maintain the FAISS style index.", no_args_is_help=True)


@app.command("rebuild")
@handled
def index_rebuild(
    drop_unregistered: bool = typer.Option(
        False, "--drop-unregistered",
        help="Also drop vectors of works the database does not know (refused by default: the database may have lost rows)."),
    as_json: bool = JsonOpt,
) -> None:
    """Recreate the style index from the registry database (the source of truth)."""
    ws = open_workspace()
    with progress_bar("embedding works") as progress:
        from stylegate.operations.ingest import rebuild_index

        index = rebuild_index(ws, progress=progress, drop_unregistered=drop_unregistered)
    info = {"path": str(ws.settings.index_path), "count": len(index), "factory": ws.settings.index_factory, "embedder": ws.embedder.identity.to_dict()}
    if as_json:
        emit_json(info)
    else:
        message(f"rebuilt style index: {info['count']} works, {info['factory']} → {info['path']}")
