"""Issue #18: the gate fails closed on the home, and crashes and collisions leave nothing behind.

Each test reproduces a failure found by trying the toolkit as a careless or hostile user
would, on real SQLite, FAISS and files.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stylegate.cli import app
from stylegate.errors import ImportBusy, StylegateError
from stylegate.locks import import_lock
from stylegate.operations.ingest import add_works, check_consistency, remove_works
from stylegate.settings import Settings
from stylegate.styleworld import world
from stylegate.workspace import Workspace

runner = CliRunner()
OPT_OUT = next(a for a in world.ARTISTS if a.consent == "opt-out")
ROYALTY = next(a for a in world.ARTISTS if a.consent == "royalty")


def sg(home: Path, *args: str):
    return runner.invoke(app, ["--home", str(home), *args])


def render_works(folder: Path, artist: world.StyleArtist, n: int = 3, seed0: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        world.render(artist, world.SUBJECTS[k % len(world.SUBJECTS)], seed0 + k).save(folder / f"w-{seed0 + k}.png")
    return folder


@pytest.fixture()
def registered(tmp_path: Path) -> Path:
    """A home with one opted-out artist and three of their works."""
    home = tmp_path / "home"
    assert sg(home, "init").exit_code == 0
    assert sg(home, "artists", "add", OPT_OUT.name, "--consent", "opt-out").exit_code == 0
    assert sg(home, "works", "add", OPT_OUT.name, str(render_works(tmp_path / "w", OPT_OUT))).exit_code == 0
    return home


# ------------------------------------------------------------------ fail closed on the home
@pytest.mark.parametrize("command", [["check", "prompt", "a lighthouse by someone"], ["artists", "list"],
                                     ["generate", "a lighthouse"], ["serve"], ["audit", "verify"]])
def test_a_missing_home_is_refused_and_never_created(tmp_path: Path, command: list[str]) -> None:
    home = tmp_path / "typo-home"
    result = sg(home, *command)
    assert result.exit_code == 1, result.output
    assert f"no stylegate home at {home}" in result.output and "init" in result.output
    assert not home.exists()


def test_an_uninitialised_folder_is_not_a_home(tmp_path: Path) -> None:
    folder = tmp_path / "somewhere"
    folder.mkdir()
    result = sg(folder, "check", "prompt", f"a boat by {OPT_OUT.name}")
    assert result.exit_code == 1 and "not an initialised stylegate home" in result.output
    assert list(folder.iterdir()) == []


def test_a_file_given_as_home_is_a_usage_error(tmp_path: Path) -> None:
    file = tmp_path / "home.txt"
    file.write_text("not a folder")
    for command in (["init"], ["artists", "list"]):
        result = sg(file, *command)
        assert result.exit_code == 2 and "is a file, not a folder" in result.output
    assert file.read_text() == "not a folder"


def test_a_lost_registry_database_is_refused_never_recreated(registered: Path) -> None:
    (registered / "registry.db").unlink()
    for command in (["artists", "list"], ["check", "prompt", f"a boat by {OPT_OUT.name}"], ["init"],
                    ["index", "rebuild"]):
        result = sg(registered, *command)
        assert result.exit_code == 1, (command, result.output)
        assert "registry database" in result.output and "missing" in result.output
        assert "never recreates" in result.output and "index rebuild" not in result.output
        assert not (registered / "registry.db").exists()


def test_a_lost_audit_log_is_refused(registered: Path) -> None:
    (registered / "audit.db").unlink()
    result = sg(registered, "check", "prompt", "a boat")
    assert result.exit_code == 1 and "audit log" in result.output and "missing" in result.output
    assert not (registered / "audit.db").exists()


def test_a_deleted_policy_file_fails_closed_until_init_restores_it(registered: Path) -> None:
    (registered / "policy.toml").unlink()
    result = sg(registered, "check", "prompt", f"a boat by {OPT_OUT.name}")
    assert result.exit_code == 1 and "policy.toml is missing" in result.output
    assert sg(registered, "init").exit_code == 0
    assert sg(registered, "check", "prompt", f"a boat by {OPT_OUT.name}").exit_code == 3


def test_an_import_notices_that_its_database_was_deleted(registered: Path, tmp_path: Path) -> None:
    ws = Workspace(Settings(home=registered, device="cpu"))
    index = registered / "index" / "style.faiss"
    before = index.read_bytes(), index.with_name("style.faiss.json").read_bytes()
    folder = render_works(tmp_path / "more", OPT_OUT, n=4, seed0=100)

    def delete_the_database(done: int, total: int) -> None:
        (registered / "registry.db").unlink(missing_ok=True)

    with pytest.raises(StylegateError, match="was deleted while stylegate had it open"):
        add_works(ws, OPT_OUT.name, [folder], progress=delete_the_database)
    assert (index.read_bytes(), index.with_name("style.faiss.json").read_bytes()) == before
    result = sg(registered, "artists", "list")  # and the home is refused from then on
    assert result.exit_code == 1 and "registry database" in result.output and "missing" in result.output


def test_rebuild_refuses_to_drop_vectors_of_works_the_database_lost(registered: Path) -> None:
    with sqlite3.connect(registered / "registry.db") as db:  # rows lost behind stylegate's back
        db.execute("DELETE FROM works WHERE id = (SELECT MAX(id) FROM works)")
    check = sg(registered, "check", "prompt", "a boat")
    assert check.exit_code == 1
    assert "may have lost rows" in check.output and "--drop-unregistered" in check.output
    refused = sg(registered, "index", "rebuild")
    assert refused.exit_code == 1 and "would drop them" in refused.output
    assert sg(registered, "index", "rebuild", "--drop-unregistered").exit_code == 0
    assert sg(registered, "check", "prompt", "a boat").exit_code == 0


# --------------------------------------------------------------------- staying in step
def test_a_long_running_workspace_follows_another_processs_imports(registered: Path, tmp_path: Path) -> None:
    server = Workspace(Settings(home=registered, device="cpu"))  # as `stylegate serve` holds it
    assert server.gate().view.artists
    cli = Workspace(Settings(home=registered, device="cpu"))
    add_works(cli, OPT_OUT.name, [render_works(tmp_path / "cli", OPT_OUT, n=2, seed0=200)])
    added = add_works(server, OPT_OUT.name, [render_works(tmp_path / "srv", OPT_OUT, n=2, seed0=300)])
    assert len(added.added) == 2
    removed = remove_works(server, [added.added[0].id])
    assert [w.id for w in removed] == [added.added[0].id]
    assert check_consistency(Workspace(Settings(home=registered, device="cpu"))).ok


def test_concurrent_imports_queue_on_the_lock(registered: Path, tmp_path: Path) -> None:
    settings = Settings(home=registered, device="cpu", import_lock_timeout_s=0.5)
    held = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with import_lock(registered, "works add", timeout_s=5):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert held.wait(5)
        with pytest.raises(ImportBusy, match=r"another import is running: pid \d+ \(works add"):
            add_works(Workspace(settings), OPT_OUT.name, [render_works(tmp_path / "a", OPT_OUT, n=1, seed0=400)])
    finally:
        release.set()
        thread.join()


def test_two_cli_imports_at_once_both_succeed(registered: Path, tmp_path: Path) -> None:
    folders = [render_works(tmp_path / f"p{k}", OPT_OUT, n=2, seed0=500 + 10 * k) for k in range(2)]
    env = {**os.environ, "STYLEGATE_DEVICE": "cpu"}
    procs = [subprocess.Popen([sys.executable, "-m", "stylegate", "--home", str(registered), "works", "add",
                               OPT_OUT.name, str(f)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for f in folders]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert all("added 2 works" in err for _, err in outputs)
    ws = Workspace(Settings(home=registered, device="cpu"))
    assert len(ws.store.list_works()) == 7 and check_consistency(ws).ok


# ------------------------------------------------------------------------ clean recovery
_KILLED_IMPORT = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from stylegate.operations.ingest import add_works
    from stylegate.registry.style_index import StyleIndex
    from stylegate.settings import Settings
    from stylegate.workspace import Workspace

    import stylegate.registry.style_index as style_index
    if sys.argv[4] == "after-save":
        save = StyleIndex.save
        def save_then_die(self, path, snapshot):
            save(self, path, snapshot)      # the new index is on disk; the database has not committed
            os.kill(os.getpid(), signal.SIGKILL)
        StyleIndex.save = save_then_die
    else:                                   # between the index's rename and its sidecar's
        write = style_index.atomic_write_bytes
        def write_or_die(path, data, **kw):
            if str(path).endswith(".json"):
                os.kill(os.getpid(), signal.SIGKILL)
            write(path, data, **kw)
        style_index.atomic_write_bytes = write_or_die
    ws = Workspace(Settings(home=Path(sys.argv[1]), device="cpu"))
    add_works(ws, sys.argv[2], [Path(sys.argv[3])])
""")


@pytest.mark.parametrize("moment", ["after-save", "between-renames"])
def test_a_killed_import_is_undone_on_the_next_open(registered: Path, tmp_path: Path, moment: str) -> None:
    folder = render_works(tmp_path / "doomed", OPT_OUT, n=3, seed0=600)
    env = {**os.environ, "STYLEGATE_DEVICE": "cpu"}
    proc = subprocess.run([sys.executable, "-c", _KILLED_IMPORT, str(registered), OPT_OUT.name, str(folder), moment],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == -9, proc.stderr
    assert json.loads((registered / "locks" / "import.lock").read_text())["what"] == "works add"
    (registered / "tmp").mkdir(exist_ok=True)
    dead_upload = registered / "tmp" / "upload-999999999-abc"
    live_upload = registered / "tmp" / f"upload-{os.getpid()}-abc"
    for folder_ in (dead_upload, live_upload):
        folder_.mkdir()
        (folder_ / "x.png").write_bytes(b"partial")

    ws = Workspace(Settings(home=registered, device="cpu"))
    state = check_consistency(ws)  # opening the home recovered what it could
    assert ws.sweep_report is not None and ws.sweep_report.index_restored
    assert ws.sweep_report.crashed["what"] == "works add"
    assert not dead_upload.exists() and live_upload.exists()
    assert state.works == state.indexed == 3 and not state.unregistered_vectors
    assert len(state.orphan_files) == 3  # the killed import's files: reported, not deleted silently
    leftovers = [p for p in registered.rglob(".*") if p.suffix in (".tmp", ".bak")]
    assert leftovers == []
    assert sg(registered, "check", "prompt", f"a boat by {OPT_OUT.name}").exit_code == 3
    doctor = sg(registered, "doctor", "--json")
    assert doctor.exit_code == 1 and json.loads(doctor.stdout)["orphan_file_count"] == 3
    repaired = sg(registered, "doctor", "--repair", "--json")
    assert repaired.exit_code == 0 and json.loads(repaired.stdout)["removed_orphans"] == 3
    assert sg(registered, "doctor").exit_code == 0
    assert sg(registered, "works", "add", OPT_OUT.name, str(folder)).exit_code == 0  # the import can be redone
    assert sg(registered, "audit", "verify").exit_code == 0


# ------------------------------------------------------------------------------ generate
def test_generate_checks_out_before_generating_and_never_overwrites(registered: Path, tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.write_text("mine")
    before = sg(registered, "audit", "verify", "--json")
    result = sg(registered, "generate", "a red boat", "--steps", "4", "--out", str(taken))
    assert result.exit_code == 2 and "is a file" in result.output
    assert taken.read_text() == "mine"
    assert json.loads(sg(registered, "audit", "verify", "--json").stdout)["entries"] == json.loads(before.stdout)["entries"]

    out = tmp_path / "out"
    first = sg(registered, "generate", "a red boat", "--steps", "4", "--out", str(out), "--json")
    second = sg(registered, "generate", "a red boat", "--steps", "4", "--out", str(out), "--json")
    assert first.exit_code == second.exit_code == 0, second.output
    files = [json.loads(r.stdout)["files"][0]["path"] for r in (first, second)]
    assert files[0] != files[1] and all(Path(f).is_file() for f in files)


def test_an_image_that_cannot_be_written_is_corrected_in_the_audit_log(registered: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import stylegate.generator.content_credentials as content_credentials

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(content_credentials, "write_with_credentials", disk_full)
    result = sg(registered, "generate", "a red boat", "--steps", "4", "--out", str(tmp_path / "o"))
    assert result.exit_code == 1 and "could not be written" in result.output
    assert list((tmp_path / "o").iterdir()) == []
    ws = Workspace(Settings(home=registered, device="cpu"))
    entries = list(ws.audit.entries())
    correction = entries[-1]
    assert correction["kind"] == "generate.correction" and correction["body"]["written"] == []
    assert entries[-2]["kind"] == "generate" and correction["body"]["corrects"] == entries[-2]["seq"]
    from stylegate.reports.attribution import _generation_entries

    assert entries[-2]["seq"] not in {e["seq"] for e in _generation_entries(ws.audit, None, None)}


def test_generate_with_a_missing_model_folder_is_a_usage_error(registered: Path, tmp_path: Path) -> None:
    result = sg(registered, "generate", "a red boat", "--model", str(tmp_path / "nonexistent"))
    assert result.exit_code == 2 and "no such pipeline folder" in result.output
    assert "hub" not in result.output


# ---------------------------------------------------------------------- smaller defects
@pytest.mark.parametrize("prompt", ["\u200b\u200b", "\u200b \u2060\ufeff", "\u200d"])
def test_a_prompt_of_invisible_characters_is_empty(registered: Path, prompt: str) -> None:
    result = sg(registered, "check", "prompt", prompt)
    assert result.exit_code == 2 and "empty" in result.output


def test_a_non_image_is_refused_before_any_model_loads(registered: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"this is not an image at all" * 10)
    script = textwrap.dedent(f"""
        import sys
        from stylegate.cli import app
        try:
            code = app(["--home", {str(registered)!r}, "check", "image", {str(junk)!r}], standalone_mode=False)
        except SystemExit as exc:
            code = exc.code
        print(code, "torch" in sys.modules)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.stdout.split() == ["2", "False"], proc.stdout + proc.stderr


def test_report_range_and_output_are_checked(registered: Path, tmp_path: Path) -> None:
    backwards = sg(registered, "report", "attribution", "--since", "2026-12-01", "--until", "2026-11-01",
                   "--out", str(tmp_path / "r.html"))
    assert backwards.exit_code == 2 and "is not before" in backwards.output
    nowhere = sg(registered, "report", "audit", "--out", str(tmp_path / "no-such-folder" / "r.html"))
    assert nowhere.exit_code == 2 and "does not exist" in nowhere.output


def test_audit_prove_names_the_logs_range(registered: Path) -> None:
    size = json.loads(sg(registered, "audit", "verify", "--json").stdout)["entries"]
    for seq in ("0", str(size + 1)):
        result = sg(registered, "audit", "prove", seq)
        assert result.exit_code == 2 and f"1..{size}" in result.output


def test_a_tiny_image_is_not_a_reference_work(registered: Path, tmp_path: Path) -> None:
    from PIL import Image

    for size in ((1, 1), (7, 64)):
        path = tmp_path / f"tiny-{size[0]}x{size[1]}.png"
        Image.new("RGB", size, (200, 10, 10)).save(path)
        result = sg(registered, "works", "add", OPT_OUT.name, str(path))
        assert result.exit_code == 2 and "too small" in result.output and "at least 8 pixels" in result.output


def test_wait_for_lock_gives_up_with_a_clear_message(tmp_path: Path) -> None:
    with import_lock(tmp_path, "index rebuild", timeout_s=1):
        start = time.monotonic()
        with pytest.raises(ImportBusy, match="index rebuild"):
            with import_lock(tmp_path, "works add", timeout_s=0.3):
                pass  # pragma: no cover
        assert time.monotonic() - start >= 0.3


def test_the_service_follows_a_cli_import_before_its_next_upload(registered: Path, tmp_path: Path) -> None:
    import io

    from fastapi.testclient import TestClient

    from stylegate.service.app import create_app

    settings = Settings(home=registered, device="cpu", cpu_threads=1, rate_limit_per_minute=10_000,
                        rate_limit_burst=10_000)
    with TestClient(create_app(settings)) as client:
        signed = client.post("/v1/artists", json={"name": ROYALTY.name, "consent": "royalty",
                                                  "contact": "r@example.org"}).json()
        token, artist_id = signed["token"], signed["artist"]["id"]
        # another process (the CLI) imports works behind the running service's back
        assert sg(registered, "works", "add", OPT_OUT.name,
                  str(render_works(tmp_path / "cli", OPT_OUT, n=2, seed0=700))).exit_code == 0
        buf = io.BytesIO()
        world.render(ROYALTY, world.SUBJECTS[0], 701).save(buf, "PNG")
        r = client.post(f"/v1/artists/{artist_id}/works", headers={"Authorization": f"Bearer {token}"},
                        files=[("files", ("w.png", buf.getvalue(), "image/png"))])
        assert r.status_code == 201, r.text
        work_id = r.json()["added"][0]["id"]
        assert sg(registered, "works", "add", OPT_OUT.name,
                  str(render_works(tmp_path / "cli2", OPT_OUT, n=1, seed0=710))).exit_code == 0
        gone = client.delete(f"/v1/artists/{artist_id}/works/{work_id}", headers={"Authorization": f"Bearer {token}"})
        assert gone.status_code == 200, gone.text
    assert check_consistency(Workspace(Settings(home=registered, device="cpu"))).ok


def test_audit_entries_claimed_by_a_killed_process_go_back_to_the_queue(registered: Path) -> None:
    body = {"kind": "registry.artist.added", "body": {"artist": {"id": 99}}, "parked_at": "t", "error": "disk full"}
    from stylegate.governance.audit import AuditLog

    with AuditLog.open(registered / "audit.db") as audit:
        before = len(audit)
    (registered / "audit-pending.jsonl.999999999").write_text(json.dumps(body) + "\n")
    after = sg(registered, "audit", "verify", "--json")
    assert not (registered / "audit-pending.jsonl.999999999").exists()
    assert after.exit_code == 0
    assert json.loads(after.stdout)["entries"] == before + 1
