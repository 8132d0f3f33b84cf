"""The policy: a TOML file validated by pydantic. Its content hash is the policy version."""

from __future__ import annotations

import hashlib
import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from stylegate.errors import PolicyError
from stylegate.governance.attribution import Basis as AttributionBasis
from stylegate.governance.decision import Action, EvidenceKind, kind_text
from stylegate.governance.matching.thresholds import Calibration
from stylegate.registry.models import Consent

if TYPE_CHECKING:  # pragma: no cover
    from stylegate.governance.screening.rules import NameRules

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ActionName = Literal["allow", "attribute", "steer", "block"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Thresholds(_Strict):
    name: float = Field(1.0, gt=0.0, le=1.0)
    # The description threshold applies to the score named by description_score: "plain" (the
    # prompt's score for the artist against the neutral anchor) or "margin" (that score minus the
    # best other artist's, description_margin.py; written by `stylegate calibrate` when it
    # catches more described prompts at the same false-positive rate). A margin lies in (-2, 2].
    description: float = Field(0.42, gt=-2.0, le=2.0)
    description_score: Literal["plain", "margin"] = "plain"
    # The style threshold applies to the score named by style_score: "normalised" (per-artist,
    # see style_norm.py; 0 = other artists' works, 1 = the artist's own), "margin" (the normalised
    # score minus the best other artist's, style_margin.py; written by `stylegate calibrate` when it
    # separates look-alike artists better) or "cosine" (raw).
    style: float = Field(0.72, gt=-10.0, le=10.0)
    style_score: Literal["normalised", "margin", "cosine"] = "normalised"
    # Cosine threshold for artists without a norm (one work, alone in the registry).
    style_cosine: float = Field(0.57, gt=-1.0, le=1.0)
    near_duplicate: float = Field(0.991, gt=-1.0, le=1.0)


class ConsentActions(BaseModel):
    """The action per evidence kind for one consent state.

    The four built-in kinds are required; a kind added by a registered detector is one more
    key (``watermark = "block"``), checked to be an action name.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    name: ActionName
    description: ActionName
    style: ActionName
    near_duplicate: ActionName = Field(alias="near-duplicate")

    @model_validator(mode="after")
    def _extra_kinds_are_actions(self) -> ConsentActions:
        for kind, value in (self.model_extra or {}).items():
            if value not in get_args(ActionName):
                raise ValueError(f"{kind}: {value!r} is not an action (one of {', '.join(get_args(ActionName))})")
        return self

    def for_kind(self, kind: str) -> Action:
        text = kind_text(kind)
        if text in _BUILT_IN_FIELDS:
            return Action(getattr(self, _BUILT_IN_FIELDS[text]))
        value = (self.model_extra or {}).get(text)
        if value is None:
            raise PolicyError(f"the policy's consent table has no action for evidence kind {text!r}")
        return Action(value)


_BUILT_IN_FIELDS = {kind.value: kind.value.replace("-", "_") for kind in EvidenceKind}


class ConsentTable(_Strict):
    opt_out: ConsentActions = Field(alias="opt-out")
    royalty: ConsentActions
    credit: ConsentActions

    def for_consent(self, consent: str) -> ConsentActions:
        table = {Consent.OPT_OUT: self.opt_out, Consent.ROYALTY: self.royalty, Consent.CREDIT: self.credit}
        try:
            return table[Consent(consent)]
        except ValueError:
            raise PolicyError(f"no policy actions for consent state {consent!r}") from None


class AttributionSettings(_Strict):
    floor: float = Field(0.0, ge=0.0, le=1.0)
    # What can credit an artist for a generation (governance/attribution.py): "requested" —
    # evidence in the prompt or the input images; the output image's style only confirms and
    # apportions, and an image-only match is recorded as an unpaid ``unprompted_style``
    # candidate; "observed" — any evidence, the output image's style alone included.
    basis: AttributionBasis = "requested"
    price_per_generation: float = Field(0.04, ge=0.0)
    default_royalty_rate: float = Field(0.10, ge=0.0, le=1.0)


class RoyaltySettings(_Strict):
    """How statements turn into payouts (``stylegate statements payouts``)."""

    # A balance below this is not paid out: it is carried to the next period (same currency as
    # ``attribution.price_per_generation``). 0 pays every positive balance.
    minimum_payout: float = Field(1.0, ge=0.0, allow_inf_nan=False)


class SteeringSettings(_Strict):
    max_attempts: int = Field(2, ge=0, le=10)
    # A style reference (IP-Adapter image) that is an opted-out artist's work, or in their
    # style, is left out of the generation (a steer) instead of blocking it. An img2img or
    # inpainting init image always blocks: it is the picture being edited.
    drop_blocked_references: bool = True
    # When a steered generation also pushes away from the style with a negative prompt (the
    # artist's name, descriptors and the removed phrases): on every attempt ("always"), only
    # on retries after the output still landed in the style ("retry"), or "never".
    negative_prompt: Literal["always", "retry", "never"] = "retry"
    # How much each steered retry raises the classifier-free guidance over the attempt before
    # (0, the default: every attempt keeps the generator's guidance; the retry still changes
    # the seed, drops more style-bearing spans and adds the negative prompt). Higher guidance
    # also strengthens the negative push, but on the StyleWorld pipeline it costs the subject
    # and removed no more style (`stylegate bench steer --retry-guidance-step 1.5`).
    retry_guidance_step: float = Field(0.0, ge=0.0, le=10.0, allow_inf_nan=False)
    # A steered output must also show the prompt's subject, judged by the gate's own CLIP
    # (governance/subject_check.py): each attempt samples up to this many candidates (new
    # seeds), stops at the first that passes the post-check and shows the subject, else keeps
    # the passing one that shows it best. 1 (the default) turns the check off: on the StyleWorld
    # pipeline 3 kept one more subject in 47 for 41% more denoising steps (`stylegate bench steer`).
    subject_candidates: int = Field(1, ge=1, le=16)
    # The nouns a subject is contrasted with (None: the bundled governance/subject_nouns.txt).
    subject_vocabulary: list[str] | None = None
    # The subject is found when the output's cosine with the prompt beats its best cosine with
    # a contrast prompt by more than this.
    subject_margin: float = Field(0.0, ge=-1.0, le=1.0)


class PromptSettings(_Strict):
    max_chars: int = Field(2000, ge=1, le=100_000)
    log: Literal["full", "hash"] = "full"


class ImageSettings(_Strict):
    neighbours: int = Field(10, ge=1, le=1000)


class RegistrySettings(_Strict):
    # What a name or alias that another artist already holds does: "refuse" it (exit 2 /
    # HTTP 409), or "dispute" it (registered without that alias; an administrator decides).
    name_collision: Literal["refuse", "dispute"] = "refuse"


class VerificationSettings(_Strict):
    """What an artist whose identity no administrator has verified may do."""

    # The strongest action an unverified opt-out's evidence may take: a stranger's opt-out
    # must not refuse other people's prompts outright.
    unverified_opt_out: ActionName = "steer"
    # Shares of unverified royalty and credit artists are recorded but held, not paid.
    hold_unverified_shares: bool = True


NameContextKey = Literal[
    "full-name", "single", "surname", "inflection", "fuzzy", "phonetic",
    "common-full-name", "common-single", "common-surname", "common-inflection", "common-fuzzy", "common-phonetic",
    "transliteration", "skeleton", "place", "native-word", "institution", "frequent-surname",
]


_DEFAULT_CONTEXT_REQUIRED: tuple[NameContextKey, ...] = (
    "common-single", "common-surname", "common-inflection", "common-fuzzy", "common-phonetic", "place", "native-word",
    "frequent-surname", "institution")


class NameSettings(_Strict):
    """Which name rules stand alone and which need a style cue or an obfuscation."""

    # A name word at or above this Zipf frequency (wordfreq, highest over the screened
    # languages) is a common word: "queen" 4.9, "nielsen" 5.0, "kawasaki" 3.2, "mumford" 3.0.
    common_zipf: float = Field(3.0, ge=0.0, le=8.0)
    context_required: list[NameContextKey] = Field(default_factory=lambda: list(_DEFAULT_CONTEXT_REQUIRED))
    # A lone name that is the main name of a place of this many people or more (GeoNames)
    # reads as a common word; a smaller place needs the prompt to use it as a place.
    place_population: int = Field(15000, ge=500)

    def rules(self) -> NameRules:
        from stylegate.governance.screening.rules import NameRules

        return NameRules(common_zipf=self.common_zipf, context_required=frozenset(self.context_required),
                         place_population=self.place_population)


class Policy(_Strict):
    thresholds: Thresholds = Thresholds()
    calibration: Calibration = Calibration()  # the embedder the thresholds were fitted for
    names: NameSettings = NameSettings()
    consent: ConsentTable
    attribution: AttributionSettings = AttributionSettings()
    royalties: RoyaltySettings = RoyaltySettings()
    steering: SteeringSettings = SteeringSettings()
    prompt: PromptSettings = PromptSettings()
    image: ImageSettings = ImageSettings()
    registry: RegistrySettings = RegistrySettings()
    verification: VerificationSettings = VerificationSettings()
    version: str = Field("", exclude=True)
    source: str = Field("", exclude=True)

    def action_for(self, consent: str, kind: str) -> Action:
        return self.consent.for_consent(consent).for_kind(kind)


def default_policy_text() -> str:
    return resources.files("stylegate.governance").joinpath("default_policy.toml").read_text("utf-8")


def parse_policy(text: str, source: str = "<string>") -> Policy:
    """Parse and validate policy TOML; errors name the file and the offending field."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source}: not valid TOML: {exc}") from None
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise PolicyError(f"{source}: invalid policy: {problems}") from None
    policy.version = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    policy.source = source
    return policy


def load_policy(path: Path | None = None) -> Policy:
    """Load the policy at ``path``, or the bundled default when ``path`` is None."""
    if path is None:
        return parse_policy(default_policy_text(), source="default_policy.toml")
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise PolicyError(f"policy file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read policy file {path}: {exc}") from None
    return parse_policy(text, source=str(path))
