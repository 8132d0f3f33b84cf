"""The `stylegate` command line: a thin typer shell over the library.

Exit codes: 0 done (allowed or attributed), 3 blocked by policy, 1 error, 2 usage.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import typer

from stylegate.errors import EXIT_BLOCKED, EXIT_ERROR, EXIT_OK, EXIT_USAGE, InputError, StylegateError
from stylegate.output import emit_json, message, print_decision, progress_bar, table

app = typer.Typer(
    help="stylegate: artist consent and style governance for text-to-image generation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
artists_app = typer.Typer(help="Register artists and their consent.", no_args_is_help=True)
works_app = typer.Typer(help="Add reference works to an artist.", no_args_is_help=True)
index_app = typer.Typer(help="Maintain the FAISS style index.", no_args_is_help=True)
check_app = typer.Typer(help="Check prompts and images against the registry.", no_args_is_help=True)
app.add_typer(artists_app, name="artists")
app.add_typer(works_app, name="works")
app.add_typer(index_app, name="index")
app.add_typer(check_app, name="check")

JsonOpt = typer.Option(False, "--json", help="Print one JSON object on stdout.")


class State:
    home: Optional[Path] = None
    device: Optional[str] = None
    last: Any = None  # the workspace the running command opened

    def workspace(self, create: bool = False) -> Any:
        """The workspace of the chosen home; only ``init`` passes ``create``."""
        from stylegate.settings import Settings
        from stylegate.workspace import Workspace

        overrides: dict[str, Any] = {}
        if self.home is not None:
            overrides["home"] = self.home
        if self.device is not None:
            overrides["device"] = self.device
        self.last = Workspace(Settings(**overrides), create=create)
        return self.last


state = State()


@app.callback()
def _main(
    home: Optional[Path] = typer.Option(None, "--home", help="Data directory (default $STYLEGATE_HOME or the user data dir)."),
    device: Optional[str] = typer.Option(None, "--device", help="auto|cpu|cuda|mps for the CLIP embedder."),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="More log output (-v info, -vv debug)."),
) -> None:
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    state.home = home
    state.device = device


def handled(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn stylegate errors into a clear message and the contract's exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json"))
        state.last = None
        try:
            result = func(*args, **kwargs)
            _fail_if_unaudited()
            return result
        except typer.Exit:
            raise
        except StylegateError as exc:
            _fail(str(exc), exc.exit_code, as_json)
        except KeyboardInterrupt:
            _fail("interrupted", EXIT_ERROR, as_json)
        except Exception as exc:  # noqa: BLE001 - a traceback is not a message
            logging.getLogger(__name__).debug("unexpected error", exc_info=True)
            _fail(f"unexpected error: {type(exc).__name__}: {exc}", EXIT_ERROR, as_json)

    return wrapper


def _fail_if_unaudited() -> None:
    """A registry change the audit log refused is committed but parked: say so and exit 1."""
    ws = state.last
    if ws is not None and ws.unaudited:
        message(f"error: the registry change was committed, but the audit log refused it ({ws.unaudited[0]}); "
                f"it is kept in {ws.parked_audit_path} and is appended the next time the audit log opens")
        raise typer.Exit(EXIT_ERROR)


def _fail(text: str, code: int, as_json: bool) -> None:
    if as_json:
        emit_json({"error": text, "exit_code": code})
    message(f"error: {text}")
    raise typer.Exit(code)


# --------------------------------------------------------------------- init
@app.command()
@handled
def init(as_json: bool = JsonOpt) -> None:
    """Create the data directory, registry database, policy file and empty style index."""
    from stylegate.operations.ingest import init_home

    info = init_home(state.workspace(create=True))
    if as_json:
        emit_json(info)
        return
    message(f"initialised stylegate home at {info['home']}")
    table(None, ["item", "value"], [["database", info["database"]], ["index", info["index"]], ["policy", info["policy"]], ["audit log", info["audit_log"]], ["signing key", f"{info['signing_key']} (id {info['key_id']})"], ["embedder", f"{info['embedder']['model']} (dim {info['embedder']['dim']})"]])


# ------------------------------------------------------------------ artists
@artists_app.command("add")
@handled
def artists_add(
    name: str = typer.Argument(..., help="The artist's name as people write it."),
    alias: list[str] = typer.Option([], "--alias", help="Another name the artist is known by (repeatable)."),
    descriptor: list[str] = typer.Option([], "--descriptor", help="A phrase describing the style (repeatable)."),
    consent: str = typer.Option(..., "--consent", help="opt-out | royalty | credit"),
    rate: Optional[float] = typer.Option(None, "--rate", help="Royalty rate in [0, 1] (royalty consent)."),
    as_json: bool = JsonOpt,
) -> None:
    """Register an artist with their consent state."""
    from stylegate.registry.models import Consent

    try:
        consent_value = Consent(consent)
    except ValueError:
        raise InputError(f"--consent must be one of opt-out, royalty, credit (got {consent!r})") from None
    if rate is not None and consent_value is not Consent.ROYALTY:
        raise InputError("--rate only applies to --consent royalty")
    artist = state.workspace().store.add_artist(
        name, consent=consent_value, aliases=tuple(alias), descriptors=tuple(descriptor), royalty_rate=rate
    )
    if as_json:
        emit_json(artist.to_dict())
    else:
        message(f"registered artist #{artist.id} {artist.name!r} ({artist.consent.value})")


@artists_app.command("list")
@handled
def artists_list(as_json: bool = JsonOpt) -> None:
    """List registered artists."""
    from stylegate.governance.cawg import signal_conflicts

    ws = state.workspace()
    artists = ws.store.list_artists()
    counts: dict[int, int] = {}
    owner = {}
    for work in ws.store.list_works():
        counts[work.artist_id] = counts.get(work.artist_id, 0) + 1
        owner[work.id] = work.artist_id
    signals: dict[int, list[dict]] = {}
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


@artists_app.command("disputes")
@handled
def artists_disputes(
    status: str = typer.Option("open", "--status", help="open | granted | rejected | all"),
    as_json: bool = JsonOpt,
) -> None:
    """Colliding name claims waiting for (or decided by) an administrator."""
    disputes = state.workspace().store.list_disputes(None if status == "all" else status)
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


@artists_app.command("resolve")
@handled
def artists_resolve(
    dispute: int = typer.Argument(..., help="Dispute id (see `stylegate artists disputes`)."),
    grant: Optional[bool] = typer.Option(None, "--grant/--reject", help="Give the label to the claimant, or refuse it."),
    as_json: bool = JsonOpt,
) -> None:
    """Decide a disputed name claim."""
    if grant is None:
        raise InputError("say --grant (the claimant gets the name) or --reject")
    decided = state.workspace().store.resolve_dispute(dispute, grant)
    if as_json:
        emit_json(decided.to_dict())
    else:
        message(f"dispute #{decided.id} over {decided.label!r}: {decided.status}")


@artists_app.command("remove")
@handled
def artists_remove(artist: str = typer.Argument(..., help="Artist id or exact name."), as_json: bool = JsonOpt) -> None:
    """Remove an artist, their works and their vectors in the style index."""
    from stylegate.operations.ingest import remove_artist

    removed, works = remove_artist(state.workspace(), artist)
    if as_json:
        emit_json({"removed": removed.to_dict(), "works_removed": len(works)})
    else:
        message(f"removed artist #{removed.id} {removed.name!r} and {len(works)} works")


# -------------------------------------------------------------------- works
@works_app.command("add")
@handled
def works_add(
    artist: str = typer.Argument(..., help="Artist id or exact name."),
    paths: list[Path] = typer.Argument(..., help="Image files or folders of images."),
    as_json: bool = JsonOpt,
) -> None:
    """Validate, store and index reference works; all or nothing."""
    ws = state.workspace()
    for path in paths:
        if not path.exists():
            raise InputError(f"no such file or folder: {path}")
    with progress_bar("adding works") as progress:
        from stylegate.operations.ingest import add_works

        result = add_works(ws, artist, paths, progress=progress)
    if as_json:
        emit_json({"added": [w.to_dict() for w in result.added], "duplicates": [{"path": p, "work_id": w} for p, w in result.duplicates],
                   "consent_signals": result.consent_signals})
        return
    message(f"added {len(result.added)} works" + (f"; skipped {len(result.duplicates)} duplicates" if result.duplicates else ""))
    for signal in result.consent_signals:
        uses = ", ".join(f"{k}={v['use']}" for k, v in signal["training_mining"]["entries"].items())
        message(f"  {signal['path']}: CAWG training-mining ({signal['status']}): {uses}"
                + (" (conflicts with the registered consent)" if signal["conflict"] else ""))
    for path, work_id in result.duplicates:
        message(f"  duplicate: {path} is already work #{work_id}")


# -------------------------------------------------------------------- index
@index_app.command("rebuild")
@handled
def index_rebuild(
    drop_unregistered: bool = typer.Option(
        False, "--drop-unregistered",
        help="Also drop vectors of works the database does not know (refused by default: the database may have lost rows)."),
    as_json: bool = JsonOpt,
) -> None:
    """Recreate the style index from the registry database (the source of truth)."""
    ws = state.workspace()
    with progress_bar("embedding works") as progress:
        from stylegate.operations.ingest import rebuild_index

        index = rebuild_index(ws, progress=progress, drop_unregistered=drop_unregistered)
    info = {"path": str(ws.settings.index_path), "count": len(index), "factory": ws.settings.index_factory, "embedder": ws.embedder.identity.to_dict()}
    if as_json:
        emit_json(info)
    else:
        message(f"rebuilt style index: {info['count']} works, {info['factory']} → {info['path']}")


@app.command()
@handled
def doctor(
    repair: bool = typer.Option(False, "--repair", help="Remove work files that no registry row owns."),
    as_json: bool = JsonOpt,
) -> None:
    """Check that the registry, the style index and the stored work files agree."""
    ws = state.workspace()
    from stylegate.operations.ingest import check_consistency

    result = check_consistency(ws, repair=repair)
    sweep = ws.sweep_report.to_dict() if ws.sweep_report is not None else {}
    if as_json:
        emit_json({**result.to_dict(), "sweep": sweep})
    else:
        table("home consistency", ["check", "value"], [
            ["works registered", result.works], ["vectors in the index", result.indexed],
            ["work files", result.files], ["files no row owns", len(result.orphan_files)],
            ["removed (--repair)", result.removed_orphans], ["rows whose file is missing", len(result.missing_files)],
            ["works missing from the index", len(result.unindexed)],
            ["vectors of unregistered works", len(result.unregistered_vectors)],
        ])
        if result.orphan_files and not repair:
            message(f"{len(result.orphan_files)} work files no row owns; run `stylegate doctor --repair` to remove them")
    raise typer.Exit(EXIT_OK if result.ok else EXIT_ERROR)


# -------------------------------------------------------------------- check
@check_app.command("prompt")
@handled
def check_prompt(
    text: Optional[str] = typer.Argument(None, help="The prompt to check."),
    file: Optional[Path] = typer.Option(None, "--file", help="Check every line of FILE (JSON lines with --json)."),
    as_json: bool = JsonOpt,
) -> None:
    """Screen a prompt for registered artists' names and described styles."""
    if (text is None) == (file is None):
        raise InputError("give either a PROMPT or --file FILE")
    from stylegate.governance.audit import AuditKind

    ws = state.workspace()
    gate = ws.gate()
    if file is None:
        checked = gate.check_prompt(text)
        ws.record(AuditKind.CHECK_PROMPT, checked, prompt=text)
        decision = checked.to_dict()
        _show_decision(decision, as_json)
        raise typer.Exit(_decision_exit(decision))
    try:
        lines = file.read_text("utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(f"no such file: {file}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {file}: {exc}") from None
    outcomes: set[int] = set()
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            checked = gate.check_prompt(line)
            ws.record(AuditKind.CHECK_PROMPT, checked, prompt=line, source={"file": str(file), "line": number})
            decision = checked.to_dict()
        except InputError as exc:
            record = {"line": number, "error": str(exc)}
            outcomes.add(EXIT_USAGE)
        else:
            record = {"line": number, "prompt": line, **decision}
            outcomes.add(_decision_exit(decision))
        if as_json:
            emit_json(record)
        else:
            rows.append([number, line[:60], record.get("action", "error"), ", ".join(sorted({e["artist"]["name"] for e in record.get("evidence", [])})) or record.get("error", "")])
    if not as_json:
        table(f"{len(rows)} prompts", ["line", "prompt", "action", "artists / error"], rows)
    # A blocked prompt outranks a failed check, which outranks an unusable line.
    for code in (EXIT_BLOCKED, EXIT_ERROR, EXIT_USAGE):
        if code in outcomes:
            raise typer.Exit(code)
    raise typer.Exit(EXIT_OK)


@check_app.command("image")
@handled
def check_image(path: Path = typer.Argument(..., help="Image file to check."), as_json: bool = JsonOpt) -> None:
    """Match an image against registered artists' styles and works."""
    from stylegate.governance.audit import AuditKind
    from stylegate.registry.validation import validate_work

    ws = state.workspace()
    if not path.exists():
        raise InputError(f"no such file: {path}")
    validated = validate_work(path, ws.work_limits())  # before any model is loaded
    from stylegate.generator.provenance import verify_provenance

    checked = ws.gate().check_image(validated.to_rgb())
    image = {"path": str(path), "sha256": validated.sha256}
    provenance = None
    if validated.format == "PNG":
        provenance = verify_provenance(path, _public_key(ws)).to_dict()
    from stylegate.generator.content_credentials import image_credentials

    credentials = image_credentials(path, validated.to_rgb(), ws.settings, ws.gate())
    ws.record(AuditKind.CHECK_IMAGE, checked, image=image, provenance=provenance, credentials=credentials)
    decision = checked.to_dict()
    decision["image"] = image
    decision["provenance"] = provenance
    decision["credentials"] = credentials
    _show_decision(decision, as_json)
    raise typer.Exit(_decision_exit(decision))


def _show_decision(decision: dict, as_json: bool) -> None:
    if as_json:
        emit_json(decision)
        return
    print_decision(decision)
    provenance = decision.get("provenance")
    if provenance is not None:
        sys.stdout.write(f"  provenance: {provenance['status']} ({provenance['reason']})\n")
    credentials = decision.get("credentials")
    if credentials is not None:
        sys.stdout.write(f"  content credentials: {credentials['status']} ({credentials['reason']})\n")


def _decision_exit(decision: dict) -> int:
    if decision.get("error"):
        return EXIT_ERROR
    return EXIT_BLOCKED if decision["action"] == "block" else EXIT_OK


# ----------------------------------------------------------------- generate
@app.command()
@handled
def generate(
    prompt: str = typer.Argument(..., help="What to draw."),
    model: Optional[str] = typer.Option(None, "--model", help="Diffusers pipeline: hub id or local folder (default: the bundled StyleWorld pipeline)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the first image; image i uses seed + i."),
    steps: int = typer.Option(25, "--steps", min=1, max=500, help="Denoising steps."),
    num_images: int = typer.Option(1, "--num-images", min=1, max=16, help="Images to generate."),
    out: Path = typer.Option(Path("stylegate-out"), "--out", help="Folder for the allowed images."),
    guidance: float = typer.Option(3.0, "--guidance", min=0.0, max=50.0, help="Classifier-free guidance scale."),
    height: Optional[int] = typer.Option(None, "--height", min=8, max=4096, help="Image height, where the pipeline takes one."),
    width: Optional[int] = typer.Option(None, "--width", min=8, max=4096, help="Image width, where the pipeline takes one."),
    device: Optional[str] = typer.Option(None, "--device", help="auto|cpu|cuda|mps for the pipeline (default: the global --device)."),
    dtype: str = typer.Option("auto", "--dtype", help="auto|float32|float16|bfloat16 for a --model pipeline."),
    early_abort: bool = typer.Option(True, "--early-abort/--no-early-abort", help="Preview and stop doomed runs early."),
    image: Optional[Path] = typer.Option(None, "--image", help="Init image for an img2img or inpainting --model (checked first)."),
    style_reference: Optional[Path] = typer.Option(None, "--style-reference", help="IP-Adapter style reference image (checked first)."),
    as_json: bool = JsonOpt,
) -> None:
    """Generate behind the gate: pre-check, generate, post-check every image, steer or block."""
    from stylegate.generator.gated import GatedGenerator
    from stylegate.generator.loading import load_text_to_image
    from stylegate.governance.audit import AuditKind
    from stylegate.governance.embedder import resolve_device

    ws = state.workspace()
    gate = ws.gate()
    gate.validate_prompt(prompt)  # bad input fails before any model is loaded
    _prepare_out_dir(out)
    inputs = _input_images(ws, {"image": image, "ip_adapter_image": style_reference})
    if model is not None:
        from stylegate.generator.loading import check_model_ref

        check_model_ref(model)
    from stylegate.generator.early_abort import EarlyAbortConfig

    pipeline_device = resolve_device(device or ws.settings.device)
    generator = GatedGenerator(
        gate,
        load_pipeline=lambda: load_text_to_image(model, device=pipeline_device, dtype=dtype),
        guidance_scale=guidance,
        height=height,
        width=width,
        early_abort=EarlyAbortConfig() if early_abort else None,
    )
    result = generator.generate(prompt, seed=seed, steps=steps, num_images=num_images, inputs=inputs)
    from stylegate.generator.content_credentials import CredentialError, signer_from_settings, write_with_credentials
    from stylegate.governance.audit.signing import load_or_create_signer

    decision = result.decision_dict()
    kept = [im for im in result.images if im.image is not None]
    written = [
        {"path": str(_free_name(out, f"stylegate-{seed}-{im.index}-{im.seed}", ".png")), "seed": im.seed,
         "action": im.action.value}
        for im in kept
    ]
    # The audit entry comes first, so every written image can name it in its signed metadata;
    # an image that then cannot be written is recorded in a correction entry (see below).
    ws.record(
        AuditKind.GENERATE,
        decision,
        prompt=prompt,
        images=written,
        seeds=[im.seed for im in result.images],
        pipeline=model or "styleworld",
        steps=steps,
        timings={k: round(v, 4) for k, v in result.timings.items()},
        seconds=round(result.seconds, 3),
    )
    signer = load_or_create_signer(ws.settings.home)
    credentials = signer_from_settings(ws.settings) if kept else None
    failed: list[dict] = []
    if kept:
        out.mkdir(parents=True, exist_ok=True)
    for im, item in zip(kept, written):
        record = {
            "decision": im.action.value,
            "attribution": [a.to_dict() for a in im.attribution],
            "evidence": [e.to_dict() for e in im.decision.evidence],
            "policy_version": decision["policy_version"],
            "models": {"embedder": decision["embedder"], "pipeline": model or "styleworld"},
            "audit_seq": decision["audit_seq"],
            "prompt_sha256": hashlib.sha256(prompt.encode("utf-8")).hexdigest(),
            "seed": im.seed,
            "steps": steps,
        }
        try:
            write_with_credentials(im.image, Path(item["path"]), record, credentials, provenance_signer=signer, overwrite=False)
        except (OSError, CredentialError) as exc:
            failed.append({"path": item["path"], "error": f"{type(exc).__name__}: {exc}"})
            continue
        _remember_output(ws, gate, decision, item["path"], im.image)
    if failed:
        _record_unwritten(ws, decision["audit_seq"], written, failed)
        written = [w for w in written if w["path"] not in {f["path"] for f in failed}]
    summary = dict(result.to_dict(), audit_seq=decision["audit_seq"], files=written)
    if as_json:
        emit_json(summary)
    else:
        print_decision(dict(decision, audit_seq=decision["audit_seq"]))
        for item in written:
            message(f"wrote {item['path']} ({item['action']})")
        blocked = len(result.images) - len(kept)
        if blocked:
            message(f"{blocked} image(s) blocked by the post-check and not written")
    if failed:
        raise StylegateError(f"{len(failed)} image(s) could not be written ({failed[0]['error']}); "
                             "the audit log records which")
    raise typer.Exit(EXIT_BLOCKED if result.action.value == "block" else EXIT_OK)


def _input_images(ws: Any, given: dict[str, Optional[Path]]) -> dict[str, Any]:
    """The pipeline's input images, validated like reference works before any model loads."""
    from stylegate.registry.validation import validate_work

    images = {}
    for name, path in given.items():
        if path is None:
            continue
        if not path.exists():
            raise InputError(f"no such file: {path}")
        images[name] = validate_work(path, ws.work_limits()).to_rgb()
    return images


def _remember_output(ws: Any, gate: Any, decision: dict, path: str, image: Any) -> None:
    """Record a written image for soft-binding lookups; a failure here is logged, not fatal."""
    import json

    from stylegate.generator.soft_binding import OutputStore, SoftBindingError

    try:
        embedding = gate.embedder.embed_images([image])[0] if gate.embedder is not None else None
        with OutputStore.for_home(ws.settings.home) as store:
            store.add(decision["audit_seq"], path, image, embedding, json.dumps(decision["embedder"], sort_keys=True))
    except SoftBindingError as exc:
        logging.getLogger(__name__).warning("%s was written but not recorded for soft binding: %s", path, exc)


def _prepare_out_dir(out: Path) -> None:
    """The output folder must be a folder we can create or write: checked before anything is
    generated, created only when there is an image to write."""
    import os

    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give a folder for the images")
    existing = out
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"--out {out}: {existing} is a file, so the folder cannot be created")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"--out {out}: {existing} is not writable")


def _free_name(folder: Path, stem: str, suffix: str) -> Path:
    """``folder/stem.suffix``, or ``stem-2.suffix``… when taken: earlier images are never overwritten."""
    candidate, n = folder / f"{stem}{suffix}", 1
    while candidate.exists():
        n += 1
        candidate = folder / f"{stem}-{n}{suffix}"
    return candidate


def _record_unwritten(ws: Any, seq: int, planned: list[dict], failed: list[dict]) -> None:
    """Correct a generation's audit entry durably: these images were never written."""
    from stylegate.governance.audit import AuditKind

    ws.audit.append(AuditKind.GENERATE_CORRECTION, {
        "corrects": seq, "unwritten": failed,
        "written": [p["path"] for p in planned if p["path"] not in {f["path"] for f in failed}],
    })


# -------------------------------------------------------------------- audit
audit_app = typer.Typer(help="Verify, sign and export the tamper-evident audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


def _public_key(ws: Any) -> Any:
    from stylegate.governance.audit.signing import key_paths

    public = key_paths(ws.settings.home)[1]
    return public if public.exists() else None


@audit_app.command("verify")
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
    ws = state.workspace()
    public = _public_key(ws)
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


@audit_app.command("checkpoint")
@handled
def audit_checkpoint(
    out: Optional[Path] = typer.Option(None, "--out", help="Also write the signed note to this file."),
    as_json: bool = JsonOpt,
) -> None:
    """Sign the current tree head as a C2SP checkpoint (signed note) with the local Ed25519 key."""
    from stylegate.governance.audit.checkpoints import note_verifier
    from stylegate.governance.audit.signing import load_or_create_signer

    ws = state.workspace()
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


@audit_app.command("prove")
@handled
def audit_prove(seq: int = typer.Argument(..., help="Sequence number of the entry."), as_json: bool = JsonOpt) -> None:
    """Print an inclusion proof for one entry that verifies without the database."""
    ws = state.workspace()
    size = len(ws.audit)
    if not 1 <= seq <= size:
        raise InputError(f"no audit entry {seq}: the log holds entries 1..{size}" if size else "the audit log is empty")
    latest = ws.audit.latest_checkpoint()
    proof = ws.audit.prove(seq, latest.size if latest is not None and latest.size >= seq else None)
    emit_json(proof)


@audit_app.command("export")
@handled
def audit_export(out: Path = typer.Option(..., "--out", help="JSON-lines file to write."), as_json: bool = JsonOpt) -> None:
    """Write every entry with its inclusion proof as JSON lines for an outside auditor."""
    count = state.workspace().audit.export(out)
    if as_json:
        emit_json({"entries": count, "path": str(out)})
    else:
        message(f"exported {count} entries with proofs to {out}")


# ------------------------------------------------------------------- report
report_app = typer.Typer(help="Royalty attribution and audit reports from the audit log.", no_args_is_help=True)
app.add_typer(report_app, name="report")

FORMATS = ("html", "csv", "parquet")


def _report_out(out: Optional[Path], stem: str, fmt: str) -> Path:
    """The report's path, checked before the report is built: a writable file in an existing folder."""
    import os

    if fmt not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)} (got {fmt!r})")
    path = out if out is not None else Path(f"{stem}.{fmt}")
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise InputError(f"--out {path} is a folder; give a file name")
    if not folder.is_dir():
        raise InputError(f"--out {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise InputError(f"--out {path}: not writable")
    return path


@report_app.command("attribution")
@handled
def report_attribution(
    since: Optional[str] = typer.Option(None, "--since", help="First day included (YYYY-MM-DD, UTC)."),
    until: Optional[str] = typer.Option(None, "--until", help="First day no longer included (YYYY-MM-DD, UTC)."),
    period: str = typer.Option("month", "--period", help="day | week | month"),
    fmt: str = typer.Option("html", "--format", help="html | csv | parquet"),
    out: Optional[Path] = typer.Option(None, "--out", help="Output file (default attribution.FORMAT)."),
    as_json: bool = JsonOpt,
) -> None:
    """Per artist and period: generations attributed, shares, royalties owed, blocks on their behalf."""
    from stylegate.reports.attribution import build_attribution_report
    from stylegate.reports.render import write_report

    ws = state.workspace()
    path = _report_out(out, "attribution", fmt)
    report = _report_errors(lambda: build_attribution_report(ws.audit, policy=ws.policy, registry=ws.store, period=period, since=since, until=until))
    write_report(report, path, fmt)
    totals = {"royalties": round(float(report.total_royalties), 6), "rows": len(report.summary), "path": str(path)}
    if as_json:
        emit_json(totals)
    else:
        message(f"wrote {path}: {totals['rows']} artist-period rows, royalties owed {totals['royalties']:.4f}")


@report_app.command("audit")
@handled
def report_audit(
    since: Optional[str] = typer.Option(None, "--since", help="First day included (YYYY-MM-DD, UTC)."),
    until: Optional[str] = typer.Option(None, "--until", help="First day no longer included (YYYY-MM-DD, UTC)."),
    fmt: str = typer.Option("html", "--format", help="html | csv | parquet"),
    out: Optional[Path] = typer.Option(None, "--out", help="Output file (default audit-summary.FORMAT)."),
    as_json: bool = JsonOpt,
) -> None:
    """Decisions by action and evidence kind, and how close scores came to each threshold."""
    from stylegate.reports.audit_summary import build_audit_summary
    from stylegate.reports.render import write_report

    ws = state.workspace()
    path = _report_out(out, "audit-summary", fmt)
    summary = _report_errors(lambda: build_audit_summary(ws.audit, since=since, until=until))
    write_report(summary, path, fmt)
    if as_json:
        emit_json({"path": str(path), "decisions": summary.decisions.to_dict(orient="records")})
    else:
        message(f"wrote {path}")


@report_app.command("calibration")
@handled
def report_calibration(
    fmt: str = typer.Option("html", "--format", help="html | csv | parquet"),
    out: Optional[Path] = typer.Option(None, "--out", help="Output file (default calibration.FORMAT)."),
    as_json: bool = JsonOpt,
) -> None:
    """ROC/DET curves of the thresholds in force, worst artists, and recent decisions near a threshold."""
    from stylegate.calibrate_cli import report_command

    report_command(state.workspace(), _report_out(out, "calibration", fmt), fmt, as_json)


def _report_errors(build: Callable[[], Any]) -> Any:
    """Bad dates, periods or shares are the caller's to fix: usage errors, not crashes."""
    from stylegate.reports.attribution import ReportError

    try:
        return build()
    except ReportError as exc:
        raise InputError(str(exc)) from None


# ---------------------------------------------------------------- calibrate
@app.command()
@handled
def calibrate(
    far: Optional[float] = typer.Option(None, "--far", min=0.0, max=1.0,
                                        help="Target false-accept rate (default: the policy's calibration.target_far)."),
    as_json: bool = JsonOpt,
) -> None:
    """Fit the description, style and near-duplicate thresholds for this embedder from the workspace."""
    from stylegate.calibrate_cli import calibrate_command

    calibrate_command(state.workspace(), far, as_json)


# -------------------------------------------------------------------- serve
@app.command()
@handled
def serve(
    host: Optional[str] = typer.Option(None, "--host", help="Address to listen on (default STYLEGATE_HOST, 127.0.0.1)."),
    port: Optional[int] = typer.Option(None, "--port", min=1, max=65535, help="Port (default STYLEGATE_PORT, 8000)."),
) -> None:
    """Run the artist portal and the public API (FastAPI, uvicorn); OpenAPI at /docs."""
    import uvicorn

    from stylegate.service.app import create_app

    ws = state.workspace()
    ws.require_home()  # refuse a missing or damaged home before binding the port
    settings = ws.settings
    app = create_app(settings)
    message(f"stylegate portal and API on http://{host or settings.host}:{port or settings.port} (home {settings.home})")
    uvicorn.run(app, host=host or settings.host, port=port or settings.port, log_level="info")


# --------------------------------------------------------------------- demo
@app.command()
@handled
def demo(
    out: Path = typer.Option(Path("stylegate-demo"), "--out", help="Folder for the demo's home, images and summary."),
    steps: int = typer.Option(25, "--steps", min=1, max=200, help="Denoising steps per image."),
    seed: int = typer.Option(0, "--seed", help="Base seed."),
    as_json: bool = JsonOpt,
) -> None:
    """Run the StyleWorld demo: register artists, gate scripted prompts, generate."""
    from stylegate.demo import evidence_summary, run_demo

    summary = run_demo(out, steps=steps, seed=seed, log=message)
    if as_json:
        emit_json(summary)
    else:
        table(
            "stylegate demo: StyleWorld prompts through the gate",
            ["case", "prompt", "decision", "expected", "evidence", "image"],
            [[r["label"], r["prompt"], r["action"].upper(), r["expect"], evidence_summary(r), ", ".join(r["files"]) or "-"] for r in summary["prompts"]],
        )
        for r in summary["prompts"]:
            if r["result"]["prompt_check"].get("steer"):
                attempts = sum(im["attempts"] for im in r["result"]["images"])
                message(
                    f"steered {r['prompt']!r}: generated {r['result']['used_prompt']!r} with negative prompt "
                    f"{r['result']['negative_prompt']!r}; after {attempts} attempts: {r['action'].upper()}"
                )
        message(f"done in {summary['seconds']} s; images and summary.json in {out}")
    if not summary["all_as_expected"]:
        message("warning: some decisions differ from what the demo expected (see the table)")
        raise typer.Exit(EXIT_ERROR)


# -------------------------------------------------------------------- bench
bench_app = typer.Typer(help="Measure speed and detection on this machine (figures, not pass/fail).")
app.add_typer(bench_app, name="bench")


@bench_app.callback(invoke_without_command=True)
@handled
def bench(
    ctx: typer.Context,
    artists: int = typer.Option(1000, "--artists", help="Artists registered for the prompt-check benchmark."),
    vectors: int = typer.Option(100_000, "--vectors", help="Synthetic vectors for the FAISS benchmark."),
    queries: int = typer.Option(200, "--queries", help="Queries per measurement."),
    cold_runs: int = typer.Option(5, "--cold-runs", min=0, help="Fresh-process runs of `check prompt` for the cold start (0: skip)."),
    as_json: bool = JsonOpt,
) -> None:
    """Cold start of a one-shot check, check latency and throughput, and FAISS speed and recall."""
    if ctx.invoked_subcommand is not None:
        return
    from stylegate.bench.coldstart import print_coldstart, run_coldstart_bench
    from stylegate.bench.index import print_results, run_core_bench

    cold = run_coldstart_bench(repeats=cold_runs) if cold_runs else None
    results = run_core_bench(n_artists=artists, n_vectors=vectors, n_queries=queries, device=state.device or "cpu")
    if cold is not None:
        results["cold_start"] = cold
    if as_json:
        emit_json(results)
    else:
        if cold is not None:
            print_coldstart(cold)
        print_results(results)


@bench_app.command("generate")
@handled
def bench_generate(
    steps: int = typer.Option(25, "--steps", min=2, max=200, help="Denoising steps per image."),
    prompts: int = typer.Option(8, "--prompts", min=1, max=64, help="Prompts per measurement."),
    as_json: bool = JsonOpt,
) -> None:
    """Gate overhead on the StyleWorld pipeline and denoising steps saved by early abort."""
    from stylegate.bench.generate import print_generation_bench, run_generation_bench

    results = run_generation_bench(steps=steps, n_prompts=prompts, log=message)
    if as_json:
        emit_json(results)
    else:
        print_generation_bench(results)


@bench_app.command("steer")
@handled
def bench_steer(
    steps: int = typer.Option(25, "--steps", min=2, max=200, help="Denoising steps per image."),
    seeds: int = typer.Option(1, "--seeds", min=1, max=8, help="Seeds per steered prompt."),
    negative_prompt: str = typer.Option("retry", "--negative-prompt", help="always | retry | never (the policy setting)."),
    as_json: bool = JsonOpt,
) -> None:
    """Steering as an unlearning benchmark: style removed, subject kept, other styles kept."""
    from stylegate.bench.steer import print_steer_bench, run_steer_bench

    if negative_prompt not in ("always", "retry", "never"):
        raise InputError(f"--negative-prompt must be always, retry or never (got {negative_prompt!r})")
    results = run_steer_bench(steps=steps, seeds=seeds, negative_prompt=negative_prompt, log=message)
    if as_json:
        emit_json(results)
    else:
        print_steer_bench(results)


@bench_app.command("redteam")
@handled
def bench_redteam(
    artists: int = typer.Option(10_000, "--artists", help="Synthetic artists registered beside the corpus artists for the speed test."),
    gate: bool = typer.Option(True, "--gate/--lexical-only", help="Also run the corpus through the whole gate (CLIP semantics included)."),
    as_json: bool = JsonOpt,
) -> None:
    """Red-team corpora (StyleWorld and real names): detection per attack type, false positives, speed."""
    from stylegate.bench.realnames import print_realnames, run_realnames
    from stylegate.bench.redteam import print_redteam, run_redteam

    results = run_redteam(n_synthetic_artists=artists, gate=gate, device=state.device or "cpu", progress=message)
    message("real-names corpus")
    results["realnames"] = run_realnames()
    if as_json:
        emit_json(results)
    else:
        print_redteam(results)
        print_realnames(results["realnames"])


@bench_app.command("names")
@handled
def bench_names(
    sizes: str = typer.Option("10000,100000,1000000", "--sizes", help="Comma-separated numbers of registered names."),
    as_json: bool = JsonOpt,
) -> None:
    """Name matcher at scale: build time, memory, p99 screening latency, add/remove time."""
    from stylegate.bench.names import print_names_bench, run_names_bench

    try:
        counts = [int(part) for part in sizes.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter("--sizes takes comma-separated whole numbers, e.g. 10000,100000") from None
    if not counts or any(n < 1 or n > 5_000_000 for n in counts):
        raise typer.BadParameter("each size must be between 1 and 5,000,000")
    results = run_names_bench(counts, progress=message)
    if as_json:
        emit_json({"sizes": results})
    else:
        print_names_bench(results)


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
