"""Shared plumbing for the reports: reading audit entries and normalising time filters."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Any, Union

import pandas as pd

from stylegate.errors import ReportError
from stylegate.governance.audit import AuditLog

__all__ = ["EntrySource", "ReportError", "TimeBound", "iter_entries", "to_iso", "PERIODS", "period_labels"]

TimeBound = Union[str, date, datetime, None]
EntrySource = Union[AuditLog, str, "os.PathLike[str]", Iterable[Mapping[str, Any]]]

PERIODS = ("day", "week", "month")


def to_iso(bound: TimeBound) -> str | None:
    """A UTC ISO 8601 string comparable with stored entry times.

    A ``date`` (or a ``YYYY-MM-DD`` string) means midnight UTC at the start of that day; a naive
    ``datetime`` is taken as UTC.
    """
    if bound is None:
        return None
    if isinstance(bound, str):
        text = bound.strip()
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ReportError(f"not an ISO date or time: {bound!r}") from None
        bound = parsed
    if isinstance(bound, datetime):
        dt = bound if bound.tzinfo is not None else bound.replace(tzinfo=timezone.utc)
    elif isinstance(bound, date):
        dt = datetime.combine(bound, time(0), tzinfo=timezone.utc)
    else:
        raise ReportError(f"a time bound is a date, datetime or ISO string, not {type(bound).__name__}")
    return dt.astimezone(timezone.utc).isoformat(timespec="microseconds")


def iter_entries(
    source: EntrySource,
    kinds: Sequence[str] | None = None,
    since: TimeBound = None,
    until: TimeBound = None,
) -> Iterator[dict[str, Any]]:
    """Entries from an :class:`AuditLog`, a path to one, or any iterable of entry dicts,
    filtered by kind and ``since <= time < until`` (UTC)."""
    lo, hi = to_iso(since), to_iso(until)
    if lo is not None and hi is not None and pd.Timestamp(lo) >= pd.Timestamp(hi):
        raise ReportError(f"--since {since} is not before --until {until}: the range is empty")
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise ReportError(f"no audit log at {path}")
        with AuditLog.open(path) as log:
            yield from log.entries(kinds=list(kinds) if kinds else None, since=lo, until=hi)
        return
    if isinstance(source, AuditLog):
        yield from source.entries(kinds=list(kinds) if kinds else None, since=lo, until=hi)
        return
    wanted = set(kinds) if kinds else None
    lo_ts = pd.Timestamp(lo) if lo else None
    hi_ts = pd.Timestamp(hi) if hi else None
    for entry in source:
        if wanted is not None and entry.get("kind") not in wanted:
            continue
        if lo_ts is not None or hi_ts is not None:
            t = pd.Timestamp(entry.get("time"))
            if t.tzinfo is None:
                t = t.tz_localize("UTC")
            if (lo_ts is not None and t < lo_ts) or (hi_ts is not None and t >= hi_ts):
                continue
        yield dict(entry)


def period_labels(times: pd.Series, period: str) -> pd.Series:
    """Label UTC times by period: ``day`` → ``YYYY-MM-DD``, ``week`` → the ISO week's Monday
    ``YYYY-MM-DD``, ``month`` → ``YYYY-MM``."""
    if period not in PERIODS:
        raise ReportError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")
    if times.empty:
        return pd.Series([], dtype="str", index=times.index)
    ts = pd.to_datetime(times, utc=True, format="ISO8601").dt.tz_localize(None)
    if period == "day":
        return ts.dt.strftime("%Y-%m-%d").astype("str")
    if period == "week":
        monday = ts.dt.normalize() - pd.to_timedelta(ts.dt.day_of_week, unit="D")
        return monday.dt.strftime("%Y-%m-%d").astype("str")
    return ts.dt.strftime("%Y-%m").astype("str")
