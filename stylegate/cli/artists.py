"""`stylegate artists`: register artists and their consent, settle name disputes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

import typer

from stylegate.errors import InputError
from stylegate.output import emit_json, message, table

from ._common import CONSENTS, JsonOpt, choice, handled, open_workspace

DISPUTE_STATUSES = ("open", "granted", "rejected", "all")

app = typer.Typer(help="Register artists and their consent.", no_args_is_help=True)


@app.command("add")
@handled
def artists_add(
    name: str = typer.Argument(..., help="The artist's name as people write it."),
    alias: list[str] = typer.Option([], "--alias", help="Another name the artist is known by (repeatable)."),
    descriptor: list[str] = typer.Option([], "--descriptor", help="A phrase describing the style (repeatable)."),
    consent: str = typer.Option(..., "--consent", **choice("--consent", CONSENTS), help="What the artist allows."),
    rate: Optional[float] = typer.Option(None, "--rate", help="Royalty rate in [0, 1] (royalty consent)."),
    as_json: bool = JsonOpt,
) -> None:
    """Register an artist with their consent state."""
    from stylegate.registry.models import Consent

    consent_value = Consent(consent)
    if rate is not None and consent_value is not Consent.ROYALTY:
        raise InputError("--rate only applies to --consent royalty")
    artist = open_workspace().store.add_artist(
        name, consent=consent_value, aliases=tuple(alias), descriptors=tuple(descriptor), royalty_rate=rate
    )
    if as_json:
        emit_json(artist.to_dict())
    else:
        message(f"registered artist #{artist.id} {artist.name!r} ({artist.consent.value})")


@app.command("list")
@handled
def artists_list(as_json: bool = JsonOpt) -> None:
    """List registered artists."""
    from stylegate.governance.cawg import signal_conflicts

    ws = open_workspace()
    artists = ws.store.list_artists()
    counts: dict[int, int] = {}
    owner = {}
    for work in ws.store.list_works():
        counts[work.artist_id] = counts.get(work.artist_id, 0) + 1
        owner[work.id] = work.artist_id
    signals: dict[int, list[Mapping[str, Any]]] = {}
    for work_id, signal in ws.store.consent_signals().items():
        signals.setdefault(owner[work_id], []).append(signal)
    conflicts = {a.id: signal_conflicts(signals.get(a.id, []), a.consent.value) for a in artists}
    if as_json:
        emit_json({"artists": [dict(a.to_dict(), verified=a.verified, works=counts.get(a.id, 0),
                                    consent_signals={"works": len(signals.get(a.id, [])), "conflicts": conflicts[a.id]})
                               for a in artists]})
        return
    table(
        f"{len(artists)} artists",
        ["id", "name", "consent", "rate", "aliases", "verified", "works", "credentials say"],
        [[a.id, a.name, a.consent.value, "" if a.royalty_rate is None else a.royalty_rate, ", ".join(a.aliases),
          "yes" if a.verified else "no", counts.get(a.id, 0),
          f"{conflicts[a.id]} works: no AI training (disagrees)" if conflicts[a.id] else
          (f"{len(signals[a.id])} works carry a signal" if signals.get(a.id) else "")] for a in artists],
    )


@app.command("disputes")
@handled
def artists_disputes(
    status: str = typer.Option("open", "--status", **choice("--status", DISPUTE_STATUSES), help="Which disputes."),
    as_json: bool = JsonOpt,
) -> None:
    """Colliding name claims waiting for (or decided by) an administrator."""
    disputes = open_workspace().store.list_disputes(None if status == "all" else status)
    if as_json:
        emit_json({"disputes": [d.to_dict() for d in disputes]})
        return
    table(
        f"{len(disputes)} disputes ({status})",
        ["id", "label", "claimant", "held by", "status", "since"],
        [[d.id, d.label, f"#{d.claimant_id} {d.names.get(d.claimant_id, '')}",
          "-" if d.holder_id is None else f"#{d.holder_id} {d.names.get(d.holder_id, '')}", d.status, d.created_at]
         for d in disputes],
    )


@app.command("resolve")
@handled
def artists_resolve(
    dispute: int = typer.Argument(..., help="Dispute id (see `stylegate artists disputes`)."),
    grant: Optional[bool] = typer.Option(None, "--grant/--reject", help="Give the label to the claimant, or refuse it."),
    as_json: bool = JsonOpt,
) -> None:
    """Decide a disputed name claim."""
    if grant is None:
        raise InputError("say --grant (the claimant gets the name) or --reject")
    decided = open_workspace().store.resolve_dispute(dispute, grant)
    if as_json:
        emit_json(decided.to_dict())
    else:
        message(f"dispute #{decided.id} over {decided.label!r}: {decided.status}")


@app.command("remove")
@handled
def artists_remove(artist: str = typer.Argument(..., help="Artist id or exact name."), as_json: bool = JsonOpt) -> None:
    """Remove an artist, their works and their vectors in the style index."""
    from stylegate.operations.ingest import remove_artist

    removed, works = remove_artist(open_workspace(), artist)
    if as_json:
        emit_json({"removed": removed.to_dict(), "works_removed": len(works)})
    else:
        message(f"removed artist #{removed.id} {removed.name!r} and {len(works)} works")
