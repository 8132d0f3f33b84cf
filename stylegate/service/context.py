"""What every request handler shares: the workspace, one lock, accounts and helpers.

The service runs over the same registry, style index and audit log as the CLI (one
:class:`~stylegate.workspace.Workspace`). Handlers are plain functions that FastAPI runs in
a thread pool; the workspace's lazy components and the in-memory index are not meant for
concurrent mutation, so every use of them holds :attr:`ServiceContext.lock`. A check takes
milliseconds, so one lock costs little.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from stylegate.settings import Settings
from stylegate.workspace import Workspace

from .limits import Limits
from .mail import Mailer

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.engine import Engine

    from stylegate.registry.accounts import AccountStore

log = logging.getLogger(__name__)


class ServiceContext:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.workspace = Workspace(self.settings)
        self.lock = threading.RLock()
        shared = self.settings.rate_limit_store == "database"  # "auto" is resolved by `stylegate serve`
        self.limits = Limits(self.settings, shared=self._bucket_engine if shared else None)
        self.mailer = Mailer(self.settings)

    def _bucket_engine(self) -> Engine:
        """The engine of the shared token buckets, opened on the first charged request (the
        registry store, opened at start-up, has migrated the database by then)."""
        from stylegate.registry.rate_buckets import open_bucket_engine

        return open_bucket_engine(self.settings.db_url)

    def now(self) -> datetime:
        """The current time for sessions and confirmation links (tests may replace it)."""
        return datetime.now(timezone.utc)

    @property
    def session_ttl(self) -> timedelta:
        return timedelta(minutes=self.settings.session_ttl_minutes)

    @property
    def confirm_ttl(self) -> timedelta:
        return timedelta(minutes=self.settings.confirm_ttl_minutes)

    @cached_property
    def accounts(self) -> AccountStore:
        from stylegate.registry.accounts import AccountStore

        return AccountStore(self.workspace.store)

    @contextmanager
    def using(self) -> Iterator[Workspace]:
        """Hold the lock while using the workspace."""
        with self.lock:
            yield self.workspace

    def prepare(self) -> None:
        """Open everything once at start-up (so the first request is not the slow one).

        The home must exist and be initialised (`stylegate init`): the service never creates one.
        """
        with self.using() as ws:
            ws.require_home()
            ws.gate()

    # ------------------------------------------------------------- uploads
    @contextmanager
    def upload_dir(self) -> Iterator[Path]:
        """A private temporary folder inside the home for uploaded files, removed afterwards."""
        base = self.settings.home / "tmp"
        base.mkdir(parents=True, exist_ok=True)
        # the pid in the name lets the next opener of the home sweep folders of dead processes
        path = Path(tempfile.mkdtemp(prefix=f"upload-{os.getpid()}-", dir=base))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    # ----------------------------------------------------------- CSRF tokens
    @cached_property
    def _form_secret(self) -> bytes:
        """A per-home secret for the portal's form tokens, created on first use."""
        path = self.settings.home / "keys" / "portal-form.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".portal-form-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(secrets.token_bytes(32))
                    fh.flush()
                    os.fsync(fh.fileno())
                os.link(tmp, path)  # create-if-absent with its content: a racing process keeps its own
            except FileExistsError:
                pass
            finally:
                os.unlink(tmp)
        return path.read_bytes()

    def form_token(self, session_id: str, purpose: str = "session") -> str:
        """The hidden form field that proves a POST came from our own page (CSRF): an HMAC of
        the session id, or (``purpose="pre-session"``) of the random value in the pre-session
        cookie before anyone is signed in (a signed double-submit cookie)."""
        message = purpose.encode() + b"\0" + hashlib.sha256(session_id.encode()).digest()
        return hmac.new(self._form_secret, message, "sha256").hexdigest()

    def form_token_ok(self, session_id: str | None, given: str | None, purpose: str = "session") -> bool:
        if not session_id or not given:
            return False
        return hmac.compare_digest(self.form_token(session_id, purpose), given)

    def public_message(self, exc: BaseException) -> str:
        """An error message for a client: the server's home path is shown as ``<home>``."""
        return str(exc).replace(str(self.settings.home), "<home>")

    def admin_ok(self, given: str | None) -> bool:
        expected = self.settings.admin_token
        if expected is None or not given:
            return False
        return hmac.compare_digest(expected.get_secret_value().encode(), given.encode())


def safe_filenames(names: Sequence[str | None]) -> list[str]:
    """Upload file names reduced to a safe base name (no folders), unique within the upload."""
    out: list[str] = []
    taken: set[str] = set()
    for i, name in enumerate(names):
        base = os.path.basename((name or "").replace("\\", "/")).strip().lstrip(".")
        base = "".join(c for c in base if c.isalnum() or c in "-_.")[:80] or f"upload-{i}"
        candidate, n = base, 0
        while candidate in taken:  # never two uploads in one file ("a", "2-a", "a" included)
            n += 1
            candidate = f"{i}-{n}-{base}"
        taken.add(candidate)
        out.append(candidate)
    return out
