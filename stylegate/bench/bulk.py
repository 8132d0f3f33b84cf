"""Bulk lookups and bulk prompt checks over real HTTP on loopback: items per second.

Builds a temporary StyleWorld home with ``artists`` registered artists, serves it with uvicorn
on a free loopback port (in this process, in a thread), and sends one request of ``items``
names (``POST /v1/lookup/names`` with ``Accept: application/x-ndjson``) and one of ``items``
prompts (``POST /v1/check/prompts``), reading the JSON lines as they stream. Each prompt is
screened and audited, as a single check is. The rate limit is set to let both through.
Run it with ``stylegate bench bulk [--items N] [--artists K] [--json]``.
"""

from __future__ import annotations

import json
import logging
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

NDJSON = "application/x-ndjson"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(settings: Any) -> Iterator[str]:
    """The service over ``settings`` on a loopback port for the block's duration; its base URL."""
    import uvicorn

    from stylegate.errors import StylegateError
    from stylegate.service.app import create_app

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="bench-bulk-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise StylegateError("the benchmark server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def stream_lines(client: Any, url: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST ``body`` asking for JSON lines; the lines parsed, the time to the first and the last."""
    from stylegate.errors import StylegateError

    start = time.perf_counter()
    first: float | None = None
    lines: list[dict[str, Any]] = []
    with client.stream("POST", url, json=body, headers={"accept": NDJSON}) as r:
        if r.status_code != 200:
            raise StylegateError(f"{url} answered {r.status_code}: {r.read().decode(errors='replace')[:300]}")
        for text in r.iter_lines():
            if not text:
                continue
            if first is None:
                first = time.perf_counter() - start
            lines.append(json.loads(text))
    total = time.perf_counter() - start
    return {"lines": lines, "seconds": total, "first_line_s": first if first is not None else total}


def _figures(items: int, run: dict[str, Any], errors: int) -> dict[str, Any]:
    return {"items": items, "lines": len(run["lines"]), "errors": errors, "seconds": round(run["seconds"], 3),
            "per_s": round(items / run["seconds"], 1), "first_line_ms": round(1000 * run["first_line_s"], 1)}


def bulk_inputs(registered: list[str], prompts: list[str], items: int) -> tuple[list[str], list[str]]:
    """``items`` names (every other one registered, in varied case) and ``items`` prompts."""
    names = [registered[i % len(registered)].upper() if i % 2 == 0 else f"Nobody Registered {i}" for i in range(items)]
    checks = [f"{prompts[i % len(prompts)]}, take {i}" for i in range(items)]
    return names, checks


def run_bulk_bench(items: int = 10_000, artists: int = 1000, device: str = "cpu") -> dict[str, Any]:
    """names/s and prompts/s for one bulk request of ``items`` each, on loopback."""
    import httpx

    from stylegate.bench.index import machine_info, populate_bench_home
    from stylegate.operations.ingest import init_home
    from stylegate.settings import Settings
    from stylegate.workspace import Workspace

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp) / "home", device=device, rate_limit_burst=3 * items + 10,
                            rate_limit_per_minute=60 * (3 * items + 10))  # both requests pass at once
        ws = Workspace(settings)
        init_home(ws)
        prompts = populate_bench_home(ws, artists)
        registered = [a.name for a in ws.store.list_artists()]
        names, checks = bulk_inputs(registered, prompts, items)
        with serving(settings) as base, httpx.Client(timeout=3600) as client:
            stream_lines(client, base + "/v1/check/prompts", {"prompts": checks[:5]})  # warm the gate
            looked = stream_lines(client, base + "/v1/lookup/names", {"names": names})
            checked = stream_lines(client, base + "/v1/check/prompts", {"prompts": checks})
        found = sum(1 for line in looked["lines"] if line.get("registered"))
        return {"machine": machine_info(), "artists": len(registered),
                "names": {**_figures(items, looked, 0), "registered": found},
                "prompts": {**_figures(items, checked, sum(1 for line in checked["lines"] if "error" in line)),
                            "actions": _actions(checked["lines"])}}


def _actions(lines: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in lines:
        key = str(line.get("action", "error"))
        counts[key] = counts.get(key, 0) + 1
    return counts


def print_bulk_bench(results: dict[str, Any]) -> None:
    print(f"bulk requests on loopback, {results['artists']} registered artists")
    print(f"{'request':<28}{'items':>8}{'seconds':>10}{'items/s':>10}{'first line':>13}")
    for key, label in (("names", "POST /v1/lookup/names"), ("prompts", "POST /v1/check/prompts")):
        r = results[key]
        print(f"{label:<28}{r['items']:>8}{r['seconds']:>10.2f}{r['per_s']:>10.1f}{r['first_line_ms']:>10.1f} ms")
    print(f"names registered: {results['names']['registered']}; prompt actions: {results['prompts']['actions']}")
