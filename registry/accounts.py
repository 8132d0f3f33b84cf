"""Portal accounts: the API token and contact of each self-registered artist.

A token is shown once, when it is issued; the database keeps only its sha256 (tokens are 256
random bits, so a plain hash is enough: there is nothing to brute-force). ``verified`` is set
by an administrator, never by the artist; ``contact_confirmed`` only by following a mailed link.

Portal sessions and contact confirmations are random secrets too, stored the same way (only
their sha256): a stolen database opens no session and confirms no address.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from stylegate.errors import InputError, NoAccount

from . import schema
from .store import RegistryStore, Transaction

log = logging.getLogger(__name__)

TOKEN_PREFIX = "sgt_"
SESSION_PREFIX = "sgs_"
CONFIRM_PREFIX = "sgc_"
SECRET_MAX = 100  # longer presented secrets are refused before any hashing or lookup
# An e-mail address: no spaces and no control characters anywhere (the HTTP schema states the
# same pattern, so what the schema accepts the registry accepts). Used with fullmatch.
_EMAIL_PART = r"[^@\s\x00-\x1f\x7f-\x9f]+"
EMAIL_PATTERN = rf"^\s*{_EMAIL_PART}@{_EMAIL_PART}\.{_EMAIL_PART}\s*$"  # surrounding spaces are trimmed
_EMAIL = re.compile(EMAIL_PATTERN)


@dataclass(frozen=True)
class Account:
    artist_id: int
    contact: str
    verified: bool
    created_at: str
    contact_confirmed: bool = False

    def to_dict(self) -> dict:
        return {"artist_id": self.artist_id, "contact": self.contact, "verified": self.verified,
                "contact_confirmed": self.contact_confirmed, "created_at": self.created_at}


def new_token() -> str:
    """A fresh API token: ``sgt_`` and 43 URL-safe characters (256 bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _stamp(moment: datetime) -> str:
    """A UTC time as stored: fixed-width ISO 8601, so stored times compare as strings."""
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(timezone.utc)


def _presented(secret: str | None, prefix: str) -> bool:
    """Whether a presented secret is shaped like one of ours (cheap, before any lookup)."""
    if not secret:
        return False
    return secret.startswith(prefix) and len(secret) <= SECRET_MAX


def clean_contact(value: object) -> str:
    """An e-mail address, trimmed; a clear error otherwise."""
    if not isinstance(value, str):
        raise InputError("contact must be an e-mail address")
    text = value.strip()
    if len(text) > schema.CONTACT_MAX or not _EMAIL.fullmatch(text):
        raise InputError(f"contact must be an e-mail address of at most {schema.CONTACT_MAX} characters")
    return text


def _row(row) -> Account:
    return Account(row.artist_id, row.contact, bool(row.verified), row.created_at, bool(row.contact_confirmed))


class AccountStore:
    """Accounts in the registry database, next to (and deleted with) their artists."""

    def __init__(self, store: RegistryStore) -> None:
        self.store = store

    def create(self, artist_id: int, contact: str, tx: Transaction) -> str:
        """Open the account of ``artist_id`` in ``tx`` and return its new token (shown once)."""
        token = new_token()
        try:
            tx.conn.execute(insert(schema.accounts).values(
                artist_id=artist_id, token_hash=token_hash(token), contact=clean_contact(contact), verified=0,
                created_at=datetime.now(timezone.utc).isoformat(timespec="seconds")))
        except IntegrityError:
            raise InputError(f"artist #{artist_id} already has an account") from None
        return token

    def get(self, artist_id: int, tx: Transaction | None = None) -> Account:
        with self._read(tx) as t:
            row = t.conn.execute(select(schema.accounts).where(schema.accounts.c.artist_id == artist_id)).first()
        if row is None:
            raise NoAccount(artist_id)
        return _row(row)

    def find(self, artist_id: int) -> Account | None:
        try:
            return self.get(artist_id)
        except NoAccount:
            return None

    def authenticate(self, token: str | None) -> int | None:
        """The artist id a token belongs to, or None."""
        if token is None or not _presented(token, TOKEN_PREFIX):
            return None
        with self.store.transaction(write=False) as t:
            row = t.conn.execute(select(schema.accounts.c.artist_id).where(
                schema.accounts.c.token_hash == token_hash(token))).first()
        return None if row is None else int(row[0])

    def update(self, artist_id: int, *, contact: str | None = None, verified: bool | None = None,
               tx: Transaction | None = None) -> Account:
        """Change the contact (the artist) or the verified flag (an administrator)."""
        values: dict = {}
        if contact is not None:
            values["contact"] = clean_contact(contact)
        if verified is not None:
            values["verified"] = int(bool(verified))
        with self._write(tx) as t:
            before = self.get(artist_id, t)
            if values.get("contact", before.contact) != before.contact:  # a new address is not confirmed
                values["contact_confirmed"] = 0
                self._drop_confirmations(artist_id, t)
            if values:
                t.conn.execute(update(schema.accounts).where(schema.accounts.c.artist_id == artist_id).values(**values))
                after = self.get(artist_id, t)
                changed = sorted(k for k in ("contact", "verified", "contact_confirmed")
                                 if getattr(after, k) != getattr(before, k))
                if changed:  # the audit log learns what changed, never the address itself
                    t.emit("account.updated", {"artist_id": artist_id, "changed": changed, "verified": after.verified})
                return after
            return before

    def rotate_token(self, artist_id: int) -> str:
        """Replace the token of ``artist_id``; the old one stops working at once."""
        token = new_token()
        with self.store.transaction() as t:
            self.get(artist_id, t)
            t.conn.execute(update(schema.accounts).where(schema.accounts.c.artist_id == artist_id)
                           .values(token_hash=token_hash(token)))
            self.close_sessions(artist_id, t)  # whoever held the old token loses its sessions too
            t.emit("account.token_rotated", {"artist_id": artist_id})
        return token

    # ------------------------------------------------------------------ portal sessions
    def open_session(self, artist_id: int, ttl: timedelta, now: datetime | None = None) -> str:
        """A new portal session for ``artist_id``, valid for ``ttl``; returns its id (shown once)."""
        session_id = SESSION_PREFIX + secrets.token_urlsafe(32)
        start = _now(now)
        with self.store.transaction() as t:
            self.get(artist_id, t)
            t.conn.execute(delete(schema.sessions).where(schema.sessions.c.artist_id == artist_id,
                                                         schema.sessions.c.expires_at <= _stamp(start)))
            t.conn.execute(insert(schema.sessions).values(
                id_hash=token_hash(session_id), artist_id=artist_id, created_at=_stamp(start),
                expires_at=_stamp(start + ttl)))
        return session_id

    def session_artist(self, session_id: str | None, now: datetime | None = None) -> int | None:
        """The artist of a live session, or None (unknown, expired, or not a session id)."""
        if not _presented(session_id, SESSION_PREFIX):
            return None
        with self.store.transaction(write=False) as t:
            row = t.conn.execute(select(schema.sessions.c.artist_id, schema.sessions.c.expires_at).where(
                schema.sessions.c.id_hash == token_hash(session_id or ""))).first()
        if row is None or row.expires_at <= _stamp(_now(now)):
            return None
        return int(row.artist_id)

    def close_session(self, session_id: str | None) -> None:
        """Sign a session out (nothing happens for an unknown one)."""
        if not _presented(session_id, SESSION_PREFIX):
            return
        with self.store.transaction() as t:
            t.conn.execute(delete(schema.sessions).where(schema.sessions.c.id_hash == token_hash(session_id or "")))

    def close_sessions(self, artist_id: int, tx: Transaction | None = None) -> None:
        """End every session of ``artist_id``."""
        with self._write(tx) as t:
            t.conn.execute(delete(schema.sessions).where(schema.sessions.c.artist_id == artist_id))

    # ------------------------------------------------------------------ contact confirmation
    def start_confirmation(self, artist_id: int, ttl: timedelta, now: datetime | None = None) -> tuple[str, str]:
        """A new single-use confirmation token for the account's current contact; earlier ones
        stop working. Returns ``(token, contact)``: the token is mailed, only its hash is kept."""
        token = CONFIRM_PREFIX + secrets.token_urlsafe(32)
        start = _now(now)
        with self.store.transaction() as t:
            account = self.get(artist_id, t)
            self._drop_confirmations(artist_id, t)
            t.conn.execute(insert(schema.contact_confirmations).values(
                token_hash=token_hash(token), artist_id=artist_id, contact=account.contact,
                created_at=_stamp(start), expires_at=_stamp(start + ttl)))
        return token, account.contact

    def confirm_contact(self, token: str | None, now: datetime | None = None) -> int | None:
        """Use a confirmation token: the artist whose contact it confirmed, or None when it is
        unknown, used, expired, or was sent to an address the account no longer has."""
        if not _presented(token, CONFIRM_PREFIX):
            return None
        with self.store.transaction() as t:
            c = schema.contact_confirmations.c
            row = t.conn.execute(select(c.artist_id, c.contact, c.expires_at).where(
                c.token_hash == token_hash(token or ""))).first()
            if row is None:
                return None
            artist_id = int(row.artist_id)
            t.conn.execute(delete(schema.contact_confirmations).where(c.token_hash == token_hash(token or "")))
            account = self.get(artist_id, t)
            if row.expires_at <= _stamp(_now(now)) or account.contact != row.contact:
                return None
            self._drop_confirmations(artist_id, t)
            t.conn.execute(update(schema.accounts).where(schema.accounts.c.artist_id == artist_id)
                           .values(contact_confirmed=1))
            t.emit("account.updated", {"artist_id": artist_id, "changed": ["contact_confirmed"],
                                       "verified": account.verified})
        return artist_id

    def _drop_confirmations(self, artist_id: int, t: Transaction) -> None:
        t.conn.execute(delete(schema.contact_confirmations)
                       .where(schema.contact_confirmations.c.artist_id == artist_id))

    def all(self) -> dict[int, Account]:
        with self.store.transaction(write=False) as t:
            return {int(r.artist_id): _row(r) for r in t.conn.execute(select(schema.accounts))}

    def _read(self, tx: Transaction | None):
        return self.store._tx(tx, write=False)  # the caller's transaction, or a new one

    def _write(self, tx: Transaction | None):
        return self.store._tx(tx, write=True)

