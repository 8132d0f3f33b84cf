"""Concurrent writers on one registry database, on SQLite and on a real PostgreSQL.

Each store below has its own engine (its own connections), as two processes would. The
revision counter must count every committed change exactly once, a name must end up claimed
by one artist however the writers interleave, and a fresh database opened by several
processes at once must be migrated exactly once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import func, select

from stylegate.errors import DuplicateArtist, InputError
from stylegate.registry import migrations as mig
from stylegate.registry import schema
from stylegate.registry.claims import ClaimRules
from stylegate.registry.store import RegistryStore


def _race(n: int, fn: Callable[[int], Any]) -> list[Any]:
    """Run ``fn(0..n-1)`` in ``n`` threads released together; results or raised exceptions."""
    barrier = threading.Barrier(n)

    def run(i: int) -> Any:
        barrier.wait()
        try:
            return fn(i)
        except Exception as exc:  # noqa: BLE001 - the test inspects what each writer got
            return exc

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def test_concurrent_writers_count_every_revision_once(db_url: str) -> None:
    stores = [RegistryStore.open(db_url) for _ in range(2)]
    revisions: list[int] = []
    lock = threading.Lock()

    def seen(_event: str, payload: dict) -> None:
        with lock:
            revisions.append(int(payload["revision"]))

    for s in stores:
        s.add_listener(seen)
    try:
        r0 = stores[0].revision()
        per_writer = 12

        def write(i: int) -> None:
            s = stores[i]
            for k in range(per_writer):
                a = s.add_artist(f"Writer {i} Artist {k}", consent="credit")
                s.update_artist(a.id, descriptors=[f"style {i}-{k}"])

        assert _race(2, write) == [None, None]
        total = 2 * per_writer * 2
        assert stores[1].revision() == stores[0].revision() == r0 + total
        assert sorted(revisions) == list(range(r0 + 1, r0 + total + 1))  # no revision lost or given twice
        assert len(stores[0].list_artists()) == 2 * per_writer
    finally:
        for s in stores:
            s.close()


def test_twin_names_racing_are_claimed_once(db_url: str) -> None:
    """Four writers register the same name under four spellings at once: one wins."""
    stores = [RegistryStore.open(db_url) for _ in range(4)]
    try:
        twins = ["Mira Okonkwo", "MIRA_OKONKWO", "mira-okonkwo", "Mira  Okonkwo"]
        got = _race(4, lambda i: stores[i].add_artist(twins[i], consent="opt-out"))
        winners = [g for g in got if not isinstance(g, BaseException)]
        assert len(winners) == 1, got
        assert all(isinstance(g, DuplicateArtist) for g in got if g not in winners), got
        assert [a.name for a in stores[0].list_artists()] == [winners[0].name]
        with stores[0].engine.connect() as conn:
            holders = conn.execute(select(schema.name_claims.c.artist_id).distinct()).scalars().all()
        assert holders == [winners[0].id]
    finally:
        for s in stores:
            s.close()


def test_a_writer_waits_for_the_one_holding_the_lock_then_sees_its_claim(db_url: str) -> None:
    first = RegistryStore.open(db_url)
    second = RegistryStore.open(db_url)
    try:
        outcome: list[Any] = []

        def late() -> None:
            try:
                outcome.append(second.add_artist("Tobiah Renn", consent="royalty", aliases=["the teal painter"]))
            except Exception as exc:  # noqa: BLE001
                outcome.append(exc)

        with first.transaction() as tx:
            first.add_artist("Mira Okonkwo", consent="royalty", aliases=["The Teal Painter"], tx=tx)
            waiting = threading.Thread(target=late)
            waiting.start()
            time.sleep(0.5)
            assert outcome == []  # queued behind the open write transaction, not racing it
        waiting.join(30)
        assert len(outcome) == 1 and isinstance(outcome[0], DuplicateArtist), outcome
        assert "already claimed" in str(outcome[0])
        assert [a.name for a in second.list_artists()] == ["Mira Okonkwo"]
        assert second.revision() == 1
    finally:
        first.close()
        second.close()


def test_a_dispute_decided_twice_at_once_is_decided_once(db_url: str) -> None:
    rules = ClaimRules(on_collision="dispute")
    stores = [RegistryStore.open(db_url, claims=rules) for _ in range(2)]
    try:
        stores[0].add_artist("Mira Okonkwo", consent="royalty", aliases=["The Teal Painter"])
        claimant = stores[0].add_artist("Tobiah Renn", consent="royalty", aliases=["the teal painter"])
        (dispute,) = stores[0].list_disputes()
        r0 = stores[0].revision()
        got = _race(2, lambda i: stores[i].resolve_dispute(dispute.id, grant=True))
        decided = [g for g in got if not isinstance(g, BaseException)]
        assert len(decided) == 1 and decided[0].status == "granted", got
        (refused,) = [g for g in got if isinstance(g, BaseException)]
        assert isinstance(refused, InputError) and "already decided" in str(refused)
        assert stores[1].get_artist(claimant.id).aliases == ("the teal painter",)
        assert stores[1].get_artist("Mira Okonkwo").aliases == ()
        assert stores[1].revision() > r0
    finally:
        for s in stores:
            s.close()


def test_a_fresh_database_opened_by_several_processes_at_once_is_migrated_once(db_url: str) -> None:
    got = _race(4, lambda _i: RegistryStore.open(db_url))
    try:
        assert all(isinstance(g, RegistryStore) for g in got), got
        names = [name for name, _ in mig.MIGRATIONS]
        for s in got:
            assert s.applied_migrations() == names
        with got[0].engine.connect() as conn:
            rows = conn.execute(select(schema.meta.c.key, func.count()).group_by(schema.meta.c.key)).all()
        assert dict(rows) == {"revision": 1, "claims_version": 1, "change_log_from": 1}
        got[1].add_artist("Kay", consent="credit")
        assert [a.name for a in got[3].list_artists()] == ["Kay"]
    finally:
        for s in got:
            if isinstance(s, RegistryStore):
                s.close()


def test_a_read_transaction_sees_one_snapshot(db_url: str) -> None:
    reader = RegistryStore.open(db_url)
    writer = RegistryStore.open(db_url)
    try:
        writer.add_artist("Before", consent="credit")
        with reader.transaction(write=False) as tx:
            assert [a.name for a in reader.list_artists(tx=tx)] == ["Before"]
            writer.add_artist("During", consent="credit")
            assert reader.revision(tx=tx) == 1  # not the writer's commit made meanwhile
            assert [a.name for a in reader.list_artists(tx=tx)] == ["Before"]
        assert [a.name for a in reader.list_artists()] == ["Before", "During"] and reader.revision() == 2
    finally:
        reader.close()
        writer.close()


def test_a_plain_postgresql_url_uses_psycopg(pg_server) -> None:
    url = pg_server.create_database()
    try:
        plain = url.replace("postgresql+psycopg://", "postgresql://")
        with RegistryStore.open(plain) as s:
            assert s.engine.url.drivername == "postgresql+psycopg"
            s.add_artist("Plain", consent="credit")
            assert [a.name for a in s.list_artists()] == ["Plain"]
    finally:
        pg_server.drop_database(url)
