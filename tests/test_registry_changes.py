"""The registry's change log: each revision records the artists it touched, in its transaction.

Each test taking ``db_url`` (tests/conftest.py) runs on SQLite and on a real PostgreSQL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from stylegate.errors import DuplicateArtist
from stylegate.registry import migrations as mig
from stylegate.registry.models import Consent
from stylegate.registry.store import RegistryStore


def _record(i: int) -> dict:
    return {"sha256": f"{i:064x}", "path": f"00/{i:064x}.png", "format": "PNG", "width": 8, "height": 8,
            "size_bytes": 100 + i}


@pytest.fixture()
def store(db_url: str):
    s = RegistryStore.open(db_url)
    yield s
    s.close()


def test_each_change_names_the_artists_it_touched(store: RegistryStore) -> None:
    start = store.revision()
    a = store.add_artist("Wren Halloway", consent=Consent.OPT_OUT)
    b = store.add_artist("Ines Marrow", consent=Consent.CREDIT)
    after_add = store.revision()
    with store.transaction() as tx:
        store.insert_works(tx, b.id, [_record(1), _record(2)])
    store.update_artist(a.id, aliases=("W. Halloway",))
    changes = store.changes_since(after_add)
    assert changes is not None
    assert (changes.artists, changes.works, changes.everything) == ({a.id}, {b.id}, False)
    everything = store.changes_since(start)
    assert everything is not None and everything.artists == {a.id, b.id}
    store.remove_artist(b.id)  # removing an artist withdraws its works too
    last = store.changes_since(store.revision() - 1)
    assert last is not None and last.artists == {b.id} and last.works == {b.id}
    assert store.changes_since(store.revision()) == last.__class__(store.revision(), store.revision())


def test_a_refused_change_logs_nothing(store: RegistryStore) -> None:
    store.add_artist("Wren Halloway", consent=Consent.OPT_OUT)
    revision = store.revision()
    with pytest.raises(DuplicateArtist):
        store.add_artist("wren halloway", consent=Consent.CREDIT)
    assert store.revision() == revision
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM registry_changes WHERE revision > :r"),
                            {"r": revision}).scalar() == 0
    changes = store.changes_since(revision)
    assert changes is not None and not changes.touched


def test_the_log_cannot_answer_for_revisions_before_it_or_too_many_changes(store: RegistryStore) -> None:
    for k in range(4):
        store.add_artist(f"Artist Number{k}", consent=Consent.CREDIT)
    assert store.changes_since(store.revision() + 1) is None  # ahead of this registry
    assert store.changes_since(0, limit=3) is None  # four rows: a rebuild is cheaper
    assert store.changes_since(0, limit=4) is not None
    with store.engine.begin() as conn:  # as if the database was migrated at revision 2
        conn.execute(text("UPDATE meta SET value = '2' WHERE key = 'change_log_from'"))
    assert store.changes_since(1) is None
    assert store.changes_since(2) is not None


def test_an_existing_registry_starts_its_log_at_its_revision(db_url: str) -> None:
    old = [m for m in mig.MIGRATIONS if m[0] != "0006_change_log"]
    with RegistryStore.open(db_url, migrations=old) as s:
        s.add_artist("Wren Halloway", consent=Consent.OPT_OUT)
        s.add_artist("Ines Marrow", consent=Consent.OPT_OUT)
        before = s.revision()
    with RegistryStore.open(db_url) as s:
        assert "0006_change_log" in s.applied_migrations()
        assert s.changes_since(before - 1) is None  # not logged: it happened before the log
        assert s.changes_since(before) is not None
        c = s.add_artist("Third Person", consent=Consent.CREDIT)
        changes = s.changes_since(before)
        assert changes is not None and changes.artists == {c.id}


def test_old_rows_are_pruned_and_the_log_start_moves_up(store: RegistryStore, monkeypatch: pytest.MonkeyPatch) -> None:
    from stylegate.registry import store as store_module

    monkeypatch.setattr(store_module, "CHANGE_LOG_KEEP", 3)
    monkeypatch.setattr(store_module, "CHANGE_LOG_PRUNE_EVERY", 2)
    for k in range(8):
        store.add_artist(f"Artist Number{k}", consent=Consent.CREDIT)
    now = store.revision()
    with store.engine.connect() as conn:
        oldest = conn.execute(text("SELECT min(revision) FROM registry_changes")).scalar()
    assert oldest is not None and oldest > now - 4  # at most the last KEEP + PRUNE_EVERY revisions
    assert store.changes_since(1) is None  # pruned: a gate that far behind rebuilds
    recent = store.changes_since(now - 2)
    assert recent is not None and len(recent.artists) == 2
