"""Statement periods: a month (``2026-11``), an ISO week (``2026-W48``) or a ``--since/--until`` range.

A period is a half-open UTC interval ``since <= time < until`` with a label that names files
and folders (``statements/<label>/``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from stylegate.errors import InputError

_MONTH = re.compile(r"(\d{4})-(\d{2})")
_WEEK = re.compile(r"(\d{4})-W(\d{2})")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Period:
    label: str
    since: str  # UTC ISO 8601, as audit entry times are stored
    until: str

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "since": self.since, "until": self.until}


def _iso(day: date) -> str:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc).isoformat(timespec="microseconds")


def parse_period(period: str | None = None, since: str | None = None, until: str | None = None) -> Period:
    """The period named by ``YYYY-MM`` or ``YYYY-Www``, or by two ``YYYY-MM-DD`` days (until excluded)."""
    if period is not None and (since is not None or until is not None):
        raise InputError("give --period or --since/--until, not both")
    if period is None:
        if since is None or until is None:
            raise InputError("give --period YYYY-MM (or YYYY-Www), or both --since and --until (YYYY-MM-DD)")
        days = []
        for name, text in (("--since", since), ("--until", until)):
            if not _DAY.fullmatch(text):
                raise InputError(f"{name} {text!r} is not a day YYYY-MM-DD")
            try:
                days.append(date.fromisoformat(text))
            except ValueError as exc:
                raise InputError(f"{name} {text!r}: {exc}") from None
        if days[0] >= days[1]:
            raise InputError(f"--since {since} is not before --until {until}: the period is empty")
        return Period(f"{since}_{until}", _iso(days[0]), _iso(days[1]))
    text = period.strip()
    if m := _MONTH.fullmatch(text):
        year, month = int(m.group(1)), int(m.group(2))
        if not 1 <= month <= 12:
            raise InputError(f"--period {period!r}: month {month} is not 01..12")
        start = date(year, month, 1)
        end = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
        return Period(text, _iso(start), _iso(end))
    if m := _WEEK.fullmatch(text):
        year, week = int(m.group(1)), int(m.group(2))
        try:
            start = date.fromisocalendar(year, week, 1)
        except ValueError:
            raise InputError(f"--period {period!r}: {year} has no ISO week {week}") from None
        return Period(text, _iso(start), _iso(start + timedelta(days=7)))
    raise InputError(f"--period {period!r} is not YYYY-MM or YYYY-Www (an ISO week, e.g. 2026-W48)")
