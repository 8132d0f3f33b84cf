"""The test session's PostgreSQL server: the starter lives in :mod:`stylegate.bench.pg`, where
``stylegate bench service`` uses it too."""

from stylegate.bench.pg import SUPERUSER, PostgresServer, find_bindir

__all__ = ["SUPERUSER", "PostgresServer", "find_bindir"]
