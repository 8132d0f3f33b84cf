"""`stylegate scan` on Ray Data: folders, Parquet and WebDataset shards, checkpoints and resume,
do-not-train filtering, the past-generations re-audit, and bad input.

One local Ray (2 CPUs, a 200 MB object store, no dashboard) serves the whole module.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image
from typer.testing import CliRunner

from stylegate.bench.fixtures import new_styleworld_workspace, register_styleworld
from stylegate.cli import app
from stylegate.errors import ScanSnapshotChanged
from stylegate.operations.checks import check_image
from stylegate.operations.scan import ScanRequest, run_scan
from stylegate.operations.scan_engine import EngineOptions
from stylegate.operations.scan_judge import PartJudge, workspace_snapshot
from stylegate.styleworld import world

runner = CliRunner()
MIRA, KENJI, PRIYA = (world.get_artist(n) for n in ("Mira Okonkwo", "Kenji Arbelo", "Priya Sandoval-Rhee"))
TOBIAH, INES, NOOR = (world.get_artist(n) for n in ("Tobiah Vellcourt", "Ines Marrowby", "Noor Castellane"))
REGISTERED = (MIRA, KENJI, TOBIAH, INES)  # two opted out, one royalty, one credit
HELDOUT = list(world.heldout_seeds())


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, object_store_memory=200 * 1024 * 1024, include_dashboard=False, log_to_driver=False)
    yield ray
    if started:
        ray.shutdown()


@pytest.fixture(scope="module")
def world_ws(tmp_path_factory: pytest.TempPathFactory) -> Any:
    ws, _ = new_styleworld_workspace(tmp_path_factory.mktemp("scanworld"), artists=REGISTERED, per_artist=3)
    return ws


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Held-out renders of registered and unregistered artists, and one corrupt PNG."""
    folder = tmp_path_factory.mktemp("images")
    for artist in (MIRA, TOBIAH, INES, PRIYA, NOOR):
        for k in range(2):
            world.render(artist, world.SUBJECTS[k + 3], HELDOUT[k]).save(folder / f"{artist.name.split()[0]}-{k}.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    return folder


def scan(ws: Any, out: Path, *sources: Any, **kw: Any) -> dict[str, Any]:
    engine = EngineOptions(workers=kw.pop("workers", 1))
    return run_scan(ws, ScanRequest(out=out, sources=tuple(map(str, sources)), engine=engine, progress=False, **kw)).summary


def rows_by_id(out: Path) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in pq.read_table(out / "results.parquet").to_pylist()}


def evidence_key(decision: dict[str, Any]) -> tuple[str, list[tuple[str, int, str]]]:
    return decision["action"], [(e["kind"], e["artist"]["id"], e["action"]) for e in decision["evidence"]]


def test_folder_scan_reports_a_corrupt_file_per_row_and_agrees_with_check_image(ray_local, world_ws, images, tmp_path):
    summary = scan(world_ws, tmp_path / "out", images, part_size=3, workers=2)
    rows = rows_by_id(tmp_path / "out")
    assert len(rows) == 11 and summary["images"] == 11
    broken = rows["broken.png"]
    assert broken["action"] is None and "broken.png" in broken["error"]
    assert summary["errors"]["count"] == 1 and summary["checked"] == 10
    for image_id, row in rows.items():
        if image_id == "broken.png":
            continue
        single = check_image(world_ws, images / image_id).decision
        assert evidence_key(json.loads(row["decision"])) == evidence_key(single), image_id
        nearest = json.loads(row["nearest"])
        assert nearest and {n["artist_id"] for n in nearest} <= {a.id for a in world_ws.store.list_artists()}
    assert rows["Mira-0.png"]["action"] == "block"
    assert summary["decisions"] == {a: sum(r["action"] == a for r in rows.values()) for a in summary["decisions"]}
    assert summary["snapshot"] == workspace_snapshot(world_ws).to_dict()


def _tar_shard(path: Path, files: list[Path], corrupt: str | None = None) -> None:
    with tarfile.open(path, "w") as tar:
        if corrupt is not None:
            info = tarfile.TarInfo(f"samples/{corrupt}.png")
            info.size = 12
            tar.addfile(info, io.BytesIO(b"\x89PNG broken!"))
        for f in files:
            tar.add(f, arcname=f"samples/{f.stem}.png")
            info = tarfile.TarInfo(f"samples/{f.stem}.json")
            meta = json.dumps({"source": f.name}).encode()
            info.size = len(meta)
            tar.addfile(info, io.BytesIO(meta))


def test_parquet_and_webdataset_shards_are_judged_like_the_files(ray_local, world_ws, images, tmp_path):
    files = sorted(p for p in images.glob("*.png") if p.name != "broken.png")
    expected = {f.stem: evidence_key(world_ws.gate().check_image(Image.open(f).convert("RGB")).to_dict()) for f in files}
    # one shard with the bytes (two row groups, Hugging Face's {bytes, path} struct), one with paths
    image_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    cells = [{"bytes": f.read_bytes(), "path": f.name} for f in files[:6]] + [{"bytes": b"\xff\xd8 not a jpeg", "path": "x"}]
    with_bytes = pa.table({"id": [f.stem for f in files[:6]] + ["corrupt"], "image": pa.array(cells, image_type)})
    pq.write_table(with_bytes, tmp_path / "a.parquet", row_group_size=4)
    paths = [str(f) for f in files[6:]] + ["https://example.org/x.png", str(tmp_path / "gone.png")]
    pq.write_table(pa.table({"id": [f.stem for f in files[6:]] + ["remote", "gone"], "url": paths}), tmp_path / "b.parquet")
    scan(world_ws, tmp_path / "pq", tmp_path / "a.parquet", tmp_path / "b.parquet", part_size=3)
    rows = rows_by_id(tmp_path / "pq")
    assert set(rows) == set(expected) | {"remote", "gone", "corrupt"}
    assert "remote URL" in rows["remote"]["error"] and rows["gone"]["error"] and rows["gone"]["action"] is None
    assert rows["corrupt"]["error"] and rows["corrupt"]["action"] is None
    assert {k: evidence_key(json.loads(rows[k]["decision"])) for k in expected} == expected

    _tar_shard(tmp_path / "shard-000.tar", files[:5])
    _tar_shard(tmp_path / "shard-001.tar", files[5:], corrupt="bad")
    summary = scan(world_ws, tmp_path / "wds", str(tmp_path / "shard-{000..001}.tar"), part_size=4)
    rows = rows_by_id(tmp_path / "wds")
    assert summary["source_kind"] == "webdataset" and summary["errors"]["count"] == 1
    assert rows.pop("samples/bad")["error"]
    assert {k.removeprefix("samples/"): evidence_key(json.loads(r["decision"])) for k, r in rows.items()} == expected


def _comparable(out: Path) -> list[dict[str, Any]]:
    return pq.read_table(out / "results.parquet").to_pylist()


def test_an_interrupted_scan_resumes_to_the_same_output(ray_local, world_ws, images, tmp_path):
    whole = scan(world_ws, tmp_path / "whole", images, part_size=2)

    def stop_after_two(part: int, done: int) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_scan(world_ws, ScanRequest(out=tmp_path / "cut", sources=(str(images),), part_size=2, progress=False,
                                       engine=EngineOptions(workers=1)), on_part=stop_after_two)
    manifest = json.loads((tmp_path / "cut" / "manifest.json").read_text())
    assert len(manifest["done"]) == 2 and not (tmp_path / "cut" / "results.parquet").exists()
    resumed = scan(world_ws, tmp_path / "cut", images, part_size=2)
    assert resumed["timings"]["parts_resumed"] == 2 and resumed["timings"]["parts_judged"] == whole["timings"]["parts_judged"] - 2
    assert _comparable(tmp_path / "cut") == _comparable(tmp_path / "whole")
    assert resumed["scan_id"] == whole["scan_id"] and resumed["decisions"] == whole["decisions"]


@pytest.mark.slow
def test_a_killed_scan_process_resumes_to_the_same_output(ray_local, world_ws, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for k in range(40):
        world.render((MIRA, TOBIAH, PRIYA, NOOR)[k % 4], world.SUBJECTS[k % len(world.SUBJECTS)], 4000 + k).save(folder / f"{k:03d}.png")
    args = [sys.executable, "-m", "stylegate", "--home", str(world_ws.settings.home), "scan", str(folder),
            "--workers", "1", "--part-size", "2"]
    env = {**os.environ, "RAY_ADDRESS": ""}
    proc = subprocess.Popen([*args, "--out", str(tmp_path / "cut")], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    manifest = tmp_path / "cut" / "manifest.json"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if manifest.exists() and len(json.loads(manifest.read_text() or "{}").get("done", {})) >= 3:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the scan ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(json.loads(manifest.read_text())["done"])
    assert 3 <= done < 20 and not (tmp_path / "cut" / "results.parquet").exists()
    resumed = scan(world_ws, tmp_path / "cut", folder, part_size=2)
    assert resumed["timings"]["parts_resumed"] == done
    scan(world_ws, tmp_path / "whole", folder, part_size=2)
    assert _comparable(tmp_path / "cut") == _comparable(tmp_path / "whole")


def test_training_set_filter_lists_opted_out_works_copies_and_style(ray_local, world_ws, images, tmp_path):
    mira = world_ws.store.get_artist(MIRA.name)
    work = world_ws.store.list_works(mira.id)[0]
    stored = Path(world_ws.settings.works_dir) / work.path if not Path(work.path).is_absolute() else Path(work.path)
    data = tmp_path / "data"
    data.mkdir()
    (data / "exact.png").write_bytes(stored.read_bytes())
    Image.open(stored).convert("RGB").crop((3, 4, 60, 61)).resize((72, 72), Image.BICUBIC).save(data / "crop.png")
    assert [e["kind"] for e in check_image(world_ws, images / "Mira-0.png").decision["evidence"]] == ["style"]
    for name in ("Mira-0.png", "Tobiah-0.png", "Noor-0.png", "Ines-0.png", "broken.png"):
        (data / name).write_bytes((images / name).read_bytes())
    summary = scan(world_ws, tmp_path / "out", data, mode="training-set", drop_style=True)
    dropped = {r["id"]: r for r in pq.read_table(summary["exclude"]).to_pylist()}
    assert {k: r["reason"] for k, r in dropped.items()} == {
        "exact.png": "opted-out work", "crop.png": "near-duplicate", "Mira-0.png": "style", "broken.png": "unchecked"}
    assert dropped["exact.png"]["work_id"] == work.id and dropped["crop.png"]["artist_id"] == mira.id
    assert dropped["exact.png"]["url"].endswith("exact.png")
    kept = scan(world_ws, tmp_path / "keep", data, mode="training-set", drop_style=False)
    assert {r["id"] for r in pq.read_table(kept["exclude"]).to_pylist()} == {"exact.png", "crop.png", "broken.png"}
    assert kept["drops"]["by_reason"] == {"near-duplicate": 1, "opted-out work": 1, "unchecked": 1}


@pytest.mark.slow
def test_past_generations_reaudit_appends_findings_and_the_report_shows_them(ray_local, tmp_path):
    from stylegate.operations.generate import generate_to_dir

    ws, _ = new_styleworld_workspace(tmp_path / "w", artists=(TOBIAH,), per_artist=3)
    made = generate_to_dir(ws, f"a lighthouse by {PRIYA.name}", tmp_path / "gens", seed=1, steps=10, num_images=2)
    assert made.decision["action"] == "allow" and len(made.files) == 2
    before = scan(ws, tmp_path / "before", mode="past-generations")
    assert before["images"] == 2 and before["findings"]["appended"] == []
    # the artist registers and opts out: the re-audit now finds the generation in their style
    register_styleworld(ws, tmp_path / "priya", per_artist=3, artists=[PRIYA])
    now_blocked = {Path(f["path"]).name for f in made.files
                   if check_image(ws, f["path"]).decision["action"] == "block"}
    assert now_blocked, "the StyleWorld renders of the prompt should fall in the artist's style"
    after = scan(ws, tmp_path / "after", mode="past-generations")
    entries = list(ws.audit.entries(kinds=["scan.finding"]))
    assert [e["seq"] for e in entries] == after["findings"]["appended"]
    assert {Path(e["body"]["path"]).name for e in entries if e["body"]["finding"] == "now-blocked"} == now_blocked
    assert all(e["body"]["generation_seq"] == made.audit_seq and e["body"]["was_action"] == "allow" for e in entries)
    again = scan(ws, tmp_path / "after", mode="past-generations")  # the same scan again appends nothing twice
    assert again["findings"]["appended"] == [] and len(list(ws.audit.entries(kinds=["scan.finding"]))) == len(entries)
    shown = runner.invoke(app, ["--home", str(ws.settings.home), "report", "attribution", "--findings", "--json",
                                "--out", str(tmp_path / "r.html")])
    assert shown.exit_code == 0, shown.output
    report = json.loads(shown.stdout)
    assert {Path(f["path"]).name for f in report["findings"] if f["finding"] == "now-blocked"} == now_blocked
    assert "Retroactive re-audit findings" in (tmp_path / "r.html").read_text()
    assert PRIYA.name in (tmp_path / "r.html").read_text()


def test_bad_inputs_fail_with_a_clear_message_and_exit_code(world_ws, images, tmp_path):
    home = str(world_ws.settings.home)

    def run(*args: str, home_dir: str = home) -> Any:
        return runner.invoke(app, ["--home", home_dir, "scan", *args, "--json"])

    missing = run(str(tmp_path / "nope"), "--out", str(tmp_path / "o1"))
    assert missing.exit_code == 2 and "no such file or folder" in json.loads(missing.stdout)["error"]
    pq.write_table(pa.table({"name": ["a"], "caption": ["b"]}), tmp_path / "bad.parquet")
    schema = run(str(tmp_path / "bad.parquet"), "--out", str(tmp_path / "o2"))
    assert schema.exit_code == 2 and "no id column" in json.loads(schema.stdout)["error"]
    (tmp_path / "fake.parquet").write_bytes(b"not parquet")
    assert run(str(tmp_path / "fake.parquet"), "--out", str(tmp_path / "o3")).exit_code == 2
    nohome = run(str(images), "--out", str(tmp_path / "o4"), home_dir=str(tmp_path / "no-home"))
    assert nohome.exit_code == 1 and "no stylegate home" in json.loads(nohome.stdout)["error"]
    assert not (tmp_path / "o4").exists() and not (tmp_path / "o1").exists()  # nothing written on a refusal
    other = tmp_path / "other"
    other.mkdir()
    (other / "manifest.json").write_text(json.dumps({"scan_id": "x", "config": {"mode": "check"}, "done": {}}))
    mismatch = run(str(images), "--out", str(other))
    assert mismatch.exit_code == 2 and "holds another scan" in json.loads(mismatch.stdout)["error"]
    (tmp_path / "file").write_text("x")
    assert run(str(images), "--out", str(tmp_path / "file")).exit_code == 2
    assert run("--past-generations", "--training-set", "--out", str(tmp_path / "o5")).exit_code == 2
    # a worker refuses to judge against a registry other than the scan's snapshot
    stale = {**workspace_snapshot(world_ws).to_dict(), "revision": -1}
    with pytest.raises(ScanSnapshotChanged):
        PartJudge(world_ws.settings, stale)
