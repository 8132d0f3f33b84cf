"""Run a scan's parts on Ray Data: local Ray by default (``workers`` CPUs), or a cluster.

The dataset has one row per part (its references as JSON). ``map_batches`` hands each part
to a :class:`ScanUDF` actor, which builds its :class:`~.scan_judge.PartJudge` (workspace,
embedder, registry view) once, then embeds the whole part in one batch. Results stream back
to the driver row by row, in whatever order parts finish; the driver checkpoints each part
as soon as all its rows are in. A part's batch is the part itself, so rows do not depend on
which worker judged them or how many workers there were.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from stylegate.errors import ScanEngineError, ScanSnapshotChanged, StylegateError

from .scan_judge import COLUMNS, PartJudge
from .scan_sources import ImageRef

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow

    from stylegate.settings import Settings

log = logging.getLogger(__name__)

LOCAL_OBJECT_STORE_BYTES = 256 * 1024 * 1024  # parts travel as references, results as JSON: little is stored


@dataclass(frozen=True)
class EngineOptions:
    """Where and how wide a scan runs. ``workers``: actors judging parts (local Ray gets that many
    CPUs; default all of this machine's). ``ray_address``: an existing cluster (``auto`` or
    ``ray://host:10001``); stylegate must be installed on its nodes and the home reachable there."""

    workers: int | None = None
    ray_address: str | None = None

    def width(self) -> int:
        return max(1, self.workers or os.cpu_count() or 1)


class ScanUDF:
    """Ray Data class UDF: one per actor, one part per call."""

    def __init__(self, settings: Settings, expected: dict[str, Any], mode: str, drop_style: bool) -> None:
        logging.basicConfig(level=logging.WARNING)
        self.judge = PartJudge(settings, expected, mode, drop_style)

    def __call__(self, batch: dict[str, Any]) -> Any:
        import pyarrow as pa

        rows: list[dict[str, Any]] = []
        for part, refs_json in zip(batch["part"], batch["refs"]):
            refs = [ImageRef.from_dict(d) for d in json.loads(str(refs_json))]
            rows.extend(self.judge.judge(int(part), refs))
        return pa.Table.from_pylist(rows, schema=result_schema())


def result_schema() -> Any:
    """The Arrow schema of result rows (explicit, so an all-empty column keeps its type)."""
    import pyarrow as pa

    ints = {"part", "row", "width", "height", "top_artist_id", "drop_artist_id", "drop_work_id", "generation_seq"}
    types = {c: pa.int64() if c in ints else pa.float64() if c == "top_score" else pa.bool_() if c == "drop" else pa.string()
             for c in COLUMNS}
    return pa.schema([(c, types[c]) for c in COLUMNS])


def ensure_ray(options: EngineOptions) -> bool:
    """Start (or join) Ray unless this process already did; True when this call started it."""
    try:
        import ray
    except ImportError as exc:
        raise ScanEngineError(f"stylegate scan needs Ray Data (pip install 'ray[data]'): {exc}") from None
    if ray.is_initialized():
        return False
    try:
        if options.ray_address:
            ray.init(address=options.ray_address, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(num_cpus=options.width(), object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                     include_dashboard=False, log_to_driver=False, configure_logging=False)
    except Exception as exc:  # noqa: BLE001 - whatever Ray raises, the operator must act
        raise ScanEngineError(f"cannot start Ray{' at ' + options.ray_address if options.ray_address else ''}: {exc}") from None
    return True


def stop_ray() -> None:
    import ray

    ray.shutdown()


def run_parts(parts: Sequence[tuple[int, list[ImageRef]]], settings: Settings, expected: dict[str, Any], mode: str,
              drop_style: bool, options: EngineOptions) -> Iterator[dict[str, Any]]:
    """Judge ``parts`` (part number, references) on Ray and yield every result row as it arrives."""
    import ray
    import ray.data

    if not parts:
        return
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # its per-run INFO lines would drown the summary
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # the driver's own bar counts images
    ctx.execution_options.preserve_order = False
    items = [{"part": number, "refs": json.dumps([r.to_dict() for r in refs])} for number, refs in parts]
    width = min(options.width(), len(items))
    source = ray.data.from_items(items, override_num_blocks=len(items))
    ds = source.map_batches(ScanUDF, batch_size=1, batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=width), num_cpus=1,
                        fn_constructor_kwargs={"settings": settings, "expected": expected, "mode": mode,
                                               "drop_style": drop_style})
    try:
        for batch in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
            yield from cast("pyarrow.Table", batch).to_pylist()  # batch_format="pyarrow" yields tables
    except Exception as exc:  # noqa: BLE001 - Ray wraps the worker's exception; unwrap ours
        raise _unwrap(exc) from None


def _unwrap(exc: BaseException) -> StylegateError:
    """The stylegate error a worker raised, else a ScanEngineError naming what failed."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, StylegateError):
            return seen
        cause = getattr(seen, "cause", None)
        seen = cause if isinstance(cause, BaseException) else (seen.__cause__ or seen.__context__)
    text = str(exc)
    if "ScanSnapshotChanged" in text:
        return ScanSnapshotChanged(text.splitlines()[-1])
    return ScanEngineError(f"a scan worker failed: {type(exc).__name__}: {text.splitlines()[-1] if text else ''}")


ProgressFn = Callable[[int], None]
