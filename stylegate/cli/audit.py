"""`stylegate audit`: verify, sign, prove and export the tamper-evident audit log."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer

from stylegate.errors import EXIT_ERROR, EXIT_OK, InputError
from stylegate.output import emit_json, message

from ._common import JsonOpt, handled, open_workspace

app = typer.Typer(help="Verify, sign and export the tamper-evident audit log.", no_args_is_help=True)


@app.command("verify")
@handled
def audit_verify(
    note: Optional[Path] = typer.Option(
        None, "--note", help="Also check this C2SP checkpoint note (a copy kept elsewhere) against the log."
    ),
    keys: list[str] = typer.Option(
        [], "--key", help="Extra trusted verifier key (name+keyid+base64), e.g. a witness's; repeatable."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Recompute every hash and check every signed checkpoint; name the first bad entry."""
    from stylegate.operations.audit import audit_public_key

    ws = open_workspace()
    public = audit_public_key(ws)
    result = ws.audit.verify(public)
    ok = result.ok
    out: dict[str, Any] = result.to_dict()
    if note is not None:
        if not note.is_file():
            raise InputError(f"--note {note}: no such file")
        if public is None:
            raise InputError("no audit public key in this workspace; run `stylegate init`")
        checked = ws.audit.verify_note(note.read_bytes(), public, keys)
        ok = ok and checked.ok
        out["note"] = {"ok": checked.ok, "reason": checked.reason, "detail": checked.detail, "signers": checked.signers}
    if as_json:
        emit_json(out)
    else:
        if result.ok:
            message(f"audit log OK: {result.entries} entries, {result.checkpoints} signed checkpoints, {result.unsigned} entries after the last checkpoint")
        else:
            message(f"audit log FAILED verification: first bad entry {result.first_bad_seq}")
            for problem in result.problems:
                message(f"  {problem}")
        if "note" in out:
            n = out["note"]
            message(f"note {note}: OK, signed by {', '.join(n['signers'])}" if n["ok"] else f"note {note}: REJECTED, {n['reason']}: {n['detail']}")
    raise typer.Exit(EXIT_OK if ok else EXIT_ERROR)


@app.command("checkpoint")
@handled
def audit_checkpoint(
    out: Optional[Path] = typer.Option(None, "--out", help="Also write the signed note to this file."),
    as_json: bool = JsonOpt,
) -> None:
    """Sign the current tree head as a C2SP checkpoint (signed note) with the local Ed25519 key."""
    from stylegate.governance.audit.checkpoints import note_verifier
    from stylegate.governance.audit.signing import load_or_create_signer

    ws = open_workspace()
    signer = load_or_create_signer(ws.settings.home)
    checkpoint = ws.audit.checkpoint(signer)
    verifier = str(note_verifier(signer.public_key))
    if out is not None:
        out.write_text(checkpoint.note, encoding="utf-8")
    if as_json:
        emit_json(dict(checkpoint.to_dict(), verifier_key=verifier))
    else:
        message(f"signed checkpoint: {checkpoint.size} entries, root {checkpoint.root}")
        message(f"verifier key: {verifier}")
        sys.stdout.write(checkpoint.note)


@app.command("prove")
@handled
def audit_prove(seq: int = typer.Argument(..., help="Sequence number of the entry."), as_json: bool = JsonOpt) -> None:
    """Print an inclusion proof for one entry that verifies without the database."""
    ws = open_workspace()
    size = len(ws.audit)
    if not 1 <= seq <= size:
        raise InputError(f"no audit entry {seq}: the log holds entries 1..{size}" if size else "the audit log is empty")
    latest = ws.audit.latest_checkpoint()
    proof = ws.audit.prove(seq, latest.size if latest is not None and latest.size >= seq else None)
    emit_json(proof)


@app.command("export")
@handled
def audit_export(out: Path = typer.Option(..., "--out", help="JSON-lines file to write."), as_json: bool = JsonOpt) -> None:
    """Write every entry with its inclusion proof as JSON lines for an outside auditor."""
    count = open_workspace().audit.export(out)
    if as_json:
        emit_json({"entries": count, "path": str(out)})
    else:
        message(f"exported {count} entries with proofs to {out}")


@app.command("recount")
@handled
def audit_recount(
    fix: bool = typer.Option(False, "--fix", help="Rewrite the counters from the entries when they differ."),
    as_json: bool = JsonOpt,
) -> None:
    """Recompute the per-artist dashboard counters from every entry and report any mismatch.

    Exit 0 when the stored counters equal the recount (or --fix rewrote them), 1 otherwise.
    """
    ws = open_workspace()
    result = ws.audit.recount(fix=fix)
    if as_json:
        emit_json(result.to_dict())
    elif result.ok:
        message(f"counters OK: {result.counters} per-artist counters agree with {result.entries} entries")
    else:
        message(f"counters {'REWRITTEN' if result.fixed else 'DIFFER'}: {len(result.mismatches)} of them "
                f"disagree with a recount of {result.entries} entries")
        for m in result.mismatches[:50]:
            message(f"  artist {m['artist_id']} {m['counter']}: stored {m['stored']}, recounted {m['recomputed']}")
    raise typer.Exit(EXIT_OK if result.ok or result.fixed else EXIT_ERROR)
