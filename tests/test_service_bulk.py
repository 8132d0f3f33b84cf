"""Bulk requests: `POST /v1/lookup/names` in JSON lines (up to 10,000 names) and
`POST /v1/check/prompts` (up to 10,000 prompts, each gated and audited), charged to the rate
limit one token per item, with the bulk body cap. A real app over a real home (TestClient)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import fresh_pg_database
from fastapi.testclient import TestClient
from test_cli import cli_home, sg
from test_cli_api_parity import cli_json, comparable

from stylegate.operations.ingest import init_home
from stylegate.service.app import create_app
from stylegate.settings import Settings
from stylegate.styleworld import world
from stylegate.workspace import Workspace

NDJSON = {"accept": "application/x-ndjson"}
OPT_OUT = next(a for a in world.ARTISTS if a.consent == "opt-out")
ROYALTY = next(a for a in world.ARTISTS if a.consent == "royalty")
MAX_REQUEST_BYTES = 4096


def lines(r: Any) -> list[dict[str, Any]]:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in r.text.splitlines()]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The registry (and audit log) database of the module's home: None for the home's SQLite
    files, or a new database on the session's PostgreSQL server (dropped afterwards)."""
    if request.param == "sqlite":
        yield None
        return
    with fresh_pg_database(request) as url:
        yield url


@contextlib.contextmanager
def database_env(database: str | None) -> Iterator[None]:
    """The CLI (and a ``Settings()`` read from the environment) on ``database``."""
    with pytest.MonkeyPatch.context() as mp:
        if database is not None:
            mp.setenv("STYLEGATE_DATABASE_URL", database)
        yield


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, database: str | None) -> Path:
    with database_env(database):
        return cli_home(tmp_path_factory.mktemp("bulk"), (OPT_OUT, ROYALTY))


@pytest.fixture(autouse=True)
def _cli_on_the_database(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test on the module's home runs its CLI calls on the home's database."""
    database = request.getfixturevalue("database") if "home" in request.fixturenames else None
    with database_env(database):
        yield


@pytest.fixture(scope="module")
def client(home: Path, database: str | None):
    s = Settings(home=home, database_url=database, device="cpu", cpu_threads=1, max_request_bytes=MAX_REQUEST_BYTES,
                 rate_limit_per_minute=1_000_000, rate_limit_burst=100_000)
    with TestClient(create_app(s)) as c:
        yield c


# ------------------------------------------------------------------------------ names
def test_names_stream_in_input_order_with_the_json_answers_fields(client: TestClient) -> None:
    names = [OPT_OUT.name.upper(), "Nobody Registered Here", ROYALTY.name]
    streamed = lines(client.post("/v1/lookup/names", json={"names": names}, headers=NDJSON))
    whole = client.post("/v1/lookup/names", json={"names": names})
    assert whole.status_code == 200 and whole.headers["content-type"] == "application/json"
    assert streamed == whole.json()["results"]  # the same per-name result, field for field
    assert [line["name"] for line in streamed] == names
    assert [line["registered"] for line in streamed] == [True, False, True]
    assert streamed[0]["matches"][0]["consent"] == "opt-out"


def test_ten_thousand_names_in_one_request(client: TestClient) -> None:
    names = [OPT_OUT.name if i % 1000 == 7 else f"N{i}" for i in range(10_000)]
    body = json.dumps({"names": names})
    assert len(body) > 16 * MAX_REQUEST_BYTES  # over the JSON cap, within the bulk cap (64 x)
    got = lines(client.post("/v1/lookup/names", content=body, headers={**NDJSON, "content-type": "application/json"}))
    assert [line["name"] for line in got] == names
    assert [i for i, line in enumerate(got) if line["registered"]] == [i for i in range(10_000) if i % 1000 == 7]


def test_a_json_answer_keeps_its_100_names_and_small_cap(client: TestClient) -> None:
    r = client.post("/v1/lookup/names", json={"names": ["a"] * 101})
    assert r.status_code == 422 and "application/x-ndjson" in r.json()["detail"]
    big = {"names": [f"name number {i:05d}" for i in range(600)]}  # about 10 kB: over the JSON cap
    assert client.post("/v1/lookup/names", json=big).status_code == 413
    assert len(lines(client.post("/v1/lookup/names", json=big, headers=NDJSON))) == 600


@pytest.mark.parametrize("body", [{"names": []}, {"names": ["a"] * 10_001}, {"names": ["ok", "  "]},
                                  {"names": ["x" * 2001]}, {"names": [1]}, {"names": ["ok"], "extra": 1}])
def test_invalid_bulk_names_are_422(client: TestClient, body: dict) -> None:
    assert client.post("/v1/lookup/names", json=body, headers=NDJSON).status_code == 422


def test_a_bulk_body_over_the_bulk_cap_is_413(client: TestClient) -> None:
    names = ["n" * 1000] * 300  # 300 kB: over 64 x 4 kB
    body = json.dumps({"names": names}).encode()
    assert len(body) > 64 * MAX_REQUEST_BYTES
    r = client.post("/v1/lookup/names", content=body, headers={**NDJSON, "content-type": "application/json"})
    assert r.status_code == 413 and str(64 * MAX_REQUEST_BYTES) in r.json()["detail"]
    r = client.post("/v1/lookup/names", content=iter([body[i:i + 8192] for i in range(0, len(body), 8192)]),
                    headers={**NDJSON, "content-type": "application/json"})  # not declared up front
    assert r.status_code == 413


# ------------------------------------------------------------------------------ prompts
def test_bulk_prompts_are_each_the_single_check_and_audited(home: Path, client: TestClient,
                                                           request: pytest.FixtureRequest) -> None:
    prompts = ["a quiet harbour at dawn", f"a lighthouse by {OPT_OUT.name}", "   ", "x" * 5000,
               f"a tree by {ROYALTY.name}"]
    got = lines(client.post("/v1/check/prompts", json={"prompts": prompts}))
    assert len(got) == len(prompts)
    assert set(got[2]) == {"index", "error"} and got[2]["index"] == 2 and got[2]["error"]
    assert got[3]["index"] == 3 and "2000" in got[3]["error"]
    assert [got[i]["action"] for i in (0, 1, 4)] == ["allow", "block", "attribute"]
    for i in (0, 1, 4):
        single = client.post("/v1/check/prompt", json={"prompt": prompts[i]}).json()
        assert comparable(got[i]) == comparable(single)
    seqs = [got[i]["audit_seq"] for i in (0, 1, 4)]
    assert seqs[0] < seqs[1] < seqs[2]
    ws = Workspace(Settings(home=home, device="cpu"))  # on the module's database (the environment)
    assert ws.settings.database_url == request.getfixturevalue("database")
    entries = [ws.audit.entry(seq) for seq in seqs]
    assert [e["body"]["source"]["index"] for e in entries] == [0, 1, 4]
    assert {e["body"]["source"]["api"] for e in entries} == {"/v1/check/prompts"}
    assert sg(home, "audit", "verify").exit_code == 0


def test_bulk_prompt_lines_equal_the_cli_json(home: Path, client: TestClient) -> None:
    prompts = ["a quiet harbour at dawn", f"a lighthouse by {OPT_OUT.name}", f"a tree by {ROYALTY.name}"]
    api = lines(client.post("/v1/check/prompts", json={"prompts": prompts}))
    for prompt, line in zip(prompts, api):
        assert comparable(line) == comparable(cli_json(home, "check", "prompt", prompt))


@pytest.mark.parametrize("body", [{}, {"prompts": []}, {"prompts": ["a"] * 10_001}, {"prompts": "one"},
                                  {"prompts": [3]}, {"prompts": ["a"], "extra": True}])
def test_invalid_bulk_prompt_bodies_are_422(client: TestClient, body: dict) -> None:
    assert client.post("/v1/check/prompts", json=body).status_code == 422


def test_openapi_documents_the_bulk_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/v1/lookup/names", "/v1/check/prompts"):
        op = paths[path]["post"]
        assert "application/x-ndjson" in op["responses"]["200"]["content"]
        assert {"413", "422", "429"} <= set(op["responses"])


# ------------------------------------------------------------------------------ rate limit by items
@pytest.fixture()
def limited(tmp_path: Path, db_url: str):
    """A burst of 10 tokens, one a minute after that: in memory on SQLite (one process), in the
    database's shared buckets (what `serve --workers N` uses) on PostgreSQL."""
    pg = not db_url.startswith("sqlite")
    s = Settings(home=tmp_path / "home", database_url=db_url if pg else None, device="cpu", cpu_threads=1,
                 rate_limit_per_minute=1, rate_limit_burst=10, rate_limit_store="database" if pg else "auto")
    init_home(Workspace(s))
    with TestClient(create_app(s)) as c:
        yield c


def test_the_budget_is_spent_by_items(limited: TestClient) -> None:
    assert limited.post("/v1/lookup/names", json={"names": ["a", "b", "c", "d"]}, headers=NDJSON).status_code == 200
    assert limited.post("/v1/check/prompts", json={"prompts": ["a cat", "a dog", "a cow", "a hen"]}).status_code == 200
    r = limited.post("/v1/lookup/names", json={"names": ["a", "b", "c"]})  # 2 tokens left, 3 asked
    assert r.status_code == 429 and "3 items cost 3 tokens" in r.json()["detail"]
    assert int(r.headers["Retry-After"]) >= 60  # a token a minute: at least a minute for what is missing
    # the refused request spent one token as any request does; one is left
    assert limited.post("/v1/lookup/names", json={"names": ["a"]}).status_code == 200
    r = limited.post("/v1/check/prompt", json={"prompt": "a cat"})
    assert r.status_code == 429 and "Retry-After" in r.headers


def test_more_items_than_the_bucket_holds_is_refused_at_once(limited: TestClient) -> None:
    r = limited.post("/v1/check/prompts", json={"prompts": ["a cat"] * 11})
    assert r.status_code == 413
    assert "at most 10" in r.json()["detail"] and "STYLEGATE_RATE_LIMIT_BURST" in r.json()["detail"]
    # a refusal costs one token, not eleven: nine remain
    assert limited.post("/v1/lookup/names", json={"names": ["a"] * 9}, headers=NDJSON).status_code == 200
    assert limited.post("/v1/lookup/names", json={"names": ["a"]}).status_code == 429


# ------------------------------------------------------------------------------ over real HTTP
@pytest.mark.slow
def test_the_bulk_bench_streams_over_loopback() -> None:
    """`stylegate bench bulk` in small: uvicorn on a loopback port, lines read as they stream."""
    from stylegate.bench.bulk import run_bulk_bench

    r = run_bulk_bench(items=40, artists=30)
    assert r["names"]["lines"] == r["prompts"]["lines"] == 40
    assert r["names"]["registered"] == 20  # every other name is a registered one, in upper case
    assert r["prompts"]["errors"] == 0 and sum(r["prompts"]["actions"].values()) == 40
    assert r["names"]["per_s"] > 0 and r["prompts"]["per_s"] > 0
