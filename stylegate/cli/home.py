"""`stylegate init` and `stylegate doctor`: create a home, check that it agrees with itself."""

from __future__ import annotations

import typer

from stylegate.errors import EXIT_ERROR, EXIT_OK
from stylegate.output import emit_json, message, table

from ._common import JsonOpt, handled, open_workspace


@handled
def init(as_json: bool = JsonOpt) -> None:
    """Create the data directory, registry database, policy file and empty style index."""
    from stylegate.operations.ingest import init_home

    info = init_home(open_workspace(create=True))
    if as_json:
        emit_json(info)
        return
    message(f"initialised stylegate home at {info['home']}")
    table(None, ["item", "value"], [["database", info["database"]], ["index", info["index"]], ["policy", info["policy"]], ["audit log", info["audit_log"]], ["signing key", f"{info['signing_key']} (id {info['key_id']})"], ["embedder", f"{info['embedder']['model']} (dim {info['embedder']['dim']})"]])


@handled
def doctor(
    repair: bool = typer.Option(False, "--repair", help="Remove work files that no registry row owns."),
    as_json: bool = JsonOpt,
) -> None:
    """Check that the registry, the style index and the stored work files agree."""
    ws = open_workspace()
    from stylegate.operations.ingest import check_consistency

    result = check_consistency(ws, repair=repair)
    sweep = ws.sweep_report.to_dict() if ws.sweep_report is not None else {}
    if as_json:
        emit_json({**result.to_dict(), "sweep": sweep})
    else:
        table("home consistency", ["check", "value"], [
            ["works registered", result.works], ["vectors in the index", result.indexed],
            ["work files", result.files], ["files no row owns", len(result.orphan_files)],
            ["removed (--repair)", result.removed_orphans], ["rows whose file is missing", len(result.missing_files)],
            ["works missing from the index", len(result.unindexed)],
            ["vectors of unregistered works", len(result.unregistered_vectors)],
        ])
        if result.orphan_files and not repair:
            message(f"{len(result.orphan_files)} work files no row owns; run `stylegate doctor --repair` to remove them")
    raise typer.Exit(EXIT_OK if result.ok else EXIT_ERROR)
