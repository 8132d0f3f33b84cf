"""`stylegate demo`: the StyleWorld demo."""

from __future__ import annotations

from pathlib import Path

import typer

from stylegate.errors import EXIT_ERROR
from stylegate.output import emit_json, message, table

from ._common import JsonOpt, handled


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
