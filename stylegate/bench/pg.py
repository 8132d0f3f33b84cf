"""A throw-away PostgreSQL server for a test session or a benchmark (a real server, no mocks).

``tests/conftest.py`` starts one per test session; ``stylegate bench service`` starts one
for its PostgreSQL run.

Debian's PostgreSQL binaries (``/usr/lib/postgresql/<version>/bin``, or ``initdb`` on the
PATH) are started once per session in a temp dir: trust authentication on loopback only, a
free port, fsync off (the data is thrown away). PostgreSQL refuses to run as root, so when
the tests run as root the server runs as the ``postgres`` system user (else ``nobody``).
Each test gets a fresh database from :meth:`PostgresServer.create_database`.
"""

from __future__ import annotations

import glob
import itertools
import logging
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

SUPERUSER = "stylegate"
_SERVER_USERS = ("postgres", "nobody")


def find_bindir() -> Path | None:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres`` (newest version), or None."""
    explicit = os.environ.get("STYLEGATE_PG_BINDIR")
    if explicit:
        return Path(explicit) if (Path(explicit) / "initdb").is_file() else None
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_user() -> pwd.struct_passwd | None:
    """The unprivileged user to run the server as when we are root (None: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in _SERVER_USERS:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError(f"running as root and none of the users {_SERVER_USERS} exists to run PostgreSQL")


@dataclass
class PostgresServer:
    bindir: Path
    root: Path
    port: int
    user: pwd.struct_passwd | None
    _counter: itertools.count = field(default_factory=lambda: itertools.count(1))
    _watchdog: subprocess.Popen | None = None

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    def _cmd(self, *args: str) -> list[str]:
        if self.user is None:
            return list(args)
        return ["setpriv", f"--reuid={self.user.pw_uid}", f"--regid={self.user.pw_gid}", "--clear-groups", "--", *args]

    def _run(self, *args: str, timeout: float = 120) -> None:
        result = subprocess.run(self._cmd(*args), capture_output=True, text=True, timeout=timeout, cwd=self.root,
                                env={**os.environ, "LC_ALL": "C.UTF-8"})
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({result.returncode}): {result.stdout}\n{result.stderr}")

    @classmethod
    def start(cls, bindir: Path) -> PostgresServer:
        user = _server_user()
        root = Path(tempfile.mkdtemp(prefix="stylegate-pg-"))
        if user is not None:
            os.chown(root, user.pw_uid, user.pw_gid)
        server = cls(bindir=bindir, root=root, port=_free_port(), user=user)
        server._run(str(bindir / "initdb"), "-D", str(server.datadir), "-U", SUPERUSER, "-A", "trust",
                    "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        opts = (f"-c listen_addresses=127.0.0.1 -c port={server.port} -c unix_socket_directories={root} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        server._run(str(bindir / "pg_ctl"), "-D", str(server.datadir), "-l", str(root / "server.log"),
                    "-o", opts, "-w", "-t", "60", "start")
        server._watch()
        log.info("PostgreSQL test server on 127.0.0.1:%d (%s)", server.port, root)
        return server

    def _watch(self) -> None:
        """A watchdog that stops the server and removes its files if this process dies
        without stopping it (killed by a timeout, say): no server outlives its test run."""
        stop = shlex.join(self._cmd(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate",
                                    "-w", "stop"))
        script = (f"while kill -0 {os.getpid()} 2>/dev/null; do sleep 1; done; "
                  f"{stop} >/dev/null 2>&1; rm -rf {shlex.quote(str(self.root))}")
        self._watchdog = subprocess.Popen(["sh", "-c", script], start_new_session=True, stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _admin(self):  # a psycopg connection to the maintenance database, autocommit
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres",
                               autocommit=True, connect_timeout=10)

    def create_database(self) -> str:
        """A new, empty database; returns its SQLAlchemy URL."""
        name = f"t{os.getpid()}_{next(self._counter)}_{int(time.time() * 1000) % 100000}"
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self._watchdog is not None:
            self._watchdog.terminate()
            self._watchdog.wait(10)
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "-w", "stop")
        except (RuntimeError, subprocess.TimeoutExpired):
            log.exception("stopping the PostgreSQL test server failed")
        shutil.rmtree(self.root, ignore_errors=True)
