"""`stylegate serve --workers 2` over one home, on SQLite and on PostgreSQL: real uvicorn
worker processes on loopback, real HTTP.

Every response names the worker that answered (``X-Stylegate-Worker``), and each test sends
requests over fresh connections from several threads until both workers have answered, so
what is asserted holds for both. Each test's requests come from loopback addresses of its
own (127.0.x.y): rate limits are per address, so the tests do not spend each other's tokens.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from stylegate.bench.serve_process import ServeProcess
from stylegate.operations.ingest import init_home
from stylegate.settings import Settings
from stylegate.styleworld import world
from stylegate.workspace import Workspace

pytestmark = pytest.mark.slow

ADMIN = "workers-admin-token"
BURST = 20  # per address; refilled at one token a minute, so a test never sees a refill
MIRA = world.ARTISTS[0]  # opt-out in StyleWorld
DARIO = world.ARTISTS[5]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServeProcess, dict]]:
    root = tmp_path_factory.mktemp(f"workers-{request.param}")
    env = {"STYLEGATE_ADMIN_TOKEN": ADMIN, "STYLEGATE_RATE_LIMIT_BURST": str(BURST),
           "STYLEGATE_RATE_LIMIT_PER_MINUTE": "1", "STYLEGATE_ACCOUNT_RATE_LIMIT_BURST": str(BURST),
           "STYLEGATE_ACCOUNT_RATE_LIMIT_PER_MINUTE": "1"}
    url = None
    if request.param == "postgresql":
        server = request.getfixturevalue("pg_server")
        url = server.create_database()
        env["STYLEGATE_DATABASE_URL"] = url
    init_home(Workspace(Settings(home=root / "home", database_url=url, device="cpu"), create=True))
    proc = ServeProcess(root / "home", 2, root / "serve.log", env)
    proc.start()
    try:
        yield proc, env
    finally:
        proc.stop()
        if url is not None:
            request.getfixturevalue("pg_server").drop_database(url)


_addresses = itertools.count(1)


def client(address: str) -> httpx.Client:
    """A client from ``address`` that opens a new connection for every request (a kept-alive
    connection would stay with one worker)."""
    transport = httpx.HTTPTransport(local_address=address, limits=httpx.Limits(max_keepalive_connections=0))
    return httpx.Client(transport=transport, timeout=120)


def fresh_addresses(n: int) -> list[str]:
    """``n`` loopback addresses no other test of the module has used."""
    block = next(_addresses)
    return [f"127.{block}.{i // 250}.{i % 250 + 1}" for i in range(n)]


def across_workers(base: str, send, addresses: list[str], per_address: int) -> list[httpx.Response]:
    """``send(client, base)`` ``per_address`` times from each address, all addresses at once."""
    def run(address: str) -> list[httpx.Response]:
        with client(address) as c:
            return [send(c, base) for _ in range(per_address)]

    with ThreadPoolExecutor(len(addresses)) as pool:
        return [r for rs in pool.map(run, addresses) for r in rs]


def workers(responses: list[httpx.Response]) -> set[str]:
    return {r.headers["x-stylegate-worker"] for r in responses}


def check(prompt: str):
    def send(c: httpx.Client, base: str) -> httpx.Response:
        return c.post(base + "/v1/check/prompt", json={"prompt": prompt})
    return send


def png(artist: world.StyleArtist, seed: int) -> bytes:
    buf = io.BytesIO()
    world.render(artist, world.SUBJECTS[seed % len(world.SUBJECTS)], seed).save(buf, "PNG")
    return buf.getvalue()


def stylegate(served_env: dict, home: Path, *args: str) -> subprocess.CompletedProcess:
    """The CLI over the served home, with the server's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STYLEGATE_") or k == "STYLEGATE_MODEL_CACHE_DIR"}
    env.update(served_env, STYLEGATE_DEVICE="cpu")
    return subprocess.run([sys.executable, "-m", "stylegate", "--home", str(home), *args],
                          capture_output=True, text=True, env=env, timeout=300)


def test_a_registration_through_one_worker_reaches_every_worker(served) -> None:
    proc, _ = served
    prompt = f"a quiet harbour at dawn by {MIRA.name}"
    addresses = fresh_addresses(8)
    before = across_workers(proc.base_url, check(prompt), addresses[:4], 3)
    assert {r.status_code for r in before} == {200}
    assert {r.json()["action"] for r in before} == {"allow"}, [r.json() for r in before][:2]

    with client(addresses[4]) as c:
        r = c.post(proc.base_url + "/v1/artists", json={"name": MIRA.name, "consent": "opt-out", "contact": "m@example.org"})
        assert r.status_code == 201, r.text
        artist_id = r.json()["artist"]["id"]
        signed_up_by = r.headers["x-stylegate-worker"]
    # unverified: the policy steers, and every worker's very next check says so
    steered = across_workers(proc.base_url, check(prompt), addresses[5:7], 8)
    assert {r.json()["action"] for r in steered} == {"steer"}
    assert len(workers(steered)) == 2

    with client(addresses[7]) as c:
        r = c.patch(f"{proc.base_url}/v1/admin/artists/{artist_id}", json={"verified": True},
                    headers={"Authorization": f"Bearer {ADMIN}"})
        assert r.status_code == 200, r.text
    blocked = across_workers(proc.base_url, check(prompt), fresh_addresses(6), 10)
    assert len(workers(blocked)) == 2 and signed_up_by in workers(blocked)
    assert {r.status_code for r in blocked} == {200}
    decisions = [r.json() for r in blocked]
    assert {d["action"] for d in decisions} == {"block"}
    assert all(any(e["artist"]["id"] == artist_id for e in d["evidence"]) for d in decisions)


def test_a_burst_is_shared_by_both_workers(served) -> None:
    proc, _ = served
    responses = across_workers(proc.base_url, check("a lighthouse in the rain"), [fresh_addresses(1)[0]] * 8, 6)
    codes = [r.status_code for r in responses]
    assert codes.count(200) == BURST, codes  # 48 requests from one address: exactly one burst passes
    assert codes.count(429) == len(codes) - BURST
    assert len(workers(responses)) == 2
    assert len(workers([r for r in responses if r.status_code == 429])) >= 1
    assert all(r.headers.get("retry-after") for r in responses if r.status_code == 429)


def test_concurrent_uploads_through_both_workers_are_all_kept(served) -> None:
    proc, env = served
    addresses = fresh_addresses(8)
    with client(addresses[0]) as c:
        r = c.post(proc.base_url + "/v1/artists", json={"name": DARIO.name, "consent": "credit", "contact": "d@example.org"})
        assert r.status_code == 201, r.text
        artist_id, token = r.json()["artist"]["id"], r.json()["token"]
    seeds = itertools.count(100)
    images = {address: [(seed, png(DARIO, seed)) for seed in (next(seeds), next(seeds))] for address in addresses}

    def upload(address: str) -> httpx.Response:
        files = [("files", (f"w{seed}.png", data, "image/png")) for seed, data in images[address]]
        with client(address) as c:
            return c.post(f"{proc.base_url}/v1/artists/{artist_id}/works", files=files,
                          headers={"Authorization": f"Bearer {token}"})

    with ThreadPoolExecutor(len(addresses)) as pool:
        responses = list(pool.map(upload, addresses))
    assert [r.status_code for r in responses] == [201] * len(addresses), [r.text for r in responses]
    assert len(workers(responses)) == 2
    added = [w["id"] for r in responses for w in r.json()["added"]]
    assert len(set(added)) == 2 * len(addresses)

    with client(fresh_addresses(1)[0]) as c:
        listed = c.get(f"{proc.base_url}/v1/artists/{artist_id}/works", headers={"Authorization": f"Bearer {token}"})
    assert sorted(w["id"] for w in listed.json()) == sorted(added)
    doctor = stylegate(env, proc.home, "doctor", "--json")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    report = json.loads(doctor.stdout)
    assert report["ok"] and report["works"] == report["indexed"] == report["files"] == len(added), report
    ws = Workspace(Settings(home=proc.home, database_url=env.get("STYLEGATE_DATABASE_URL"), device="cpu"))
    assert sorted(int(i) for i in ws.index.ids()) == sorted(added)  # the file loads and agrees with the rows
    ws.store.close()
    verify = stylegate(env, proc.home, "audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
