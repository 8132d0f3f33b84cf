"""`stylegate statements`: issue signed royalty statements for a period, and verify them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

from stylegate.errors import EXIT_ERROR, EXIT_OK, InputError
from stylegate.output import emit_json, message

from ._common import JsonOpt, choice, handled, open_workspace

if TYPE_CHECKING:  # pragma: no cover
    from stylegate.workspace import Workspace

app = typer.Typer(help="Royalty statements artists can verify: issue, verify.", no_args_is_help=True)


@app.command("issue")
@handled
def statements_issue(
    period: Optional[str] = typer.Option(None, "--period", help="YYYY-MM, or an ISO week YYYY-Www."),
    since: Optional[str] = typer.Option(None, "--since", help="First day included (YYYY-MM-DD, UTC), with --until."),
    until: Optional[str] = typer.Option(None, "--until", help="First day no longer included (YYYY-MM-DD, UTC)."),
    correct: Optional[str] = typer.Option(None, "--correct", help="Issue a correction of this statement id."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for <period>/<artist-id>.json|.html (default home/statements)."),
    as_json: bool = JsonOpt,
) -> None:
    """One signed statement per royalty and credit artist: lines, totals, proofs, checkpoint."""
    from stylegate.operations.statements import issue_statements
    from stylegate.reports.statement_period import parse_period

    if correct is not None and (period or since or until):
        raise InputError("--correct takes the period of the statement it corrects; give no --period/--since/--until")
    if out is not None and out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is not a folder")
    ws = open_workspace()
    if correct is not None:
        outcome = issue_statements(ws, None, out=out, correct=correct)
    else:
        outcome = issue_statements(ws, parse_period(period, since, until), out=out)
    if as_json:
        emit_json(outcome.to_dict())
        return
    label = outcome.period["label"]
    what = f"a correction of {outcome.corrects}" if outcome.corrects else f"{len(outcome.statements)} statements"
    message(f"issued {what} for {label}: commitment entry {outcome.commitment_seq}, checkpoint of {outcome.checkpoint_size} entries")
    width = max([len(s["artist"]["name"]) for s in outcome.statements] + [6])
    typer.echo(f"{'artist':<{width}}  {'lines':>5}  {'payable':>12}  {'held':>12}  statement")
    for s in outcome.statements:
        typer.echo(f"{s['artist']['name']:<{width}}  {s['lines']:>5}  {s['amount_payable']:>12.6f}  {s['amount_held']:>12.6f}  "
                   f"{s['statement_id']}  {s['json']}")


@app.command("verify")
@handled
def statements_verify(
    file: Path = typer.Argument(..., help="A statement's .json file."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="A later C2SP checkpoint note (default: the log's latest)."),
    public_key: Optional[Path] = typer.Option(None, "--public-key", help="The operator's audit public key PEM (default: this home's)."),
    consistency: Optional[Path] = typer.Option(
        None, "--consistency", help="The consistency proof (JSON) to --checkpoint (default: from the workspace)."),
    as_json: bool = JsonOpt,
) -> None:
    """Signatures, inclusion proofs, checkpoint consistency, arithmetic and omissions; exit 1 names the reason.

    Without a home (an artist's machine), give --public-key: the checks then need no workspace."""
    from stylegate.errors import HomeError
    from stylegate.operations.statements import verify_statement

    doc = _read_json(file)
    key = _read(public_key, "--public-key") if public_key is not None else None
    note = _read(checkpoint, "--checkpoint").decode("utf-8", "replace") if checkpoint is not None else None
    proof = _read_json(consistency) if consistency is not None else None
    opened = open_workspace()
    ws: Workspace | None = opened
    try:
        opened.require_home()
    except HomeError:
        if key is None:
            raise
        ws = None  # an artist's machine: the checks that need no workspace
    outcome = verify_statement(ws, doc, public_key_pem=key, later_checkpoint=note, consistency=proof)
    v = outcome.to_dict()
    if as_json:
        emit_json(v)
    elif v["ok"]:
        message(f"statement {v['statement_id']} OK: {v['lines']} lines")
        for check in v["checks"]:
            message(f"  ok  {check}")
    else:
        message(f"statement {v['statement_id'] or file} INVALID: {v['reason']}: {v['detail']}")
        for finding in v["findings"][1:]:
            message(f"  {finding['reason']}: {finding['detail']}")
    raise typer.Exit(EXIT_OK if v["ok"] else EXIT_ERROR)


@app.command("payouts")
@handled
def statements_payouts(
    period: str = typer.Option(..., "--period", help="An issued period's label (YYYY-MM, YYYY-Www or SINCE_UNTIL)."),
    fmt: str = typer.Option("csv", "--format", **choice("--format", ("csv", "parquet")), help="File format."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output file (default home/statements/<period>/payouts.FORMAT)."),
    as_json: bool = JsonOpt,
) -> None:
    """Per artist: verified, earned, carried in and out (policy minimum payout), escrow held, paid."""
    from stylegate.operations.statements import payouts

    outcome = payouts(open_workspace(), period, fmt=fmt, out=out)
    if as_json:
        emit_json(outcome.to_dict())
        return
    d = outcome.to_dict()
    message(f"wrote {outcome.path}: {d['artists']} artists, paid {d['paid']:.6f}, carried {d['carried_out']:.6f}, "
            f"in escrow {d['escrow_held']:.6f}")
    width = max([len(str(r["artist_name"])) for r in outcome.rows] + [6])
    typer.echo(f"{'artist':<{width}}  {'verified':<8}  {'due':>12}  {'paid':>12}  {'carried':>12}  {'escrow':>12}  status")
    for r in outcome.rows:
        typer.echo(f"{r['artist_name']:<{width}}  {'yes' if r['verified'] else 'no':<8}  {r['due']:>12.6f}  {r['paid']:>12.6f}  "
                   f"{r['carried_out']:>12.6f}  {r['escrow_held']:>12.6f}  {r['status']}")


def _read(path: Path, option: str) -> bytes:
    if not path.is_file():
        raise InputError(f"{option} {path}: no such file")
    return path.read_bytes()


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        doc = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path} is not a JSON statement: {exc}") from None
    if not isinstance(doc, dict):
        raise InputError(f"{path} is not a JSON statement (not an object)")
    return doc
