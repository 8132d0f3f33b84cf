"""Portal accounts in the registry database (registry/accounts.py), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from stylegate.errors import InputError, NoAccount
from stylegate.registry import schema
from stylegate.registry.accounts import AccountStore, token_hash
from stylegate.registry.store import RegistryStore

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture()
def store(db_url: str):
    s = RegistryStore.open(db_url)
    yield s
    s.close()


def _account(store: RegistryStore, name: str = "Ada Quill") -> tuple[AccountStore, int, str]:
    accounts = AccountStore(store)
    with store.transaction() as tx:
        artist = store.add_artist(name, consent="royalty", tx=tx)
        token = accounts.create(artist.id, "  ada@example.org ", tx)
    return accounts, artist.id, token


def test_a_token_authenticates_its_artist_and_only_its_hash_is_stored(store: RegistryStore) -> None:
    accounts, artist_id, token = _account(store)
    assert accounts.authenticate(token) == artist_id
    assert accounts.authenticate(token + "x") is None and accounts.authenticate("nope") is None
    assert accounts.authenticate(None) is None
    got = accounts.get(artist_id)
    assert (got.contact, got.verified, got.contact_confirmed) == ("ada@example.org", False, False)
    with store.engine.connect() as conn:
        (stored,) = conn.execute(select(schema.accounts.c.token_hash)).one()
    assert stored == token_hash(token) and token not in stored
    assert not store.get_artist(artist_id).verified  # a portal artist awaits an administrator


def test_one_account_per_artist_and_bad_contacts_are_refused(store: RegistryStore) -> None:
    accounts, artist_id, _ = _account(store)
    with pytest.raises(InputError, match="already has an account"):
        with store.transaction() as tx:
            accounts.create(artist_id, "b@example.org", tx)
    with pytest.raises(InputError, match="e-mail"):
        with store.transaction() as tx:
            other = store.add_artist("Bo Lind", consent="credit", tx=tx)
            accounts.create(other.id, "not an address", tx)
    assert [a.name for a in store.list_artists()] == ["Ada Quill"]  # the failed sign-up left nothing
    with pytest.raises(NoAccount):
        accounts.get(12345)
    assert accounts.find(12345) is None and list(accounts.all()) == [artist_id]


def test_update_verifies_and_a_new_contact_is_unconfirmed(store: RegistryStore) -> None:
    accounts, artist_id, _ = _account(store)
    events: list[tuple[str, dict]] = []
    store.add_listener(lambda e, p: events.append((e, p)))
    assert accounts.update(artist_id, verified=True).verified
    assert store.get_artist(artist_id).verified
    confirm, contact = accounts.start_confirmation(artist_id, timedelta(hours=1), now=T0)
    assert contact == "ada@example.org"
    assert accounts.confirm_contact(confirm, now=T0 + timedelta(minutes=5)) == artist_id
    assert accounts.get(artist_id).contact_confirmed
    assert accounts.confirm_contact(confirm, now=T0 + timedelta(minutes=6)) is None  # single use
    moved = accounts.update(artist_id, contact="ada@elsewhere.org")
    assert moved.contact == "ada@elsewhere.org" and not moved.contact_confirmed
    assert [(e, p["changed"]) for e, p in events if e == "account.updated"] == [
        ("account.updated", ["verified"]), ("account.updated", ["contact_confirmed"]),
        ("account.updated", ["contact", "contact_confirmed"])]


def test_confirmation_expires_and_dies_with_a_contact_change(store: RegistryStore) -> None:
    accounts, artist_id, _ = _account(store)
    late, _ = accounts.start_confirmation(artist_id, timedelta(minutes=10), now=T0)
    assert accounts.confirm_contact(late, now=T0 + timedelta(minutes=11)) is None
    stale, _ = accounts.start_confirmation(artist_id, timedelta(hours=1), now=T0)
    accounts.update(artist_id, contact="new@example.org")
    assert accounts.confirm_contact(stale, now=T0) is None
    assert not accounts.get(artist_id).contact_confirmed


def test_sessions_expire_and_end_with_a_rotated_token(store: RegistryStore) -> None:
    accounts, artist_id, token = _account(store)
    session = accounts.open_session(artist_id, timedelta(hours=1), now=T0)
    assert accounts.session_artist(session, now=T0 + timedelta(minutes=59)) == artist_id
    assert accounts.session_artist(session, now=T0 + timedelta(hours=1)) is None
    live = accounts.open_session(artist_id, timedelta(hours=1), now=T0)
    new_token = accounts.rotate_token(artist_id)
    assert accounts.authenticate(token) is None and accounts.authenticate(new_token) == artist_id
    assert accounts.session_artist(live, now=T0) is None
    other = accounts.open_session(artist_id, timedelta(hours=1), now=T0)
    accounts.close_session(other)
    assert accounts.session_artist(other, now=T0) is None


def test_removing_the_artist_removes_account_sessions_and_confirmations(store: RegistryStore) -> None:
    accounts, artist_id, token = _account(store)
    session = accounts.open_session(artist_id, timedelta(hours=1), now=T0)
    accounts.start_confirmation(artist_id, timedelta(hours=1), now=T0)
    store.remove_artist(artist_id)
    assert accounts.authenticate(token) is None and accounts.session_artist(session, now=T0) is None
    with store.engine.connect() as conn:
        for table in (schema.accounts, schema.sessions, schema.contact_confirmations):
            assert conn.execute(select(table)).all() == [], table.name
