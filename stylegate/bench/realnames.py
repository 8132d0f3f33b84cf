"""The real-names corpus (``tests/realnames/``): real artists, real ways of writing them.

``artists.json`` lists well-known artists from many countries with the names and aliases
they would register; ``prompts.txt`` holds hand-written prompts, one a line, as
``category | expected names | prompt``: attacks (the name in other scripts, inflected,
misspelt, glued to CJK text, disguised, a common-word surname next to a style cue) and
benign prompts where parts of those names are ordinary words, brands, places or other
people. Every fifth prompt is held out (:data:`HOLDOUT_EVERY`): tuning looks at the
development split only, and the held-out split is reported beside it as a check.
``tests/realnames/fresh/`` is a third split ("fresh"), written before a round of rule
changes and never tuned on: more artists and prompts from thinly covered scripts, screened
with the artists of both folders registered together. ``tests/realnames/dev2/`` ("dev2") is
a development set written to develop rules for generalisation (not blind): more artists
from declining languages and other scripts, and benign prompts where a surname is part of
a place or institution name; it is screened with the artists of the main, fresh and dev2
folders. ``tests/realnames/dev3/`` ("dev3") is a second development set, written before the
rule changes of its round (40 artists whose surname starts with A to M; Latin names in the
spellings other scripts really use, inflected, misspelt, or a surname alone with a cue) and
screened with the artists of the main, fresh, dev2 and dev3 folders. ``tests/realnames/fresh2/`` ("fresh2") was written blind (without running the
screen) during a later round, and is screened with the artists of the main, fresh and
fresh2 folders. ``tests/realnames/fresh3/`` ("fresh3") was written blind too (55 artists whose
surname starts with N to Z) and measured blind once, at 86.5% of attacks caught and 9% benign
false positives on 98026c7's rules and 87.2% / 9% after the round-7 context and conventions
merges; it has since been used for development (no longer fresh). It is screened with the
artists of the main, fresh, dev2, fresh2 and fresh3 folders. ``tests/realnames/fresh4/``
("fresh4", 49 artists) was written blind while fresh3 was used for development and measured
blind before and after that round's rules (79.7% / 10% and 80.5% / 11%); it has since been
used for development. ``tests/realnames/fresh5/`` ("fresh5", 50 artists) was written blind at
the start of round 8 and measured blind before, during and after that round's rules (see
``tests/test_screening_realnames.py``). ``tests/realnames/fresh6/`` ("fresh6", 50 artists)
was written blind at the end of round 8 and measured once on the round's starting rules and
once on its final ones; ``tests/realnames/fresh7/`` ("fresh7", 43 artists) likewise, after
one more rule. fresh4 to fresh7 are screened with the artists of every folder up to them.

Figures are printed by ``stylegate bench redteam``; the targets are asserted by
``tests/test_screening_realnames.py``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stylegate.bench.redteam import build_matcher, lexical_tallies
from stylegate.bench.redteam_corpus import CorpusEntry, Tally

log = logging.getLogger(__name__)

HOLDOUT_EVERY = 5
CATEGORY_TARGET = 0.90  # each attack category
OVERALL_TARGET = 0.97  # all attacks together
MAX_FALSE_POSITIVE_RATE = 0.01


SPLITS = ("dev", "holdout", "fresh", "dev2", "dev3", "fresh2", "fresh3", "fresh4", "fresh5", "fresh6", "fresh7")
# Each later split is a folder of its own, screened with the main folder's artists and those
# of the folders listed for it (fresh2 keeps the registry it was first measured with).
FOLDER_SPLITS: dict[str, tuple[str, ...]] = {"fresh": ("fresh",), "dev2": ("fresh", "dev2"),
                                             "dev3": ("fresh", "dev2", "dev3"),
                                             "fresh2": ("fresh", "fresh2"),
                                             "fresh3": ("fresh", "dev2", "fresh2", "fresh3"),
                                             "fresh4": ("fresh", "dev2", "fresh2", "fresh3", "dev3", "fresh4"),
                                             "fresh5": ("fresh", "dev2", "fresh2", "fresh3", "dev3", "fresh4",
                                                        "fresh5"),
                                             "fresh6": ("fresh", "dev2", "fresh2", "fresh3", "dev3", "fresh4",
                                                        "fresh5", "fresh6"),
                                             "fresh7": ("fresh", "dev2", "fresh2", "fresh3", "dev3", "fresh4",
                                                        "fresh5", "fresh6", "fresh7")}
FRESH_SPLITS = tuple(FOLDER_SPLITS)


def default_folder() -> Path:
    return Path(__file__).resolve().parents[2] / "tests" / "realnames"


def fresh_folder(folder: Path | None = None, split: str = "fresh") -> Path:
    if split not in FRESH_SPLITS:
        raise ValueError(f"unknown folder split {split!r}")
    return (folder or default_folder()) / split


def dev2_folder(folder: Path | None = None) -> Path:
    return fresh_folder(folder, "dev2")


@dataclass(frozen=True)
class RealArtist:
    name: str
    aliases: tuple[str, ...]
    consent: str


def load_artists(folder: Path | None = None) -> list[RealArtist]:
    data = json.loads(((folder or default_folder()) / "artists.json").read_text(encoding="utf-8"))
    return [RealArtist(a["name"], tuple(a.get("aliases", ())), a.get("consent", "opt-out")) for a in data]


def split_artists(split: str, folder: Path | None = None) -> list[RealArtist]:
    """The artists registered when ``split`` is screened (the main folder's, then each fresh one's up to it)."""
    artists = load_artists(folder)
    for name in FOLDER_SPLITS.get(split, ()):
        artists += load_artists(fresh_folder(folder, name))
    return artists


def load_prompts(folder: Path | None = None, split: str = "all") -> list[CorpusEntry]:
    """Prompts of ``split`` ("dev", "holdout", "all" of the main file, or a folder split:
    "fresh", "dev2", "dev3", "fresh2", "fresh3", "fresh4", "fresh5", "fresh6", "fresh7") as corpus entries."""
    if split not in ("dev", "holdout", "all", *FRESH_SPLITS):
        raise ValueError(f"unknown split {split!r}")
    if split in FRESH_SPLITS:
        folder, split = fresh_folder(folder, split), "all"
    out: list[CorpusEntry] = []
    index = 0
    for line in ((folder or default_folder()) / "prompts.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        category, expected, text = (part.strip() for part in line.split("|", 2))
        held = index % HOLDOUT_EVERY == HOLDOUT_EVERY - 1
        index += 1
        if (split == "dev" and held) or (split == "holdout" and not held):
            continue
        names = tuple(n.strip() for n in expected.split(";") if n.strip())
        benign = category.startswith("benign")
        out.append(CorpusEntry(text, category, names, benign, "benign" if benign else "name", ";".join(names)))
    return out


def report(tallied: dict[str, Tally]) -> dict[str, Any]:
    """Rows per category and the summary against the issue's targets."""
    rows = []
    attacks = [t for k, t in tallied.items() if not k.startswith("benign")]
    benign = [t for k, t in tallied.items() if k.startswith("benign")]
    for category in sorted(tallied, key=lambda k: (k.startswith("benign"), k)):
        t = tallied[category]
        is_benign = category.startswith("benign")
        rows.append({
            "attack": category, "prompts": t.total, "flagged": t.detected, "rate": round(t.rate, 4),
            "target": f"≤ {MAX_FALSE_POSITIVE_RATE:.0%} FP (overall)" if is_benign else f"≥ {CATEGORY_TARGET:.0%}",
            "met": None if is_benign else t.rate >= CATEGORY_TARGET, "extra_artists": t.extra, "misses": t.misses[:5],
        })
    n_att, n_ben = sum(t.total for t in attacks), sum(t.total for t in benign)
    caught, fp = sum(t.detected for t in attacks), sum(t.detected for t in benign)
    summary = {
        "attacks": n_att, "caught": caught, "attack_rate": round(caught / n_att, 4) if n_att else 0.0,
        "attack_met": (caught / n_att if n_att else 1.0) >= OVERALL_TARGET,
        "benign_prompts": n_ben, "false_positives": fp,
        "false_positive_rate": round(fp / n_ben, 4) if n_ben else 0.0,
        "false_positive_met": (fp / n_ben if n_ben else 0.0) <= MAX_FALSE_POSITIVE_RATE,
        "wrong_artist": sum(t.extra for t in attacks),
    }
    return {"rows": rows, "summary": summary}


def split_tallies(split: str, folder: Path | None = None) -> dict[str, Tally]:
    """A folder split's prompts screened with the artists registered for it (:func:`split_artists`)."""
    matcher, names = build_matcher(split_artists(split, folder))
    return lexical_tallies(load_prompts(folder, split), matcher, names)


def run_realnames(folder: Path | None = None) -> dict[str, Any]:
    artists = load_artists(folder)
    matcher, names = build_matcher(artists)  # the same matcher the StyleWorld corpus uses
    out: dict[str, Any] = {"artists": len(artists)}
    for split in ("dev", "holdout"):
        out[split] = report(lexical_tallies(load_prompts(folder, split), matcher, names))
    for split in FRESH_SPLITS:
        if not all((fresh_folder(folder, s) / "prompts.txt").exists() for s in FOLDER_SPLITS[split]):
            continue
        out[f"{split}_artists"] = len(split_artists(split, folder))
        out[split] = report(split_tallies(split, folder))
    return out


def print_realnames(results: dict[str, Any]) -> None:
    from stylegate.output import table

    for split in SPLITS:
        if split not in results:
            continue
        part = results[split]
        n_artists = results.get(f"{split}_artists", results["artists"])
        table(
            f"real-names corpus ({split} split), {n_artists} real artists registered, lexical screen",
            ["category", "prompts", "flagged", "rate", "target", ""],
            [[r["attack"], r["prompts"], r["flagged"], f"{r['rate']:.1%}", r["target"],
              "" if r["met"] is None else ("met" if r["met"] else "NOT met")] for r in part["rows"]],
        )
        s = part["summary"]
        print(
            f"  attacks caught: {s['caught']}/{s['attacks']} = {s['attack_rate']:.1%} (target ≥ {OVERALL_TARGET:.0%}: "
            f"{'met' if s['attack_met'] else 'NOT met'}); benign false positives: {s['false_positives']}/"
            f"{s['benign_prompts']} = {s['false_positive_rate']:.2%} (target ≤ {MAX_FALSE_POSITIVE_RATE:.0%}: "
            f"{'met' if s['false_positive_met'] else 'NOT met'}); attacks flagging a wrong artist: {s['wrong_artist']}"
        )
