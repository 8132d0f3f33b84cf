"""`stylegate check prompt|image`: parse input, call the operations, format the decision."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from stylegate.errors import EXIT_BLOCKED, EXIT_ERROR, EXIT_OK, EXIT_USAGE, InputError
from stylegate.output import emit_json, table

from ._common import JsonOpt, handled, open_workspace, show_decision

app = typer.Typer(help="Check prompts and images against the registry.", no_args_is_help=True)


@app.command("prompt")
@handled
def check_prompt(
    text: Optional[str] = typer.Argument(None, help="The prompt to check."),
    file: Optional[Path] = typer.Option(None, "--file", help="Check every line of FILE (JSON lines with --json)."),
    as_json: bool = JsonOpt,
) -> None:
    """Screen a prompt for registered artists' names and described styles."""
    if (text is None) == (file is None):
        raise InputError("give either a PROMPT or --file FILE")
    from stylegate.operations import checks

    ws = open_workspace()
    if text is not None:
        outcome = checks.check_prompt(ws, text)
        show_decision(outcome.to_dict(), as_json)
        raise typer.Exit(outcome.exit_code)
    outcomes: set[int] = set()
    rows = []
    for line in checks.check_prompt_lines(ws, file) if file is not None else ():
        record = line.to_dict()
        outcomes.add(line.exit_code)
        if as_json:
            emit_json(record)
        else:
            rows.append([line.line, line.prompt[:60], record.get("action", "error"),
                         ", ".join(sorted({e["artist"]["name"] for e in record.get("evidence", [])})) or record.get("error", "")])
    if not as_json:
        table(f"{len(rows)} prompts", ["line", "prompt", "action", "artists / error"], rows)
    # A blocked prompt outranks a failed check, which outranks an unusable line.
    for code in (EXIT_BLOCKED, EXIT_ERROR, EXIT_USAGE):
        if code in outcomes:
            raise typer.Exit(code)
    raise typer.Exit(EXIT_OK)


@app.command("image")
@handled
def check_image(path: Path = typer.Argument(..., help="Image file to check."), as_json: bool = JsonOpt) -> None:
    """Match an image against registered artists' styles and works."""
    from stylegate.operations.checks import check_image as run_check

    outcome = run_check(open_workspace(), path)
    show_decision(outcome.to_dict(), as_json)
    raise typer.Exit(outcome.exit_code)
