"""What every command module shares: the per-invocation state on typer's context, the
error-to-exit-code decorator, usage choices and decision formatting.

Nothing heavy is imported here: ``stylegate --help`` loads every command module.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer
from typer.main import get_current_context  # typer vendors its own click

from stylegate.errors import EXIT_BLOCKED, EXIT_ERROR, EXIT_OK, StylegateError
from stylegate.output import emit_json, message, print_decision
from stylegate.registry.models import Consent  # light: an enum and dataclasses

if TYPE_CHECKING:  # pragma: no cover
    from stylegate.workspace import Workspace

log = logging.getLogger(__name__)

JsonOpt = typer.Option(False, "--json", help="Print one JSON object on stdout.")

DEVICES = ("auto", "cpu", "cuda", "mps")
CONSENTS = tuple(c.value for c in Consent)
FORMATS = ("html", "csv", "parquet")
DTYPES = ("auto", "float32", "float16", "bfloat16")


def choice(option: str, values: Sequence[str]) -> dict[str, Any]:
    """Keyword arguments for ``typer.Option``: a fixed set of values, listed in ``--help``;
    anything else is a usage error (exit 2) that names the option and every choice."""

    def parse(value: str) -> str:
        if value not in values:
            raise typer.BadParameter(f"{option} must be one of {', '.join(values)} (got {value!r})")
        return value

    return {"parser": parse, "metavar": "[" + "|".join(values) + "]"}


class CliState:
    """One invocation's global options and the workspace its command opened (on ``ctx.obj``)."""

    def __init__(self, home: Optional[Path] = None, device: Optional[str] = None) -> None:
        self.home = home
        self.device = device
        self.opened: Workspace | None = None

    def workspace(self, create: bool = False) -> Workspace:
        """The workspace of the chosen home; only ``init`` passes ``create``."""
        from stylegate.settings import Settings
        from stylegate.workspace import Workspace

        overrides: dict[str, Any] = {}
        if self.home is not None:
            overrides["home"] = self.home
        if self.device is not None:
            overrides["device"] = self.device
        self.opened = Workspace(Settings(**overrides), create=create)
        return self.opened


def cli_state() -> CliState:
    """The running invocation's state (set by the root callback; a fresh one outside a run)."""
    ctx = get_current_context(silent=True)
    state = ctx.find_object(CliState) if ctx is not None else None
    if state is None:
        state = CliState()
        if ctx is not None:
            ctx.find_root().obj = state
    return state


def open_workspace(create: bool = False) -> Workspace:
    return cli_state().workspace(create=create)


def handled(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn stylegate errors into a clear message and the contract's exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json"))
        state = cli_state()
        state.opened = None
        try:
            result = func(*args, **kwargs)
            _fail_if_unaudited(state.opened)
            return result
        except typer.Exit:
            raise
        except StylegateError as exc:
            fail(str(exc), exc.exit_code, as_json)
        except KeyboardInterrupt:
            fail("interrupted", EXIT_ERROR, as_json)
        except Exception as exc:  # noqa: BLE001 - a traceback is not a message
            log.debug("unexpected error", exc_info=True)
            fail(f"unexpected error: {type(exc).__name__}: {exc}", EXIT_ERROR, as_json)

    return wrapper


def _fail_if_unaudited(ws: Workspace | None) -> None:
    """A registry change the audit log refused is committed but parked: say so and exit 1."""
    if ws is not None and ws.unaudited:
        message(f"error: the registry change was committed, but the audit log refused it ({ws.unaudited[0]}); "
                f"it is kept in {ws.parked_audit_path} and is appended the next time the audit log opens")
        raise typer.Exit(EXIT_ERROR)


def fail(text: str, code: int, as_json: bool) -> None:
    if as_json:
        emit_json({"error": text, "exit_code": code})
    message(f"error: {text}")
    raise typer.Exit(code)


def show_decision(decision: dict[str, Any], as_json: bool) -> None:
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


__all__ = ["EXIT_BLOCKED", "EXIT_OK", "CliState", "choice", "JsonOpt", "cli_state", "fail", "handled", "open_workspace",
           "show_decision"]
