"""Token buckets in the registry database (registry/rate_buckets.py), on SQLite and PostgreSQL:
the refill arithmetic, and several processes spending from one bucket at once."""

from __future__ import annotations

import math
import multiprocessing as mp

import pytest

from stylegate.registry.rate_buckets import SharedBuckets, open_bucket_engine
from stylegate.registry.store import RegistryStore


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def engine(db_url: str):
    RegistryStore.open(db_url).close()  # migrated: the rate_buckets table exists
    engine = open_bucket_engine(db_url)
    try:
        yield engine
    finally:
        engine.dispose()


def test_a_bucket_holds_its_burst_and_refills_at_its_rate(engine) -> None:
    clock = Clock()
    buckets = SharedBuckets(engine, "general", per_minute=60, burst=3, clock=clock)
    assert [buckets.take("a:1") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = buckets.take("a:1")
    assert wait == pytest.approx(1.0, abs=1e-6)  # one token a second
    assert buckets.take("a:2") == 0.0  # another client has its own bucket
    clock.now += 0.5
    assert buckets.take("a:1") == pytest.approx(0.5, abs=1e-6)
    clock.now += 0.5
    assert buckets.take("a:1") == 0.0
    clock.now += 3600  # refilled to the burst, never beyond it
    assert [buckets.take("a:1") for _ in range(4)][-1] > 0
    assert buckets.take("a:1", cost=4) == math.inf


def test_costs_are_all_or_none_and_limiters_are_separate(engine) -> None:
    clock = Clock()
    general = SharedBuckets(engine, "general", per_minute=60, burst=10, clock=clock)
    accounts = SharedBuckets(engine, "accounts", per_minute=60, burst=2, clock=clock)
    assert general.take("a:1", cost=7) == 0.0
    assert general.take("a:1", cost=4) == pytest.approx(1.0, abs=1e-6)  # 3 left: nothing spent
    assert general.take("a:1", cost=3) == 0.0
    assert accounts.take("a:1") == 0.0 and accounts.take("a:1") == 0.0
    assert accounts.take("a:1") > 0


def test_a_clock_behind_adds_nothing_and_never_moves_the_stamp_back(engine) -> None:
    clock = Clock()
    buckets = SharedBuckets(engine, "general", per_minute=60, burst=2, clock=clock)
    assert buckets.take("a:1") == 0.0 and buckets.take("a:1") == 0.0
    clock.now -= 100  # another host, its clock behind
    assert buckets.take("a:1") == pytest.approx(1.0, abs=1e-6)
    clock.now += 100.5  # back: half a second after the last real spend
    assert buckets.take("a:1") == pytest.approx(0.5, abs=1e-6)


def _spend(url: str, n: int, out) -> None:
    engine = open_bucket_engine(url)
    buckets = SharedBuckets(engine, "general", per_minute=1, burst=40)
    out.put(sum(1 for _ in range(n) if buckets.take("a:shared") == 0.0))
    engine.dispose()


def test_processes_spending_at_once_get_exactly_the_burst(engine, db_url: str) -> None:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_spend, args=(db_url, 30, out)) for _ in range(4)]
    for p in procs:
        p.start()
    got = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
    assert sum(got) == 40, got  # 120 attempts, one bucket of 40, a token a minute


def test_two_services_over_one_home_spend_one_bucket(db_url: str, tmp_path) -> None:
    """Two apps (as two workers are) with the database store: single and bulk requests
    through either one spend the same client's tokens."""
    from fastapi.testclient import TestClient

    from stylegate.operations.ingest import init_home
    from stylegate.service.app import create_app
    from stylegate.settings import Settings
    from stylegate.workspace import Workspace

    settings = Settings(home=tmp_path / "home", database_url=db_url, device="cpu", rate_limit_store="database",
                        rate_limit_burst=6, rate_limit_per_minute=1)
    init_home(Workspace(settings, create=True))
    with TestClient(create_app(settings)) as a, TestClient(create_app(settings)) as b:
        assert a.app.state.ctx.limits.shared
        assert [a.post("/v1/check/prompt", json={"prompt": f"a house {i}"}).status_code for i in range(2)] == [200, 200]
        r = b.post("/v1/lookup/names", json={"names": ["Nobody One", "Nobody Two", "Nobody Three"]},
                   headers={"accept": "application/x-ndjson"})
        assert r.status_code == 200, r.text  # three tokens: one left of six
        assert a.post("/v1/check/prompt", json={"prompt": "a boat"}).status_code == 200  # the last one
        refused = b.post("/v1/check/prompt", json={"prompt": "a tree"})
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert a.post("/v1/lookup/names", json={"names": ["Nobody One", "Nobody Two"]},
                      headers={"accept": "application/x-ndjson"}).status_code == 429
