"""Which embedder the policy's semantic thresholds were fitted for, and at what error rates.

A cosine threshold means nothing outside the embedding space it was measured in: 0.57 on
the StyleWorld CLIP is an arbitrary number on ViT-L-14. The policy's ``[calibration]``
section therefore names the embedder (model, checkpoint sha256, dim) its description and
style thresholds were fitted for, the false-accept rate they were fitted at, and the
measured rates. The gate refuses semantic checks with thresholds fitted for another
embedder (:func:`check_binding`) unless the policy says ``semantic = "name-only"``.

The near-duplicate threshold is a pixel correlation, not a CLIP cosine: it holds on any
embedder, so it keeps running in name-only mode (CLIP still finds the candidate works).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from stylegate.errors import ThresholdsForeign

if TYPE_CHECKING:  # pragma: no cover
    from stylegate.governance.embedder import EmbedderIdentity

log = logging.getLogger(__name__)

# The bundled StyleWorld CLIP, as Embedder.identity reports it: the open_clip model name,
# the sha256 of styleworld/weights/styleworld-clip.safetensors (MANIFEST.json) and its dim.
STYLEWORLD_CLIP_MODEL = "styleworld-clip"
STYLEWORLD_CLIP_SHA256 = "ddd47a853779e1427c2439746a6603383f9f50909ff4961e2f7573bb3517a71f"
STYLEWORLD_CLIP_DIM = 64

SEMANTIC_KINDS = ("description", "style")  # thresholds that are CLIP cosines
ALL_KINDS = ("description", "style", "near_duplicate")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class FittedFor(_Strict):
    """An embedder identity, as written into indexes and audit entries."""

    model: str = STYLEWORLD_CLIP_MODEL
    checkpoint_sha256: str = Field(STYLEWORLD_CLIP_SHA256, pattern=r"^[0-9a-f]{64}$")
    dim: int = Field(STYLEWORLD_CLIP_DIM, ge=1)

    def matches(self, identity: EmbedderIdentity | dict[str, Any]) -> bool:
        ident = identity if isinstance(identity, dict) else identity.to_dict()
        return (ident.get("model"), ident.get("checkpoint_sha256"), ident.get("dim")) == (
            self.model, self.checkpoint_sha256, self.dim)

    def describe(self) -> str:
        return f"{self.model} (sha256 {self.checkpoint_sha256[:12]}…, dim {self.dim})"


class FittedRates(_Strict):
    """Error rates measured when a threshold was fitted (fractions, not percent)."""

    far: float = Field(ge=0.0, le=1.0)
    frr: float | None = Field(None, ge=0.0, le=1.0)  # None: no positives to measure it on
    positives: int = Field(0, ge=0)
    negatives: int = Field(0, ge=0)


class ArtistThreshold(_Strict):
    """A per-artist threshold, fitted where the global one rejects too much of an artist."""

    kind: Literal["description", "style"]
    artist_id: int = Field(ge=1)
    artist: str = ""
    threshold: float = Field(gt=-10.0, le=10.0)  # normalised style thresholds are not cosines
    global_frr: float = Field(ge=0.0, le=1.0)  # the artist's FRR at the global threshold
    frr: float = Field(ge=0.0, le=1.0)  # its FRR at this threshold
    far: float = Field(ge=0.0, le=1.0)  # its false accepts at this threshold


class Calibration(_Strict):
    """The ``[calibration]`` policy section (defaults: fitted for the StyleWorld CLIP)."""

    # "enforce": semantic checks need thresholds fitted for the running embedder.
    # "name-only": with a foreign embedder, skip description and style checks (warns every run).
    semantic: Literal["enforce", "name-only"] = "enforce"
    target_far: float = Field(0.01, gt=0.0, lt=1.0)
    near_duplicate_far: float = Field(0.001, gt=0.0, lt=1.0)
    artist_frr_bound: float = Field(0.05, gt=0.0, lt=1.0)
    fitted_at: str = ""
    embedder: FittedFor = FittedFor()
    rates: dict[Literal["description", "style", "near_duplicate"], FittedRates] = Field(default_factory=dict)
    per_artist: list[ArtistThreshold] = Field(default_factory=list)

    def artist_threshold(self, kind: str, artist_id: int) -> ArtistThreshold | None:
        for item in self.per_artist:
            if item.kind == kind and item.artist_id == artist_id:
                return item
        return None


@dataclass(frozen=True)
class Binding:
    """What the gate may do with this policy and this embedder."""

    semantic: bool  # description and style checks run
    reason: str  # one line for decisions and logs


def check_binding(calibration: Calibration, identity: EmbedderIdentity | None, source: str = "policy") -> Binding:
    """Refuse (raise :class:`ThresholdsForeign`) thresholds fitted for another embedder.

    With ``semantic = "name-only"`` the refusal becomes a warning (logged on every call) and
    a binding that turns description and style checks off.
    """
    if identity is None:
        return Binding(True, "no embedder")
    fitted = calibration.embedder
    if fitted.matches(identity):
        return Binding(True, f"thresholds fitted for {fitted.describe()}")
    ident = identity.to_dict()
    running = f"{ident['model']} (sha256 {str(ident['checkpoint_sha256'])[:12]}…, dim {ident['dim']})"
    if calibration.semantic == "name-only":
        reason = (f"name-only screening: {source} thresholds were fitted for {fitted.describe()}, not the running "
                  f"embedder {running}; description and style checks are OFF (run `stylegate calibrate`)")
        log.warning("%s", reason)
        return Binding(False, reason)
    raise ThresholdsForeign(
        f"{source}: the description and style thresholds were fitted for the embedder {fitted.describe()}, "
        f"but the running embedder is {running}; their numbers mean nothing here. Run `stylegate calibrate` "
        f"to fit thresholds for this embedder, or set `semantic = \"name-only\"` in the policy's [calibration] "
        f"section to screen by name only"
    )
