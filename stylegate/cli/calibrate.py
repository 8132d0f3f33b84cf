"""`stylegate calibrate` and `stylegate report calibration`: the shell around
:mod:`stylegate.governance.matching.calibration` (the CLI module only declares the commands)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

from stylegate.output import emit_json, message, progress_bar, table

from ._common import JsonOpt, handled, open_workspace

if TYPE_CHECKING:  # pragma: no cover
    from stylegate.governance.matching.calibration import CalibrationResult
    from stylegate.workspace import Workspace

log = logging.getLogger(__name__)


class _StagedProgress:
    """One progress bar per calibration stage, on stderr."""

    def __init__(self) -> None:
        self._stack = ExitStack()
        self._stage: str | None = None
        self._update: Callable[[int, int], None] | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self._stage:
            self._stack.close()
            self._stack = ExitStack()
            self._update = self._stack.enter_context(progress_bar(f"calibrating {stage}", unit="item"))
            self._stage = stage
        assert self._update is not None
        self._update(done, total)

    def close(self) -> None:
        self._stack.close()


def run_calibration(ws: Workspace, far: Optional[float], *, fit: bool) -> CalibrationResult:
    from stylegate.governance.matching.calibration import calibrate

    ws.configure_threads()
    progress = _StagedProgress()
    try:
        return calibrate(ws.registry_view(), ws.embedder.embed_texts, ws.embedder.embed_images,
                         ws.embedder.identity.to_dict(), ws.policy, target_far=far, fit=fit,
                         cache_dir=ws.settings.cache_dir, progress=progress)
    finally:
        progress.close()


def _pct(x: Any) -> str:
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{100 * float(x):.2f}%"


def calibrate_command(ws: Workspace, far: Optional[float], as_json: bool) -> dict[str, Any]:
    """Fit thresholds for the running embedder and write them into the home's policy file."""
    from stylegate.governance.matching.calibration import calibrated_policy_text, write_policy

    target = ws.settings.policy_path or ws.settings.home_policy_path
    if ws.settings.policy_path is None and not target.exists():
        from stylegate.governance.policy import default_policy_text

        old_text = default_policy_text()
    else:
        old_text = Path(target).read_text("utf-8")
    old_version = ws.policy.version
    result = run_calibration(ws, far, fit=True)
    fitted_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    text = calibrated_policy_text(old_text, result, ws.policy, fitted_at)
    write_policy(Path(target), text)
    from stylegate.governance.audit import AuditKind
    from stylegate.governance.policy import load_policy

    new = load_policy(Path(target))
    out = result.to_dict()
    out.update(policy=str(target), policy_version=new.version, previous_policy_version=old_version,
               thresholds={k: getattr(new.thresholds, k) for k in ("description", "description_score", "style",
                                                                  "style_score", "near_duplicate")})
    # A threshold change is a policy change: it goes into the tamper-evident log.
    out["audit_seq"] = ws.audit.append(AuditKind.POLICY_CALIBRATED, {
        "policy": str(target), "policy_version": new.version, "previous_policy_version": old_version,
        "embedder": result.embedder, "thresholds": out["thresholds"],
        "rates": {k: {"far": v["far"], "frr": v["frr"]} for k, v in out["kinds"].items()},
        "per_artist": [p.model_dump() for p in new.calibration.per_artist]})
    if as_json:
        emit_json(out)
    else:
        print_result(result)
        message(f"wrote {target} (policy version {old_version} → {new.version}), fitted for "
                f"{result.embedder['model']} (dim {result.embedder['dim']}) in {result.seconds:.1f} s")
    return out


def print_result(result: CalibrationResult) -> None:
    rows = []
    for kind, fit in result.fits.items():
        rows.append([kind, f"{fit.threshold:.4f}" + (f" ({fit.score})" if fit.score else ""), f"{fit.target_far:g}", _pct(fit.far), _pct(fit.frr),
                     fit.positives.size, fit.negatives.size, len(fit.per_artist), _pct(fit.far_overall),
                     _pct(fit.frr_overall)])
    table("thresholds for this embedder" if result.fitted else "thresholds in force, measured",
          ["kind", "threshold", "target FAR", "FAR", "FRR", "positives", "negatives", "per-artist",
           "FAR (with per-artist)", "FRR (with per-artist)"], rows)
    for kind, fit in result.fits.items():
        for p in fit.per_artist:
            message(f"  {kind}: {p.artist} (#{p.artist_id}) gets its own threshold {p.threshold:.4f}: FRR "
                    f"{p.global_frr:.1%} at the global one, {p.frr:.1%} at its own")
        for note in fit.notes:
            message(f"  {kind}: {note}")


def report_command(ws: Workspace, path: Path, fmt: str, as_json: bool) -> dict[str, Any]:
    """Evaluate the thresholds in force on this workspace and write the calibration report."""
    from stylegate.reports.calibration import build_calibration_report
    from stylegate.reports.render import write_report

    result = run_calibration(ws, None, fit=False)
    report = build_calibration_report(result, ws.policy.calibration.embedder.model_dump(), ws.audit)
    write_report(report, path, fmt)  # type: ignore[arg-type]
    info = {"path": str(path), "bound": report.meta["bound"],
            "operating_points": report.operating_points.to_dict(orient="records")}
    if as_json:
        emit_json(info)
    else:
        message(f"wrote {path}")
    return info


@handled
def calibrate(
    far: Optional[float] = typer.Option(None, "--far", min=0.0, max=1.0,
                                        help="Target false-accept rate (default: the policy's calibration.target_far)."),
    as_json: bool = JsonOpt,
) -> None:
    """Fit the description, style and near-duplicate thresholds for this embedder from the workspace."""
    calibrate_command(open_workspace(), far, as_json)
