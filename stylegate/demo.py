"""`stylegate demo`: the StyleWorld registry, a scripted set of prompts, real generation.

On a fresh home it registers the StyleWorld artists with their consent (opt-out, royalty,
credit) and rendered reference works, sends scripted prompts through the gated generator
and writes the allowed images, a decisions table and summary.json.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stylegate.bench.fixtures import by_consent, demo_artists, register_styleworld


@dataclass(frozen=True)
class ScriptedPrompt:
    label: str
    prompt: str
    expect: str  # what the demo is showing: the action(s) a correct gate takes


def scripted_prompts() -> list[ScriptedPrompt]:
    from stylegate.styleworld import world

    groups = by_consent()
    opt_out, royalty, credit = groups["opt-out"], groups["royalty"], groups["credit"]
    named_out = opt_out[0]
    described_out = opt_out[1]
    unclaimed = demo_artists()[1][0]
    first, last = named_out.name.split()[0], named_out.name.split()[-1]
    obfuscated = f"{first[0]}\u200b{first[1:]} {last}".replace("o", "0").replace("a", "а")  # zero-width + leet + Cyrillic а
    return [
        ScriptedPrompt("named opted-out artist", f"a lighthouse by {named_out.name}", "block"),
        ScriptedPrompt("obfuscated opted-out name", f"a cat painted by {obfuscated}", "block"),
        ScriptedPrompt("described opted-out style", f"a boat in {world.describe(described_out)}", "steer"),
        ScriptedPrompt("royalty artist", f"a tree by {royalty[0].name}", "attribute"),
        ScriptedPrompt("credit artist", f"a house by {credit[0].name}", "attribute"),
        ScriptedPrompt("a style nobody registered", f"a mountain in {world.describe(unclaimed)}", "allow"),
    ]


def prepare_home(out: Path) -> Path:
    home = out / "home"
    if home.exists():
        shutil.rmtree(home)  # the demo's own home, recreated on every run
    return home


def run_demo(out: Path, *, steps: int = 25, seed: int = 0, log: Callable[[str], None] = print) -> dict[str, Any]:
    from stylegate.generator.gated import GatedGenerator
    from stylegate.generator.loading import load_text_to_image
    from stylegate.operations.generate import write_generation
    from stylegate.settings import Settings
    from stylegate.workspace import Workspace

    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    ws = Workspace(Settings(home=prepare_home(out), device="cpu"))
    ws.configure_threads()
    from stylegate.operations.ingest import init_home

    init_home(ws)
    registered, unregistered = demo_artists()
    n_works = register_styleworld(ws, out / "reference", artists=registered)
    log(
        f"registered {len(registered)} StyleWorld artists with {n_works} reference works; "
        f"left unregistered: {', '.join(a.name for a in unregistered)}"
    )
    pipeline = load_text_to_image(None, device="cpu")
    generator = GatedGenerator(ws.gate(), pipeline)
    images_dir = out / "images"
    if images_dir.exists():
        shutil.rmtree(images_dir)
    images_dir.mkdir()
    rows = []
    for n, item in enumerate(scripted_prompts()):
        result = generator.generate(item.prompt, seed=seed + n, steps=steps)
        # audited and signed like `stylegate generate`: one audit entry, C2PA and provenance
        outcome = write_generation(ws, result, item.prompt, images_dir, pipeline="styleworld", steps=steps,
                                   stem=f"{n:02d}")
        written = [str(f["path"]) for f in outcome.files]
        rows.append(
            {
                "label": item.label,
                "prompt": item.prompt,
                "expect": item.expect,
                "action": result.action.value,
                "as_expected": result.action.value in item.expect.split("|"),
                "files": written,
                "result": outcome.to_dict(),
            }
        )
    summary = {
        "home": str(ws.settings.home),
        "artists": len(ws.store.list_artists()),
        "works": n_works,
        "steps": steps,
        "seconds": round(time.perf_counter() - started, 1),
        "all_as_expected": all(r["as_expected"] for r in rows),
        "prompts": rows,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False), "utf-8")
    return summary


def evidence_summary(row: dict[str, Any]) -> str:
    """One line naming every piece of evidence behind a demo row (prompt and image checks)."""
    result = row["result"]
    evidence = list(result["prompt_check"]["evidence"])
    for image in result["images"]:
        evidence.extend(image["post_check"]["evidence"])
    parts = [f"{e['kind']}:{e['artist']['name']} {e['score']:.2f}" for e in evidence]
    return "; ".join(dict.fromkeys(parts)) or "none"
