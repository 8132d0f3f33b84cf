"""Prompt and image checks: gate, audit, and (for images) provenance and content credentials.

Every front end (CLI, HTTP service) calls these, so a check's decision JSON is the same
wherever it was asked. Audit ``source`` (who asked) is recorded but never returned.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stylegate.errors import EXIT_BLOCKED, EXIT_ERROR, EXIT_OK, EXIT_USAGE, InputError

from .audit import audit_public_key, record_decision

if TYPE_CHECKING:  # pragma: no cover
    from stylegate.workspace import Workspace

log = logging.getLogger(__name__)


def decision_exit(decision: dict[str, Any]) -> int:
    """The CLI contract's exit code for a decision: 1 failed closed, 3 blocked, else 0."""
    if decision.get("error"):
        return EXIT_ERROR
    return EXIT_BLOCKED if decision["action"] == "block" else EXIT_OK


@dataclass(frozen=True)
class PromptOutcome:
    """A checked prompt: the audited decision (with its ``audit_seq``)."""

    decision: dict[str, Any]

    @property
    def exit_code(self) -> int:
        return decision_exit(self.decision)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.decision)


@dataclass(frozen=True)
class LineOutcome:
    """One line of a prompt file: its decision, or why the line could not be checked."""

    line: int
    prompt: str
    decision: dict[str, Any] | None = None
    error: str | None = None

    @property
    def exit_code(self) -> int:
        return EXIT_USAGE if self.decision is None else decision_exit(self.decision)

    def to_dict(self) -> dict[str, Any]:
        if self.decision is None:
            return {"line": self.line, "error": self.error}
        return {"line": self.line, "prompt": self.prompt, **self.decision}


@dataclass(frozen=True)
class ImageOutcome:
    """A checked image: the audited decision plus what was checked and its provenance."""

    decision: dict[str, Any]
    image: dict[str, Any]
    provenance: dict[str, Any] | None
    credentials: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return decision_exit(self.decision)

    def to_dict(self) -> dict[str, Any]:
        return {**self.decision, "image": self.image, "provenance": self.provenance, "credentials": self.credentials}


def check_prompt(ws: Workspace, text: str, source: dict[str, Any] | None = None) -> PromptOutcome:
    """Screen one prompt through the gate and audit it."""
    from stylegate.governance.audit import AuditKind

    checked = ws.gate().check_prompt(text)
    extra: dict[str, Any] = {} if source is None else {"source": source}
    record_decision(ws, AuditKind.CHECK_PROMPT, checked, prompt=text, **extra)
    return PromptOutcome(checked.to_dict())


def read_prompt_lines(path: Path) -> list[str]:
    """The lines of a prompt file; a missing or unreadable file is the caller's to fix."""
    try:
        return path.read_text("utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None


def check_prompt_lines(ws: Workspace, path: Path, source: dict[str, Any] | None = None) -> Iterator[LineOutcome]:
    """Check every non-blank line of a prompt file, one audit entry each, lazily (so a front end
    can print each answer as it comes). An unusable line is reported, not raised."""
    from stylegate.governance.audit import AuditKind

    lines = read_prompt_lines(path)
    gate = ws.gate()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            checked = gate.check_prompt(line)
            record_decision(ws, AuditKind.CHECK_PROMPT, checked, prompt=line, source={**(source or {}), "file": str(path), "line": number})
        except InputError as exc:
            yield LineOutcome(number, line, error=str(exc))
        else:
            yield LineOutcome(number, line, decision=checked.to_dict())


def check_image(ws: Workspace, image: bytes | os.PathLike[str] | str, name: str | None = None,
                source: dict[str, Any] | None = None, max_bytes: int | None = None) -> ImageOutcome:
    """Validate an image with the workspace's limits (before any model loads), match it through
    the gate, verify stylegate provenance (PNG) and content credentials, and audit it.

    ``image`` is a file path or uploaded bytes; ``name`` is what the decision reports as the
    image's ``path`` (default: the path given; an upload's file name). ``max_bytes`` replaces the
    size limit (the service's request limit).
    """
    from stylegate.generator.content_credentials import image_credentials
    from stylegate.generator.provenance import verify_provenance
    from stylegate.governance.audit import AuditKind
    from stylegate.registry.validation import validate_bytes, validate_work

    limits = ws.work_limits()
    if max_bytes is not None:
        limits = replace(limits, max_bytes=max_bytes)
    if isinstance(image, bytes):
        label = name or "upload"
        validated = validate_bytes(image, label, limits)
        credential_source: bytes | str | os.PathLike[str] = image
    else:
        path = Path(image)
        label = name or str(image)
        if not path.exists():
            raise InputError(f"no such file: {image}")
        validated = validate_work(path, limits)
        credential_source = path
    gate = ws.gate()
    rgb = validated.to_rgb()
    checked = gate.check_image(rgb)
    described = {"path": label, "sha256": validated.sha256}
    provenance = None
    if validated.format == "PNG":
        from PIL import Image

        png: Any = Image.open(io.BytesIO(image)) if isinstance(image, bytes) else Path(image)
        provenance = verify_provenance(png, audit_public_key(ws)).to_dict()
        if isinstance(image, bytes):
            provenance["path"] = label  # an upload has no path: its file name stands in, as in `image`
    credentials = image_credentials(credential_source, rgb, ws.settings, gate)
    extra: dict[str, Any] = {} if source is None else {"source": source}
    record_decision(ws, AuditKind.CHECK_IMAGE, checked, image=described, provenance=provenance, credentials=credentials, **extra)
    return ImageOutcome(checked.to_dict(), described, provenance, credentials)
