"""Write reports as Parquet, CSV or one self-contained HTML page.

The HTML page needs no network: CSS is inline, charts are inline SVG drawn here, there is no
JavaScript, and nothing refers to an outside resource. Tables carry a caption, column headers
with ``scope`` and row headers, and each chart has a ``<title>``/``<desc>`` and the same data in
a table, so screen readers get everything the charts show.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import Any, Literal, Union

import pandas as pd

from .attribution import AttributionReport
from .audit_summary import AuditSummary

__all__ = ["FORMATS", "bar_chart", "column_chart", "html_table", "render_html", "write_report"]

Format = Literal["html", "csv", "parquet"]
FORMATS: tuple[str, ...] = ("html", "csv", "parquet")
Reportable = Union[pd.DataFrame, AttributionReport, AuditSummary]

_PALETTE = ["#1f5f8b", "#b5532a", "#2e7d4f", "#7a4fa0", "#8a6d1d", "#a23b5c"]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:72rem;
padding:0 1rem;color:#1b1b1b;background:#fff;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.25rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccc}
dl.meta{display:grid;grid-template-columns:max-content auto;gap:.15rem 1rem;font-size:.9rem}
dl.meta dt{font-weight:600}dl.meta dd{margin:0}
.charts{display:flex;flex-wrap:wrap;gap:1.5rem}
figure{margin:0;flex:1 1 22rem}figcaption{font-weight:600;margin-bottom:.25rem}
svg{max-width:100%;height:auto}svg text{font-size:11px;fill:#1b1b1b}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;font-size:.9rem}
caption{text-align:left;font-weight:600;padding:.25rem 0}
th,td{border:1px solid #bbb;padding:.25rem .5rem;text-align:left}
thead th{background:#eef2f5}td.num{text-align:right;font-variant-numeric:tabular-nums}
.empty{color:#555;font-style:italic}
@media (prefers-color-scheme:dark){body{background:#121212;color:#e8e8e8}svg text{fill:#e8e8e8}
thead th{background:#263238}th,td{border-color:#555}}
"""


# -- charts ------------------------------------------------------------------------------------

_chart_ids = 0


def _chart_id() -> str:
    global _chart_ids
    _chart_ids += 1
    return f"chart{_chart_ids}"


def _fmt(value: float) -> str:
    if isinstance(value, (int,)) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e12):
        return f"{int(value)}"
    return f"{value:.4g}"


def _svg_open(width: int, height: int, title: str, desc: str) -> tuple[str, str]:
    cid = _chart_id()
    head = (
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{cid}-t {cid}-d"><title id="{cid}-t">{escape(title)}</title>'
        f'<desc id="{cid}-d">{escape(desc)}</desc>'
    )
    return cid, head


def bar_chart(labels: Sequence[Any], values: Sequence[float], title: str, *, width: int = 520) -> str:
    """A horizontal bar chart as an inline ``<svg>`` element (no external references)."""
    labels = [str(x) for x in labels]
    values = [float(v) if v is not None and not math.isnan(float(v)) else 0.0 for v in values]
    if not labels:
        return f'<p class="empty">{escape(title)}: no data.</p>'
    bar_h, gap, left, right, top = 18, 6, 150, 70, 8
    height = top * 2 + len(labels) * (bar_h + gap)
    vmax = max(max(values), 0.0) or 1.0
    desc = "; ".join(f"{lab}: {_fmt(v)}" for lab, v in zip(labels, values))
    _, out = _svg_open(width, height, title, desc)
    parts = [out]
    span = width - left - right
    for i, (lab, v) in enumerate(zip(labels, values)):
        y = top + i * (bar_h + gap)
        w = max(0.0, v) / vmax * span
        short = lab if len(lab) <= 22 else lab[:21] + "…"
        parts.append(
            f'<text x="{left - 6}" y="{y + bar_h * 0.72:.1f}" text-anchor="end">{escape(short)}</text>'
            f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{_PALETTE[i % len(_PALETTE)]}"/>'
            f'<text x="{left + w + 4:.1f}" y="{y + bar_h * 0.72:.1f}">{escape(_fmt(v))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def column_chart(labels: Sequence[Any], values: Sequence[float], title: str, *, width: int = 520,
                 height: int = 220) -> str:
    """A vertical column chart (e.g. a time series) as an inline ``<svg>`` element."""
    labels = [str(x) for x in labels]
    values = [float(v) if v is not None and not math.isnan(float(v)) else 0.0 for v in values]
    if not labels:
        return f'<p class="empty">{escape(title)}: no data.</p>'
    left, right, top, bottom = 56, 12, 16, 46
    span_w, span_h = width - left - right, height - top - bottom
    vmax = max(max(values), 0.0) or 1.0
    desc = "; ".join(f"{lab}: {_fmt(v)}" for lab, v in zip(labels, values))
    _, out = _svg_open(width, height, title, desc)
    parts = [out]
    base = top + span_h
    parts.append(f'<line x1="{left}" y1="{base}" x2="{width - right}" y2="{base}" stroke="#888"/>')
    parts.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{base}" stroke="#888"/>')
    parts.append(f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{escape(_fmt(vmax))}</text>')
    parts.append(f'<text x="{left - 4}" y="{base}" text-anchor="end">0</text>')
    slot = span_w / len(labels)
    bw = max(2.0, slot * 0.7)
    for i, (lab, v) in enumerate(zip(labels, values)):
        h = max(0.0, v) / vmax * span_h
        x = left + i * slot + (slot - bw) / 2
        parts.append(
            f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{bw:.1f}" height="{h:.1f}" fill="{_PALETTE[0]}">'
            f"<title>{escape(lab)}: {escape(_fmt(v))}</title></rect>"
        )
        if len(labels) <= 16 or i % math.ceil(len(labels) / 16) == 0:
            cx = x + bw / 2
            parts.append(
                f'<text x="{cx:.1f}" y="{base + 12}" text-anchor="end" '
                f'transform="rotate(-35 {cx:.1f} {base + 12})">{escape(lab)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{escape(caption)}</figcaption></figure>"


# -- tables ------------------------------------------------------------------------------------


def _cell(value: Any) -> tuple[str, bool]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "", False
    if isinstance(value, bool):
        return str(value), False
    if isinstance(value, int) or (hasattr(value, "dtype") and getattr(value.dtype, "kind", "") in "iu"):
        return str(int(value)), True
    if isinstance(value, float) or (hasattr(value, "dtype") and getattr(value.dtype, "kind", "") == "f"):
        return f"{float(value):.6g}", True
    return str(value), False


def html_table(df: pd.DataFrame, caption: str, *, max_rows: int = 5000) -> str:
    """An accessible HTML table: caption, ``<th scope="col">`` headers, first column as row header."""
    if df.empty:
        return f'<table><caption>{escape(caption)}</caption><tbody><tr><td class="empty">No rows.</td></tr></tbody></table>'
    cols = [str(c) for c in df.columns]
    head = "".join(f'<th scope="col">{escape(c)}</th>' for c in cols)
    body: list[str] = []
    for row in df.head(max_rows).itertuples(index=False, name=None):
        cells = []
        for j, value in enumerate(row):
            text, numeric = _cell(value)
            cls = ' class="num"' if numeric else ""
            cells.append(f'<th scope="row"{cls}>{escape(text)}</th>' if j == 0 else f"<td{cls}>{escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = ""
    if len(df) > max_rows:
        more = f"<p>Showing {max_rows} of {len(df)} rows; the CSV and Parquet outputs hold all of them.</p>"
    return (f"<table><caption>{escape(caption)}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>{more}")


# -- pages -------------------------------------------------------------------------------------


def _page(title: str, meta: dict[str, Any], sections: list[str]) -> str:
    meta = {"generated": datetime.now(timezone.utc).isoformat(timespec="seconds"), **meta}
    dl = "".join(f"<dt>{escape(str(k))}</dt><dd>{escape(str(v))}</dd>" for k, v in meta.items() if v not in (None, ""))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body><main>"
        f'<h1>{escape(title)}</h1><dl class="meta">{dl}</dl>{"".join(sections)}</main></body></html>\n'
    )


def _attribution_sections(report: AttributionReport) -> list[str]:
    s = report.summary
    charts: list[str] = []
    if not s.empty:
        by_period = s.groupby("period", sort=True)["royalties"].sum()
        charts.append(_figure(column_chart(list(by_period.index), list(by_period.values),
                                           f"Royalties owed per {report.period}"), f"Royalties owed per {report.period}"))
        totals = report.totals().sort_values(["royalties", "share_sum"], ascending=False).head(10)
        charts.append(_figure(bar_chart(list(totals["artist_name"]), list(totals["royalties"]),
                                        "Top artists by royalties owed"), "Top artists by royalties owed"))
        top_share = report.totals().sort_values("share_sum", ascending=False).head(10)
        charts.append(_figure(bar_chart(list(top_share["artist_name"]), list(top_share["share_sum"]),
                                        "Top artists by attributed share"), "Top artists by attributed share"))
    if not report.decisions.empty:
        mix = report.decisions.groupby("decision", sort=True)["count"].sum()
        charts.append(_figure(bar_chart(list(mix.index), list(mix.values), "Generation decision mix"),
                              "Generation decision mix"))
    sections = []
    if charts:
        sections.append('<section aria-label="Charts"><h2>Charts</h2><div class="charts">' + "".join(charts) + "</div></section>")
    else:
        sections.append('<p class="empty">No generations in this range.</p>')
    sections.append("<section><h2>Totals per artist</h2>" + html_table(report.totals(), "Totals per artist") + "</section>")
    sections.append(f"<section><h2>Per artist and {escape(report.period)}</h2>"
                    + html_table(s, f"Attributed generations, shares, royalties and blocks per artist and {report.period}")
                    + "</section>")
    sections.append("<section><h2>Decisions</h2>"
                    + html_table(report.decisions, f"Generations per {report.period} and decision") + "</section>")
    if report.findings is not None:
        sections.append('<section aria-label="Re-audit findings"><h2>Retroactive re-audit findings</h2>'
                        + html_table(report.findings, "Past generations that a later scan found in a blocked style "
                                                      "or owing new attribution") + "</section>")
    return sections


def _summary_sections(summary: AuditSummary) -> list[str]:
    charts: list[str] = []
    if not summary.decisions.empty:
        mix = summary.decisions.groupby("decision", sort=True)["count"].sum()
        charts.append(_figure(bar_chart(list(mix.index), list(mix.values), "Decision mix"), "Decision mix"))
    if not summary.near_threshold.empty:
        nt = summary.near_threshold
        charts.append(_figure(bar_chart(list(nt["evidence_kind"]), list(nt["near"]),
                                        f"Evidence within ±{summary.margin:g} of its threshold"),
                              f"Evidence within ±{summary.margin:g} of its threshold"))
    for kind, hist in summary.histograms().items():
        charts.append(_figure(column_chart(list(hist["bin"]), list(hist["count"]), f"Score − threshold: {kind}"),
                              f"Score − threshold: {kind}"))
    sections = []
    if charts:
        sections.append('<section aria-label="Charts"><h2>Charts</h2><div class="charts">' + "".join(charts) + "</div></section>")
    sections.append("<section><h2>Decisions</h2>" + html_table(summary.decisions, "Decisions by entry kind and action") + "</section>")
    sections.append("<section><h2>Evidence</h2>"
                    + html_table(summary.by_evidence, "Decisions by evidence kind and action") + "</section>")
    sections.append("<section><h2>Scores near thresholds</h2>"
                    + html_table(summary.near_threshold, "Score minus threshold per evidence kind") + "</section>")
    return sections


def render_html(obj: Reportable, title: str | None = None) -> str:
    """The self-contained HTML page for a report or a plain DataFrame."""
    if isinstance(obj, AttributionReport):
        meta = {"period": obj.period, "since": obj.since, "until": obj.until,
                "price per generation": obj.price_per_generation, "default royalty rate": obj.default_royalty_rate,
                "total royalties owed": f"{obj.total_royalties:.6g}",
                "royalties held for unverified artists": f"{obj.total_held:.6g}", **obj.meta}
        return _page(title or obj.title, meta, _attribution_sections(obj))
    if isinstance(obj, AuditSummary):
        meta = {"since": obj.since, "until": obj.until, "near-threshold margin": obj.margin, **obj.meta}
        return _page(title or obj.title, meta, _summary_sections(obj))
    if isinstance(obj, pd.DataFrame):
        sections = []
        numeric = [c for c in obj.columns if pd.api.types.is_numeric_dtype(obj[c]) and not pd.api.types.is_bool_dtype(obj[c])]
        labels = [c for c in obj.columns if c not in numeric]
        if numeric and not obj.empty:
            lab = obj[labels[0]] if labels else pd.Series(range(len(obj)))
            head = obj.head(20)
            sections.append(_figure(bar_chart(list(lab.head(20)), list(head[numeric[0]]), str(numeric[0])), str(numeric[0])))
        sections.append(html_table(obj, title or "Report"))
        return _page(title or "Report", {"rows": len(obj)}, sections)
    if hasattr(obj, "html_page"):  # a report that renders itself (the calibration report)
        return obj.html_page(title)
    raise TypeError(f"cannot render {type(obj).__name__}: give a DataFrame, AttributionReport or AuditSummary")


def _frame_of(obj: Reportable) -> pd.DataFrame:
    if isinstance(obj, pd.DataFrame):
        return obj
    if hasattr(obj, "to_frame"):
        return obj.to_frame()
    raise TypeError(f"cannot write {type(obj).__name__}: give a DataFrame, AttributionReport or AuditSummary")


def write_report(df_or_report: Reportable, out: Path | str, fmt: Format = "html", *, title: str | None = None) -> Path:
    """Write ``df_or_report`` to ``out`` as ``html``, ``csv`` or ``parquet`` and return the path.

    CSV and Parquet hold the report's main table (``to_frame()``: the per-artist-and-period summary
    for an attribution report, the decisions table for an audit summary); HTML holds every table
    plus the charts. Parent folders are created.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "html":
        path.write_text(render_html(df_or_report, title), encoding="utf-8")
    elif fmt == "csv":
        _frame_of(df_or_report).to_csv(path, index=False)
    else:
        _frame_of(df_or_report).to_parquet(path, engine="pyarrow", index=False)
    return path
