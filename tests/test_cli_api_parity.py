"""The README's promise: the API's decision JSON equals `stylegate check … --json`, field for
field, for every kind of check. Only what differs by construction is left out of the
comparison: the audit entry's number, and the line/prompt echo of a prompt file's JSON line."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from test_cli import cli_home, sg

from stylegate.service.app import create_app
from stylegate.settings import Settings
from stylegate.styleworld import world

OPT_OUT = next(a for a in world.ARTISTS if a.consent == "opt-out")
ROYALTY = next(a for a in world.ARTISTS if a.consent == "royalty")
UNREGISTERED = [a for a in world.ARTISTS if a.consent == "credit"][-1]
BY_CONSTRUCTION = {"audit_seq"}


def cli_json(home: Path, *args: str) -> dict[str, Any]:
    result = sg(home, *args, "--json")
    assert result.exit_code in (0, 3), result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def comparable(decision: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in decision.items() if k not in BY_CONSTRUCTION}


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cli_home(tmp_path_factory.mktemp("parity"), (OPT_OUT, ROYALTY))


@pytest.fixture(scope="module")
def client(home: Path):
    with TestClient(create_app(Settings(home=home, device="cpu"))) as c:
        yield c


@pytest.mark.parametrize("prompt", [
    "a quiet harbour at dawn",  # allowed
    f"a lighthouse by {OPT_OUT.name}",  # blocked
    f"a tree by {ROYALTY.name}",  # attributed
])
def test_prompt_check_is_the_same_json(home: Path, client: TestClient, prompt: str) -> None:
    cli = cli_json(home, "check", "prompt", prompt)
    r = client.post("/v1/check/prompt", json={"prompt": prompt})
    assert r.status_code == 200, r.text
    api = r.json()
    assert comparable(api) == comparable(cli)
    assert isinstance(api["audit_seq"], int) and isinstance(cli["audit_seq"], int) and api["audit_seq"] != cli["audit_seq"]


def test_prompt_file_line_is_the_same_json(home: Path, client: TestClient, tmp_path: Path) -> None:
    prompt = f"a cat painted by {OPT_OUT.name}"
    file = tmp_path / "prompts.txt"
    file.write_text(f"\n{prompt}\n", "utf-8")
    result = sg(home, "check", "prompt", "--file", str(file), "--json")
    assert result.exit_code == 3, result.output
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert line["line"] == 2 and line["prompt"] == prompt
    api = client.post("/v1/check/prompt", json={"prompt": prompt}).json()
    assert comparable(api) == comparable({k: v for k, v in line.items() if k not in {"line", "prompt"}})
    assert api["action"] == "block"


def _image_cases(home: Path, folder: Path) -> dict[str, Image.Image]:
    return {
        "allowed.png": world.render(UNREGISTERED, world.SUBJECTS[0], 9001),
        "copy.png": Image.open(next((home / "works").rglob("*.png"))).convert("RGB"),
    }


@pytest.mark.parametrize("name", ["allowed.png", "copy.png"])
def test_image_check_is_the_same_json(home: Path, client: TestClient, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    image = _image_cases(home, tmp_path)[name]
    data = png_bytes(image)
    (tmp_path / name).write_bytes(data)
    monkeypatch.chdir(tmp_path)  # the CLI names the path as given: the upload's file name
    cli = cli_json(home, "check", "image", name)
    r = client.post("/v1/check/image", files={"file": (name, data, "image/png")})
    assert r.status_code == 200, r.text
    api = r.json()
    assert comparable(api) == comparable(cli)
    assert api["image"] == {"path": name, "sha256": cli["image"]["sha256"]}
    assert api["provenance"]["status"] == "unsigned"
    if name == "copy.png":
        assert api["action"] == "block" and "near-duplicate" in {e["kind"] for e in api["evidence"]}


def test_image_with_provenance_is_the_same_json(home: Path, client: TestClient, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from stylegate.generator.provenance import save_with_provenance
    from stylegate.governance.audit.signing import load_or_create_signer

    signed = tmp_path / "signed.png"
    record = {"decision": "allow", "audit_seq": 1, "seed": 0, "steps": 1}
    save_with_provenance(world.render(UNREGISTERED, world.SUBJECTS[1], 77), signed, record, load_or_create_signer(home))
    monkeypatch.chdir(tmp_path)
    cli = cli_json(home, "check", "image", "signed.png")
    r = client.post("/v1/check/image", files={"file": ("signed.png", signed.read_bytes(), "image/png")})
    assert r.status_code == 200, r.text
    api = r.json()
    assert comparable(api) == comparable(cli)
    assert api["provenance"]["status"] == "verified" and api["provenance"]["trusted"] is True
    assert api["provenance"]["record"] == record
