"""`stylegate bench scan`: images per second of `stylegate scan` on Ray Data with 1, 2 and all
local workers, against the single-process `check image` loop, and whether the scan's decisions
equal `check image`'s on a sample (they must, image for image).

The images are StyleWorld renders (held-out seeds, every artist, registered or not) checked
against a workspace with the demo's registered StyleWorld artists. Each scan starts its own
local Ray with as many CPUs as workers, so a row includes Ray's start and every worker's
start-up (loading the embedder and registry view); the steady rate leaves those out.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def render_images(folder: Path, count: int) -> list[Path]:
    """``count`` StyleWorld renders cycling over artists, subjects and held-out seeds."""
    from stylegate.styleworld import world

    folder.mkdir(parents=True, exist_ok=True)
    seeds = list(world.heldout_seeds(64))
    paths = []
    for k in range(count):
        artist = world.ARTISTS[k % len(world.ARTISTS)]
        subject = world.SUBJECTS[(k // len(world.ARTISTS)) % len(world.SUBJECTS)]
        seed = seeds[(k // (len(world.ARTISTS) * len(world.SUBJECTS))) % len(seeds)] + 1000 * (k // 100_000)
        path = folder / f"{k:06d}.png"
        world.render(artist, subject, seed).save(path)
        paths.append(path)
    return paths


def _key(decision: dict[str, Any]) -> list[Any]:
    return [decision["action"], [(e["kind"], e["artist"]["id"], e["action"]) for e in decision["evidence"]],
            [(a["artist"]["id"], a["share"]) for a in decision.get("attribution", [])]]


def run_scan_bench(count: int = 1000, sample: int = 200, worker_counts: list[int] | None = None, part_size: int = 64,
                   progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    from stylegate.bench.fixtures import demo_artists, new_styleworld_workspace
    from stylegate.operations.checks import check_image
    from stylegate.operations.scan import ScanRequest, run_scan
    from stylegate.operations.scan_engine import EngineOptions

    say = progress or (lambda _m: None)
    cpus = os.cpu_count() or 1
    counts = worker_counts or sorted({1, min(2, cpus), cpus})
    with tempfile.TemporaryDirectory(prefix="stylegate-bench-scan-") as tmp:
        root = Path(tmp)
        say("registering the StyleWorld demo artists")
        ws, works = new_styleworld_workspace(root, artists=demo_artists()[0])
        say(f"rendering {count} StyleWorld images")
        paths = render_images(root / "images", count)
        picked = paths[:: max(1, len(paths) // max(1, sample))][:sample]
        say(f"`check image` loop over {len(picked)} images, one process")
        check_image(ws, picked[0])  # load the embedder and the view first, as a scan worker does
        start = time.perf_counter()
        single = {p.name: _key(check_image(ws, p).decision) for p in picked}
        loop_s = time.perf_counter() - start
        say(f"gate-only loop over {len(picked)} images (validate, embed one, check; no audit or credentials)")
        start = time.perf_counter()
        gate_only = {p.name: _key(_gate_check(ws, p)) for p in picked}
        gate_s = time.perf_counter() - start
        rows: list[dict[str, Any]] = [{
            "run": "check image loop (1 process)", "workers": 1, "images": len(picked), "wall_s": round(loop_s, 2),
            "images_per_s": round(len(picked) / loop_s, 1), "steady_per_s": round(len(picked) / loop_s, 1),
            "startup_s": 0.0, "agreement": None,
        }, {
            "run": "gate-only loop (1 process)", "workers": 1, "images": len(picked), "wall_s": round(gate_s, 2),
            "images_per_s": round(len(picked) / gate_s, 1), "steady_per_s": round(len(picked) / gate_s, 1),
            "startup_s": 0.0, "agreement": _agreement(gate_only, single),
        }]
        for n in counts:
            say(f"scan on {n} worker(s)")
            out = root / f"scan-{n}"
            start = time.perf_counter()
            summary = run_scan(ws, ScanRequest(out=out, sources=(str(root / "images"),), part_size=part_size,
                                               engine=EngineOptions(workers=n), progress=False)).summary
            wall = time.perf_counter() - start
            t = summary["timings"]
            table = {r["id"]: r for r in _read(out / "results.parquet")}
            scanned = {name: _key(json.loads(table[name]["decision"])) for name in single}
            steady = None
            if t["first_row_s"] is not None and t["scan_s"] > t["first_row_s"]:
                steady = round((t["images_judged"] - part_size) / (t["scan_s"] - t["first_row_s"]), 1)
            rows.append({
                "run": f"scan, {n} worker(s)", "workers": n, "images": summary["images"], "wall_s": round(wall, 2),
                "images_per_s": round(summary["images"] / wall, 1), "steady_per_s": steady,
                "startup_s": round(t["ray_start_s"] + (t["first_row_s"] or 0.0), 2),
                "agreement": _agreement(scanned, single),
            })
        return {"images": count, "sample": len(picked), "part_size": part_size, "cpus": cpus, "works": works,
                "load_average": round(os.getloadavg()[0], 1),
                "embedder": summary["embedder"], "rows": rows,
                "all_identical": all(r["agreement"] is None or r["agreement"]["same"] == r["agreement"]["sample"] for r in rows)}


def _gate_check(ws: Any, path: Path) -> dict[str, Any]:
    from stylegate.registry.validation import validate_work

    return ws.gate().check_image(validate_work(path, ws.work_limits()).to_rgb()).to_dict()


def _agreement(got: dict[str, Any], reference: dict[str, Any]) -> dict[str, Any]:
    same = sum(got.get(name) == key for name, key in reference.items())
    return {"same": same, "sample": len(reference), "rate": round(same / len(reference), 4)}


def _read(path: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    return pq.read_table(path, columns=["id", "decision"]).to_pylist()


def print_scan_bench(results: dict[str, Any]) -> None:
    from stylegate.output import table

    def fmt(r: dict[str, Any]) -> list[Any]:
        a = r["agreement"]
        agree = "(reference)" if a is None else f"{a['same']}/{a['sample']} ({100 * a['rate']:.1f}%)"
        return [r["run"], r["images"], r["wall_s"], r["images_per_s"], r["steady_per_s"], r["startup_s"], agree]

    table(f"stylegate scan on {results['cpus']} local CPUs (load average {results['load_average']}): {results['images']} "
          f"StyleWorld renders against {results['works']} registered works, parts of {results['part_size']}",
          ["run", "images", "wall s", "images/s", "steady images/s", "start-up s", "same decisions as check image"],
          [fmt(r) for r in results["rows"]])
    verdict = "met" if results["all_identical"] else "NOT met"
    print(f"decisions identical to `check image` on the {results['sample']}-image sample: {verdict}")
