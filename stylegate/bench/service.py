"""`stylegate bench service`: a bounded load run against `stylegate serve --workers N` on loopback.

For each database (SQLite; PostgreSQL when its server binaries and driver are installed) the
bench builds a temporary StyleWorld home (artists and reference works registered), starts the
real command in a child process (:mod:`stylegate.bench.serve_process`), and sends a fixed number
of requests from ``concurrency`` asynchronous httpx clients, each request on a new loopback
connection (a worker's event loop accepts every connection waiting at once, so kept-alive
connections opened together would all stay with one worker):

- ``prompt``: ``POST /v1/check/prompt``, prompts naming registered artists and plain ones;
- ``image``: ``POST /v1/check/image``, StyleWorld renders (registered styles and others);
- ``upload``: ``POST /v1/artists/{id}/works``, one new image each, by an artist who signed up;
- ``mixed``: the three kinds shuffled into one run, so checks meet uploads (each upload changes
  the registry, and every worker's next check reloads the index and the gate).

Each kind reports requests/s, p50 and p99 latency, the number of 5xx answers, how many
workers answered, and afterwards the audit log is verified and the home's consistency checked
(registry rows, index and files), and the cost of the revision read every check makes is
timed. The rate limits are set high enough that nothing is refused.

Why an httpx script and not locust: httpx is already a dependency; locust brings gevent,
whose monkey-patching does not mix with the asyncio client, and a closed loop of N requests
is what a bounded, reproducible run needs (locust runs for a time, not a count).
"""

from __future__ import annotations

import asyncio
import io
import logging
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

KINDS = ("prompt", "image", "upload", "mixed")
RATE_UNLIMITED = "1000000000"


def _png(image: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def _inputs(prompts: int, images: int, uploads: int, seed: int = 7) -> dict[str, list[Any]]:
    """The requests' bodies: prompts, image bytes to check, image bytes to upload (all distinct)."""
    from stylegate.styleworld import world

    rng = random.Random(seed)
    subjects, artists = world.SUBJECTS, world.ARTISTS
    texts = []
    for i in range(prompts):
        subject = subjects[i % len(subjects)]
        texts.append(f"a {subject} by {artists[i % len(artists)].name}, take {i}" if i % 2 == 0
                     else f"a {subject} in soft evening light, take {i}")
    check_images = [_png(world.render(artists[i % len(artists)], subjects[(i * 7) % len(subjects)], 5000 + i))
                    for i in range(images)]
    upload_images = [_png(world.render(artists[-1], subjects[i % len(subjects)], 9000 + i)) for i in range(uploads)]
    rng.shuffle(texts)
    return {"prompt": texts, "image": check_images, "upload": upload_images}


def _percentiles(latencies: Sequence[float]) -> tuple[float, float]:
    import numpy as np

    if not latencies:
        return 0.0, 0.0
    p50, p99 = np.percentile(np.asarray(latencies) * 1000.0, [50, 99])
    return float(p50), float(p99)


class _Run:
    """One load run's answers: latency, status and worker per request kind."""

    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = {}
        self.status: dict[str, list[int]] = {}
        self.workers: dict[str, set[str]] = {}
        self.failures: list[str] = []

    def record(self, kind: str, seconds: float, response: Any) -> None:
        self.latency.setdefault(kind, []).append(seconds)
        self.status.setdefault(kind, []).append(response.status_code)
        self.workers.setdefault(kind, set()).add(response.headers.get("x-stylegate-worker", "?"))
        if response.status_code >= 400 and len(self.failures) < 10:
            self.failures.append(f"{kind} {response.status_code}: {response.text[:200]}")

    def figures(self, kind: str, elapsed: float) -> dict[str, Any]:
        lat, codes = self.latency.get(kind, []), self.status.get(kind, [])
        p50, p99 = _percentiles(lat)
        return {"requests": len(lat), "seconds": round(elapsed, 3), "per_s": round(len(lat) / elapsed, 1) if elapsed else 0.0,
                "p50_ms": round(p50, 1), "p99_ms": round(p99, 1), "max_ms": round(1000 * max(lat), 1) if lat else 0.0,
                "over_1s": sum(1 for t in lat if t > 1.0),
                "ok": sum(1 for c in codes if c < 400), "4xx": sum(1 for c in codes if 400 <= c < 500),
                "5xx": sum(1 for c in codes if c >= 500), "workers": len(self.workers.get(kind, set()))}


async def _load(base: str, jobs: list[tuple[str, Callable[[Any], Any]]], concurrency: int, run: _Run) -> float:
    """Send ``jobs`` (kind, request) from ``concurrency`` clients at once; the seconds it took."""
    import httpx

    queue: asyncio.Queue[tuple[str, Callable[[Any], Any]]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    # a new connection per request: a worker's event loop accepts every connection waiting at
    # once, so a few kept-alive connections would all stay with one worker
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, timeout=300, limits=limits) as client:
        async def worker() -> None:
            while True:
                try:
                    kind, send = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                start = time.perf_counter()
                response = await send(client)
                run.record(kind, time.perf_counter() - start, response)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - start


def _jobs(inputs: dict[str, list[Any]], artist_id: int, token: str) -> dict[str, list[tuple[str, Callable[[Any], Any]]]]:
    def prompt(text: str) -> Callable[[Any], Any]:
        return lambda c: c.post("/v1/check/prompt", json={"prompt": text})

    def image(data: bytes) -> Callable[[Any], Any]:
        return lambda c: c.post("/v1/check/image", files={"file": ("check.png", data, "image/png")})

    def upload(i: int, data: bytes) -> Callable[[Any], Any]:
        return lambda c: c.post(f"/v1/artists/{artist_id}/works", headers={"Authorization": f"Bearer {token}"},
                                files=[("files", (f"work-{i}.png", data, "image/png"))])

    def split(items: list[Any]) -> tuple[list[Any], list[Any]]:  # 3/4 for the kind's own run, 1/4 for mixed
        cut = max(1, (3 * len(items)) // 4)
        return items[:cut], items[cut:]

    p_own, p_mixed = split(inputs["prompt"])
    i_own, i_mixed = split(inputs["image"])
    u_own, u_mixed = split(list(enumerate(inputs["upload"])))
    mixed = ([("prompt", prompt(t)) for t in p_mixed] + [("image", image(d)) for d in i_mixed]
             + [("upload", upload(i, d)) for i, d in u_mixed])
    random.Random(11).shuffle(mixed)
    return {"prompt": [("prompt", prompt(t)) for t in p_own], "image": [("image", image(d)) for d in i_own],
            "upload": [("upload", upload(i, d)) for i, d in u_own], "mixed": mixed}


def _home(root: Path, database_url: str | None, artists: int) -> Any:
    """A StyleWorld home at ``root/home`` on ``database_url`` (None: SQLite) with ``artists`` registered."""
    from stylegate.bench.fixtures import register_styleworld
    from stylegate.operations.ingest import init_home
    from stylegate.settings import Settings
    from stylegate.styleworld import world
    from stylegate.workspace import Workspace

    settings = Settings(home=root / "home", device="cpu", database_url=database_url)
    ws = Workspace(settings, create=True)
    ws.configure_threads()
    init_home(ws)
    register_styleworld(ws, root / "reference", per_artist=4, artists=world.ARTISTS[:artists])
    ws.store.close()
    return settings


def _after(settings: Any) -> dict[str, Any]:
    """Audit verification and home consistency once the server has stopped."""
    from stylegate.operations.audit import audit_public_key
    from stylegate.operations.ingest import check_consistency
    from stylegate.workspace import Workspace

    ws = Workspace(settings)
    try:
        verified = ws.audit.verify(audit_public_key(ws))
        consistency = check_consistency(ws)
        return {"audit_verify": verified.ok, "audit_entries": verified.entries, "consistent": consistency.ok,
                "works": consistency.works, "indexed": consistency.indexed,
                "revision_read_us": _revision_read(ws.store)}
    finally:
        ws.store.close()


def _revision_read(store: Any, n: int = 500) -> dict[str, float]:
    """What the per-request freshness check costs: reading the registry revision, p50/p99 in µs."""
    import numpy as np

    store.revision()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        store.revision()
        times.append(time.perf_counter() - start)
    p50, p99 = np.percentile(np.asarray(times) * 1e6, [50, 99])
    return {"p50": round(float(p50), 1), "p99": round(float(p99), 1)}


def bench_backend(backend: str, database_url: str | None, *, workers: int, concurrency: int, prompts: int,
                  images: int, uploads: int, log_line: Callable[[str], None]) -> dict[str, Any]:
    """One load run on one database; the figures per request kind and the checks afterwards."""
    import httpx

    from stylegate.bench.serve_process import ServeProcess
    from stylegate.styleworld import world

    with tempfile.TemporaryDirectory(prefix="stylegate-bench-service-") as tmp:
        root = Path(tmp)
        registered = len(world.ARTISTS) - 1  # the last artist's style stays unclaimed: uploads register it
        log_line(f"[{backend}] building a StyleWorld home ({registered} artists)")
        settings = _home(root, database_url, registered)
        env = {"STYLEGATE_RATE_LIMIT_BURST": RATE_UNLIMITED, "STYLEGATE_RATE_LIMIT_PER_MINUTE": RATE_UNLIMITED,
               "STYLEGATE_ACCOUNT_RATE_LIMIT_BURST": RATE_UNLIMITED,
               "STYLEGATE_ACCOUNT_RATE_LIMIT_PER_MINUTE": RATE_UNLIMITED}
        if database_url is not None:
            env["STYLEGATE_DATABASE_URL"] = database_url
        inputs = _inputs(prompts, images, uploads)
        log_line(f"[{backend}] starting stylegate serve --workers {workers}")
        with ServeProcess(settings.home, workers, root / "serve.log", env) as server:
            last = world.ARTISTS[-1]
            r = httpx.post(server.base_url + "/v1/artists", timeout=120,
                           json={"name": last.name, "consent": "credit", "contact": "bench@example.org"})
            if r.status_code != 201:
                from stylegate.errors import StylegateError

                raise StylegateError(f"signing up the uploading artist failed: {r.status_code} {r.text[:300]}")
            artist_id, token = r.json()["artist"]["id"], r.json()["token"]
            jobs = _jobs(inputs, artist_id, token)
            warm = [("warm", job[1]) for kind in ("prompt", "image") for job in jobs[kind][:2 * concurrency]]
            asyncio.run(_load(server.base_url, warm, concurrency, _Run()))  # every worker's gate built once
            results: dict[str, Any] = {}
            for kind in KINDS:
                run = _Run()
                log_line(f"[{backend}] {kind}: {len(jobs[kind])} requests, {concurrency} at once")
                elapsed = asyncio.run(_load(server.base_url, jobs[kind], concurrency, run))
                if kind == "mixed":
                    results[kind] = {**run.figures("prompt", elapsed), "requests": len(jobs[kind]),
                                     "per_s": round(len(jobs[kind]) / elapsed, 1),
                                     "5xx": sum(run.figures(k, elapsed)["5xx"] for k in ("prompt", "image", "upload")),
                                     "4xx": sum(run.figures(k, elapsed)["4xx"] for k in ("prompt", "image", "upload")),
                                     "ok": sum(run.figures(k, elapsed)["ok"] for k in ("prompt", "image", "upload")),
                                     "workers": len(set().union(*run.workers.values())) if run.workers else 0,
                                     "by_kind": {k: run.figures(k, elapsed) for k in ("prompt", "image", "upload")}}
                else:
                    results[kind] = run.figures(kind, elapsed)
                if run.failures:
                    results[kind]["failures"] = run.failures
        log_line(f"[{backend}] verifying the audit log and the home")
        return {"backend": backend, "workers": workers, "concurrency": concurrency, "kinds": results,
                **_after(settings)}


def run_service_bench(backends: Sequence[str] = ("sqlite", "postgresql"), *, workers: int = 2, concurrency: int = 8,
                      prompts: int = 400, images: int = 200, uploads: int = 40,
                      log_line: Callable[[str], None] = print) -> dict[str, Any]:
    """The load run on each backend; PostgreSQL is skipped (with the reason) when not installed."""
    import os
    import platform

    out: dict[str, Any] = {"machine": {"platform": platform.platform(), "python": platform.python_version(),
                                       "cpus": os.cpu_count()},
                           "runs": [], "skipped": {}}
    for backend in backends:
        if backend == "sqlite":
            out["runs"].append(bench_backend("sqlite", None, workers=workers, concurrency=concurrency, prompts=prompts,
                                             images=images, uploads=uploads, log_line=log_line))
            continue
        reason = _postgres_missing()
        if reason is not None:
            out["skipped"]["postgresql"] = reason
            log_line(f"[postgresql] skipped: {reason}")
            continue
        from stylegate.bench.pg import PostgresServer, find_bindir

        bindir = find_bindir()
        assert bindir is not None  # _postgres_missing said so
        server = PostgresServer.start(bindir)
        try:
            url = server.create_database()
            out["runs"].append(bench_backend("postgresql", url, workers=workers, concurrency=concurrency,
                                             prompts=prompts, images=images, uploads=uploads, log_line=log_line))
        finally:
            server.stop()
    return out


def _postgres_missing() -> str | None:
    from stylegate.bench.pg import find_bindir

    if find_bindir() is None:
        return "no PostgreSQL server binaries (initdb): apt-get install postgresql, or set STYLEGATE_PG_BINDIR"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "the psycopg driver is not installed"
    return None


def print_service_bench(results: dict[str, Any]) -> None:
    from stylegate.output import table

    for run in results["runs"]:
        rows = []
        for kind in KINDS:
            r = run["kinds"][kind]
            own = kind != "mixed"
            rows.append([kind, r["requests"], f"{r['per_s']:.1f}", f"{r['p50_ms']:.1f}" if own else "",
                         f"{r['p99_ms']:.1f}" if own else "", f"{r['max_ms']:.1f}" if own else "",
                         r["over_1s"] if own else "", r["5xx"], r["4xx"], r["workers"]])
            if not own:
                for sub, f in r["by_kind"].items():
                    rows.append([f"  mixed {sub}", f["requests"], "", f"{f['p50_ms']:.1f}", f"{f['p99_ms']:.1f}",
                                 f"{f['max_ms']:.1f}", f["over_1s"], f["5xx"], f["4xx"], f["workers"]])
        table(f"stylegate serve --workers {run['workers']} on {run['backend']}, {run['concurrency']} clients at once",
              ["requests", "n", "req/s", "p50 ms", "p99 ms", "max ms", "> 1 s", "5xx", "4xx", "workers"], rows)
        print(f"audit verify: {'OK' if run['audit_verify'] else 'FAILED'} ({run['audit_entries']} entries); "
              f"home consistent: {'yes' if run['consistent'] else 'NO'} ({run['works']} works, {run['indexed']} indexed); "
              f"the per-check revision read: p50 {run['revision_read_us']['p50']:.0f} µs, "
              f"p99 {run['revision_read_us']['p99']:.0f} µs")
    for backend, reason in results["skipped"].items():
        print(f"{backend}: skipped ({reason})")
