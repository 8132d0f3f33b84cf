"""`stylegate scan`: batch checks on Ray Data (folders, Parquet/WebDataset shards, past
generations, do-not-train filtering). Parsing and printing only; the work is in
:mod:`stylegate.operations.scan`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from stylegate.errors import InputError
from stylegate.output import emit_json, message, table

from ._common import JsonOpt, handled, open_workspace


@handled
def scan(
    sources: Optional[list[str]] = typer.Argument(
        None, help="A folder of images, Parquet or WebDataset .tar shards (files, globs, shard-{000..009}.tar, or a .txt list)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: parts, manifest, results.parquet, summary.json."),
    past_generations: bool = typer.Option(False, "--past-generations",
                                          help="Re-audit the workspace's own generated images; findings go to the audit log."),
    training_set: bool = typer.Option(False, "--training-set",
                                      help="Do-not-train filtering: also write exclude.parquet, the rows to drop and why."),
    drop_style: Optional[bool] = typer.Option(None, "--drop-style/--keep-style",
                                              help="Training sets: drop images in an opted-out artist's style too "
                                                   "(default: the training_drop_style setting)."),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1, help="Parallel workers (default: every local CPU)."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Run on this Ray cluster (e.g. auto, ray://host:10001)."),
    part_size: Optional[int] = typer.Option(None, "--part-size", min=1, help="Images per part (one batch, one checkpoint)."),
    restart: bool = typer.Option(False, "--restart", help="Discard a previous scan in --out instead of resuming it."),
    as_json: bool = JsonOpt,
) -> None:
    """Check a collection of images against the registry; rerun the same command to resume."""
    from stylegate.operations.scan import ScanRequest, run_scan
    from stylegate.operations.scan_engine import EngineOptions

    if past_generations and training_set:
        raise InputError("--past-generations and --training-set are separate scans: choose one")
    mode = "past-generations" if past_generations else "training-set" if training_set else "check"
    if drop_style is not None and mode != "training-set":
        raise InputError("--drop-style/--keep-style apply to --training-set scans only")
    request = ScanRequest(out=out, sources=tuple(sources or ()), mode=mode, part_size=part_size, drop_style=drop_style,
                          restart=restart, engine=EngineOptions(workers=workers, ray_address=ray_address))
    outcome = run_scan(open_workspace(), request)
    if as_json:
        emit_json(outcome.to_dict())
    else:
        show_summary(outcome.to_dict())


def show_summary(s: dict[str, Any]) -> None:
    t = s["timings"]
    message(f"scanned {s['images']} images ({s['source_kind']}) into {s['results']}: "
            f"{s['errors']['count']} unreadable, {t['parts_resumed']} parts resumed, "
            f"{t['images_per_s'] or '-'} images/s on {s['workers']} workers")
    table("Decisions", ["action", "images"], sorted(s["decisions"].items()))
    if s["artists"]:
        table("Artists matched", ["artist", "consent", "images", "by action"],
              [[f"#{a['artist_id']} {a['name']}", a["consent"], a["images"],
                ", ".join(f"{k} {v}" for k, v in sorted(a["by_action"].items()))] for a in s["artists"]])
    if "drops" in s:
        table("To drop", ["reason", "images"], sorted(s["drops"]["by_reason"].items()))
        message(f"do-not-train list: {s['exclude']} ({s['drops']['count']} rows)")
    if "findings" in s:
        f = s["findings"]
        table(f"Findings ({len(f['appended'])} appended to the audit log)", ["finding", "images"], sorted(f["by_kind"].items()))
    snap = s["snapshot"]
    message(f"judged against registry revision {snap['revision']}, index {str(snap['index_snapshot'])[:12]} "
            f"({snap['index_count']} works), policy {snap['policy_version']}, embedder {snap['embedder'].get('model')}")
