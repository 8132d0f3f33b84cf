"""Output helpers: one JSON object on stdout for machines, tables for people, messages on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, sort_keys=False) + "\n")
    sys.stdout.flush()


def show(results: Any, as_json: bool, printer: Callable[[Any], None]) -> None:
    """``results`` as one JSON object (``--json``), else through ``printer``'s tables."""
    if as_json:
        emit_json(results)
    else:
        printer(results)


def message(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title, show_lines=False)
    for col in columns:
        t.add_column(col, overflow="fold")
    for row in rows:
        t.add_row(*["" if v is None else str(v) for v in row])
    # A terminal gets its own width; a pipe or a log file gets room for every column.
    Console(soft_wrap=False, width=None if sys.stdout.isatty() else 160).print(t)


def decision_rows(decision: dict) -> list[list[Any]]:
    rows = []
    for ev in decision.get("evidence", []):
        rows.append([ev["kind"], f"{ev['artist']['name']} (#{ev['artist']['id']})", ev["consent"], f"{ev['score']:.3f}", f"{ev['threshold']:.3f}", ev["rule"], ev["action"]])
    return rows


def print_decision(decision: dict, label: str | None = None) -> None:
    head = f"{label}: " if label else ""
    sys.stdout.write(f"{head}decision: {decision['action'].upper()}\n")
    if decision.get("evidence"):
        table(None, ["kind", "artist", "consent", "score", "threshold", "rule", "action"], decision_rows(decision))
    for att in decision.get("attribution", []):
        sys.stdout.write(f"  attribution: {att['artist']['name']} share {att['share']:.3f} ({att['consent']})\n")
    steer = decision.get("steer")
    if steer:
        sys.stdout.write(f"  steered prompt: {steer['prompt']!r}\n")
        if steer.get("why"):
            sys.stdout.write(f"  why: {steer['why']}\n")
        sys.stdout.write(f"  negative prompt: {steer['negative_prompt']!r}\n")
    if decision.get("error"):
        sys.stdout.write(f"  error: {decision['error']}\n")
    if not decision.get("evidence") and not decision.get("error"):
        sys.stdout.write("  no registered artist matched\n")


@contextmanager
def progress_bar(description: str, unit: str = "work") -> Iterator[Callable[[int, int], None]]:
    """A tqdm bar on stderr (hidden when stderr is not a terminal), driven by (done, total)."""
    from tqdm import tqdm

    bar = tqdm(total=0, unit=unit, desc=description, file=sys.stderr, disable=None)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        yield update
    finally:
        bar.close()
