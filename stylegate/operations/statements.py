"""Royalty statements: issue them for a period (signed, with proofs) and verify them.

Issuing, under the home's import lock so two issuers never race:

1. the lines of every royalty and credit artist for the period (``reports.statements``);
2. one ``statements.issued`` audit entry that commits to each artist's line count;
3. a fresh signed checkpoint, which covers every line and that commitment;
4. per artist, a statement with an inclusion proof for every line and for the commitment,
   signed with the workspace's Ed25519 key, written as JSON and a self-contained HTML page
   under ``<home>/statements/<period>/`` (or ``out``) and never overwritten.

A period already issued is refused; ``correct=STATEMENT_ID`` issues a new statement for that
artist and period that names the old one. The CLI, the portal and the Python API call these.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stylegate.errors import InputError, StatementExists, StatementNotFound

if TYPE_CHECKING:  # pragma: no cover
    from stylegate.reports.statement_period import Period
    from stylegate.reports.statements import ArtistLines
    from stylegate.workspace import Workspace

log = logging.getLogger(__name__)

STATEMENTS_DIR = "statements"


def statements_root(ws: Workspace) -> Path:
    return Path(ws.settings.home) / STATEMENTS_DIR


@dataclass
class IssueOutcome:
    period: dict[str, Any]
    commitment_seq: int
    checkpoint_size: int
    statements: list[dict[str, Any]] = field(default_factory=list)  # id, artist, lines, amount, paths
    corrects: str | None = None
    exit_code: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"period": self.period, "commitment_seq": self.commitment_seq, "checkpoint_size": self.checkpoint_size,
                "corrects": self.corrects, "statements": self.statements}


def _issued_periods(ws: Workspace) -> dict[str, list[dict[str, Any]]]:
    """``{period label: [commitment bodies]}`` from the log's ``statements.issued`` entries."""
    from stylegate.governance.audit import AuditKind

    out: dict[str, list[dict[str, Any]]] = {}
    for entry in ws.audit.entries(kinds=[AuditKind.STATEMENTS_ISSUED]):
        body = entry.get("body") or {}
        label = str((body.get("period") or {}).get("label", ""))
        out.setdefault(label, []).append(dict(body, seq=entry["seq"]))
    return out


def find_statement(root: Path, statement_id: str) -> tuple[Path, dict[str, Any]]:
    """The issued statement file with ``statement_id`` under ``root`` (``<period>/<file>.json``)."""
    for path in sorted(root.glob("*/*.json")):
        try:
            doc = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and doc.get("statement_id") == statement_id:
            return path, doc
    raise StatementNotFound(f"no issued statement {statement_id!r} under {root}")


def _cutoff(period: Period, now: str) -> str:
    """Lines end at the period's end, or now for a period still open."""
    return min(period.until, now)


def issue_statements(ws: Workspace, period: Period | None, *, out: Path | None = None, correct: str | None = None) -> IssueOutcome:
    """Issue (or, with ``correct``, re-issue for one artist) the period's statements; see the module doc.

    A correction takes the period of the statement it corrects (``period`` is then ignored)."""
    from stylegate.governance.audit.entry import utc_now
    from stylegate.reports.statement_period import Period as PeriodT

    from .ingest import importing

    root = out if out is not None else statements_root(ws)
    with importing(ws, "statements issue"):
        old: dict[str, Any] | None = None
        if correct is not None:
            _, old = find_statement(root, correct)
            later = _issued_periods(ws).get(str(old["period"]["label"]), [])
            if any(body.get("corrects") == correct for body in later):
                raise StatementExists(f"statement {correct} was already corrected; correct the newest statement instead")
            p = old["period"]
            period = PeriodT(p["label"], p["since"], p["until"])
        elif period is None:
            raise InputError("a period is needed to issue statements")
        else:
            issued = _issued_periods(ws).get(period.label)
            first = next((b for b in issued or [] if not b.get("corrects")), None)
            if first is not None:
                return _resume(ws, first, root / period.label)
        folder = root / period.label
        if correct is None and folder.is_dir() and any(folder.glob("*.json")):
            raise StatementExists(f"{folder} already holds statements; they are never overwritten")
        issued_at = utc_now()
        cutoff = _cutoff(period, issued_at)
        groups = _lines(ws, period, cutoff)
        if old is not None:
            aid = int(old["artist"]["id"])
            groups = {aid: groups[aid]} if aid in groups else {}
            if not groups:
                raise InputError(f"artist #{aid} of statement {correct} is no longer a royalty or credit artist")
        return _issue(ws, period, cutoff, issued_at, groups, folder, old)


def _resume(ws: Workspace, body: Mapping[str, Any], folder: Path) -> IssueOutcome:
    """The period was issued: refuse, unless statements it committed to are missing from
    ``folder`` (an issue killed before it wrote them all, or a copy under ``--out``). Those are
    written from the same commitment entry, whose counts the log must still give."""
    from stylegate.governance.audit.entry import utc_now
    from stylegate.reports.statement_period import Period as PeriodT

    label = str(body["period"]["label"])
    counts = {int(k): int(v) for k, v in (body.get("counts") or {}).items()}
    missing = [aid for aid in counts if not (folder / f"{aid}.json").exists()]
    if not missing:
        raise StatementExists(
            f"statements for {label} were issued (audit entry {body['seq']}); they are immutable: "
            f"use `stylegate statements issue --correct STATEMENT_ID` for a correction")
    p = body["period"]
    groups = _lines(ws, PeriodT(label, p["since"], p["until"]), p["cutoff"])
    changed = [aid for aid in missing if len(groups[aid].lines if aid in groups else []) != counts[aid]]
    if changed:
        raise StatementExists(
            f"statements for {label} were issued (audit entry {body['seq']}) and the log no longer gives the counts it "
            f"committed to for artists {changed}: issue a correction of their statements instead")
    log.warning("statements for %s: writing the %d committed statements that are missing from %s", label, len(missing), folder)
    return _write(ws, {aid: groups[aid] for aid in missing}, folder, body["period"], int(body["seq"]), None, utc_now())


def _lines(ws: Workspace, period: Period, cutoff: str) -> dict[int, ArtistLines]:
    from stylegate.reports.statements import collect_lines

    settings = ws.policy.attribution
    return collect_lines(ws.audit, period, cutoff=cutoff, price_per_generation=float(settings.price_per_generation),
                         default_royalty_rate=float(settings.default_royalty_rate), registry=ws.store)


def _issue(ws: Workspace, period: Period, cutoff: str, issued_at: str, groups: Mapping[int, ArtistLines],
           folder: Path, old: dict[str, Any] | None) -> IssueOutcome:
    from stylegate.governance.audit import AuditKind

    period_doc = dict(period.to_dict(), cutoff=cutoff)
    corrects = old["statement_id"] if old is not None else None
    body = {"period": period_doc, "counts": {str(a): len(g.lines) for a, g in groups.items()}, "last_seq": len(ws.audit),
            "corrects": corrects}
    commitment_seq = ws.audit.append(AuditKind.STATEMENTS_ISSUED, body)
    return _write(ws, groups, folder, period_doc, commitment_seq, corrects, issued_at)


def _write(ws: Workspace, groups: Mapping[int, ArtistLines], folder: Path, period_doc: Mapping[str, Any],
           commitment_seq: int, corrects: str | None, issued_at: str) -> IssueOutcome:
    """Checkpoint, prove, sign and write one statement per group under ``folder``."""
    from stylegate.governance.audit.checkpoints import note_verifier
    from stylegate.governance.audit.signing import load_or_create_signer, public_key_pem
    from stylegate.governance.audit.statement_verify import FORMAT, signed_bytes, statement_id
    from stylegate.registry._fs import atomic_write_bytes
    from stylegate.reports.statement_html import render_statement_html

    signer = load_or_create_signer(ws.settings.home)
    checkpoint = ws.audit.checkpoint(signer)
    wanted = [line.seq for g in groups.values() for line in g.lines] + [commitment_seq]
    proofs = ws.audit.prove_many(wanted, checkpoint.size)
    outcome = IssueOutcome(dict(period_doc), commitment_seq, checkpoint.size, corrects=corrects)
    folder.mkdir(parents=True, exist_ok=True)
    for aid, group in groups.items():
        doc: dict[str, Any] = {
            "format": FORMAT,
            "statement_id": "",
            "period": period_doc,
            "issued_at": issued_at,
            "corrects": corrects,
            "artist": {"id": aid, "name": group.name, "consent": group.consent, "verified": group.verified},
            "price_per_generation": float(ws.policy.attribution.price_per_generation),
            "policy_version": ws.policy.version,
            "lines": [dict(line.to_dict(), **proofs[line.seq]) for line in group.lines],
            "totals": group.totals(),
            "commitment": dict(proofs[commitment_seq], seq=commitment_seq, count=len(group.lines)),
            "checkpoint": {"size": checkpoint.size, "root": checkpoint.root, "note": checkpoint.note,
                           "time": checkpoint.time},
            "key_id": signer.key_id,
            "verifier_key": str(note_verifier(signer.public_key)),
            "public_key": public_key_pem(signer.public_key).decode("ascii"),
        }
        doc["statement_id"] = statement_id(doc)
        doc["signature"] = base64.b64encode(signer.sign(signed_bytes(doc))).decode("ascii")
        stem = str(aid) if corrects is None else f"{aid}.correction-{doc['statement_id']}"
        json_path, html_path = folder / f"{stem}.json", folder / f"{stem}.html"
        atomic_write_bytes(json_path, (json.dumps(doc, indent=1, ensure_ascii=False) + "\n").encode("utf-8"), overwrite=False)
        atomic_write_bytes(html_path, render_statement_html(doc).encode("utf-8"), overwrite=False)
        totals = doc["totals"]
        outcome.statements.append({
            "statement_id": doc["statement_id"], "artist": doc["artist"], "lines": totals["lines"],
            "amount": totals["amount"], "amount_payable": totals["amount_payable"], "amount_held": totals["amount_held"],
            "json": str(json_path), "html": str(html_path),
        })
    log.info("issued %d statements for %s (commitment %d, checkpoint %d)", len(groups), period_doc["label"], commitment_seq,
             checkpoint.size)
    return outcome


# -------------------------------------------------------------------------------- verifying


@dataclass
class VerifyOutcome:
    verdict: dict[str, Any]
    workspace_checked: bool
    exit_code: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.verdict, workspace_checked=self.workspace_checked)


def verify_statement(
    ws: Workspace | None,
    statement: Mapping[str, Any],
    *,
    public_key_pem: bytes | None = None,
    later_checkpoint: str | None = None,
    consistency: Mapping[str, Any] | None = None,
) -> VerifyOutcome:
    """The standalone verifier's checks (``consistency``: a proof to ``later_checkpoint`` from
    elsewhere), plus, given the workspace: the consistency of the
    statement's checkpoint with ``later_checkpoint`` (or the log's latest), and omissions
    (``omitted``: attributed generations of the artist in the period the statement lacks)."""
    from stylegate.governance.audit.statement_verify import Reason
    from stylegate.governance.audit.statement_verify import verify_statement as verify_doc

    from .audit import audit_public_key

    if public_key_pem is None and ws is not None:
        path = audit_public_key(ws)
        public_key_pem = Path(path).read_bytes() if path is not None else None
    if ws is not None and consistency is None:
        later_checkpoint, consistency = _later(ws, statement, later_checkpoint)
    verdict = verify_doc(statement, public_key_pem, later_checkpoint=later_checkpoint, consistency=consistency)
    if ws is not None and verdict.ok:
        missing = _omitted(ws, statement)
        if missing:
            verdict.fail(Reason.OMITTED, f"the log holds attributed generations {missing} of this artist in the period, "
                                         "which the statement does not list")
        else:
            verdict.checks.append("every attributed generation in the log is listed")
    return VerifyOutcome(verdict.to_dict(), ws is not None, 0 if verdict.ok else 1)


def _later(ws: Workspace, statement: Mapping[str, Any], note: str | None) -> tuple[str | None, dict[str, Any] | None]:
    """The later checkpoint (the given note, else the log's latest) and a consistency proof to it."""
    from stylegate.governance.audit.checkpoints import NoteError, parse_checkpoint, parse_note

    if note is None:
        latest = ws.audit.latest_checkpoint()
        if latest is None or not latest.note:
            return None, None
        note = latest.note
    try:
        later_size = parse_checkpoint(parse_note(note).text).size
        old_size = int(statement["checkpoint"]["size"])
    except (NoteError, KeyError, TypeError, ValueError):
        return note, None  # the verifier names what is wrong with it
    if not 0 <= old_size <= later_size <= len(ws.audit):
        return note, None
    return note, ws.audit.prove_consistency(old_size, later_size)


def _omitted(ws: Workspace, statement: Mapping[str, Any]) -> list[int]:
    from stylegate.reports.statement_period import Period

    p = statement["period"]
    groups = _lines(ws, Period(p["label"], p["since"], p["until"]), p["cutoff"])
    group = groups.get(int(statement["artist"]["id"]))
    listed = {int(line["seq"]) for line in statement["lines"]}
    return sorted({line.seq for line in group.lines} - listed) if group is not None else []


# -------------------------------------------------------------------------------- payouts


@dataclass
class PayoutOutcome:
    period: str
    path: Path
    rows: list[dict[str, Any]]
    exit_code: int = 0

    def to_dict(self) -> dict[str, Any]:
        totals = {k: round(sum(float(r[k]) for r in self.rows), 6) for k in ("paid", "carried_out", "escrow_held")}
        return {"period": self.period, "path": str(self.path), "artists": len(self.rows), **totals, "rows": self.rows}


def issued_statements(ws: Workspace, root: Path | None = None) -> list[dict[str, Any]]:
    """Every statement under ``root`` (default the home's), each checked by the verifier first."""
    from stylegate.errors import StatementInvalid
    from stylegate.governance.audit.statement_verify import verify_statement as verify_doc

    from .audit import audit_public_key

    root = root if root is not None else statements_root(ws)
    key_path = audit_public_key(ws)
    key = Path(key_path).read_bytes() if key_path is not None else None
    docs = []
    for path in sorted(root.glob("*/*.json")):
        try:
            doc = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise StatementInvalid(f"{path} cannot be read: {exc}") from None
        verdict = verify_doc(doc, key) if isinstance(doc, dict) else None
        if verdict is None or not verdict.ok:
            why = f"{verdict.reason}: {verdict.detail}" if verdict is not None else "not a JSON object"
            raise StatementInvalid(f"{path} does not verify ({why}); nothing is paid on an invalid statement")
        docs.append(doc)
    return docs


def payouts(ws: Workspace, period: str, *, fmt: str = "csv", out: Path | None = None, root: Path | None = None) -> PayoutOutcome:
    """The payout export for ``period`` (an issued period's label) as CSV or Parquet."""
    from stylegate.reports.payouts import build_payouts

    if fmt not in ("csv", "parquet"):
        raise InputError(f"--format must be csv or parquet, not {fmt!r}")
    root = root if root is not None else statements_root(ws)
    docs = issued_statements(ws, root)
    verified = {int(a.id): bool(a.verified) for a in ws.store.list_artists()}
    frame = build_payouts(docs, period, verified=verified, minimum_payout=float(ws.policy.royalties.minimum_payout))
    path = out if out is not None else root / period / f"payouts.{fmt}"
    if path.exists() and path.is_dir():
        raise InputError(f"--out {path} is a folder; give a file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return PayoutOutcome(period, path, frame.to_dict(orient="records"))


# -------------------------------------------------------------------------------- the portal


def artist_statements(ws: Workspace, artist_id: int) -> list[dict[str, Any]]:
    """The artist's issued statements, newest period first, each with the server-side verdict
    (the standalone checks plus consistency with the log's latest checkpoint and the recount),
    remembered per file hash, closing checkpoint, key and latest checkpoint (verdict_cache.py)."""
    from .audit import audit_public_key
    from .verdict_cache import VERDICTS, verdict_key

    key_path = audit_public_key(ws)
    key = Path(key_path).read_bytes() if key_path is not None else None
    latest = ws.audit.latest_checkpoint()
    latest_note = latest.note if latest is not None else None
    rows: list[dict[str, Any]] = []
    for path in sorted(statements_root(ws).glob("*/*.json")):
        try:
            raw = path.read_bytes()
            doc = json.loads(raw.decode("utf-8"))
            owner = int(doc["artist"]["id"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if owner != int(artist_id):
            continue
        cache_key = verdict_key(str(ws.settings.home), raw, doc, key, latest_note)
        verdict = VERDICTS.get_or_compute(cache_key, partial(_server_verdict, ws, doc, key, latest_note))
        totals = doc.get("totals") or {}
        rows.append({
            "statement_id": str(doc.get("statement_id", "")), "period": doc.get("period") or {},
            "issued_at": doc.get("issued_at", ""), "corrects": doc.get("corrects"), "lines": len(doc.get("lines") or []),
            "amount_payable": float(totals.get("amount_payable", 0.0)), "amount_held": float(totals.get("amount_held", 0.0)),
            "verdict": {k: verdict[k] for k in ("ok", "reason", "detail")},
            "json_path": path, "html_path": path.with_suffix(".html") if path.with_suffix(".html").is_file() else None,
        })
    rows.sort(key=lambda r: (str(r["period"].get("since", "")), str(r["issued_at"])), reverse=True)
    return rows


def _server_verdict(ws: Workspace, doc: Mapping[str, Any], key: bytes | None, latest_note: str | None) -> dict[str, Any]:
    return verify_statement(ws, doc, public_key_pem=key, later_checkpoint=latest_note).verdict


def verifier_source() -> Path:
    """The standalone verifier's file, as an artist downloads it."""
    from stylegate.governance.audit import statement_verify

    return Path(statement_verify.__file__)
