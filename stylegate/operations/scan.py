"""`stylegate scan`: check a collection of images in batch on Ray Data, with checkpoints.

Three jobs share one pipeline (plan → judge parts on Ray → checkpoint parts → consolidate):

- ``check``: a folder, Parquet or WebDataset shards; every image's decision.
- ``training-set``: the same, plus the rows a do-not-train filter must drop
  (``exclude.parquet``: id, url, reason), the list dataset tools filter by.
- ``past-generations``: the workspace's own generated images, re-checked against today's
  registry; what changed is appended to the audit log as ``scan.finding`` entries.

The output folder holds ``parts/part-NNNNNN.parquet`` (one per part, written atomically),
``manifest.json`` (the scan's identity and the parts done), then ``results.parquet``,
``summary.json`` and, for a training set, ``exclude.parquet``. Running the same scan on the
same folder again resumes: finished parts are kept, the rest are judged. A scan whose source,
options or registry snapshot differ is refused unless ``restart`` is set.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stylegate.errors import InputError, ScanResumeMismatch

from .scan_engine import EngineOptions, ensure_ray, result_schema, run_parts, stop_ray
from .scan_judge import MODES, workspace_snapshot
from .scan_sources import ScanPlan, past_generation_parts, plan_sources

if TYPE_CHECKING:  # pragma: no cover
    from stylegate.workspace import Workspace

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
OURS = ("parts", MANIFEST, "results.parquet", "exclude.parquet", "summary.json")
FINDINGS_APPENDED = ("now-blocked", "new-attribution")


@dataclass(frozen=True)
class ScanRequest:
    """What to scan and how. ``sources`` are SOURCE arguments (empty for past generations)."""

    out: Path
    sources: tuple[str, ...] = ()
    mode: str = "check"
    part_size: int | None = None
    drop_style: bool | None = None
    restart: bool = False
    engine: EngineOptions = field(default_factory=EngineOptions)
    progress: bool | None = None  # None: a bar when stderr is a terminal


@dataclass
class ScanOutcome:
    summary: dict[str, Any]

    @property
    def exit_code(self) -> int:
        return 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.summary)


PartHook = Callable[[int, int], None]  # (part just checkpointed, parts done so far)


def plan_scan(ws: Workspace, request: ScanRequest, part_size: int, until_seq: int | None) -> tuple[ScanPlan, int | None]:
    """The scan's parts; for past generations, the generations up to ``until_seq`` (default now)."""
    if request.mode == "past-generations":
        if request.sources:
            raise InputError("--past-generations reads the workspace's own generations: give no SOURCE")
        head = len(ws.audit) if until_seq is None else until_seq
        entries = ws.audit.entries(1, head, kinds=["generate", "generate.correction"])
        parts = past_generation_parts(entries, part_size)
        return ScanPlan("past-generations", f"{ws.settings.home} audit log entries 1..{head}", parts), head
    return plan_sources(request.sources, part_size), None


def run_scan(ws: Workspace, request: ScanRequest, on_part: PartHook | None = None) -> ScanOutcome:
    """Plan, judge every part not yet done on Ray, consolidate, and summarise (see the module doc)."""
    if request.mode not in MODES:
        raise InputError(f"scan mode must be one of {', '.join(MODES)}")
    started = time.perf_counter()
    part_size = request.part_size or ws.settings.scan_part_size
    if part_size < 1:
        raise InputError("--part-size must be at least 1")
    drop_style = ws.settings.training_drop_style if request.drop_style is None else request.drop_style
    snapshot = workspace_snapshot(ws).to_dict()  # a missing home or index fails here, before anything is written
    _check_out(request.out)
    previous = _read_manifest(request.out)
    until = previous.get("config", {}).get("until_seq") if previous and not request.restart else None
    plan, until = plan_scan(ws, request, part_size, until)
    out = request.out
    if plan.total == 0:
        raise InputError("nothing to scan: the workspace has no written generations" if request.mode == "past-generations"
                         else "nothing to scan")
    config = {"mode": request.mode, "kind": plan.kind, "source": plan.description, "fingerprint": plan.fingerprint(),
              "parts": len(plan.parts), "images": plan.total, "part_size": part_size, "snapshot": snapshot,
              "drop_style": drop_style if request.mode == "training-set" else None, "until_seq": until}
    scan_id = hashlib.sha256(json.dumps(config, sort_keys=True).encode("utf-8")).hexdigest()[:16]
    manifest = _resume_or_start(out, previous, config, scan_id, request.restart)
    planned_s = time.perf_counter() - started
    pending = [(k, refs) for k, refs in enumerate(plan.parts) if str(k) not in manifest["done"]]
    resumed = len(plan.parts) - len(pending)
    judged, scan_s, ray_s, first = _judge(ws, out, manifest, plan, pending, snapshot, request, drop_style, on_part)
    write_start = time.perf_counter()
    table = _consolidate(out, len(plan.parts))
    summary = _summarise(ws, table, config, scan_id, out)
    if request.mode == "training-set":
        summary["exclude"] = str(write_exclusions(ws, table, out / "exclude.parquet"))
    if request.mode == "past-generations":
        summary["findings"]["appended"] = append_findings(ws, table, scan_id, snapshot)
    summary["timings"] = {
        "plan_s": round(planned_s, 3), "ray_start_s": round(ray_s, 3), "scan_s": round(scan_s, 3),
        "write_s": round(time.perf_counter() - write_start, 3), "total_s": round(time.perf_counter() - started, 3),
        "first_row_s": None if first is None else round(first, 3),  # workers' start-up: embedder and registry view
        "images_judged": judged, "images_per_s": round(judged / scan_s, 2) if scan_s > 0 and judged else None,
        "parts_resumed": resumed, "parts_judged": len(pending),
    }
    summary["workers"] = request.engine.width() if not request.engine.ray_address else request.engine.workers
    summary["ray_address"] = request.engine.ray_address
    _write_json(out / "summary.json", summary)
    return ScanOutcome(summary)


# -- the output folder -------------------------------------------------------------------------


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give a folder")
    if out.is_dir() and not (out / MANIFEST).exists() and any(p.name not in OURS for p in out.iterdir()):
        raise InputError(f"--out {out} holds other files and no scan; give an empty or new folder")
    if not out.parent.is_dir():
        raise InputError(f"--out {out}: the folder {out.parent} does not exist")


def _read_manifest(out: Path) -> dict[str, Any] | None:
    path = out / MANIFEST
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ScanResumeMismatch(f"{path} is damaged ({exc}); rerun with --restart") from None
    return data if isinstance(data, dict) else None


def _resume_or_start(out: Path, previous: dict[str, Any] | None, config: dict[str, Any], scan_id: str,
                     restart: bool) -> dict[str, Any]:
    if previous is not None and not restart:
        if previous.get("config") != config:
            was = previous.get("config", {})
            changed = sorted(k for k in set(was) | set(config) if was.get(k) != config.get(k))
            raise ScanResumeMismatch(
                f"{out} holds another scan ({', '.join(changed)} differ); give a new --out, or --restart to discard it")
        done = {k: v for k, v in previous.get("done", {}).items() if _part_path(out, int(k)).exists()}
        log.info("resuming scan %s: %d of %d parts done", scan_id, len(done), config["parts"])
        return {**previous, "done": done}
    for name in OURS:
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    (out / "parts").mkdir(parents=True, exist_ok=True)
    manifest = {"scan_id": scan_id, "config": config, "done": {}}
    _write_json(out / MANIFEST, manifest)
    return manifest


def _part_path(out: Path, part: int) -> Path:
    return out / "parts" / f"part-{part:06d}.parquet"


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", "utf-8")
    os.replace(tmp, path)


def _write_table(table: Any, path: Path) -> None:
    import pyarrow.parquet as pq

    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


# -- judging -----------------------------------------------------------------------------------


def _judge(ws: Workspace, out: Path, manifest: dict[str, Any], plan: ScanPlan, pending: list[tuple[int, list[Any]]],
           snapshot: dict[str, Any], request: ScanRequest, drop_style: bool,
           on_part: PartHook | None) -> tuple[int, float, float, float | None]:
    """Judge the pending parts on Ray, checkpointing each part when its last row arrives."""
    import pyarrow as pa
    from tqdm import tqdm

    if not pending:
        return 0, 0.0, 0.0, None
    ray_start = time.perf_counter()
    started_ray = ensure_ray(request.engine)
    ray_s = time.perf_counter() - ray_start
    sizes = dict((k, len(refs)) for k, refs in pending)
    waiting: dict[int, list[dict[str, Any]]] = {}
    done_images = sum(len(plan.parts[int(k)]) for k in manifest["done"])
    judged = 0
    first: float | None = None
    start = time.perf_counter()
    bar = tqdm(total=plan.total, initial=done_images, unit="img", desc="scan", disable=None if request.progress is None
               else not request.progress)
    try:
        for row in run_parts(pending, ws.settings, snapshot, request.mode, drop_style, request.engine):
            part = int(row["part"])
            rows = waiting.setdefault(part, [])
            rows.append(row)
            bar.update(1)
            judged += 1
            if first is None:
                first = time.perf_counter() - start
            if len(rows) < sizes[part]:
                continue
            rows.sort(key=lambda r: r["row"])
            _write_table(pa.Table.from_pylist(rows, schema=result_schema()), _part_path(out, part))
            manifest["done"][str(part)] = {"rows": len(rows), "errors": sum(r["error"] is not None for r in rows)}
            _write_json(out / MANIFEST, manifest)
            del waiting[part]
            if on_part is not None:
                on_part(part, len(manifest["done"]))
    finally:
        bar.close()
        if started_ray:
            stop_ray()
    return judged, time.perf_counter() - start, ray_s, first


def _consolidate(out: Path, parts: int) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = [pq.read_table(_part_path(out, k), schema=result_schema()) for k in range(parts)]
    table = pa.concat_tables(tables) if tables else result_schema().empty_table()
    _write_table(table, out / "results.parquet")
    return table


# -- what a scan found ---------------------------------------------------------------------------


def _summarise(ws: Workspace, table: Any, config: dict[str, Any], scan_id: str, out: Path) -> dict[str, Any]:
    rows = table.to_pylist()
    artists = {a.id: a for a in ws.store.list_artists()}
    decisions: dict[str, int] = {}
    per_artist: dict[int, dict[str, Any]] = {}
    for r in rows:
        if r["action"] is not None:
            decisions[r["action"]] = decisions.get(r["action"], 0) + 1
        for artist_id in json.loads(r["artists"] or "[]"):
            a = artists.get(artist_id)
            entry = per_artist.setdefault(artist_id, {"artist_id": artist_id, "name": a.name if a else None,
                                                      "consent": a.consent.value if a else None, "images": 0, "by_action": {}})
            entry["images"] += 1
            entry["by_action"][r["action"]] = entry["by_action"].get(r["action"], 0) + 1
    errors = [r for r in rows if r["error"] is not None]
    summary: dict[str, Any] = {
        "scan_id": scan_id, "mode": config["mode"], "source_kind": config["kind"], "source": config["source"],
        "out": str(out), "results": str(out / "results.parquet"), "images": len(rows),
        "checked": sum(r["action"] is not None for r in rows), "decisions": dict(sorted(decisions.items())),
        "artists": [per_artist[k] for k in sorted(per_artist)],
        "errors": {"count": len(errors), "failed_closed": sum(r["action"] == "block" for r in errors),
                   "examples": [{"id": r["id"], "error": r["error"]} for r in errors[:20]]},
        "snapshot": config["snapshot"], "embedder": config["snapshot"]["embedder"],
    }
    if config["mode"] == "training-set":
        reasons: dict[str, int] = {}
        for r in rows:
            if r["drop"]:
                reasons[r["drop_reason"]] = reasons.get(r["drop_reason"], 0) + 1
        summary["drops"] = {"count": sum(reasons.values()), "by_reason": dict(sorted(reasons.items())),
                            "drop_style": config["drop_style"]}
    if config["mode"] == "past-generations":
        kinds: dict[str, int] = {}
        for r in rows:
            if r["finding"]:
                kinds[r["finding"]] = kinds.get(r["finding"], 0) + 1
        summary["findings"] = {"by_kind": dict(sorted(kinds.items())), "until_seq": config["until_seq"]}
    return summary


def write_exclusions(ws: Workspace, table: Any, path: Path) -> Path:
    """The do-not-train list: one row per image to drop (id, url, reason, artist, work), as a
    Parquet file a dataset tool can anti-join on ``id`` or ``url``."""
    import pyarrow as pa

    names = {a.id: a.name for a in ws.store.list_artists()}
    rows = [{"id": r["id"], "url": r["source"], "reason": r["drop_reason"], "artist_id": r["drop_artist_id"],
             "artist_name": names.get(r["drop_artist_id"]) if r["drop_artist_id"] is not None else None,
             "work_id": r["drop_work_id"], "sha256": r["sha256"], "score": r["top_score"], "error": r["error"]}
            for r in table.to_pylist() if r["drop"]]
    schema = pa.schema([("id", pa.string()), ("url", pa.string()), ("reason", pa.string()), ("artist_id", pa.int64()),
                        ("artist_name", pa.string()), ("work_id", pa.int64()), ("sha256", pa.string()),
                        ("score", pa.float64()), ("error", pa.string())])
    _write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return path


def append_findings(ws: Workspace, table: Any, scan_id: str, snapshot: dict[str, Any]) -> list[int]:
    """Append one ``scan.finding`` entry per changed past generation, once per scan: a rerun (or a
    resume after a crash between appending and finishing) skips the images already recorded."""
    from stylegate.governance.audit import AuditKind

    already = {str(e["body"].get("image")) for e in ws.audit.entries(kinds=[AuditKind.SCAN_FINDING])
               if e["body"].get("scan_id") == scan_id}
    seqs: list[int] = []
    for r in table.to_pylist():
        if r["finding"] not in FINDINGS_APPENDED or r["id"] in already:
            continue
        body = {"scan_id": scan_id, "image": r["id"], "path": r["source"], "generation_seq": r["generation_seq"],
                "finding": r["finding"], "was_action": r["was_action"], "action": r["action"],
                "artists": json.loads(r["artists"] or "[]"), "attribution": json.loads(r["attribution"] or "[]"),
                "evidence": json.loads(r["evidence"] or "[]"), "snapshot": snapshot}
        seqs.append(ws.audit.append(AuditKind.SCAN_FINDING, body))
    return seqs
