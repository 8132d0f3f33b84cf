"""Registry store: artists, works rows, migrations, SQLite settings, revision, events.

Each test taking ``db_url`` (tests/conftest.py) runs on SQLite and on a real PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from stylegate.errors import ArtistNotFound, DuplicateArtist, InputError, StylegateError
from stylegate.registry import migrations as mig
from stylegate.registry.models import Consent
from stylegate.registry.store import RegistryStore, default_url, sqlite_url


@pytest.fixture()
def store(db_url: str):
    s = RegistryStore.open(db_url)
    yield s
    s.close()


@pytest.fixture()
def sqlite_store(tmp_path: Path):
    s = RegistryStore.open(sqlite_url(tmp_path / "registry.db"))
    yield s
    s.close()


def _record(i: int) -> dict:
    return {
        "sha256": f"{i:064x}",
        "path": f"00/{i:064x}.png",
        "format": "PNG",
        "width": 8,
        "height": 8,
        "size_bytes": 100 + i,
    }


def test_default_url_uses_stylegate_home(home: Path) -> None:
    assert default_url() == sqlite_url(home / "registry.db")
    s = RegistryStore.open()
    try:
        s.add_artist("Somebody", consent="credit")
        assert (home / "registry.db").is_file()
    finally:
        s.close()


def test_artist_round_trip(store: RegistryStore) -> None:
    a = store.add_artist(
        "  Ada Quill ",
        consent="royalty",
        aliases=["A. Quill", "quill", "ada quill", "Quill"],
        descriptors=["ink washes on wet paper", "blue herons"],
        royalty_rate=0.12,
    )
    assert a.name == "Ada Quill"
    assert a.consent is Consent.ROYALTY
    assert a.aliases == ("A. Quill", "quill")  # name and case-duplicates dropped
    assert a.descriptors == ("ink washes on wet paper", "blue herons")
    assert a.royalty_rate == pytest.approx(0.12)
    assert a.created_at
    assert store.get_artist(a.id) == a
    assert store.get_artist(str(a.id)) == a
    assert store.get_artist("ADA QUILL") == a
    assert store.get_artist(" ada quill ") == a
    b = store.add_artist("Bo Lind", consent=Consent.OPT_OUT)
    assert b.royalty_rate is None and b.aliases == ()
    assert [x.id for x in store.list_artists()] == [a.id, b.id]
    assert a.to_dict()["consent"] == "royalty"


def test_artist_input_errors(store: RegistryStore) -> None:
    store.add_artist("Cleo Marr", consent="credit")
    with pytest.raises(DuplicateArtist):
        store.add_artist("cleo MARR", consent="opt-out")
    with pytest.raises(DuplicateArtist):
        store.add_artist("ｃｌｅｏ ｍａｒｒ", consent="opt-out")  # fullwidth is the same name
    for bad in ["", "   ", "x" * 201, "12345", "tab\there"]:
        with pytest.raises(InputError):
            store.add_artist(bad, consent="credit")
    with pytest.raises(InputError, match="consent"):
        store.add_artist("Dee", consent="maybe")
    with pytest.raises(InputError):
        store.add_artist("Dee", consent="royalty", royalty_rate=1.5)
    with pytest.raises(InputError):
        store.add_artist("Dee", consent="royalty", royalty_rate=float("nan"))
    with pytest.raises(InputError, match="royalty"):
        store.add_artist("Dee", consent="credit", royalty_rate=0.1)
    with pytest.raises(InputError):
        store.add_artist("Dee", consent="credit", aliases="not-a-list")
    with pytest.raises(InputError):
        store.add_artist("Dee", consent="credit", descriptors=["ok", ""])
    assert len(store.list_artists()) == 1


def test_unknown_artist(store: RegistryStore) -> None:
    with pytest.raises(ArtistNotFound):
        store.get_artist("Nobody")
    with pytest.raises(ArtistNotFound):
        store.get_artist(42)
    with pytest.raises(ArtistNotFound):
        store.update_artist("Nobody", consent="credit")
    with pytest.raises(ArtistNotFound):
        store.remove_artist("7")


def test_update_artist(store: RegistryStore) -> None:
    a = store.add_artist("Eli Vane", consent="royalty", royalty_rate=0.3, aliases=["EV"])
    store.add_artist("Other", consent="credit")
    u = store.update_artist(a.id, name="Eli  Vane-Ro", descriptors=["rust and chrome"])
    assert u.name == "Eli  Vane-Ro" and u.descriptors == ("rust and chrome",) and u.aliases == ("EV",)
    assert u.royalty_rate == pytest.approx(0.3) and u.created_at == a.created_at
    assert store.update_artist(a.id, royalty_rate=None).royalty_rate is None
    assert store.update_artist(a.id, royalty_rate=0.5).royalty_rate == 0.5
    c = store.update_artist("eli  vane-ro", consent="credit")  # leaving royalty clears the rate
    assert c.consent is Consent.CREDIT and c.royalty_rate is None
    with pytest.raises(InputError):
        store.update_artist(a.id, royalty_rate=0.2)
    with pytest.raises(DuplicateArtist):
        store.update_artist(a.id, name="OTHER")
    assert store.update_artist(a.id, name="ELI  VANE-RO").name == "ELI  VANE-RO"  # re-case own name
    assert store.update_artist(a.id, aliases=[]).aliases == ()


def test_works_rows_and_remove_cascades(store: RegistryStore) -> None:
    a = store.add_artist("Fay", consent="opt-out")
    b = store.add_artist("Gus", consent="credit")
    with store.transaction() as tx:
        wa = store.insert_works(tx, a.id, [_record(1), _record(2)])
        wb = store.insert_works(tx, b.id, [_record(3)])
    assert [w.id for w in store.list_works()] == [wa[0].id, wa[1].id, wb[0].id]
    assert store.list_works(artist_id=a.id) == wa
    assert store.get_work(wb[0].id) == wb[0]
    assert store.find_work_by_sha256(_record(2)["sha256"]) == wa[1]
    assert store.find_work_by_sha256("f" * 64) is None
    with pytest.raises(InputError):
        store.get_work(999)
    with pytest.raises(StylegateError):  # sha256 is unique
        with store.transaction() as tx:
            store.insert_works(tx, b.id, [_record(1)])
    artist, gone = store.remove_artist("fay")
    assert artist.id == a.id and [w.id for w in gone] == [w.id for w in wa]
    assert [w.id for w in store.list_works()] == [wb[0].id]
    # ids are never reused (audit entries and FAISS refer to them)
    c = store.add_artist("Hal", consent="credit")
    assert c.id > b.id
    with store.transaction() as tx:
        (w,) = store.insert_works(tx, c.id, [_record(4)])
    assert w.id > wb[0].id


def test_delete_works_unknown_changes_nothing(store: RegistryStore) -> None:
    a = store.add_artist("Ida", consent="credit")
    with store.transaction() as tx:
        ws = store.insert_works(tx, a.id, [_record(1)])
    with pytest.raises(InputError):
        with store.transaction() as tx:
            store.delete_works(tx, [ws[0].id, 12345])
    assert store.list_works() == ws


def test_snapshot_hash(store: RegistryStore) -> None:
    a = store.add_artist("Jo", consent="credit")
    empty = store.snapshot_hash()
    with store.transaction() as tx:
        store.insert_works(tx, a.id, [_record(1)])
    one = store.snapshot_hash()
    assert one != empty and store.snapshot_hash() == one
    store.update_artist(a.id, aliases=["J"])  # artist metadata is not part of the snapshot
    assert store.snapshot_hash() == one


def test_migrations_apply_once(db_url: str) -> None:
    url = db_url
    s = RegistryStore.open(url)
    assert s.applied_migrations() == [name for name, _ in mig.MIGRATIONS]
    s.add_artist("Kay", consent="credit")
    s.close()
    s = RegistryStore.open(url)  # re-open: nothing applied again, data kept
    assert s.applied_migrations() == [name for name, _ in mig.MIGRATIONS]
    assert [a.name for a in s.list_artists()] == ["Kay"]
    s.close()

    calls: list[str] = []

    def up(conn) -> None:
        calls.append("up")
        conn.execute(text("CREATE TABLE extra_notes (id INTEGER PRIMARY KEY, body VARCHAR(100))"))

    extended = [*mig.MIGRATIONS, ("0099_extra_notes", up)]
    for _ in range(2):
        s = RegistryStore.open(url, migrations=extended)
        s.close()
    assert calls == ["up"]
    s = RegistryStore.open(url, migrations=extended)
    assert s.applied_migrations()[-1] == "0099_extra_notes"
    with s.engine.connect() as conn:
        conn.execute(text("SELECT count(*) FROM extra_notes")).scalar_one()
    s.close()
    # a database migrated by a newer version is refused by the older one
    with pytest.raises(StylegateError, match="newer"):
        RegistryStore.open(url)


def test_failing_migration_is_not_recorded(db_url: str) -> None:
    url = db_url

    def broken(conn) -> None:
        conn.execute(text("CREATE TABLE half_done (id INTEGER PRIMARY KEY)"))
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        RegistryStore.open(url, migrations=[*mig.MIGRATIONS, ("0002_broken", broken)])
    s = RegistryStore.open(url)
    assert s.applied_migrations() == [name for name, _ in mig.MIGRATIONS]
    with s.engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
    assert "half_done" not in tables  # DDL rolled back with the migration
    s.close()


def test_sqlite_pragmas(sqlite_store: RegistryStore) -> None:
    with sqlite_store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one().lower() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar_one() == 2  # FULL
        assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar_one() > 0


def test_in_memory_url_works() -> None:
    s = RegistryStore.open("sqlite://")
    s.add_artist("Mem", consent="credit")
    assert [a.name for a in s.list_artists()] == ["Mem"]
    s.close()


def test_revision_and_listeners(store: RegistryStore) -> None:
    events: list[tuple[str, dict]] = []
    store.add_listener(lambda e, p: events.append((e, p)))

    def bad_listener(e: str, p: dict) -> None:
        raise RuntimeError("listener failure must not break the registry")

    store.add_listener(bad_listener)
    r0 = store.revision()
    a = store.add_artist("Lu", consent="credit")
    assert store.revision() == r0 + 1
    store.update_artist(a.id, consent="credit")  # no change: no bump, no event
    assert store.revision() == r0 + 1
    store.update_artist(a.id, descriptors=["pastel fog"])
    with store.transaction() as tx:
        store.insert_works(tx, a.id, [_record(1)])
    with store.transaction() as tx:
        store.delete_works(tx, [store.list_works()[0].id])
    with pytest.raises(DuplicateArtist):
        store.add_artist("LU", consent="credit")  # failed change: no bump, no event
    store.remove_artist(a.id)
    assert store.revision() == r0 + 5
    assert [e for e, _ in events] == [
        "artist.added",
        "artist.updated",
        "works.added",
        "works.removed",
        "artist.removed",
    ]
    assert [p["revision"] for _, p in events] == [r0 + 1, r0 + 2, r0 + 3, r0 + 4, r0 + 5]
    assert events[0][1]["artist"]["name"] == "Lu"
    assert events[1][1]["changed"] == ["descriptors"]
    assert events[2][1]["artist"] == {"id": a.id, "name": "Lu"}


def test_rolled_back_transaction_emits_nothing(store: RegistryStore) -> None:
    events: list[str] = []
    store.add_listener(lambda e, p: events.append(e))
    r0 = store.revision()
    with pytest.raises(RuntimeError):
        with store.transaction() as tx:
            store.add_artist("Mo", consent="credit", tx=tx)
            raise RuntimeError("abort")
    assert store.list_artists() == [] and events == [] and store.revision() == r0


def test_writers_queue_and_readers_proceed(db_url: str) -> None:
    url = db_url
    first = RegistryStore.open(url)
    second = RegistryStore.open(url, busy_timeout_s=0.05)
    try:
        with first.transaction() as tx:
            first.add_artist("Ned", consent="credit", tx=tx)
            assert second.list_artists() == []  # WAL: readers see the last commit
            with pytest.raises(StylegateError, match="locked"):
                second.add_artist("Ola", consent="credit")  # the write lock is taken up front
        assert [a.name for a in second.list_artists()] == ["Ned"]
        second.add_artist("Ola", consent="credit")
        assert second.revision() == first.revision() == 2
    finally:
        first.close()
        second.close()


def test_an_older_schema_is_migrated_with_its_data(db_url: str) -> None:
    """A database left at 0002 (artists and accounts, no claims yet) is brought up to date."""
    from sqlalchemy import insert, select

    from stylegate.registry import schema
    from stylegate.registry.store import create_registry_engine

    engine = create_registry_engine(db_url)
    try:
        assert mig.migrate(engine, mig.MIGRATIONS[:2]) == ["0001_initial", "0002_accounts"]
        with engine.begin() as conn:
            conn.execute(insert(schema.artists).values(
                name="Old Timer", name_key="old timer", aliases=["O.T."], descriptors=["sepia"], consent="royalty",
                royalty_rate=0.25, created_at="2024-01-01T00:00:00+00:00"))
            conn.execute(text("INSERT INTO accounts (artist_id, token_hash, contact, verified, created_at) "
                              "VALUES (1, :h, 'old@example.org', 1, '2024-01-01T00:00:00+00:00')"), {"h": "a" * 64})
    finally:
        engine.dispose()
    s = RegistryStore.open(db_url)
    try:
        assert s.applied_migrations() == [name for name, _ in mig.MIGRATIONS]
        (old,) = s.list_artists()
        assert (old.name, old.aliases, old.descriptors, old.royalty_rate) == ("Old Timer", ("O.T.",), ("sepia",), 0.25)
        with s.engine.connect() as conn:  # 0004's new column defaults to "not confirmed"
            row = conn.execute(select(schema.accounts.c.verified, schema.accounts.c.contact_confirmed)).one()
        assert tuple(row) == (1, 0)
        with pytest.raises(DuplicateArtist, match="already claimed"):  # claims were built on open
            s.add_artist("Someone", consent="credit", aliases=["o t"])
        new = s.add_artist("New Comer", consent="credit")
        assert new.id > old.id
        with s.transaction() as tx:  # 0005's JSON column round-trips
            (w,) = s.insert_works(tx, old.id, [_record(7)])
        s.set_consent_signals({w.id: {"training_mining": "notAllowed", "status": "valid", "signer": None}})
        assert s.consent_signals(old.id) == {w.id: {"training_mining": "notAllowed", "status": "valid", "signer": None}}
    finally:
        s.close()


def test_without_create_a_database_never_initialised_is_refused(db_url: str) -> None:
    with pytest.raises(StylegateError, match="never recreated"):
        RegistryStore.open(db_url, create=False)  # a missing SQLite file, an empty PostgreSQL database
    RegistryStore.open(db_url).close()  # `stylegate init` creates it
    s = RegistryStore.open(db_url, create=False)
    try:
        assert s.applied_migrations() == [name for name, _ in mig.MIGRATIONS]
    finally:
        s.close()
