"""Token buckets in the registry database, shared by every process that serves one home.

``stylegate serve --workers N`` runs N processes; a limit kept in each process's memory would
let a client through N times. Here a bucket is one row of ``rate_buckets`` and taking tokens
is one atomic statement (an ``INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING``,
which SQLite 3.35+ and PostgreSQL both run as a single write): the refill, the test "are
there enough tokens" and the spending happen under the row's write lock, so two workers can
never spend the same token.

The statement runs on an engine of its own, not the registry store's, so that it can be
cheap: on SQLite the connection uses ``synchronous=NORMAL`` (in WAL mode a commit is not
fsynced; a power cut may forget the last few spends, never corrupt the file), and on
PostgreSQL ``synchronous_commit`` is off on its connections and the statement runs in
autocommit (one round trip: it is atomic by itself). A rate limit may forget a
few requests in a crash; the registry itself keeps ``synchronous=FULL``.

Time is the wall clock (seconds since the epoch) of the process that asks, so workers on
several hosts share a bucket; a stamp in the future (a host whose clock is behind) adds no
tokens and is never moved backwards.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import SQLAlchemyError

from stylegate.errors import StylegateError

log = logging.getLogger(__name__)

PRUNE_EVERY = 2000  # about one call in this many deletes buckets idle long enough to be full again

# ``:now`` minus the stamp, never negative; then the tokens refilled, capped at the burst
_ELAPSED = "(CASE WHEN :now > rate_buckets.stamp THEN :now - rate_buckets.stamp ELSE 0.0 END)"
_REFILLED = (f"(CASE WHEN rate_buckets.tokens + {_ELAPSED} * :rate > :burst THEN :burst "
             f"ELSE rate_buckets.tokens + {_ELAPSED} * :rate END)")
_TAKE = text(
    "INSERT INTO rate_buckets (limiter, key, tokens, stamp) VALUES (:limiter, :key, :fresh, :now) "
    "ON CONFLICT (limiter, key) DO UPDATE SET "
    f"tokens = {_REFILLED} - :cost, "
    "stamp = CASE WHEN :now > rate_buckets.stamp THEN :now ELSE rate_buckets.stamp END "
    f"WHERE {_REFILLED} >= :cost "
    "RETURNING tokens"
)
_READ = text("SELECT tokens, stamp FROM rate_buckets WHERE limiter = :limiter AND key = :key")
_PRUNE = text("DELETE FROM rate_buckets WHERE limiter = :limiter AND stamp < :before")


def open_bucket_engine(url: str | URL, busy_timeout_s: float = 10.0) -> Engine:
    """An engine on the registry database for bucket statements only (see the module docstring)."""
    from .store import create_registry_engine

    engine = create_registry_engine(url, busy_timeout_s)
    if engine.dialect.name == "postgresql":
        @event.listens_for(engine, "connect")
        def _async_commit(dbapi_conn: Any, _record: Any) -> None:  # once per connection, not per spend
            dbapi_conn.execute("SET synchronous_commit TO off")
            dbapi_conn.commit()
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _relaxed(dbapi_conn: Any, _record: Any) -> None:  # runs after the store's own connect hook
            cur = dbapi_conn.cursor()
            try:
                cur.execute("PRAGMA synchronous = NORMAL")
            finally:
                cur.close()
    return engine


class SharedBuckets:
    """Token buckets named ``limiter`` (one per rate limit) in the registry database.

    ``take(key, cost)`` answers as :class:`stylegate.service.limits.RateLimiter` does: 0.0 if
    the tokens were spent, else the seconds until ``cost`` tokens are there (``math.inf`` when
    ``cost`` is more than the bucket ever holds).
    """

    def __init__(self, engine: Engine | Callable[[], Engine], limiter: str, per_minute: int, burst: int,
                 clock: Callable[[], float] = time.time) -> None:
        if per_minute < 1 or burst < 1:
            raise ValueError("a rate limit needs per_minute >= 1 and burst >= 1")
        self._engine = engine  # or a function that opens it on first use
        self.limiter = limiter
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock

    @property
    def engine(self) -> Engine:
        if not isinstance(self._engine, Engine):
            self._engine = self._engine()
        return self._engine

    def take(self, key: str, cost: float = 1.0) -> float:
        if cost > self.burst:
            return math.inf
        now = self.clock()
        params = {"limiter": self.limiter, "key": key[:80], "now": now, "rate": self.rate,
                  "burst": self.burst, "cost": float(cost), "fresh": self.burst - cost}
        prune = random.random() < 1.0 / PRUNE_EVERY
        row = None
        try:
            engine = self.engine
            with engine.connect() as conn:
                if engine.dialect.name == "postgresql":
                    # the statement is atomic by itself: autocommit spares BEGIN and COMMIT round trips
                    conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                    spent = conn.execute(_TAKE, params).first()
                    if spent is None:
                        row = conn.execute(_READ, params).first()
                    if prune:
                        conn.execute(_PRUNE, {"limiter": self.limiter, "before": now - self.burst / self.rate - 60.0})
                else:
                    conn.execution_options(stylegate_write=True)  # SQLite: BEGIN IMMEDIATE (a local file)
                    with conn.begin():
                        spent = conn.execute(_TAKE, params).first()
                        if spent is None:
                            row = conn.execute(_READ, params).first()
                        if prune:
                            conn.execute(_PRUNE, {"limiter": self.limiter,
                                                  "before": now - self.burst / self.rate - 60.0})
        except SQLAlchemyError as exc:
            raise StylegateError(f"the shared rate limit could not be read: {type(exc).__name__}: "
                                 f"{str(exc).splitlines()[0]}") from exc
        if spent is not None:
            return 0.0
        if row is None:  # pruned between the two statements: the next try starts a full bucket
            return 1.0 / self.rate
        tokens, stamp = float(row[0]), float(row[1])
        refilled = min(self.burst, tokens + max(0.0, now - stamp) * self.rate)
        return max((cost - refilled) / self.rate, 1e-3)

    def clear(self) -> None:
        """Forget every bucket of this limiter (an administrator's reset)."""
        with self.engine.begin() as conn:
            conn.execute(text("DELETE FROM rate_buckets WHERE limiter = :limiter"), {"limiter": self.limiter})
