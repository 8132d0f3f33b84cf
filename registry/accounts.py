"""Portal accounts: the API token and contact of each self-registered artist.

A token is shown once, when it is issued; the database keeps only its sha256 (tokens are 256
random bits, so a plain hash is enough: there is nothing to brute-force). ``verified`` is set
by an administrator, never by the artist.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from stylegate.errors import ArtistNotFound, InputError

from . import schema
from .store import RegistryStore, Transaction

log = logging.getLogger(__name__)

TOKEN_PREFIX = "sgt_"
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

    def to_dict(self) -> dict:
        return {"artist_id": self.artist_id, "contact": self.contact, "verified": self.verified,
                "created_at": self.created_at}


def new_token() -> str:
    """A fresh API token: ``sgt_`` and 43 URL-safe characters (256 bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def clean_contact(value: object) -> str:
    """An e-mail address, trimmed; a clear error otherwise."""
    if not isinstance(value, str):
        raise InputError("contact must be an e-mail address")
    text = value.strip()
    if len(text) > schema.CONTACT_MAX or not _EMAIL.fullmatch(text):
        raise InputError(f"contact must be an e-mail address of at most {schema.CONTACT_MAX} characters")
    return text


class NoAccount(ArtistNotFound):
    """The artist exists (or not) but has no portal account."""

    def __init__(self, artist_id: int) -> None:
        InputError.__init__(self, f"artist #{artist_id} has no portal account")
        self.ref = str(artist_id)


def _row(row) -> Account:
    return Account(row.artist_id, row.contact, bool(row.verified), row.created_at)


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
        if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 100:
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
            if values:
                t.conn.execute(update(schema.accounts).where(schema.accounts.c.artist_id == artist_id).values(**values))
                after = self.get(artist_id, t)
                changed = sorted(k for k in ("contact", "verified") if getattr(after, k) != getattr(before, k))
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
            t.emit("account.token_rotated", {"artist_id": artist_id})
        return token

    def all(self) -> dict[int, Account]:
        with self.store.transaction(write=False) as t:
            return {int(r.artist_id): _row(r) for r in t.conn.execute(select(schema.accounts))}

    def _read(self, tx: Transaction | None):
        return self.store._tx(tx, write=False)  # the caller's transaction, or a new one

    def _write(self, tx: Transaction | None):
        return self.store._tx(tx, write=True)

