"""`stylegate demo`: the StyleWorld registry, a scripted set of prompts, real generation.

On a fresh home it registers the StyleWorld artists with their consent (opt-out, royalty,
credit) and rendered reference works, sends scripted prompts through the gated generator
and writes the allowed images, a decisions table and summary.json.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REFERENCE_WORKS_PER_ARTIST = 6


@dataclass(frozen=True)
class ScriptedPrompt:
    label: str
    prompt: str
    expect: str  # what the demo is showing: the action(s) a correct gate takes


def _by_consent() -> dict[str, list[Any]]:
    from stylegate.styleworld import world

    groups: dict[str, list[Any]] = {}
    for artist in world.ARTISTS:
        groups.setdefault(artist.consent, []).append(artist)
    return groups


def demo_artists() -> tuple[list[Any], list[Any]]:
    """(registered, unregistered): the last artist of each consent group stays unclaimed.

    Every StyleWorld picture is in some artist's style, so with everyone registered no
    generation could be a plain allow; styles nobody registered are what a plain allow is.
    """
    registered, unregistered = [], []
    for group in _by_consent().values():
        registered.extend(group[:-1])
        unregistered.append(group[-1])
    return registered, unregistered


def scripted_prompts() -> list[ScriptedPrompt]:
    from stylegate.styleworld import world

    groups = _by_consent()
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


def register_styleworld(ws: Any, reference_dir: Path, per_artist: int = REFERENCE_WORKS_PER_ARTIST, artists: Sequence[Any] | None = None) -> int:
    """Register StyleWorld artists (default: all) with descriptors and rendered works."""
    from stylegate.registry.models import Consent
    from stylegate.styleworld import world

    total = 0
    for i, artist in enumerate(world.ARTISTS if artists is None else artists):
        ws.store.add_artist(artist.name, consent=Consent(artist.consent), descriptors=artist.descriptors, royalty_rate=0.2 if artist.consent == "royalty" else None)
        folder = reference_dir / f"{i:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(per_artist):
            seed = world.train_seeds()[k]
            world.render(artist, world.SUBJECTS[(i + k) % len(world.SUBJECTS)], seed).save(folder / f"{k}.png")
        total += len(ws.add_works(artist.name, [folder]).added)
    return total


@contextmanager
def styleworld_workspace(artists: Sequence[Any] | None = None) -> Iterator[Any]:
    """A temporary home with StyleWorld artists (default: all) registered, for calibration."""
    from stylegate.settings import Settings
    from stylegate.workspace import Workspace

    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(Settings(home=Path(tmp) / "home", device="cpu"))
        ws.configure_threads()
        ws.init()
        register_styleworld(ws, Path(tmp) / "reference", artists=artists)
        yield ws


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
    ws.init()
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
