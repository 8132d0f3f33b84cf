"""Property-based conformance of the HTTP API to its own OpenAPI schema (schemathesis).

Every operation in the live ``/openapi.json`` is called with generated requests, valid and
invalid, through the ASGI app: no response may be a server error, use a status code the
schema does not declare, or have a body that does not match its declared schema; invalid
requests must be refused. Artist routes are called with a real artist's token, and (for most
valid cases) with that artist's own id and work id, so the handlers behind the ownership check
run too; admin routes with the admin token. The run is bounded and derandomised.
"""

from __future__ import annotations

import io
import itertools
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, settings
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import positive_data_acceptance

from stylegate.operations.ingest import init_home
from stylegate.service.app import create_app
from stylegate.settings import Settings
from stylegate.styleworld import world

ADMIN = "schema-admin-token"
MAX_UPLOAD_FILES = 4
_seeds = itertools.count(5000)
_turns = itertools.count()
_uploads = itertools.count()
_images = itertools.count()


def png() -> bytes:
    """A new StyleWorld image each call (so uploads are not all duplicates)."""
    buf = io.BytesIO()
    world.render(world.ARTISTS[5], "boat", next(_seeds)).save(buf, "PNG")
    return buf.getvalue()


def _positive(case, location: ParameterLocation | None = None) -> bool:
    """Whether the case (or its part at ``location``) was generated valid: only those are edited,
    so that a deliberately invalid request stays invalid."""
    if case.meta is None:
        return True
    if case.meta.generation.mode.is_positive:
        return True
    component = case.meta.components.get(location) if location is not None else None
    return component is not None and component.mode.is_positive


class Identity:
    """One artist with one work, renewed whenever a generated request deleted either."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.artist_id = 0
        self.token = ""
        self.work_id = 0
        self.n = 0

    def ensure(self) -> None:
        if not self.token or self.client.get("/v1/artists/me", headers=self.headers).status_code != 200:
            self.n += 1
            r = self.client.post("/v1/artists", json={"name": f"Schema Owner {self.n}x", "consent": "credit",
                                                      "contact": "owner@example.org"})
            assert r.status_code == 201, r.text
            self.artist_id, self.token = r.json()["artist"]["id"], r.json()["token"]
            self.work_id = 0
        works = self.client.get(f"/v1/artists/{self.artist_id}/works", headers=self.headers).json()
        if self.work_id not in {w["id"] for w in works}:
            r = self.client.post(f"/v1/artists/{self.artist_id}/works", headers=self.headers,
                                 files=[("files", ("w.png", png(), "image/png"))])
            assert r.status_code == 201, r.text
            self.work_id = r.json()["added"][0]["id"]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


# The schema is read from the running app when the module is collected (schemathesis's lazy
# ``from_fixture`` loader does not work with pytest 9), so the app is built here without its
# start-up work; the ``service`` fixture prepares it, and removes its home afterwards.
HOME = Path(tempfile.gettempdir()) / f"stylegate-schema-{uuid.uuid4().hex}" / "home"
APP = create_app(Settings(home=HOME, admin_token=ADMIN, device="cpu", cpu_threads=1,
                          rate_limit_per_minute=1_000_000, rate_limit_burst=1_000_000,
                          account_rate_limit_per_minute=1_000_000, account_rate_limit_burst=1_000_000,
                          max_request_bytes=64 * 1024, max_image_bytes=256 * 1024, max_upload_files=MAX_UPLOAD_FILES),
                 prepare=False)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module")
def service():
    init_home(APP.state.ctx.workspace)  # what `stylegate init` does: the service never creates a home
    APP.state.ctx.prepare()
    try:
        with TestClient(APP) as client:
            yield Identity(client)
    finally:
        shutil.rmtree(HOME.parent, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=20, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case, service) -> None:
    me = service
    me.ensure()
    path, method = case.operation.path, case.operation.method.upper()
    headers = {}
    if path.startswith("/v1/admin/"):
        headers = {"Authorization": f"Bearer {ADMIN}"}
    elif path.startswith("/v1/artists/"):
        headers = me.headers
    # Most valid cases act on our own artist and work (the rest keep the generated ids), so the
    # handlers behind the ownership check run; the admin routes act on the same artist.
    # (Generated parts may be shared between cases, so they are replaced, never edited in place.)
    params = dict(case.path_parameters or {})
    turn = next(_turns)
    if _positive(case, ParameterLocation.PATH) and "artist_id" in params and turn % 4:
        params["artist_id"] = me.artist_id
        if "work_id" in params and turn % 8 != 1:
            params["work_id"] = me.work_id
        case.path_parameters = params
    # Generated bytes are never an image; two in three valid uploads and image checks send real PNGs
    # instead, so the success responses are checked against the schema too.
    # (sent in place of the generated body, which schemathesis then knows was not sent)
    own_body = {}
    if _positive(case):
        if method == "POST" and path.endswith("/works") and (n := next(_uploads)) % 3:
            own_body["files"] = [("files", (f"{i}.png", png(), "image/png")) for i in range(1 + n % MAX_UPLOAD_FILES)]
        if path == "/v1/check/image" and next(_images) % 3:
            own_body["files"] = {"file": ("probe.png", png(), "image/png")}
    # A generated value may be schema-valid and still refused (422) by a rule the schema cannot
    # state (bytes that are no image, a name too long once case-folded, a royalty rate for an
    # artist without royalty consent), so valid data is not required to be accepted; every other
    # check runs: no 5xx, declared status codes, content types, headers and bodies, invalid data
    # refused, and authentication enforced (no token or a wrong one must give 401/403).
    case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance], **own_body)
