"""The calibration report: how the thresholds in force perform on this workspace.

Per evidence kind: ROC and DET curves (from the same scores `stylegate calibrate` fits on),
the operating point in force, the artists the threshold serves worst, and how close recent
audited decisions came to their thresholds. HTML (inline SVG, no script), CSV or Parquet.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._source import EntrySource, iter_entries
from .audit_summary import DECISION_KINDS, score_rows

if TYPE_CHECKING:  # pragma: no cover
    from stylegate.governance.matching.calibration import CalibrationResult

__all__ = ["CalibrationReport", "build_calibration_report", "line_chart"]

_KIND_LABEL = {"style": "style", "near_duplicate": "near-duplicate", "description": "description"}
_COLOURS = ["#1f5f8b", "#b5532a", "#2e7d4f", "#7a4fa0"]
RECENT = 1000  # audited decisions looked at for "how close to the threshold"
FLOOR = 1e-4  # log axes start here (a rate of 0 is drawn at the floor)


def line_chart(series: Sequence[tuple[str, Sequence[float], Sequence[float]]], title: str, *, xlabel: str,
               ylabel: str, log: bool = False, points: Sequence[tuple[str, float, float]] = (),
               width: int = 520, height: int = 300) -> str:
    """A line chart as inline ``<svg>``: ``series`` are ``(label, xs, ys)`` in [0, 1] (log: [FLOOR, 1]);
    ``points`` are marked operating points ``(label, x, y)``."""
    from .render import _fmt, _svg_open

    left, right, top, bottom = 56, 16, 14, 44
    span_w, span_h = width - left - right, height - top - bottom

    def tx(v: float) -> float:
        v = min(max(v, FLOOR if log else 0.0), 1.0)
        f = (math.log10(v) - math.log10(FLOOR)) / -math.log10(FLOOR) if log else v
        return left + f * span_w

    def ty(v: float) -> float:
        v = min(max(v, FLOOR if log else 0.0), 1.0)
        f = (math.log10(v) - math.log10(FLOOR)) / -math.log10(FLOOR) if log else v
        return top + (1 - f) * span_h

    desc = "; ".join(f"{lab}: {len(xs)} points" for lab, xs, _ in series)
    desc += "".join(f"; {lab} at ({_fmt(x)}, {_fmt(y)})" for lab, x, y in points)
    _, head = _svg_open(width, height, title, desc)
    parts = [head]
    base, x_end = top + span_h, left + span_w
    parts.append(f'<line x1="{left}" y1="{base}" x2="{x_end}" y2="{base}" stroke="#888"/>')
    parts.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{base}" stroke="#888"/>')
    ticks = [FLOOR, 1e-3, 1e-2, 1e-1, 1.0] if log else [0.0, 0.25, 0.5, 0.75, 1.0]
    for t in ticks:
        label = f"{t:g}"
        parts.append(f'<text x="{tx(t):.1f}" y="{base + 14}" text-anchor="middle">{label}</text>')
        parts.append(f'<text x="{left - 4}" y="{ty(t) + 4:.1f}" text-anchor="end">{label}</text>')
    parts.append(f'<text x="{left + span_w / 2:.1f}" y="{height - 6}" text-anchor="middle">{escape(xlabel)}</text>')
    parts.append(f'<text x="12" y="{top + span_h / 2:.1f}" text-anchor="middle" '
                 f'transform="rotate(-90 12 {top + span_h / 2:.1f})">{escape(ylabel)}</text>')
    for i, (label, xs, ys) in enumerate(series):
        coords = " ".join(f"{tx(x):.1f},{ty(y):.1f}" for x, y in zip(xs, ys)
                          if x is not None and y is not None and math.isfinite(x) and math.isfinite(y))
        parts.append(f'<polyline class="curve" data-series="{escape(label)}" fill="none" stroke-width="2" '
                     f'stroke="{_COLOURS[i % len(_COLOURS)]}" points="{coords}"><title>{escape(label)}</title></polyline>')
    for label, x, y in points:
        parts.append(f'<circle class="operating-point" cx="{tx(x):.1f}" cy="{ty(y):.1f}" r="5" fill="#d62728">'
                     f"<title>{escape(label)}: ({_fmt(x)}, {_fmt(y)})</title></circle>")
    parts.append("</svg>")
    return "".join(parts)


@dataclass
class CalibrationReport:
    operating_points: pd.DataFrame  # one row per evidence kind
    curves: pd.DataFrame  # kind, threshold, far, frr
    artists: pd.DataFrame  # kind, artist, positives, frr_global, threshold, frr, rule (worst first)
    recent: pd.DataFrame  # audited evidence nearest its threshold
    embedder: dict[str, Any]
    fitted_for: dict[str, Any]
    title: str = "Threshold calibration"
    meta: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """All four tables in one long frame (column ``table`` says which), for CSV and Parquet."""
        frames = []
        for name, df in (("operating_point", self.operating_points), ("curve", self.curves),
                         ("artist", self.artists), ("recent", self.recent)):
            if not df.empty:
                frames.append(df.assign(table=name))
        if not frames:
            return pd.DataFrame({"table": pd.Series([], dtype="str")})
        out = pd.concat(frames, ignore_index=True, sort=False)
        cols = ["table"] + [c for c in out.columns if c != "table"]
        out = out[cols]
        for c in out.columns:
            if out[c].dtype == object:
                out[c] = out[c].map(lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
        return out

    def html_page(self, title: str | None = None) -> str:
        from .render import _figure, _page, bar_chart, html_table

        charts: list[str] = []
        for kind, g in self.curves.groupby("kind", sort=False):
            op = self.operating_points[self.operating_points["kind"] == kind].iloc[0]
            label = _KIND_LABEL.get(str(kind), str(kind))
            point = [(f"threshold {op['threshold']:.4f}", float(op["far"]), float(op["frr"]))]
            charts.append(_figure(line_chart([(label, list(g["far"]), list(g["frr"]))], f"DET: {label}",
                                             xlabel="false-accept rate", ylabel="false-reject rate", log=True,
                                             points=point), f"DET curve: {label}"))
            charts.append(_figure(line_chart([(label, list(g["far"]), list(1 - g["frr"]))], f"ROC: {label}",
                                             xlabel="false-accept rate", ylabel="true-accept rate",
                                             points=[(p[0], p[1], 1 - p[2]) for p in point]),
                                  f"ROC curve: {label}"))
        if not self.artists.empty:
            worst = self.artists.sort_values("frr_global", ascending=False).head(10)
            labels = [f"{r.artist} ({_KIND_LABEL.get(r.kind, r.kind)})" for r in worst.itertuples()]
            charts.append(_figure(bar_chart(labels, list(worst["frr_global"]), "Worst artists: FRR at the global threshold"),
                                  "Worst artists: FRR at the global threshold"))
        if not self.recent.empty:
            near = self.recent.groupby("evidence_kind", sort=True)["delta"].min()
            charts.append(_figure(bar_chart(list(near.index), list(near.values),
                                            "Closest recent decision: score − threshold"),
                                  "Closest recent decision: score − threshold"))
        sections = []
        if self.meta.get("bound") is False:
            sections.append(f'<p role="alert"><strong>The thresholds in force were fitted for another embedder '
                            f'({escape(str(self.fitted_for.get("model")))}); run <code>stylegate calibrate</code>.'
                            f"</strong></p>")
        if charts:
            sections.append('<section aria-label="Charts"><h2>Charts</h2><div class="charts">' + "".join(charts)
                            + "</div></section>")
        sections.append("<section><h2>Operating points</h2>"
                        + html_table(self.operating_points, "Thresholds in force and their error rates") + "</section>")
        sections.append("<section><h2>Worst artists</h2>"
                        + html_table(self.artists.head(50), "Artists by false-reject rate at the global threshold")
                        + "</section>")
        sections.append("<section><h2>Recent decisions near a threshold</h2>"
                        + html_table(self.recent, "Audited evidence closest to its threshold") + "</section>")
        sections.append("<section><h2>Curves</h2>" + html_table(self.curves, "FAR and FRR per threshold", max_rows=40) + "</section>")
        meta = {"embedder": f"{self.embedder.get('model')} (dim {self.embedder.get('dim')})",
                "thresholds fitted for": f"{self.fitted_for.get('model')} (sha256 {str(self.fitted_for.get('checkpoint_sha256'))[:12]}…)",
                **self.meta}
        return _page(title or self.title, meta, sections)


def build_calibration_report(result: CalibrationResult, fitted_for: dict[str, Any], audit: EntrySource | None = None,
                             *, recent: int = RECENT, nearest: int = 20) -> CalibrationReport:
    """A report from an evaluation of the thresholds in force (``calibrate(..., fit=False)``)
    and, when given, the audit log's most recent ``recent`` decisions."""
    ops: list[dict[str, Any]] = []
    curves: list[dict[str, Any]] = []
    artists: list[dict[str, Any]] = []
    for kind, fit in result.fits.items():
        s = fit.summary()
        ops.append({"kind": kind, "threshold": float(fit.threshold), "target_far": float(fit.target_far),
                    "far": float(fit.far), "frr": float(fit.frr), "positives": int(fit.positives.size),
                    "negatives": int(fit.negatives.size), "per_artist": len(fit.per_artist),
                    "far_overall": float(fit.far_overall), "frr_overall": float(fit.frr_overall),
                    "notes": "; ".join(s["notes"])})
        curves.extend({"kind": kind, **pt} for pt in fit.curve())
        artists.extend({"kind": kind, **{k: row[k] for k in ("artist_id", "artist", "positives", "frr_global",
                                                              "threshold", "frr", "rule")}} for row in fit.artists)
    art = pd.DataFrame(artists, columns=["kind", "artist_id", "artist", "positives", "frr_global", "threshold", "frr", "rule"])
    if not art.empty:
        art = art.sort_values(["frr_global", "kind", "artist_id"], ascending=[False, True, True]).reset_index(drop=True)
    near = pd.DataFrame(columns=["seq", "time", "evidence_kind", "artist_name", "score", "threshold", "delta", "rule"])
    if audit is not None:
        entries = list(iter_entries(audit, kinds=list(DECISION_KINDS)))[-recent:]
        scores = score_rows(entries)
        if not scores.empty:
            scores = scores.assign(distance=np.abs(scores["delta"]))
            near = (scores.sort_values(["distance", "seq"]).groupby("evidence_kind", sort=True).head(nearest)
                    [list(near.columns)].sort_values(["evidence_kind", "delta"]).reset_index(drop=True))
    bound = all(result.embedder.get(k) == fitted_for.get(k) for k in ("model", "checkpoint_sha256", "dim"))
    meta = {"bound": bound, "artists": result.counts.get("artists"), "works": result.counts.get("works"),
            "ordinary prompts": result.counts.get("ordinary_prompts"),
            "transformed copies": result.counts.get("copies")}
    return CalibrationReport(pd.DataFrame(ops), pd.DataFrame(curves, columns=["kind", "threshold", "far", "frr"]),
                             art, near, result.embedder, fitted_for, meta=meta)
