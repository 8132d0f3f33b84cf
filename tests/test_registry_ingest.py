"""Transactional ingest: works across database, works dir and style index, all or nothing."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import event

from stylegate.errors import ArtistNotFound, IndexMismatch, InputError, InvalidWork, StylegateError
from stylegate.registry import ingest
from stylegate.registry.ingest import WorkIngest, index_is_current
from stylegate.registry.store import RegistryStore, sqlite_url
from stylegate.registry.style_index import StyleIndex, sidecar_path
from stylegate.registry.testing import fake_embedder, fake_identity, write_image
from stylegate.registry.validation import to_rgb

DIM = 16


class Env:
    """A registry home: database, works dir, index file, in-memory index, fake embedder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.store = RegistryStore.open(sqlite_url(root / "registry.db"))
        self.works_dir = root / "works"
        self.index_path = root / "style.faiss"
        self.identity = fake_identity(DIM)
        self.index = StyleIndex.create(DIM, self.identity)
        self.calls = 0
        base = fake_embedder(DIM)

        def embed(images):
            self.calls += 1
            return base(images)

        self.embed = embed
        self.events: list[str] = []
        self.store.add_listener(lambda e, p: self.events.append(e))

    def ingest(self, embed=None, index_path=None, **kw) -> WorkIngest:
        return WorkIngest(self.store, index_path or self.index_path, self.works_dir, embed or self.embed,
                          index=self.index, **kw)

    def add(self, artist, paths, progress=None, **kw):
        return self.ingest(**kw).add_works(artist, paths, progress=progress)

    def state(self) -> dict:
        """Everything a failed operation must leave exactly as it was."""
        files = {}
        if self.works_dir.exists():
            for p in sorted(self.works_dir.rglob("*")):
                rel = p.relative_to(self.works_dir).as_posix()
                files[rel] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "<dir>"
        side = sidecar_path(self.index_path)
        return {
            "artists": self.store.list_artists(),
            "works": self.store.list_works(),
            "revision": self.store.revision(),
            "index_file": self.index_path.read_bytes() if self.index_path.exists() else None,
            "sidecar": side.read_bytes() if side.exists() else None,
            "works_dir": files,
            "index_ids": sorted(self.index.ids().tolist()),
            "root": sorted(p.name for p in self.root.iterdir()),
        }


@pytest.fixture()
def env(tmp_path: Path):
    e = Env(tmp_path / "home")
    yield e
    e.store.close()


def images(folder: Path, seeds, fmt: str = "PNG", ext: str = "png") -> list[Path]:
    return [write_image(folder / f"img{s:03d}.{ext}", seed=s, fmt=fmt) for s in seeds]


def test_add_works_success(env: Env, tmp_path: Path) -> None:
    a = env.store.add_artist("Nia Holt", consent="opt-out")
    paths = [
        write_image(tmp_path / "in" / "a.png", 1, "PNG"),
        write_image(tmp_path / "in" / "b.jpg", 2, "JPEG"),
        write_image(tmp_path / "in" / "c.webp", 3, "WEBP"),
    ]
    result = env.add("nia holt", paths)
    assert [w.format for w in result.added] == ["PNG", "JPEG", "WEBP"]
    assert result.duplicates == []
    for w, src in zip(result.added, paths):
        stored = env.works_dir / w.path
        assert w.artist_id == a.id
        assert w.path == f"{w.sha256[:2]}/{w.sha256}.{ {'PNG': 'png', 'JPEG': 'jpg', 'WEBP': 'webp'}[w.format] }"
        assert stored.read_bytes() == src.read_bytes()
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == w.sha256
    assert sorted(env.index.ids().tolist()) == [w.id for w in result.added]
    # the saved index reflects the registry and finds each work from its own image
    loaded = StyleIndex.load(env.index_path, env.identity)
    assert loaded.snapshot_hash == env.store.snapshot_hash() and index_is_current(env.store, loaded)
    q = env.embed([to_rgb(p.read_bytes()) for p in paths])
    assert loaded.search(q, 1)[1][:, 0].tolist() == [w.id for w in result.added]
    assert env.events == ["artist.added", "works.added"]


def test_duplicates_skipped(env: Env, tmp_path: Path) -> None:
    env.store.add_artist("Oona", consent="credit")
    env.store.add_artist("Pim", consent="credit")
    first = env.add("Oona", images(tmp_path / "a", [1, 2]))
    twin = tmp_path / "b" / "same-as-new.png"
    new = write_image(tmp_path / "b" / "new.png", 3)
    twin.parent.mkdir(exist_ok=True)
    shutil.copy(new, twin)
    old_copy = tmp_path / "b" / "old.png"
    shutil.copy(tmp_path / "a" / "img001.png", old_copy)
    r = env.add("Pim", [new, twin, old_copy])
    assert len(r.added) == 1 and r.added[0].artist_id == env.store.get_artist("Pim").id
    assert sorted(r.duplicates) == sorted([(str(old_copy), first.added[0].id), (str(twin), r.added[0].id)])
    assert len(env.index) == 3
    # nothing new at all: nothing changes, not even the revision
    before = env.state()
    r2 = env.add("Pim", [new])
    assert r2.added == [] and r2.duplicates == [(str(new), r.added[0].id)]
    assert env.state() == before


def test_folder_expansion(env: Env, tmp_path: Path) -> None:
    env.store.add_artist("Quin", consent="royalty", royalty_rate=0.1)
    src = tmp_path / "portfolio"
    write_image(src / "b" / "z.png", 1)
    write_image(src / "a.JPEG", 2, "JPEG")
    write_image(src / "b" / "c" / "y.webp", 3, "WEBP")
    write_image(src / ".hidden.png", 4)
    write_image(src / ".cache" / "x.png", 5)
    (src / "notes.txt").write_text("not an image")
    (src / "fake.png.bak").write_text("ignored by extension")
    odd = write_image(tmp_path / "scan.dat", 6)  # explicit files of any name are validated
    files = ingest.expand_paths([src, odd, src / "a.JPEG"])
    assert [p.relative_to(tmp_path).as_posix() for p in files] == [
        "portfolio/a.JPEG",
        "portfolio/b/c/y.webp",
        "portfolio/b/z.png",
        "scan.dat",
    ]
    r = env.add("Quin", [src, odd])
    assert len(r.added) == 4 and len(env.index) == 4
    with pytest.raises(InvalidWork, match="no such file"):
        env.add("Quin", [tmp_path / "missing"])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no image files"):
        env.add("Quin", [empty])


def test_bad_file_in_batch_changes_nothing(env: Env, tmp_path: Path) -> None:
    env.store.add_artist("Rue", consent="opt-out")
    env.add("Rue", images(tmp_path / "first", [1, 2]))
    good = images(tmp_path / "batch", [3, 4, 5])
    bad = write_image(tmp_path / "batch" / "anim.png", 9, "GIF")
    before, calls = env.state(), env.calls
    with pytest.raises(InvalidWork, match="GIF") as err:
        env.add("Rue", [*good, bad])
    assert err.value.path == str(bad)
    assert env.state() == before and env.calls == calls  # nothing embedded either
    truncated = tmp_path / "batch" / "cut.png"
    truncated.write_bytes(good[0].read_bytes()[:-30])
    with pytest.raises(InvalidWork, match="truncated"):
        env.add("Rue", [*good, truncated])
    assert env.state() == before


def test_unknown_artist(env: Env, tmp_path: Path) -> None:
    with pytest.raises(ArtistNotFound):
        env.add("nobody", images(tmp_path, [1]))
    assert not env.works_dir.exists()


STAGES = ["embed", "copy", "insert", "index_add", "save_before", "save_after", "commit"]


def _inject(stage: str, env: Env, monkeypatch: pytest.MonkeyPatch):
    """Make the import fail at ``stage`` (after some work of that stage has been done).

    Returns a function that removes the fault.
    """
    real_embed = env.embed
    cleanup = [lambda: setattr(env, "embed", real_embed), monkeypatch.undo]
    if stage == "embed":
        real = env.embed
        state = {"n": 0}

        def embed(imgs):
            state["n"] += 1
            if state["n"] == 2:
                raise RuntimeError("embedder crashed")
            return real(imgs)

        env.embed = embed
    elif stage == "copy":
        real_store = ingest.store_work_bytes
        state = {"n": 0}

        def store_bytes(*a, **kw):
            state["n"] += 1
            if state["n"] == 3:
                raise OSError("disk full")
            return real_store(*a, **kw)

        monkeypatch.setattr(ingest, "store_work_bytes", store_bytes)
    elif stage == "insert":
        real_insert = RegistryStore.insert_works

        def insert(self, tx, artist_id, records):
            real_insert(self, tx, artist_id, records)  # rows really inserted, then failure
            raise RuntimeError("database went away")

        monkeypatch.setattr(RegistryStore, "insert_works", insert)
    elif stage == "index_add":
        real_add = StyleIndex.add

        def add(self, ids, vectors):
            real_add(self, ids, vectors)
            raise RuntimeError("faiss failure")

        monkeypatch.setattr(StyleIndex, "add", add)
    elif stage in ("save_before", "save_after"):
        real_save = StyleIndex.save

        def save(self, path, snapshot_hash):
            if stage == "save_after":
                real_save(self, path, snapshot_hash)  # new files in place, then failure
            raise OSError("cannot write index")

        monkeypatch.setattr(StyleIndex, "save", save)
    elif stage == "commit":

        def fail_commit(conn) -> None:
            raise RuntimeError("commit failed")

        event.listen(env.store.engine, "commit", fail_commit)
        cleanup.append(lambda: event.remove(env.store.engine, "commit", fail_commit))
    else:  # pragma: no cover
        raise AssertionError(stage)
    return lambda: [fn() for fn in cleanup]


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("with_previous", [True, False], ids=["existing-index", "first-import"])
def test_failure_midway_leaves_everything_as_before(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stage: str, with_previous: bool
) -> None:
    env.store.add_artist("Sol", consent="opt-out")
    if with_previous:
        env.add("Sol", images(tmp_path / "old", [1, 2]))
    before, n_events = env.state(), len(env.events)
    heal = _inject(stage, env, monkeypatch)
    batch = images(tmp_path / "new", [10, 11, 12, 13])
    with pytest.raises((RuntimeError, OSError, StylegateError)):
        env.add("Sol", batch, batch_size=2)
    heal()
    assert env.state() == before
    assert len(env.events) == n_events  # nothing announced
    # the in-memory index was restored too: the same import now succeeds
    r = env.add("Sol", batch)
    assert len(r.added) == 4
    assert StyleIndex.load(env.index_path, env.identity).snapshot_hash == env.store.snapshot_hash()


def test_remove_works(env: Env, tmp_path: Path) -> None:
    env.store.add_artist("Tam", consent="opt-out")
    added = env.add("Tam", images(tmp_path, [1, 2, 3])).added
    gone = env.ingest().remove_works([added[1].id])
    assert [w.id for w in gone] == [added[1].id]
    assert [w.id for w in env.store.list_works()] == [added[0].id, added[2].id]
    assert not (env.works_dir / added[1].path).exists() and (env.works_dir / added[0].path).exists()
    loaded = StyleIndex.load(env.index_path, env.identity)
    assert sorted(loaded.ids().tolist()) == [added[0].id, added[2].id]
    assert loaded.snapshot_hash == env.store.snapshot_hash()
    assert env.events[-1] == "works.removed"
    before = env.state()
    with pytest.raises(InputError, match="unknown work"):
        env.ingest().remove_works([added[0].id, 999])
    assert env.state() == before


@pytest.mark.parametrize("stage", ["save_after", "commit"])
def test_remove_failure_changes_nothing(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    env.store.add_artist("Uma", consent="opt-out")
    env.store.add_artist("Vic", consent="credit")
    added = env.add("Uma", images(tmp_path / "u", [1, 2])).added
    env.add("Vic", images(tmp_path / "v", [3]))
    before = env.state()
    heal = _inject(stage, env, monkeypatch)
    with pytest.raises((OSError, StylegateError, RuntimeError)):
        env.ingest().remove_works([added[0].id])
    with pytest.raises((OSError, StylegateError, RuntimeError)):
        env.ingest().remove_artist("Uma")
    heal()
    assert env.state() == before


def test_remove_artist_and_works(env: Env, tmp_path: Path) -> None:
    env.store.add_artist("Wren", consent="opt-out")
    env.store.add_artist("Xan", consent="credit")
    w_added = env.add("Wren", images(tmp_path / "w", [1, 2])).added
    x_added = env.add("Xan", images(tmp_path / "x", [3])).added
    artist, gone = env.ingest().remove_artist("wren")
    assert artist.name == "Wren" and [w.id for w in gone] == [w.id for w in w_added]
    with pytest.raises(ArtistNotFound):
        env.store.get_artist("Wren")
    assert env.store.list_works() == x_added
    assert sorted(env.index.ids().tolist()) == [x_added[0].id]
    assert all(not (env.works_dir / w.path).exists() for w in w_added)
    assert (env.works_dir / x_added[0].path).exists()
    assert StyleIndex.load(env.index_path, env.identity).snapshot_hash == env.store.snapshot_hash()
    # an artist without works goes too
    artist, gone = env.ingest().remove_artist("Xan")
    env.store.add_artist("Yo", consent="credit")
    artist, gone = env.ingest().remove_artist("Yo")
    assert gone == [] and env.store.list_artists() == []


def test_rebuild_equals_incremental(env: Env, tmp_path: Path) -> None:
    env.store.add_artist("Zed", consent="opt-out")
    env.store.add_artist("Ava", consent="royalty")
    env.add("Zed", images(tmp_path / "z", [1, 2, 3]))
    added = env.add("Ava", [*images(tmp_path / "a", [4, 5]), write_image(tmp_path / "a" / "j.jpg", 6, "JPEG")]).added
    env.ingest().remove_works([added[0].id])
    seen: list[tuple[int, int]] = []
    out = tmp_path / "rebuilt.faiss"
    rebuilt = env.ingest(fake_embedder(DIM), out, batch_size=2).rebuild_index(
        env.identity, "IDMap2,Flat", progress=lambda done, total: seen.append((done, total)),
    )
    assert seen[-1] == (5, 5)
    incremental = StyleIndex.load(env.index_path, env.identity)
    ids = sorted(incremental.ids().tolist())
    assert sorted(rebuilt.ids().tolist()) == ids
    np.testing.assert_array_equal(rebuilt.reconstruct(ids), incremental.reconstruct(ids))
    again = StyleIndex.load(out, env.identity)
    assert again.snapshot_hash == incremental.snapshot_hash == env.store.snapshot_hash()
    q = incremental.reconstruct(ids)
    assert np.array_equal(again.search(q, 3)[1], incremental.search(q, 3)[1])


def test_rebuild_checks_stored_files(env: Env, tmp_path: Path) -> None:
    env.store.add_artist("Bea", consent="opt-out")
    (w,) = env.add("Bea", images(tmp_path, [1])).added
    (env.works_dir / w.path).write_bytes(b"tampered")
    with pytest.raises(StylegateError, match="damaged"):
        env.ingest(index_path=tmp_path / "r.faiss").rebuild_index(env.identity, "IDMap2,Flat")
    assert not (tmp_path / "r.faiss").exists()


def test_stale_index_refused(env: Env, tmp_path: Path) -> None:
    env.store.add_artist("Cy", consent="opt-out")
    env.add("Cy", images(tmp_path / "a", [1, 2]))
    env.index = StyleIndex.create(DIM, env.identity)  # does not hold the registered works
    before = env.state()
    with pytest.raises(IndexMismatch, match="rebuild"):
        env.add("Cy", images(tmp_path / "b", [3]))
    assert env.state() == before
    env.index = env.ingest().rebuild_index(env.identity, "IDMap2,Flat")
    assert len(env.add("Cy", images(tmp_path / "b", [3])).added) == 1


def test_embedder_output_checked(env: Env, tmp_path: Path) -> None:
    env.store.add_artist("Di", consent="opt-out")
    before = env.state()
    env.embed = fake_embedder(DIM + 1)
    with pytest.raises(IndexMismatch):
        env.add("Di", images(tmp_path, [1]))
    env.embed = lambda imgs: np.ones((len(imgs), DIM), dtype=np.float32)  # not normalised
    with pytest.raises(ValueError):
        env.add("Di", images(tmp_path, [1]))
    assert env.state() == before


def test_progress_hooks(env: Env, tmp_path: Path) -> None:
    env.store.add_artist("Ed", consent="credit")
    calls: list[tuple[int, int]] = []
    env.add("Ed", images(tmp_path / "a", [1, 2, 3]), progress=lambda d, t: calls.append((d, t)), batch_size=2)
    assert calls == [(2, 3), (3, 3)]

    class Bar:  # tqdm-like
        total = None
        n = 0

        def update(self, k: int) -> None:
            self.n += k

    bar = Bar()
    env.add("Ed", images(tmp_path / "b", [4, 5]), progress=bar)
    assert (bar.n, bar.total) == (2, 2)
