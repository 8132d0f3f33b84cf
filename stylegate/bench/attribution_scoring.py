"""Scoring for `stylegate bench attribution`: one row per generation, then the figures.

Pure functions over the gate's results, so that the figures can be checked on constructed
decisions without a model. A *case* is what the bench asked for: a prompt in one artist's
style (``expected`` is that artist) or in no registered artist's style (``expected`` is
None). A *prompt group* is one case's prompt across seeds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from stylegate.governance.attribution import Basis

# Issue #19, item 5.
TARGETS = {"median_share": 0.9, "right_first": 0.95, "no_style_credited": 0.02}


@dataclass(frozen=True)
class Case:
    """One prompt the bench sends: ``kind`` is named, described, unregistered or plain."""

    prompt: str
    kind: str
    subject: str
    expected: str | None  # the artist whose style it is, when registered for royalty or credit
    style_of: str | None = None  # the StyleWorld artist whose style it is (registered or not)


def generation_row(case: Case, seed: int, result: Any, image_style: str | None = None, *,
                   floor: float = 0.0, basis: str = "requested") -> dict[str, Any]:
    """One generation's figures from a :class:`GenerationResult` (or anything with the same
    ``action``, ``attribution()``, ``prompt_decision`` and ``images``). ``image_style``: the
    artist an independent style classifier sees in the kept image (None: no image).
    ``basis`` is the attribution basis the generation ran under; the shares under the other
    basis are replayed from the same evidence (``alt_credited``), since the gate's actions do
    not depend on it."""
    shares = result.attribution()
    credited = [(e["artist"]["name"], float(e["share"])) for e in shares]
    right = next((share for name, share in credited if name == case.expected), 0.0)
    unprompted_fn = getattr(result, "unprompted_style", None)
    unprompted = [(u["artist"]["name"], float(u["weight"])) for u in unprompted_fn()] if unprompted_fn else []
    alt = [(name, share) for name, share in replay_shares(result, floor=floor, basis=other_basis(basis))]
    evidence = _credit_evidence(result, {name for name, _ in credited} | {name for name, _ in alt})
    return {
        "kind": case.kind,
        "subject": case.subject,
        "prompt": case.prompt,
        "expected": case.expected,
        "style_of": case.style_of,
        "seed": seed,
        "action": result.action.value,
        "credited": credited,
        "first": credited[0][0] if credited else None,
        "right_share": right,
        "image_style": image_style,
        "evidence": evidence,
        "sources": {name: sorted(v) for name, v in evidence.items() if name in dict(credited)},
        "unprompted": unprompted,
        "alt_credited": alt,
    }


def other_basis(basis: str) -> Basis:
    return "observed" if basis == "requested" else "requested"


def replay_shares(result: Any, *, floor: float, basis: Basis) -> list[tuple[str, float]]:
    """The generation's shares under ``basis``, from its recorded evidence: each kept image
    weighs the same, as in :meth:`GenerationResult.attribution` (unverified shares count)."""
    from stylegate.governance.attribution import attribute

    request = list(result.prompt_decision.evidence)
    if getattr(result, "input_decision", None) is not None:
        request += list(result.input_decision.evidence)
    kept = [im for im in result.images if im.image is not None]
    totals: dict[str, float] = {}
    for im in kept:
        for a in attribute(request, im.decision.evidence, floor=floor, basis=basis, hold_unverified=False).shares:
            totals[a.artist.name] = totals.get(a.artist.name, 0.0) + a.share / len(kept)
    return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))


def _credit_evidence(result: Any, credited: set[str]) -> dict[str, dict[str, float]]:
    """For each credited artist, the evidence that crossed its threshold with an attribute
    action, as ``stage:kind`` (``prompt:name``, ``image:style`` …) → its best score over
    threshold: why they were credited, and by how much."""
    out: dict[str, dict[str, float]] = {}
    stages: list[tuple[str, Iterable[Any]]] = [("prompt", result.prompt_decision.evidence)]
    stages += [("image", im.decision.evidence) for im in result.images if im.image is not None]
    for stage, evidence in stages:
        for e in evidence:
            if e.artist.name in credited and e.action.value == "attribute" and e.score >= e.threshold:
                source = f"{stage}:{e.kind.value if hasattr(e.kind, 'value') else e.kind}"
                ratio = float(e.score / e.threshold) if e.threshold > 0 else float(e.score)
                mine = out.setdefault(e.artist.name, {})
                mine[source] = round(max(mine.get(source, 0.0), ratio), 4)
    return {name: dict(sorted(v.items())) for name, v in sorted(out.items())}


def quantile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile, linear between order statistics (numpy's default); None when empty."""
    if not values:
        return None
    xs = sorted(values)
    pos = q * (len(xs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _share(flags: Sequence[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def styled_summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Figures over generations prompted in a registered artist's style."""
    shares = [r["right_share"] for r in rows]
    return {
        "generations": len(rows),
        "median_share": _r(quantile(shares, 0.5)),
        "p10_share": _r(quantile(shares, 0.1)),
        "right_first": _share([r["first"] == r["expected"] for r in rows]),
        "credited_nobody": _share([r["first"] is None for r in rows]),
        "blocked": _share([r["action"] == "block" for r in rows]),
        "other_artists_credited": _share([any(n != r["expected"] for n, _ in r["credited"]) for r in rows]),
        # the pipeline's side: how often the image really is in the prompted style
        "image_in_prompted_style": _share([r["image_style"] == r["expected"] for r in rows if r["image_style"]]),
        **stability(rows),
    }


def no_style_summary(rows: Sequence[dict[str, Any]], attributed: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Figures over generations prompted in no registered artist's style. ``attributed``:
    the registered royalty and credit artists, to split the generations by the style an
    independent classifier sees in the image (the model may drift into a registered style)."""
    credited = [r for r in rows if r["credited"]]
    drifted = [r for r in rows if r["image_style"] in attributed]
    clean = [r for r in rows if r["image_style"] is not None and r["image_style"] not in attributed]
    who: dict[str, int] = {}
    for r in credited:
        for name, _ in r["credited"]:
            who[name] = who.get(name, 0) + 1
    groups = _groups(rows)
    return {
        "generations": len(rows),
        "credited_anyone": _share([bool(r["credited"]) for r in rows]),
        "mean_share_credited": _r(sum(s for r in rows for _, s in r["credited"]) / len(rows)) if rows else None,
        "blocked": _share([r["action"] == "block" for r in rows]),
        "credited_artists": dict(sorted(who.items(), key=lambda kv: (-kv[1], kv[0]))),
        "image_in_attributed_style": _share([r in drifted for r in rows]) if any(r["image_style"] for r in rows) else None,
        "credited_when_image_in_attributed_style": _share([bool(r["credited"]) for r in drifted]),
        "credit_matches_image_style": _share([r["first"] == r["image_style"] for r in credited if r["image_style"]]),
        "credited_when_image_in_other_style": _share([bool(r["credited"]) for r in clean]),
        "prompts": len(groups),
        "prompts_credit_changes": _share([len({bool(r["credited"]) for r in g}) > 1 for g in groups.values()]),
    }


def _groups(rows: Sequence[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["kind"], r["prompt"]), []).append(r)
    return groups


def stability(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Across the seeds of each prompt: the spread (max - min) of the right artist's share,
    and how often the first-credited artist is not the same for every seed."""
    groups = [g for g in _groups(rows).values() if len(g) > 1]
    spreads = [max(r["right_share"] for r in g) - min(r["right_share"] for r in g) for g in groups]
    return {
        "prompts": len(_groups(rows)),
        "seeds_per_prompt": max((len(g) for g in _groups(rows).values()), default=0),
        "share_spread_median": _r(quantile(spreads, 0.5)),
        "share_spread_max": _r(max(spreads)) if spreads else None,
        "first_changes": _share([len({r["first"] for r in g}) > 1 for g in groups]),
    }


def source_counts(rows: Sequence[dict[str, Any]], *, right: bool) -> dict[str, int]:
    """How often each evidence source credited the right artist (``right``) or someone else."""
    counts: dict[str, int] = {}
    for r in rows:
        for name, kinds in r["sources"].items():
            if (name == r["expected"]) is right:
                for k in kinds:
                    counts[k] = counts.get(k, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def image_style_margins(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Image style evidence (score over threshold) behind credits under either basis (so the
    observed basis's, a superset), split by whether the credit is right: could any floor on
    image-only evidence tell the groups apart?"""
    groups: dict[str, list[float]] = {"styled_right": [], "styled_other": [], "no_style_drift": [],
                                      "no_style_wrong": []}
    for r in rows:
        for name, sources in r["evidence"].items():
            if "image:style" not in sources:
                continue
            if r["expected"] is not None:
                key = "styled_right" if name == r["expected"] else "styled_other"
            else:
                key = "no_style_drift" if name == r["image_style"] else "no_style_wrong"
            groups[key].append(sources["image:style"])
    return {k: {"n": len(v), "min": _r(min(v)) if v else None, "p50": _r(quantile(v, 0.5)),
                "max": _r(max(v)) if v else None} for k, v in groups.items()}


def summarise(rows: Sequence[dict[str, Any]], attributed: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Every figure of the bench: by kind of prompt, per artist, the no-style side, the
    evidence behind the credits, and each target met or not. ``attributed``: the registered
    royalty and credit artists (see :func:`no_style_summary`)."""
    styled = [r for r in rows if r["expected"] is not None]
    no_style = [r for r in rows if r["expected"] is None]
    by_kind = {k: styled_summary([r for r in styled if r["kind"] == k])
               for k in ("named", "described") if any(r["kind"] == k for r in styled)}
    artists = sorted({r["expected"] for r in styled})
    per_artist = []
    for name in artists:
        mine = [r for r in styled if r["expected"] == name]
        row = {"artist": name, **styled_summary(mine)}
        for k in ("named", "described"):
            part = [r for r in mine if r["kind"] == k]
            row[f"{k}_median_share"] = _r(quantile([r["right_share"] for r in part], 0.5))
            row[f"{k}_right_first"] = _share([r["first"] == r["expected"] for r in part])
        per_artist.append(row)
    overall = styled_summary(styled)
    ns = no_style_summary(no_style, attributed)
    alt_rows = [_as_alternative(r) for r in rows]
    alt_styled = styled_summary([r for r in alt_rows if r["expected"] is not None])
    alt_ns = no_style_summary([r for r in alt_rows if r["expected"] is None], attributed)
    ns_by_kind = {k: no_style_summary([r for r in no_style if r["kind"] == k], attributed)
                  for k in sorted({r["kind"] for r in no_style})}
    return {
        "styled": overall,
        "by_kind": by_kind,
        "per_artist": per_artist,
        "no_style": ns,
        "no_style_by_kind": ns_by_kind,
        "evidence": {
            "right_artist": source_counts(styled, right=True),
            "other_artists": source_counts(styled, right=False),
            "no_style": source_counts(no_style, right=False),
        },
        "image_style_margins": image_style_margins(rows),
        "unprompted": unprompted_summary(rows),
        "alternative": {"styled": alt_styled, "no_style": alt_ns, "met": met(alt_styled, alt_ns)},
        "targets": dict(TARGETS),
        "met": met(overall, ns),
    }


def _as_alternative(row: dict[str, Any]) -> dict[str, Any]:
    """The row as it would read under the other attribution basis."""
    credited = row["alt_credited"]
    right = next((share for name, share in credited if name == row["expected"]), 0.0)
    return dict(row, credited=credited, first=credited[0][0] if credited else None, right_share=right)


def unprompted_summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Image-only style matches recorded but not paid: how often, and whether they name the
    style the independent classifier sees in the image."""
    styled = [r for r in rows if r["expected"] is not None]
    no_style = [r for r in rows if r["expected"] is None]
    with_candidate = [r for r in no_style if r["unprompted"]]
    return {
        "styled_with_candidate": _share([bool(r["unprompted"]) for r in styled]),
        "no_style_with_candidate": _share([bool(r["unprompted"]) for r in no_style]),
        "no_style_candidates": len(with_candidate),
        "no_style_candidate_is_image_style": _share([r["unprompted"][0][0] == r["image_style"]
                                                     for r in with_candidate if r["image_style"]]),
    }


def met(styled: dict[str, Any], no_style: dict[str, Any]) -> dict[str, bool | None]:
    """Each target of the issue, met or not (None when nothing was measured)."""
    def at_least(x: float | None, t: float) -> bool | None:
        return None if x is None else x >= t

    def at_most(x: float | None, t: float) -> bool | None:
        return None if x is None else x <= t

    return {
        "median_share": at_least(styled["median_share"], TARGETS["median_share"]),
        "right_first": at_least(styled["right_first"], TARGETS["right_first"]),
        "no_style_credited": at_most(no_style["credited_anyone"], TARGETS["no_style_credited"]),
    }
