"""A royalty statement as one self-contained HTML page (inline CSS, no script, nothing fetched)."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from .render import _CSS


def _num(value: Any, places: int = 6) -> str:
    return f"{float(value):.{places}f}"


def _evidence(items: Any) -> str:
    parts = []
    for ev in items or []:
        score, threshold = ev.get("score"), ev.get("threshold")
        figures = f" {float(score):.3f}" if isinstance(score, (int, float)) else ""
        figures += f" / {float(threshold):.3f}" if isinstance(threshold, (int, float)) else ""
        parts.append(f"{ev.get('kind')}{figures}")
    return ", ".join(parts) or "—"


def render_statement_html(statement: Mapping[str, Any], verdict: Mapping[str, Any] | None = None) -> str:
    """The page for ``statement`` (a signed statement dict); ``verdict`` adds a verification banner."""
    artist, period, totals = statement["artist"], statement["period"], statement["totals"]
    title = f"Royalty statement {period['label']}: {artist['name']}"
    meta = {
        "statement": statement["statement_id"], "artist": f"#{artist['id']} {artist['name']} ({artist['consent']})",
        "verified artist": "yes" if artist.get("verified", True) else "no: amounts are held until verification",
        "period": f"{period['since']} to {period['until']} (lines until {period['cutoff']})",
        "issued": statement["issued_at"], "price per generation": _num(statement["price_per_generation"]),
        "corrects": statement.get("corrects") or "", "signing key": statement["key_id"],
    }
    dl = "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in meta.items() if v)
    banner = ""
    if verdict is not None:
        ok = bool(verdict.get("ok"))
        text = "verified: every proof, signature and sum checks" if ok else f"NOT valid: {verdict.get('reason')}: {verdict.get('detail')}"
        banner = f'<p class="verdict" data-ok="{str(ok).lower()}" role="status"><strong>{escape(text)}</strong></p>'
    head = "".join(f'<th scope="col">{h}</th>' for h in ("audit entry", "time (UTC)", "decision", "share", "evidence",
                                                          "price", "rate", "amount", "held"))
    rows = "".join(
        f'<tr><th scope="row">{int(line["seq"])}</th><td>{escape(str(line["time"]))}</td><td>{escape(str(line["decision"]))}</td>'
        f'<td class="num">{_num(line["share"])}</td><td>{escape(_evidence(line.get("evidence")))}</td>'
        f'<td class="num">{_num(line["price"])}</td><td class="num">{_num(line["rate"], 4)}</td>'
        f'<td class="num">{_num(line["amount"])}</td><td>{"held" if line.get("held") else ""}</td></tr>'
        for line in statement["lines"]
    ) or '<tr><td colspan="9" class="empty">No attributed generations in this period.</td></tr>'
    lines = f'<table class="lines"><caption>Attributed generations</caption><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
    tot = "".join(f'<tr><th scope="row">{escape(k)}</th><td class="num">{escape(str(v))}</td></tr>' for k, v in (
        ("lines", totals["lines"]), ("share sum", _num(totals["share_sum"])), ("amount", _num(totals["amount"])),
        ("payable", _num(totals["amount_payable"])), ("held", _num(totals["amount_held"])),
        ("generations the log commits to", statement["commitment"]["count"])))
    totals_table = f'<table class="totals"><caption>Totals</caption><tbody>{tot}</tbody></table>'
    proof = (
        f"<h2>Proof</h2><p>Every line is an entry of the audit log's Merkle tree, with an inclusion proof to this "
        f"signed checkpoint ({int(statement['checkpoint']['size'])} entries). The log's own entry "
        f"{int(statement['commitment']['seq'])} commits to the number of attributed generations per artist for the "
        f"period, so a left-out generation is caught.</p><pre class=\"note\">{escape(statement['checkpoint']['note'])}</pre>"
        f"<p>Check it yourself with the standalone verifier (Python and <code>cryptography</code> only):</p>"
        f"<pre>python verify_statement.py {escape(str(artist['id']))}.json --key audit-ed25519.pub.pem</pre>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}.verdict[data-ok=true]{{color:#2e7d4f}}"
        f".verdict[data-ok=false]{{color:#b00020}}pre{{white-space:pre-wrap;word-break:break-all}}</style></head>"
        f'<body><main><h1>{escape(title)}</h1>{banner}<dl class="meta">{dl}</dl>{lines}{totals_table}{proof}</main></body></html>\n'
    )
