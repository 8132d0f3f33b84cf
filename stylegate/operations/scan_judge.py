"""Judge one part of a scan: read, validate and decode each image, embed the part in one batch,
and run the gate's image check on every vector, as ``check image`` does for one image.

:class:`PartJudge` knows nothing of Ray; :mod:`.scan_engine` wraps it in a Ray Data UDF (one
per worker, so the embedder and the registry view load once per worker). A row that cannot
be read or decoded gets its ``error``; the part still completes. The gate fails closed: a
check that raises becomes a ``block`` with the error, and a do-not-train row that could not be
checked is dropped.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stylegate.errors import InputError, ScanSnapshotChanged

from .scan_sources import ImageRef, RefReader

if TYPE_CHECKING:  # pragma: no cover
    from stylegate.settings import Settings

log = logging.getLogger(__name__)

NEAREST_K = 5
MODES = ("check", "training-set", "past-generations")
BLOCKING = ("block", "steer")

# Every column of a result row, in order (parts are concatenated into one table).
COLUMNS = (
    "id", "source", "part", "row", "sha256", "width", "height", "action", "error", "artists", "top_artist_id",
    "top_score", "evidence", "attribution", "nearest", "decision", "drop", "drop_reason", "drop_artist_id",
    "drop_work_id", "generation_seq", "was_action", "finding",
)


@dataclass(frozen=True)
class Snapshot:
    """What a scan is judged against: the registry revision, the style index's snapshot, the
    policy and the embedder. Every worker checks it has the same before and while it judges."""

    revision: int
    index_snapshot: str | None
    index_count: int
    policy_version: str
    embedder: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"revision": self.revision, "index_snapshot": self.index_snapshot, "index_count": self.index_count,
                "policy_version": self.policy_version, "embedder": self.embedder}


def workspace_snapshot(ws: Any) -> Snapshot:
    gate = ws.gate()
    index = ws.index
    return Snapshot(revision=int(ws.store.revision()), index_snapshot=index.snapshot_hash, index_count=len(index),
                    policy_version=str(gate.policy.version),
                    embedder=gate.embedder.identity.to_dict() if gate.embedder is not None else {})


class PartJudge:
    """Judges parts against one workspace, refusing to judge once its registry has moved on."""

    def __init__(self, settings: Settings, expected: dict[str, Any], mode: str = "check", drop_style: bool = True) -> None:
        from stylegate.workspace import Workspace

        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.ws = Workspace(settings)  # its embedder sets the CPU threads and leaves torch unimported (ONNX)
        self.mode = mode
        self.drop_style = drop_style
        self.expected = expected
        self.gate = self.ws.gate()
        self._check_snapshot()
        self.limits = self.ws.work_limits()
        self.reader = RefReader(self.limits.max_bytes)

    def _check_snapshot(self) -> None:
        have = workspace_snapshot(self.ws).to_dict()
        if have != self.expected:
            changed = sorted(k for k in have if have[k] != self.expected.get(k))
            raise ScanSnapshotChanged(
                f"the registry changed since this scan began ({', '.join(changed)} differ); "
                "rerun the scan with --restart to judge everything against the registry as it is now")
        self.gate = self.ws.gate()

    def judge(self, part: int, refs: list[ImageRef]) -> list[dict[str, Any]]:
        """One result row per reference, in order."""
        from stylegate.registry.validation import validate_bytes

        self._check_snapshot()
        rows = [_empty_row(part, i, ref) for i, ref in enumerate(refs)]
        images: list[tuple[int, Any]] = []
        for i, ref in enumerate(refs):
            try:
                validated = validate_bytes(self.reader.read(ref), ref.url or ref.id, self.limits)
                rgb = validated.to_rgb()
            except (InputError, OSError, ValueError) as exc:
                rows[i]["error"] = str(exc)
                continue
            except Exception as exc:  # noqa: BLE001 - a decoder's own failure is this row's, never the scan's
                rows[i]["error"] = f"{type(exc).__name__}: {exc}"
                continue
            rows[i].update(sha256=validated.sha256, width=rgb.width, height=rgb.height)
            images.append((i, rgb))
        decisions = self._decide([rgb for _, rgb in images])
        nearest = self._nearest(decisions)
        for (i, _), (decision, _vec), near in zip(images, decisions, nearest):
            _fill(rows[i], decision, near)
        if self.mode == "training-set":
            self._mark_drops(rows)
        elif self.mode == "past-generations":
            for row, ref in zip(rows, refs):
                row.update(generation_seq=ref.meta.get("generation_seq"), was_action=ref.meta.get("was_action"),
                           finding=finding_of(ref.meta, row))
        return rows

    def _decide(self, rgbs: list[Any]) -> list[tuple[dict[str, Any], Any]]:
        """Embed the part in one batch, then check each vector; any failure falls back to the
        gate's guarded single-image check (which fails closed)."""
        from stylegate.governance.matching.neardup import pixel_signature

        if not rgbs:
            return []
        gate = self.gate
        try:
            vectors = gate.embedder.embed_images(rgbs) if gate.embedder is not None else None
        except Exception:  # noqa: BLE001 - the per-image check below reports it, failing closed
            log.exception("batch embedding failed; checking images one by one")
            vectors = None
        out: list[tuple[dict[str, Any], Any]] = []
        for k, rgb in enumerate(rgbs):
            vector = None if vectors is None else vectors[k]
            try:
                if vector is None:
                    raise RuntimeError("no vector")
                decision = gate.check_image_vector(vector, pixel_signature(rgb))
            except Exception:  # noqa: BLE001 - check_image is the guarded path: it blocks with the error
                decision, vector = gate.check_image(rgb), None
            out.append((decision.to_dict(), vector))
        return out

    def _nearest(self, decisions: list[tuple[dict[str, Any], Any]]) -> list[list[dict[str, Any]]]:
        import numpy as np

        index = self.gate.view.index
        have = [k for k, (_, v) in enumerate(decisions) if v is not None]
        near: list[list[dict[str, Any]]] = [[] for _ in decisions]
        if index is None or not have or len(index) == 0:
            return near
        scores, ids = index.search(np.stack([decisions[k][1] for k in have]).astype(np.float32), NEAREST_K)
        owners = self.gate.view.work_artist
        for k, srow, irow in zip(have, scores, ids):
            near[k] = [{"work_id": int(w), "artist_id": owners.get(int(w)), "cosine": round(float(s), 4)}
                       for s, w in zip(srow, irow) if w >= 0]
        return near

    def _mark_drops(self, rows: list[dict[str, Any]]) -> None:
        """Do-not-train: the opted-out artists' works (same sha256), near-duplicates of them, and
        (``drop_style``) images in their style; a row that could not be checked is dropped too."""
        artists = self.gate.view.artists
        shas = [r["sha256"] for r in rows if r["sha256"]]
        works = self.ws.store.works_by_sha256(shas) if shas else {}
        for row in rows:
            work = works.get(row["sha256"]) if row["sha256"] else None
            if work is not None and _opted_out(artists.get(work.artist_id)):
                row.update(drop=True, drop_reason="opted-out work", drop_artist_id=work.artist_id, drop_work_id=work.id)
                continue
            if row["error"] is not None or json.loads(row["decision"] or "{}").get("error"):
                row.update(drop=True, drop_reason="unchecked")
                continue
            opted_out = [e for e in json.loads(row["evidence"] or "[]") if e.get("consent") == "opt-out"]
            copy = next((e for e in opted_out if e["kind"] == "near-duplicate"), None)
            style = next((e for e in opted_out if e["kind"] == "style"), None)
            if copy is not None:  # a copy is named as such even when its style matched too
                row.update(drop=True, drop_reason="near-duplicate", drop_artist_id=copy["artist"]["id"],
                           drop_work_id=(copy.get("detail") or {}).get("work_id"))
            elif style is not None and self.drop_style:
                row.update(drop=True, drop_reason="style", drop_artist_id=style["artist"]["id"])


def _opted_out(artist: Any) -> bool:
    return artist is not None and getattr(artist.consent, "value", artist.consent) == "opt-out"


def _empty_row(part: int, row: int, ref: ImageRef) -> dict[str, Any]:
    out: dict[str, Any] = dict.fromkeys(COLUMNS)
    out.update(id=ref.id, source=ref.url or ref.location, part=part, row=row, drop=False)
    return out


def _fill(row: dict[str, Any], decision: dict[str, Any], nearest: list[dict[str, Any]]) -> None:
    evidence = decision.get("evidence", [])
    top = evidence[0] if evidence else None
    row.update(
        action=decision["action"],
        error=decision.get("error"),
        artists=json.dumps(sorted({int(e["artist"]["id"]) for e in evidence})),
        top_artist_id=None if top is None else int(top["artist"]["id"]),
        top_score=None if top is None else float(top["score"]),
        evidence=json.dumps(evidence, sort_keys=True),
        attribution=json.dumps(decision.get("attribution", []), sort_keys=True),
        nearest=json.dumps(nearest, sort_keys=True),
        decision=json.dumps(decision, sort_keys=True),
    )


def finding_of(meta: dict[str, Any], row: dict[str, Any]) -> str | None:
    """What a re-audit finds about one past generation: ``now-blocked`` (it now falls in a style
    the gate blocks or steers away from), ``new-attribution`` (artists it now owes credit to),
    ``unreadable`` (the written file is gone or damaged), or None (nothing changed)."""
    if row["error"] is not None and row["action"] is None:
        return "unreadable"
    was = str(meta.get("was_action", ""))
    if row["action"] in BLOCKING and was not in BLOCKING:
        return "now-blocked"
    now_credit = {int(a["artist"]["id"]) for a in json.loads(row["attribution"] or "[]")}
    if now_credit - set(meta.get("was_artists", [])):
        return "new-attribution"
    return None


def timed_judge(judge: PartJudge, part: int, refs: list[ImageRef]) -> tuple[list[dict[str, Any]], float]:
    start = time.perf_counter()
    rows = judge.judge(part, refs)
    return rows, time.perf_counter() - start
