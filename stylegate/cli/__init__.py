"""The `stylegate` command line: typer sub-apps, one per resource, over the operations layer.

Exit codes: 0 done (allowed or attributed), 3 blocked by policy, 1 error, 2 usage.
Every command module imports only typer and the output helpers at module level, so
``stylegate --help`` never loads torch, open_clip, faiss, diffusers or pandas.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Optional

import typer

from . import artists, audit, bench, calibrate, check, demo, generate, home, index, report, scan, serve, statements, works
from ._common import DEVICES, CliState, choice, handled

app = typer.Typer(
    help="stylegate: artist consent and style governance for text-to-image generation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _main(
    ctx: typer.Context,
    home_dir: Optional[Path] = typer.Option(None, "--home", help="Data directory (default $STYLEGATE_HOME or the user data dir)."),
    device: Optional[str] = typer.Option(None, "--device", **choice("--device", DEVICES), help="Device for the CLIP embedder."),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="More log output (-v info, -vv debug)."),
) -> None:
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    ctx.obj = CliState(home_dir, device)


app.command("init")(home.init)
app.command("doctor")(home.doctor)
app.add_typer(artists.app, name="artists")
app.add_typer(works.app, name="works")
app.add_typer(index.app, name="index")
app.add_typer(check.app, name="check")
app.command("generate")(generate.generate)
app.command("scan")(scan.scan)
app.add_typer(audit.app, name="audit")
app.add_typer(report.app, name="report")
app.add_typer(statements.app, name="statements")
app.command("calibrate")(calibrate.calibrate)
app.command("serve")(serve.serve)
app.command("demo")(demo.demo)
app.add_typer(bench.app, name="bench")


def main() -> None:
    app()


__all__ = ["app", "handled", "main"]
