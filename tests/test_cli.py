"""The CLI contract end to end on the shipped StyleWorld CLIP: real SQLite, FAISS, files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stylegate.cli import app
from stylegate.styleworld import world

runner = CliRunner()

OPT_OUT = next(a for a in world.ARTISTS if a.consent == "opt-out")
ROYALTY = next(a for a in world.ARTISTS if a.consent == "royalty")
CREDIT = next(a for a in world.ARTISTS if a.consent == "credit")


def sg(home: Path, *args: str) -> object:
    return runner.invoke(app, ["--home", str(home), *args])


def js(result: object) -> dict:
    return json.loads(result.stdout.strip().splitlines()[-1])


def render_works(folder: Path, artist: world.StyleArtist, n: int = 4, seed0: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        world.render(artist, world.SUBJECTS[k % len(world.SUBJECTS)], seed0 + k).save(folder / f"{k}.png")
    return folder


def register_artist(home: Path, artist: world.StyleArtist, works: Path, n: int) -> object:
    """`artists add` (descriptors, rate 0.25 for royalty) and `works add` of ``n`` rendered works."""
    args = ["artists", "add", artist.name, "--consent", artist.consent]
    for d in artist.descriptors:
        args += ["--descriptor", d]
    if artist.consent == "royalty":
        args += ["--rate", "0.25"]
    assert sg(home, *args).exit_code == 0
    result = sg(home, "works", "add", artist.name, str(render_works(works, artist, n=n)), "--json")
    assert result.exit_code == 0, result.output
    return result


def cli_home(base: Path, artists: tuple[world.StyleArtist, ...], n: int = 4) -> Path:
    """``base/home`` initialised by `stylegate init`, with ``artists`` registered with ``n`` works each."""
    home = base / "home"
    assert sg(home, "init").exit_code == 0
    for artist in artists:
        register_artist(home, artist, base / "works" / artist.name, n=n)
    return home


def snapshot(home: Path) -> dict:
    """Everything an import may touch: database rows, index bytes, stored files."""
    index = home / "index" / "style.faiss"
    works = sorted(str(p.relative_to(home)) for p in (home / "works").rglob("*") if p.is_file())
    listed = sg(home, "artists", "list", "--json")
    return {
        "artists": js(listed)["artists"],
        "index": index.read_bytes() if index.exists() else None,
        "sidecar": index.with_suffix(".faiss.json").read_bytes() if index.with_suffix(".faiss.json").exists() else None,
        "works": works,
    }


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with three StyleWorld artists (opt-out, royalty, credit) and their works."""
    base = tmp_path_factory.mktemp("populated")
    home = base / "home"
    assert sg(home, "init").exit_code == 0
    for artist in (OPT_OUT, ROYALTY, CREDIT):
        result = register_artist(home, artist, base / artist.name, n=6)
        assert len(js(result)["added"]) == 6
    return home


@pytest.fixture()
def home_copy(populated: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "home"
    shutil.copytree(populated, dest)
    return dest


def test_help_is_instant_and_lists_commands() -> None:
    out = subprocess.run([sys.executable, "-m", "stylegate", "--help"], capture_output=True, text=True, check=True)
    for command in ("init", "artists", "works", "index", "check", "demo", "bench"):
        assert command in out.stdout
    probe = "import sys, stylegate.cli; print('torch' in sys.modules, 'faiss' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.split() == ["False", "False"]


def test_help_loads_no_heavy_library() -> None:
    """Every command module is imported for `--help`; none may import a model or data library."""
    heavy = ("torch", "open_clip", "faiss", "diffusers", "pandas", "ray")
    probe = f"import sys, stylegate.cli; print([m for m in {heavy!r} if m in sys.modules])"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


@pytest.mark.parametrize(("args", "option", "choices", "help_for"), [
    (["--device", "tpu", "check", "prompt", "a cat"], "--device", "auto|cpu|cuda|mps", []),
    (["artists", "add", "Bo", "--consent", "maybe"], "--consent", "opt-out|royalty|credit", ["artists", "add"]),
    (["report", "audit", "--format", "pdf"], "--format", "html|csv|parquet", ["report", "audit"]),
    (["report", "attribution", "--format", "xlsx"], "--format", "html|csv|parquet", ["report", "attribution"]),
    (["report", "calibration", "--format", "txt"], "--format", "html|csv|parquet", ["report", "calibration"]),
    (["report", "attribution", "--period", "fortnight"], "--period", "day|week|month", ["report", "attribution"]),
    (["generate", "a cat", "--dtype", "int8"], "--dtype", "auto|float32|float16|bfloat16", ["generate"]),
    (["generate", "a cat", "--device", "tpu"], "--device", "auto|cpu|cuda|mps", ["generate"]),
])
def test_bad_choice_is_a_usage_error_listed_in_help(home: Path, args: list[str], option: str, choices: str,
                                                    help_for: list[str]) -> None:
    result = sg(home, *args)
    assert result.exit_code == 2
    said = " ".join(result.stderr.replace("│", " ").split())  # the message may wrap inside a box
    assert f"{option} must be one of {choices.replace('|', ', ')}" in said
    shown = runner.invoke(app, [*help_for, "--help"], env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})
    assert shown.exit_code == 0 and f"[{choices}]" in shown.stdout


def test_init_creates_the_home(home: Path) -> None:
    result = sg(home, "init", "--json")
    assert result.exit_code == 0, result.output
    info = js(result)
    assert (home / "registry.db").exists() and (home / "policy.toml").exists()
    assert (home / "index" / "style.faiss").exists()
    assert info["embedder"]["model"] == "styleworld-clip"
    assert sg(home, "init").exit_code == 0  # idempotent


def test_artist_round_trip_and_errors(home: Path) -> None:
    sg(home, "init")
    result = sg(home, "artists", "add", "Ada Quill", "--alias", "A. Quill", "--descriptor", "ink spirals", "--consent", "royalty", "--rate", "0.3", "--json")
    assert result.exit_code == 0, result.output
    artist = js(result)
    assert artist["aliases"] == ["A. Quill"] and artist["royalty_rate"] == 0.3
    listed = js(sg(home, "artists", "list", "--json"))["artists"]
    assert [a["name"] for a in listed] == ["Ada Quill"]
    dup = sg(home, "artists", "add", "ada quill", "--consent", "credit")
    assert dup.exit_code == 2 and "already" in dup.stderr
    bad = sg(home, "artists", "add", "Bo", "--consent", "maybe")
    assert bad.exit_code == 2 and "--consent must be one of" in bad.stderr
    rate = sg(home, "artists", "add", "Bo", "--consent", "credit", "--rate", "0.5")
    assert rate.exit_code == 2 and "--rate only applies" in rate.stderr
    missing = sg(home, "artists", "remove", "Nobody", "--json")
    assert missing.exit_code == 2 and "unknown artist" in js(missing)["error"]
    assert sg(home, "artists", "remove", str(artist["id"])).exit_code == 0
    assert js(sg(home, "artists", "list", "--json"))["artists"] == []


def test_works_add_reports_duplicates(home_copy: Path, tmp_path: Path) -> None:
    folder = render_works(tmp_path / "again", OPT_OUT, n=6)
    result = sg(home_copy, "works", "add", OPT_OUT.name, str(folder), "--json")
    assert result.exit_code == 0, result.output
    assert js(result)["added"] == [] and len(js(result)["duplicates"]) == 6


def test_works_add_with_a_corrupt_file_changes_nothing(home_copy: Path, tmp_path: Path) -> None:
    folder = render_works(tmp_path / "mixed", OPT_OUT, n=3, seed0=500)
    data = (folder / "1.png").read_bytes()
    (folder / "1.png").write_bytes(data[: len(data) // 2])  # truncated
    before = snapshot(home_copy)
    result = sg(home_copy, "works", "add", OPT_OUT.name, str(folder))
    assert result.exit_code == 2
    assert "1.png" in result.stderr
    assert snapshot(home_copy) == before


@pytest.mark.parametrize(
    "args, code, text",
    [
        (["works", "add", "Nobody", "{img}"], 2, "unknown artist"),
        (["works", "add", OPT_OUT.name, "/no/such/file.png"], 2, "no such file"),
        (["check", "image", "/no/such/file.png"], 2, "no such file"),
        (["check", "image", "{txt}"], 2, "not"),
        (["check", "prompt", ""], 2, "empty"),
        (["check", "prompt", "x" * 2001], 2, "limit is 2000"),
        (["check", "prompt"], 2, "either a PROMPT or --file"),
        (["check", "prompt", "--file", "/no/such/prompts.txt"], 2, "no such file"),
    ],
)
def test_bad_input_exits_2_with_a_message(home_copy: Path, tmp_path: Path, args: list, code: int, text: str) -> None:
    img = render_works(tmp_path / "one", CREDIT, n=1, seed0=900) / "0.png"
    txt = tmp_path / "notes.png"
    txt.write_text("not an image at all")
    args = [a.replace("{img}", str(img)).replace("{txt}", str(txt)) for a in args]
    before = snapshot(home_copy)
    result = sg(home_copy, *args)
    assert result.exit_code == code, result.output
    assert text in result.stderr
    assert snapshot(home_copy) == before


def test_named_opt_out_prompt_is_blocked(populated: Path) -> None:
    result = sg(populated, "check", "prompt", f"a lighthouse by {OPT_OUT.name}", "--json")
    assert result.exit_code == 3
    decision = js(result)
    assert decision["action"] == "block"
    names = [e for e in decision["evidence"] if e["kind"] == "name"]
    assert names and names[0]["artist"]["name"] == OPT_OUT.name
    assert {"action", "evidence", "attribution", "audit_seq"} <= set(decision)


def test_royalty_prompt_is_attributed(populated: Path) -> None:
    result = sg(populated, "check", "prompt", f"a boat by {ROYALTY.name}", "--json")
    assert result.exit_code == 0
    decision = js(result)
    assert decision["action"] == "attribute"
    assert decision["attribution"][0]["artist"]["name"] == ROYALTY.name
    assert sum(a["share"] for a in decision["attribution"]) == pytest.approx(1.0)


def test_neutral_prompt_is_allowed_and_table_output_is_readable(populated: Path) -> None:
    result = sg(populated, "check", "prompt", "a house")
    assert result.exit_code == 0, result.output
    assert "ALLOW" in result.stdout


def test_prompt_file_gives_json_lines(populated: Path, tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.txt"
    prompts.write_text(f"a house\n\na cat by {OPT_OUT.name}\n{'y' * 3000}\n")
    result = sg(populated, "check", "prompt", "--file", str(prompts), "--json")
    lines = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [line["line"] for line in lines] == [1, 3, 4]
    assert lines[0]["action"] == "allow" and lines[1]["action"] == "block"
    assert "limit" in lines[2]["error"]
    assert result.exit_code == 3  # a blocked prompt outranks an unusable line


def test_image_in_an_opt_out_style_is_blocked(populated: Path, tmp_path: Path) -> None:
    seed = world.heldout_seeds()[0]
    path = tmp_path / "probe.png"
    world.render(OPT_OUT, world.SUBJECTS[3], seed).save(path)
    result = sg(populated, "check", "image", str(path), "--json")
    decision = js(result)
    assert result.exit_code == 3, decision
    assert any(e["kind"] == "style" and e["artist"]["name"] == OPT_OUT.name for e in decision["evidence"])


def test_copy_of_a_reference_work_is_a_near_duplicate(populated: Path, tmp_path: Path) -> None:
    path = tmp_path / "copy.png"
    world.render(ROYALTY, world.SUBJECTS[1], 1).save(path)  # identical to reference work #1
    decision = js(sg(populated, "check", "image", str(path), "--json"))
    kinds = {(e["kind"], e["artist"]["name"]) for e in decision["evidence"]}
    assert ("near-duplicate", ROYALTY.name) in kinds
    assert decision["action"] == "block"  # the default policy blocks copies of any artist's work


def test_index_from_another_embedder_is_refused(home_copy: Path) -> None:
    from stylegate.registry.style_index import StyleIndex

    index_path = home_copy / "index" / "style.faiss"
    other = StyleIndex.create(16, {"model": "someone-else", "checkpoint_sha256": "0" * 64, "dim": 16})
    other.save(index_path, "whatever")
    result = sg(home_copy, "check", "prompt", "a house")
    assert result.exit_code == 1
    assert "someone-else" in result.stderr or "embedder" in result.stderr


def test_stale_index_is_refused_until_rebuilt(home_copy: Path) -> None:
    index_path = home_copy / "index" / "style.faiss"
    index_path.unlink()
    result = sg(home_copy, "check", "prompt", "a house")
    assert result.exit_code == 1 and "index rebuild" in result.stderr
    rebuilt = sg(home_copy, "index", "rebuild", "--json")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert js(rebuilt)["count"] == 18
    assert sg(home_copy, "check", "prompt", f"a cat by {OPT_OUT.name}").exit_code == 3


def test_removing_an_artist_removes_their_vectors(home_copy: Path) -> None:
    assert sg(home_copy, "artists", "remove", OPT_OUT.name).exit_code == 0
    assert sg(home_copy, "check", "prompt", f"a cat by {OPT_OUT.name}").exit_code == 0
    rebuilt = js(sg(home_copy, "index", "rebuild", "--json"))
    assert rebuilt["count"] == 12


def test_invalid_policy_file_is_a_usage_error(home_copy: Path) -> None:
    policy = home_copy / "policy.toml"
    policy.write_text(policy.read_text().replace('name = "block"', 'name = "explode"'))
    result = sg(home_copy, "check", "prompt", "a house")
    assert result.exit_code == 2 and "consent.opt-out.name" in result.stderr


def test_readme_test_command_is_what_ci_runs() -> None:
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    ci = (root / ".ci" / "run").read_text()
    command = "pip install -e '.[dev]' && python -m pytest -q"
    assert command in readme and command in ci


def test_checks_and_registry_changes_are_audited_and_verify(home_copy: Path, tmp_path: Path) -> None:
    first = js(sg(home_copy, "check", "prompt", f"a cat by {OPT_OUT.name}", "--json"))
    second = js(sg(home_copy, "check", "prompt", "a house", "--json"))
    assert isinstance(first["audit_seq"], int) and second["audit_seq"] == first["audit_seq"] + 1
    checkpoint = sg(home_copy, "audit", "checkpoint", "--json")
    assert checkpoint.exit_code == 0, checkpoint.output
    verified = sg(home_copy, "audit", "verify", "--json")
    assert verified.exit_code == 0 and js(verified)["ok"] is True
    proof = js(sg(home_copy, "audit", "prove", str(first["audit_seq"])))
    from stylegate.governance.audit.merkle import leaf_hash
    from stylegate.governance.audit.verify import verify_inclusion

    assert verify_inclusion(leaf_hash(proof["leaf"].encode()), proof["index"], proof["tree_size"], proof["audit_path"], proof["root"])
    kinds = [json.loads(json.loads(line)["leaf"])["kind"] for line in _export(home_copy, tmp_path)]
    assert kinds.count("registry.artist.added") == 3 and kinds.count("registry.works.added") == 3
    assert kinds[-2:] == ["check.prompt", "check.prompt"]


def _export(home: Path, tmp_path: Path) -> list[str]:
    out = tmp_path / "export.jsonl"
    assert sg(home, "audit", "export", "--out", str(out)).exit_code == 0
    return [line for line in out.read_text().splitlines() if '"leaf"' in line]


def test_a_tampered_audit_log_fails_verification_naming_the_entry(home_copy: Path) -> None:
    import sqlite3

    seq = js(sg(home_copy, "check", "prompt", f"a cat by {OPT_OUT.name}", "--json"))["audit_seq"]
    sg(home_copy, "check", "prompt", "a house")
    with sqlite3.connect(home_copy / "audit.db") as db:
        db.execute("update entries set entry = replace(entry, '\"block\"', '\"allow\"') where seq = ?", (seq,))
    result = sg(home_copy, "audit", "verify", "--json")
    assert result.exit_code == 1
    assert js(result)["first_bad_seq"] == seq


def test_generate_blocks_without_writing_and_attributes_with_images(populated: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    blocked = sg(populated, "generate", f"a cat by {OPT_OUT.name}", "--out", str(out), "--json")
    assert blocked.exit_code == 3
    assert js(blocked)["action"] == "block" and js(blocked)["files"] == []
    assert not out.exists()
    allowed = sg(populated, "generate", f"a tree by {ROYALTY.name}", "--num-images", "2", "--out", str(out), "--json")
    assert allowed.exit_code == 0, allowed.output
    result = js(allowed)
    kept = [f for f in result["files"]]
    assert kept and all(Path(f["path"]).is_file() for f in kept)
    assert sorted(p.name for p in out.iterdir()) == sorted(Path(f["path"]).name for f in kept)
    assert isinstance(result["audit_seq"], int)
    assert sg(populated, "audit", "verify").exit_code == 0


def test_generate_from_an_unreachable_hub_id_says_so(populated: Path) -> None:
    result = sg(populated, "generate", "a tree", "--model", "nobody/no-such-pipeline")
    assert result.exit_code == 1
    assert "model hub" in result.stderr and "local folder" in result.stderr
    folder = sg(populated, "generate", "a tree", "--model", str(Path(__file__).parent))
    assert folder.exit_code == 2 and "not a diffusers pipeline folder" in folder.stderr  # a usage error


def test_generated_images_carry_verified_provenance_and_tampering_is_detected(populated: Path, tmp_path: Path) -> None:
    from PIL import Image

    out = tmp_path / "out"
    result = js(sg(populated, "generate", f"a tree by {ROYALTY.name}", "--out", str(out), "--json"))
    path = Path(result["files"][0]["path"])
    checked = js(sg(populated, "check", "image", str(path), "--json"))
    provenance = checked["provenance"]
    assert provenance["status"] == "verified" and provenance["trusted"] is True
    assert provenance["record"]["audit_seq"] == result["audit_seq"]
    assert provenance["record"]["attribution"][0]["artist"]["name"] == ROYALTY.name
    image = Image.open(path)
    image.load()
    pixels = image.copy()
    pixels.putpixel((0, 0), (0, 0, 0))
    tampered = tmp_path / "tampered.png"
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    for key, value in image.text.items():
        info.add_itxt(key, value)
    pixels.save(tampered, pnginfo=info)
    assert js(sg(populated, "check", "image", str(tampered), "--json"))["provenance"]["status"] == "tampered-pixels"
    plain = tmp_path / "plain.png"
    pixels.save(plain)
    assert js(sg(populated, "check", "image", str(plain), "--json"))["provenance"]["status"] == "unsigned"


def _report_rows(home: Path, out: Path) -> dict[str, dict]:
    import csv

    result = sg(home, "report", "attribution", "--format", "csv", "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    return {r["artist_name"]: r for r in csv.DictReader(out.open())}


def test_attribution_report_reconciles_with_the_generations(home_copy: Path, tmp_path: Path) -> None:
    before = _report_rows(home_copy, tmp_path / "before.csv")  # the copied home may hold earlier generations
    allowed = js(sg(home_copy, "generate", f"a tree by {ROYALTY.name}", "--out", str(tmp_path / "o"), "--json"))
    assert allowed["action"] == "attribute"
    assert sg(home_copy, "generate", f"a cat by {OPT_OUT.name}").exit_code == 3
    after = _report_rows(home_copy, tmp_path / "after.csv")

    def value(rows: dict, artist: str, column: str) -> float:
        return float(rows[artist][column]) if artist in rows else 0.0

    price = 0.04  # the default policy's price per generation
    share = {a["artist"]["name"]: a["share"] for a in allowed["attribution"]}[ROYALTY.name]
    gained = value(after, ROYALTY.name, "royalties") - value(before, ROYALTY.name, "royalties")
    assert gained == pytest.approx(price * share * 0.25)  # 0.25: the rate the fixture registered
    blocked = value(after, OPT_OUT.name, "blocked_on_behalf") - value(before, OPT_OUT.name, "blocked_on_behalf")
    assert blocked == 1
    html = tmp_path / "attribution.html"
    assert sg(home_copy, "report", "attribution", "--out", str(html)).exit_code == 0
    assert ROYALTY.name in html.read_text() and "<svg" in html.read_text()
    bad = sg(home_copy, "report", "attribution", "--period", "fortnight")
    assert bad.exit_code == 2 and "period" in bad.stderr


def test_registry_change_the_audit_log_refuses_is_parked_then_appended(home_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from stylegate.errors import AuditError
    from stylegate.governance.audit import AuditLog

    real_append = AuditLog.append

    def refuse(self, kind, body=None, **kw):
        if kind.startswith("registry."):
            raise AuditError("disk full (injected)")
        return real_append(self, kind, body, **kw)

    monkeypatch.setattr(AuditLog, "append", refuse)
    result = sg(home_copy, "artists", "add", "Parked Person", "--consent", "credit")
    assert result.exit_code == 1
    assert "committed" in result.stderr and "disk full (injected)" in result.stderr
    parked = home_copy / "audit-pending.jsonl"
    assert json.loads(parked.read_text().splitlines()[0])["kind"] == "registry.artist.added"
    # The change itself stands.
    assert "Parked Person" in {a["name"] for a in js(sg(home_copy, "artists", "list", "--json"))["artists"]}
    monkeypatch.setattr(AuditLog, "append", real_append)
    # The next command that opens the audit log appends the parked entry, then its own.
    checked = js(sg(home_copy, "check", "prompt", "a house", "--json"))
    assert not parked.exists()
    entries = [json.loads(line) for line in _export(home_copy, tmp_path)]
    kinds = [json.loads(e["leaf"])["kind"] for e in entries]
    assert kinds[-2:] == ["registry.artist.added", "check.prompt"]
    body = json.loads(entries[-2]["leaf"])["body"]
    assert body["artist"]["name"] == "Parked Person" and body["parked"]["error"] == "disk full (injected)"
    assert json.loads(entries[-1]["leaf"])["seq"] == checked["audit_seq"]
    assert js(sg(home_copy, "audit", "verify", "--json"))["ok"] is True
