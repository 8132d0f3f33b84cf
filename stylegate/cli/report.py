"""`stylegate report`: attribution, audit and calibration reports from the audit log."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, Optional, cast

import typer

from stylegate.errors import InputError
from stylegate.output import emit_json, message

from ._common import FORMATS, JsonOpt, choice, handled, open_workspace

Format = Literal["html", "csv", "parquet"]
PERIODS = ("day", "week", "month")

app = typer.Typer(help="Royalty attribution and audit reports from the audit log.", no_args_is_help=True)


def _report_out(out: Optional[Path], stem: str, fmt: str) -> Path:
    """The report's path, checked before the report is built: a writable file in an existing folder."""
    import os

    path = out if out is not None else Path(f"{stem}.{fmt}")
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise InputError(f"--out {path} is a folder; give a file name")
    if not folder.is_dir():
        raise InputError(f"--out {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise InputError(f"--out {path}: not writable")
    return path


@app.command("attribution")
@handled
def report_attribution(
    since: Optional[str] = typer.Option(None, "--since", help="First day included (YYYY-MM-DD, UTC)."),
    until: Optional[str] = typer.Option(None, "--until", help="First day no longer included (YYYY-MM-DD, UTC)."),
    period: str = typer.Option("month", "--period", **choice("--period", PERIODS), help="Period of each row."),
    fmt: str = typer.Option("html", "--format", **choice("--format", FORMATS), help="File format."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output file (default attribution.FORMAT)."),
    findings: bool = typer.Option(False, "--findings", help="Include retroactive re-audit findings (`stylegate scan --past-generations`)."),
    as_json: bool = JsonOpt,
) -> None:
    """Per artist and period: generations attributed, shares, royalties owed, blocks on their behalf."""
    from stylegate.reports.attribution import build_attribution_report
    from stylegate.reports.render import write_report

    ws = open_workspace()
    path = _report_out(out, "attribution", fmt)
    report = _report_errors(lambda: build_attribution_report(ws.audit, policy=ws.policy, registry=ws.store, period=period,
                                                             since=since, until=until, include_findings=findings))
    write_report(report, path, cast(Format, fmt))
    totals: dict[str, Any] = {"royalties": round(float(report.total_royalties), 6), "rows": len(report.summary), "path": str(path)}
    if report.findings is not None:
        totals["findings"] = report.findings.to_dict(orient="records")
    if as_json:
        emit_json(totals)
    else:
        message(f"wrote {path}: {totals['rows']} artist-period rows, royalties owed {totals['royalties']:.4f}"
                + (f", {len(totals['findings'])} re-audit findings" if "findings" in totals else ""))


@app.command("audit")
@handled
def report_audit(
    since: Optional[str] = typer.Option(None, "--since", help="First day included (YYYY-MM-DD, UTC)."),
    until: Optional[str] = typer.Option(None, "--until", help="First day no longer included (YYYY-MM-DD, UTC)."),
    fmt: str = typer.Option("html", "--format", **choice("--format", FORMATS), help="File format."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output file (default audit-summary.FORMAT)."),
    as_json: bool = JsonOpt,
) -> None:
    """Decisions by action and evidence kind, and how close scores came to each threshold."""
    from stylegate.reports.audit_summary import build_audit_summary
    from stylegate.reports.render import write_report

    ws = open_workspace()
    path = _report_out(out, "audit-summary", fmt)
    summary = _report_errors(lambda: build_audit_summary(ws.audit, since=since, until=until))
    write_report(summary, path, cast(Format, fmt))
    if as_json:
        emit_json({"path": str(path), "decisions": summary.decisions.to_dict(orient="records")})
    else:
        message(f"wrote {path}")


@app.command("calibration")
@handled
def report_calibration(
    fmt: str = typer.Option("html", "--format", **choice("--format", FORMATS), help="File format."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output file (default calibration.FORMAT)."),
    as_json: bool = JsonOpt,
) -> None:
    """ROC/DET curves of the thresholds in force, worst artists, and recent decisions near a threshold."""
    from .calibrate import report_command

    report_command(open_workspace(), _report_out(out, "calibration", fmt), fmt, as_json)


def _report_errors(build: Callable[[], Any]) -> Any:
    """Bad dates, periods or shares are the caller's to fix: usage errors, not crashes."""
    from stylegate.errors import ReportError

    try:
        return build()
    except ReportError as exc:
        raise InputError(str(exc)) from None
