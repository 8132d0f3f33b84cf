"""`stylegate bench redteam`: how well prompt screening holds up against attacks, and how fast.

The red-team corpus (``stylegate.bench.redteam_corpus``) is generated from the StyleWorld
artists plus invented ones; a copy is committed as ``tests/redteam/corpus.jsonl`` and a test
checks it against :func:`generate_corpus`. :func:`run_redteam` measures, per attack type:

- the lexical screen alone (``NameMatcher``) with the corpus artists registered, and again
  with thousands of synthetic artists added (detection must hold and near misses must stay
  quiet in a big registry);
- the whole prompt gate (names and descriptions) of a real workspace in a temporary home,
  with the StyleWorld artists' descriptors and rendered works registered;
- the speed of the lexical screen with ``n_synthetic_artists`` registered: per-prompt p50
  and p99 latency and prompts per second, in one process and in two.

Figures are reported, not asserted here; the tests assert the lexical targets.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import platform
import random
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from stylegate.bench.redteam_corpus import (
    ATTACK_GROUPS,
    BENIGN_KINDS,
    CHARACTER_ATTACKS,
    MAX_FALSE_POSITIVE_RATE,
    MISSPELLING_ATTACKS,
    NAME_ATTACKS,
    SEMANTIC_ATTACKS,
    SYNTHETIC_ARTISTS,
    TARGETS,
    CorpusEntry,
    RedTeamArtist,
    Tally,
    score,
    write_jsonl,
)
from stylegate.bench.redteam_corpus import generate_corpus as _generate
from stylegate.bench.synthetic import syllable_word
from stylegate.bench.timing import percentile_ms, time_each
from stylegate.governance.decision import kind_text
from stylegate.governance.screening.names import NameMatcher

log = logging.getLogger(__name__)

ATTACK_ORDER = CHARACTER_ATTACKS + NAME_ATTACKS + MISSPELLING_ATTACKS + SEMANTIC_ATTACKS + BENIGN_KINDS
SPEED_TARGET_PER_S = 2000.0
SPEED_TARGET_P99_MS = 20.0

# Benign prompts whose ordinary words overlap a StyleWorld artist's name.
STYLEWORLD_NEAR_MISSES: dict[str, tuple[str, ...]] = {
    "Mira Okonkwo": ("the star Mira rising over a calm sea", "okra and onions on a kitchen table", "a mirror propped against a brick wall"),
    "Tobiah Vellcourt": ("a velvet cushion on a courtroom bench", "Tobias at the tennis court", "a food court at lunchtime"),
    "Ines Marrowby": ("roasted bone marrow by the fire", "a marrow by the garden shed", "vines on a trellis"),
    "Kenji Arbelo": ("an arbor of roses by a bench", "a cello on a wooden stage", "Kenji's ramen shop at night"),
    "Saoirse Tenwick": ("ten wicks burning in a dark chapel", "a candle wick and a matchbox", "a tenement building at dawn"),
    "Dario Quillfeather": ("a quill feather on an old desk", "a quill and a feather in an inkwell", "a feather boa on a chair"),
    "Amara Lindqvist-Osei": ("amaranth flowers in a clay pot", "a linden tree in a village square", "Osei Kofi's football boots"),
    "Yusuf Brannagh": ("bran flakes in a blue bowl", "a bran muffin on a plate", "a brand new bicycle"),
    "Lotte Abernacky": ("a lottery ticket on a table", "the harbour at Aberdeen", "a lotus pond at dawn"),
    "Priya Sandoval-Rhee": ("a sandal on a sandy beach", "an oval mirror in a hallway", "a rhea bird in a grassland"),
    "Elias Kornblume": ("a cornflower in a glass", "corn and a blue flower in a field", "an alias written on a luggage tag"),
    "Noor Castellane": ("a castle lane in the old town", "the castellan of the keep", "a castle by a lane of poplars"),
}


def styleworld_artists() -> list[RedTeamArtist]:
    """The StyleWorld artists with held-out style descriptions of every subject."""
    from stylegate.styleworld import world

    out = []
    for artist in world.ARTISTS:
        descriptions = tuple(
            world.captions(artist, subject, world.HELDOUT_SEED_START + k)["described"]
            for k, subject in enumerate(world.SUBJECTS)
        )
        out.append(
            RedTeamArtist(
                artist.name,
                artist.consent,
                descriptions=descriptions,
                style=world.describe(artist),
                near_misses=STYLEWORLD_NEAR_MISSES.get(artist.name, ()),
                styleworld=True,
            )
        )
    return out


def corpus_artists() -> list[RedTeamArtist]:
    """Every artist the corpus is generated from and registered with: StyleWorld, then invented."""
    return styleworld_artists() + list(SYNTHETIC_ARTISTS)


def generate_corpus(seed: int = 0) -> list[CorpusEntry]:
    """The red-team corpus (the committed ``tests/redteam/corpus.jsonl`` is this, as JSON lines)."""
    return _generate(corpus_artists(), seed=seed)


def write_corpus(path: Path, seed: int = 0) -> int:
    """Write the corpus as JSON lines to ``path``; returns the number of prompts.

    Regenerate the committed copy (and StyleWorld's held-out word list) with
    ``python -m stylegate.bench.redteam tests/redteam/corpus.jsonl styleworld/heldout_words.txt``.
    """
    entries = generate_corpus(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(write_jsonl(entries), encoding="utf-8")
    return len(entries)


_WORD = re.compile(r"[a-z]+")


def corpus_words(entries: Sequence[CorpusEntry] | None = None) -> set[str]:
    """Every word of the corpus (default: :func:`generate_corpus`), lower-cased: the StyleWorld
    CLIP's distractor captions hold these out of training."""
    words: set[str] = set()
    for entry in generate_corpus() if entries is None else entries:
        words |= set(_WORD.findall(entry.text.lower()))
    return words


def write_corpus_words(path: Path, seed: int = 0) -> int:
    """Write the corpus's words, sorted, one a line, to ``path`` (StyleWorld's held-out list)."""
    words = sorted(corpus_words(generate_corpus(seed)))
    path.write_text("".join(f"{w}\n" for w in words), encoding="utf-8")
    return len(words)


# ------------------------------------------------------------------ lexical screen
def synthetic_names(n: int, exclude: Sequence[str] = (), seed: int = 0) -> list[str]:
    """``n`` distinct invented "Given Surname" names built from syllables."""
    syllables = ["ka", "ri", "mo", "zen", "la", "vor", "tis", "an", "dre", "shu", "pel", "gri", "ost", "nel",
                 "bau", "fie", "jor", "qua", "xen", "ul", "bri", "dak", "est", "hol", "mir", "sev", "tak", "wyn"]
    rng = random.Random(seed)
    seen = {name.lower() for name in exclude}
    out: list[str] = []
    while len(out) < n:
        name = f"{syllable_word(rng, syllables)} {syllable_word(rng, syllables)}"
        if name.lower() not in seen:
            seen.add(name.lower())
            out.append(name)
    return out


class NamedArtist(Protocol):
    """What the lexical screen needs of an artist (``RedTeamArtist``, the real-names corpus's)."""

    @property
    def name(self) -> str: ...

    @property
    def aliases(self) -> tuple[str, ...]: ...


def build_matcher(artists: Sequence[NamedArtist], extra_names: Sequence[str] = ()) -> tuple[NameMatcher, dict[int, str]]:
    """A matcher with the corpus artists (ids 1..n, aliases included) and extra names after them."""
    entries: list[tuple[int, str]] = []
    names: dict[int, str] = {}
    for artist_id, artist in enumerate(artists, start=1):
        names[artist_id] = artist.name
        entries.append((artist_id, artist.name))
        entries.extend((artist_id, alias) for alias in artist.aliases)
    for artist_id, name in enumerate(extra_names, start=len(artists) + 1):
        names[artist_id] = name
        entries.append((artist_id, name))
    return NameMatcher(entries), names


def lexical_tallies(corpus: Sequence[CorpusEntry], matcher: NameMatcher, names: dict[int, str]) -> dict[str, Tally]:
    """Per attack type, the lexical screen's detections (or false positives, for benign kinds)."""
    return score(corpus, lambda e: {names[h.artist_id] for h in matcher.find(e.text)})


_WORKER_MATCHER: NameMatcher | None = None


def _worker_run(prompts: Sequence[str]) -> float:
    matcher = _WORKER_MATCHER
    if matcher is None:  # pragma: no cover - set before the workers fork
        raise RuntimeError("no matcher in this worker")
    start = time.perf_counter()
    for prompt in prompts:
        matcher.find(prompt)
    return time.perf_counter() - start


def lexical_speed(matcher: NameMatcher, prompts: Sequence[str], workers: int = 2, rounds: int = 3) -> dict[str, Any]:
    """Latency per prompt in one process, and throughput with ``workers`` processes."""
    global _WORKER_MATCHER
    for prompt in prompts[:50]:
        matcher.find(prompt)  # warm the character and word caches
    samples: list[float] = []
    for _ in range(rounds):
        samples.extend(time_each(matcher.find, prompts))
    result: dict[str, Any] = {
        "prompts": len(prompts) * rounds,
        "p50_ms": round(percentile_ms(samples, 50), 3),
        "p99_ms": round(percentile_ms(samples, 99), 3),
        "max_ms": round(1000.0 * max(samples), 3),
        "per_s_1_process": round(len(samples) / max(float(np.sum(samples)), 1e-12), 1),
    }
    if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
        _WORKER_MATCHER = matcher
        try:
            work = list(prompts) * rounds
            chunks = [work[k::workers] for k in range(workers)]
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                pool.map(_worker_run, [list(prompts[:20])] * workers)  # start the workers
                start = time.perf_counter()
                pool.map(_worker_run, chunks)
                wall = time.perf_counter() - start
            result[f"per_s_{workers}_processes"] = round(len(work) / wall, 1)
        finally:
            _WORKER_MATCHER = None
    result["workers"] = workers
    return result


# ------------------------------------------------------------------ whole gate
def gate_tallies(
    corpus: Sequence[CorpusEntry],
    artists: Sequence[RedTeamArtist],
    device: str = "cpu",
    works_per_artist: int = 4,
    policy_path: Path | None = None,
) -> dict[str, Any]:
    """Run the corpus through ``check_prompt`` of a fresh workspace with the corpus artists.

    The workspace uses the bundled default policy unless ``policy_path`` names another.
    """
    from stylegate.registry.models import Consent
    from stylegate.settings import Settings
    from stylegate.styleworld import world
    from stylegate.workspace import Workspace

    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(Settings(home=Path(tmp) / "home", device=device, policy_path=policy_path))
        from stylegate.operations.ingest import init_home

        init_home(ws)
        start = time.perf_counter()
        for i, artist in enumerate(artists):
            descriptors: tuple[str, ...] = ()
            if artist.styleworld:
                descriptors = world.get_artist(artist.name).descriptors
            ws.store.add_artist(artist.name, consent=Consent(artist.consent), aliases=artist.aliases, descriptors=descriptors)
            if artist.styleworld and works_per_artist:
                folder = Path(tmp) / f"works{i}"
                folder.mkdir()
                style = world.get_artist(artist.name)
                for seed in range(works_per_artist):
                    world.render(style, world.SUBJECTS[seed % len(world.SUBJECTS)], seed).save(folder / f"{seed}.png")
                from stylegate.operations.ingest import add_works

                add_works(ws, artist.name, [folder])
        setup_s = time.perf_counter() - start
        gate = ws.gate()
        errors: list[str] = []
        by_kind: dict[str, dict[str, set[str]]] = {}  # prompt → evidence kind → artists

        def flagged(entry: CorpusEntry) -> set[str]:
            decision = gate.check_prompt(entry.text)
            if decision.error:
                errors.append(f"{entry.text!r}: {decision.error}")
            kinds = by_kind.setdefault(entry.text, {})
            for e in decision.evidence:
                kinds.setdefault(kind_text(e.kind), set()).add(e.artist.name)
            return {e.artist.name for e in decision.evidence}

        start = time.perf_counter()
        tallies = score(corpus, flagged)
        check_s = time.perf_counter() - start
        def flagged_by(kind: str) -> Callable[[CorpusEntry], set[str]]:
            return lambda e: by_kind.get(e.text, {}).get(kind, set())

        kind_tallies = {kind: score(corpus, flagged_by(kind)) for kind in ("name", "description")}
        return {
            "tallies": tallies,
            "kind_tallies": kind_tallies,
            "artists": len(gate.view.artists),
            "works": len(gate.view.work_artist),
            "setup_s": round(setup_s, 2),
            "check_ms_per_prompt": round(1000 * check_s / max(len(corpus), 1), 2),
            "errors": errors,
            "policy_version": ws.policy.version,
            "name_threshold": ws.policy.thresholds.name,
            "description_threshold": ws.policy.thresholds.description,
            "embedder": ws.embedder.identity.to_dict(),
        }


# ------------------------------------------------------------------ report
def rows(tallies: dict[str, Tally]) -> list[dict[str, Any]]:
    """One row per attack type, in the report's order, with its target and whether it is met."""
    out = []
    for attack in sorted(tallies, key=lambda a: ATTACK_ORDER.index(a) if a in ATTACK_ORDER else len(ATTACK_ORDER)):
        t = tallies[attack]
        benign = attack in BENIGN_KINDS
        target = TARGETS.get(attack)
        row = {
            "attack": attack,
            "group": ATTACK_GROUPS.get(attack, "?"),
            "prompts": t.total,
            "flagged": t.detected,
            "rate": round(t.rate, 4),
            "target": f"≤ {MAX_FALSE_POSITIVE_RATE:.0%} FP (overall)" if benign else (f"≥ {target:.0%}" if target else ""),
            "met": None if benign or target is None else t.rate >= target,
            "extra_artists": t.extra,
            "misses": t.misses[:5],
        }
        out.append(row)
    return out


def summary(tallies: dict[str, Tally]) -> dict[str, Any]:
    """Overall benign false-positive rate and detection per group."""
    benign = [tallies[k] for k in BENIGN_KINDS if k in tallies]
    fp_total = sum(t.total for t in benign)
    fp = sum(t.detected for t in benign)
    out: dict[str, Any] = {
        "benign_prompts": fp_total,
        "false_positives": fp,
        "false_positive_rate": round(fp / fp_total, 4) if fp_total else 0.0,
        "false_positive_met": (fp / fp_total if fp_total else 0.0) <= MAX_FALSE_POSITIVE_RATE,
    }
    for group in ("character", "name", "misspelling", "semantic"):
        members = [t for a, t in tallies.items() if ATTACK_GROUPS.get(a) == group]
        total = sum(t.total for t in members)
        if total:
            out[f"{group}_rate"] = round(sum(t.detected for t in members) / total, 4)
            out[f"{group}_prompts"] = total
    return out


def run_redteam(
    n_synthetic_artists: int = 10_000,
    gate: bool = True,
    device: str = "cpu",
    workers: int = 2,
    seed: int = 0,
    policy_path: Path | None = None,
    speed_rounds: int = 3,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Detection per attack type (lexical screen, and the whole gate) and lexical speed."""
    say = progress or (lambda text: log.info(text))
    artists = corpus_artists()
    corpus = _generate(artists, seed=seed)
    results: dict[str, Any] = {
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "corpus": {
            "prompts": len(corpus),
            "attacks": sum(not e.benign for e in corpus),
            "benign": sum(e.benign for e in corpus),
            "artists": len(artists),
        },
    }
    say("lexical screen on the corpus registry")
    matcher, names = build_matcher(artists)
    tallies = lexical_tallies(corpus, matcher, names)
    results["lexical"] = {"artists": len(artists), "rows": rows(tallies), "summary": summary(tallies)}

    say(f"lexical screen with {n_synthetic_artists:,} registered artists")
    extra = synthetic_names(max(0, n_synthetic_artists - len(artists)), exclude=[a.name for a in artists], seed=seed)
    start = time.perf_counter()
    big, big_names = build_matcher(artists, extra)
    build_s = time.perf_counter() - start
    big_tallies = lexical_tallies(corpus, big, big_names)
    results["lexical_big"] = {"artists": len(big_names), "rows": rows(big_tallies), "summary": summary(big_tallies)}
    speed_prompts = [e.text for e in corpus] + _plain_prompts(extra, seed)
    results["speed"] = {"artists": len(big_names), "build_s": round(build_s, 2), **lexical_speed(big, speed_prompts, workers, speed_rounds)}

    if gate:
        say("whole gate (names and descriptions) in a temporary workspace")
        try:
            g = gate_tallies(corpus, artists, device=device, policy_path=policy_path)
        except Exception as exc:  # noqa: BLE001 - report why the gate part could not run
            log.exception("gate red-team run failed")
            results["gate"] = {"error": f"{type(exc).__name__}: {exc}"}
        else:
            tallies_g = g.pop("tallies")
            kinds = g.pop("kind_tallies")
            results["gate"] = {
                **g,
                "rows": rows(tallies_g),
                "summary": summary(tallies_g),
                "by_kind": {k: {"rows": rows(t), "summary": summary(t)} for k, t in kinds.items()},
            }
    return results


def _plain_prompts(names: Sequence[str], seed: int, n: int = 1000) -> list[str]:
    """Ordinary prompts, a quarter of them naming one of the synthetic artists."""
    rng = random.Random(seed + 1)
    things = ["harbour at dawn", "forest path", "city street in the rain", "portrait of an old sailor", "still life with lemons",
              "mountain lake", "night market", "train station", "garden in bloom", "lighthouse in a storm"]
    extras = ["highly detailed", "soft light", "35mm photo", "wide angle", "oil on canvas", "volumetric fog", "8k", "cinematic"]
    out = []
    for k in range(n):
        text = f"a {rng.choice(things)}, {', '.join(rng.sample(extras, 3))}"
        if k % 4 == 0 and names:
            text += f", by {rng.choice(names)}"
        out.append(text)
    return out


def print_redteam(results: dict[str, Any]) -> None:
    """Readable tables of :func:`run_redteam`'s results."""
    from stylegate.output import table

    m, c = results["machine"], results["corpus"]
    print(f"machine: {m['platform']}, {m['cpus']} CPUs, python {m['python']}")
    print(f"corpus: {c['prompts']} prompts ({c['attacks']} attacks, {c['benign']} benign near misses) from {c['artists']} artists")

    def detection_table(title: str, part: dict[str, Any]) -> None:
        kinds = part.get("by_kind", {})
        per_kind = {k: {r["attack"]: r for r in v["rows"]} for k, v in kinds.items()}
        table(
            title,
            ["attack", "group", "prompts", "flagged", "rate", *[f"by {k}" for k in kinds], "target", ""],
            [
                [r["attack"], r["group"], r["prompts"], r["flagged"], f"{r['rate']:.1%}",
                 *[f"{per_kind[k][r['attack']]['rate']:.1%}" for k in kinds], r["target"],
                 "" if r["met"] is None else ("met" if r["met"] else "NOT met")]
                for r in part["rows"]
            ],
        )
        s = part["summary"]
        by = "; ".join(f"by {k} alone {v['summary']['false_positive_rate']:.2%}" for k, v in kinds.items())
        print(
            f"  benign false positives: {s['false_positives']}/{s['benign_prompts']} = {s['false_positive_rate']:.2%} "
            f"(target ≤ {MAX_FALSE_POSITIVE_RATE:.0%}: {'met' if s['false_positive_met'] else 'NOT met'})"
            + (f"; {by}" if by else "")
        )

    detection_table(f"lexical screen, {results['lexical']['artists']} artists registered", results["lexical"])
    detection_table(f"lexical screen, {results['lexical_big']['artists']:,} artists registered", results["lexical_big"])
    gate = results.get("gate")
    if gate is not None:
        if "error" in gate:
            print(f"whole gate: not measured ({gate['error']})")
        else:
            detection_table(
                f"whole gate (check prompt), {gate['artists']} artists, {gate['works']} works, "
                f"thresholds name {gate['name_threshold']} / description {gate['description_threshold']}, "
                f"{gate['check_ms_per_prompt']} ms/prompt",
                gate,
            )
            if gate["errors"]:
                print(f"  {len(gate['errors'])} checks failed closed, e.g. {gate['errors'][0]}")
    s = results["speed"]
    multi = s.get(f"per_s_{s['workers']}_processes")
    table(
        f"lexical screen speed: {s['artists']:,} artists (matcher built in {s['build_s']} s), {s['prompts']:,} prompts",
        ["measure", "value", "target", ""],
        [
            ["p50 ms per prompt", s["p50_ms"], "", ""],
            ["p99 ms per prompt", s["p99_ms"], f"≤ {SPEED_TARGET_P99_MS:g}", "met" if s["p99_ms"] <= SPEED_TARGET_P99_MS else "NOT met"],
            ["prompts/s, 1 process", s["per_s_1_process"], "", ""],
            [f"prompts/s, {s['workers']} processes", multi if multi is not None else "n/a", f"≥ {SPEED_TARGET_PER_S:,.0f}",
             "" if multi is None else ("met" if multi >= SPEED_TARGET_PER_S else "NOT met")],
        ],
    )


if __name__ == "__main__":  # pragma: no cover - corpus regeneration
    import sys

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/redteam/corpus.jsonl")
    words = Path(sys.argv[2] if len(sys.argv) > 2 else "styleworld/heldout_words.txt")
    print(f"wrote {write_corpus(target)} prompts to {target}")
    print(f"wrote {write_corpus_words(words)} held-out words to {words}")
