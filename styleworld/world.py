"""StyleWorld: a deterministic procedural art world of fictional artists.

Every image is drawn by :func:`render` from ``(artist, subject, seed)`` with numpy and
PIL only (no neural network), so the ground truth of each image is known exactly.
A style is carried by the palette (paper, ink, accent), the stroke pattern inside the
subject (dots, hatching, stripes, swirls, blocks, ...), the paper texture and the
composition. The subject is a simple silhouette (lighthouse, cat, tree, ...).

All artists are invented; any resemblance to real people is unintended.

This module is deliberately light: it imports numpy and PIL only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

logger = logging.getLogger(__name__)

__all__ = [
    "StyleArtist",
    "ARTISTS",
    "SIBLINGS",
    "SIBLING_ATTRIBUTES",
    "sibling_of",
    "differing_attributes",
    "SUBJECTS",
    "HELDOUT_SEED_START",
    "get_artist",
    "artist_index",
    "subject_index",
    "render",
    "captions",
    "caption_templates",
    "all_captions",
    "describe",
    "is_heldout",
    "train_seeds",
    "heldout_seeds",
]

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class StyleArtist:
    """A fictional StyleWorld artist and the parameters of their style.

    ``descriptors`` are short style phrases (no name) that a registry can store as the
    artist's style descriptors; ``consent`` is the suggested consent state for the demo.
    """

    name: str
    descriptors: tuple[str, ...]
    consent: str  # "opt-out" | "royalty" | "credit" (a suggestion for the demo)
    paper: RGB = (240, 240, 240)
    ink: RGB = (0, 0, 0)
    accent: RGB = (128, 128, 128)
    pattern: str = "flat"
    texture: str = "smooth"
    composition: str = "centered"
    ink_words: tuple[str, ...] = ("black",)
    pattern_words: tuple[str, ...] = ("strokes",)
    paper_words: tuple[str, ...] = ("white paper",)
    composition_words: tuple[str, ...] = ("a centered subject",)
    # Seeds the render's random stream; None: the index in ARTISTS (the 12 originals).
    rng_key: int | None = None
    parent: str | None = None  # a sibling's: the artist whose style it changes in one attribute

    @property
    def slug(self) -> str:
        """Lower-case, dash-separated name (file-system friendly)."""
        return "-".join(self.name.lower().replace("'", "").split())


# Patterns, textures and compositions each artist can draw on.
PATTERNS = (
    "dots", "crosshatch", "swirls", "blocks", "waves", "hatching",
    "zigzag", "stipple", "checker", "rings", "flat", "stripes",
)
TEXTURES = ("smooth", "grain", "fibres", "speckle", "wash", "canvas")
COMPOSITIONS = ("centered", "low", "high", "large", "left", "right", "small", "framed")

ARTISTS: tuple[StyleArtist, ...] = (
    StyleArtist(
        name="Mira Okonkwo",
        descriptors=("teal dotted strokes", "cream paper", "a centered subject"),
        consent="opt-out",
        paper=(243, 233, 205), ink=(0, 124, 128), accent=(206, 184, 140),
        pattern="dots", texture="grain", composition="centered",
        ink_words=("teal", "teal-blue"),
        pattern_words=("dotted strokes", "dots", "polka dots"),
        paper_words=("cream paper", "a cream background", "creamy paper"),
        composition_words=("a centered subject", "centred composition"),
    ),
    StyleArtist(
        name="Tobiah Vellcourt",
        descriptors=("crimson cross-hatching", "pale grey paper", "a low horizon"),
        consent="royalty",
        paper=(222, 222, 228), ink=(168, 18, 42), accent=(70, 70, 84),
        pattern="crosshatch", texture="fibres", composition="low",
        ink_words=("crimson", "deep red"),
        pattern_words=("cross-hatching", "crosshatched lines", "cross hatching"),
        paper_words=("pale grey paper", "a light grey background", "grey paper"),
        composition_words=("a low horizon", "a low horizon line"),
    ),
    StyleArtist(
        name="Ines Marrowby",
        descriptors=("golden ochre swirls", "a deep navy ground", "a frame-filling subject"),
        consent="credit",
        paper=(22, 30, 72), ink=(224, 170, 40), accent=(72, 92, 156),
        pattern="swirls", texture="smooth", composition="large",
        ink_words=("golden ochre", "ochre", "gold"),
        pattern_words=("swirls", "spiral strokes", "swirling lines"),
        paper_words=("a deep navy ground", "navy blue", "a dark navy background"),
        composition_words=("a frame-filling subject", "a large close-up subject"),
    ),
    StyleArtist(
        name="Kenji Arbelo",
        descriptors=("black and red mosaic blocks", "stark white paper", "an off-centre left subject"),
        consent="opt-out",
        paper=(250, 250, 248), ink=(22, 22, 22), accent=(214, 40, 30),
        pattern="blocks", texture="smooth", composition="left",
        ink_words=("black and red", "red and black"),
        pattern_words=("mosaic blocks", "square blocks", "tiles"),
        paper_words=("stark white paper", "a white background", "bright white paper"),
        composition_words=("an off-centre left subject", "a subject placed to the left"),
    ),
    StyleArtist(
        name="Saoirse Tenwick",
        descriptors=("violet wavy lines", "mint green paper", "a high horizon"),
        consent="royalty",
        paper=(198, 236, 212), ink=(112, 48, 164), accent=(168, 140, 206),
        pattern="waves", texture="wash", composition="high",
        ink_words=("violet", "purple"),
        pattern_words=("wavy lines", "waves", "rippling lines"),
        paper_words=("mint green paper", "a mint background", "pale mint paper"),
        composition_words=("a high horizon", "a high horizon line"),
    ),
    StyleArtist(
        name="Dario Quillfeather",
        descriptors=("sepia diagonal hatching", "old parchment", "a small vignetted subject"),
        consent="credit",
        paper=(234, 212, 164), ink=(108, 66, 30), accent=(176, 140, 92),
        pattern="hatching", texture="speckle", composition="small",
        ink_words=("sepia", "brown"),
        pattern_words=("diagonal hatching", "hatched lines", "slanted hatching"),
        paper_words=("old parchment", "parchment", "yellowed parchment paper"),
        composition_words=("a small vignetted subject", "a small subject with a dark vignette"),
    ),
    StyleArtist(
        name="Amara Lindqvist-Osei",
        descriptors=("orange and magenta zigzags", "a black ground", "a bordered frame"),
        consent="opt-out",
        paper=(16, 14, 20), ink=(255, 132, 20), accent=(222, 30, 142),
        pattern="zigzag", texture="smooth", composition="framed",
        ink_words=("orange and magenta", "magenta and orange"),
        pattern_words=("zigzags", "zigzag stripes", "chevrons"),
        paper_words=("a black ground", "black paper", "a pitch black background"),
        composition_words=("a bordered frame", "a painted border"),
    ),
    StyleArtist(
        name="Yusuf Brannagh",
        descriptors=("forest green stippling", "pale yellow paper", "an off-centre right subject"),
        consent="royalty",
        paper=(250, 240, 168), ink=(28, 98, 48), accent=(150, 120, 60),
        pattern="stipple", texture="grain", composition="right",
        ink_words=("forest green", "dark green"),
        pattern_words=("stippling", "stippled specks", "fine stipple"),
        paper_words=("pale yellow paper", "a lemon yellow background", "light yellow paper"),
        composition_words=("an off-centre right subject", "a subject placed to the right"),
    ),
    StyleArtist(
        name="Lotte Abernacky",
        descriptors=("cobalt blue checkerboard", "sky blue canvas", "a low horizon"),
        consent="credit",
        paper=(168, 200, 236), ink=(20, 48, 160), accent=(240, 244, 250),
        pattern="checker", texture="canvas", composition="low",
        ink_words=("cobalt blue", "cobalt"),
        pattern_words=("checkerboard", "checkered squares", "checks"),
        paper_words=("sky blue canvas", "a sky blue background", "light blue canvas"),
        composition_words=("a low horizon", "a low horizon line"),
    ),
    StyleArtist(
        name="Priya Sandoval-Rhee",
        descriptors=("coral pink concentric rings", "a dark teal ground", "a centered subject"),
        consent="opt-out",
        paper=(10, 70, 76), ink=(250, 120, 128), accent=(40, 120, 120),
        pattern="rings", texture="smooth", composition="centered",
        ink_words=("coral pink", "coral"),
        pattern_words=("concentric rings", "rings", "ripple circles"),
        paper_words=("a dark teal ground", "dark teal", "a deep teal background"),
        composition_words=("a centered subject", "centred composition"),
    ),
    StyleArtist(
        name="Elias Kornblume",
        descriptors=("flat lime green with thick outlines", "lavender paper", "a bordered frame"),
        consent="royalty",
        paper=(206, 190, 232), ink=(150, 212, 40), accent=(36, 36, 40),
        pattern="flat", texture="grain", composition="framed",
        ink_words=("lime green", "lime"),
        pattern_words=("flat colour with thick outlines", "flat fills and bold outlines", "flat shapes"),
        paper_words=("lavender paper", "a lavender background", "pale purple paper"),
        composition_words=("a bordered frame", "a painted border"),
    ),
    StyleArtist(
        name="Noor Castellane",
        descriptors=("rust horizontal stripes", "pale rose paper", "a high horizon"),
        consent="credit",
        paper=(246, 214, 214), ink=(172, 72, 28), accent=(214, 150, 130),
        pattern="stripes", texture="fibres", composition="high",
        ink_words=("rust", "rusty orange"),
        pattern_words=("horizontal stripes", "bands", "striped lines"),
        paper_words=("pale rose paper", "a pink background", "rose paper"),
        composition_words=("a high horizon", "a high horizon line"),
    ),
)

SUBJECTS: tuple[str, ...] = (
    "lighthouse", "cat", "tree", "boat", "house", "mountain", "bird", "flower",
)

# Seeds >= HELDOUT_SEED_START are held out from training (images and caption phrasings).
HELDOUT_SEED_START = 1_000_000


# ----------------------------------------------------------------------------------------
# Siblings: a harder split
# ----------------------------------------------------------------------------------------

# The attribute groups a style is made of, with the fields each one sets (the words that
# describe an attribute belong to it).
SIBLING_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "palette": ("paper", "ink", "accent", "ink_words", "paper_words"),
    "pattern": ("pattern", "pattern_words"),
    "texture": ("texture",),
    "composition": ("composition", "composition_words"),
}
SIBLING_RNG_KEY_START = 100  # render streams of siblings: 100, 101, ... (originals use 0-11)


def _sibling(parent: StyleArtist, name: str, descriptors: tuple[str, ...], key: int, **changes) -> StyleArtist:
    import dataclasses

    return dataclasses.replace(parent, name=name, descriptors=descriptors, rng_key=SIBLING_RNG_KEY_START + key,
                               parent=parent.name, **changes)


_A = {a.name: a for a in ARTISTS}
# Sibling artists: each one's style is an original artist's with exactly one attribute
# changed (palette, pattern, texture or composition). None of them is in ARTISTS: styleworld-clip
# was never trained on them (styleworld-clip-s is, with train_clip --with-siblings). They render
# with their own random streams.
SIBLINGS: tuple[StyleArtist, ...] = (
    _sibling(_A["Mira Okonkwo"], "Halvard Okonkwo-Pryce", ("coral pink dotted strokes", "pale yellow paper",
             "a centered subject"), 0, paper=(250, 240, 168), ink=(250, 120, 128), accent=(214, 150, 130),
             ink_words=("coral pink", "coral"), paper_words=("pale yellow paper", "light yellow paper")),
    _sibling(_A["Tobiah Vellcourt"], "Wren Vellcourt-Ashe", ("crimson diagonal hatching", "pale grey paper",
             "a low horizon"), 1, pattern="hatching",
             pattern_words=("diagonal hatching", "hatched lines", "slanted hatching")),
    _sibling(_A["Ines Marrowby"], "Cato Marrowby", ("golden ochre swirls", "a deep navy ground", "a centered subject"), 2,
             composition="centered", composition_words=("a centered subject", "centred composition")),
    _sibling(_A["Kenji Arbelo"], "Umeko Arbelo-Strand", ("black and red mosaic blocks", "speckled white paper",
             "an off-centre left subject"), 3, texture="speckle"),
    _sibling(_A["Saoirse Tenwick"], "Bram Tenwick-Hale", ("forest green wavy lines", "pale rose paper", "a high horizon"),
             4, paper=(246, 214, 214), ink=(28, 98, 48), accent=(150, 120, 60),
             ink_words=("forest green", "dark green"), paper_words=("pale rose paper", "rose paper")),
    _sibling(_A["Yusuf Brannagh"], "Idris Brannagh-Moor", ("forest green dots", "pale yellow paper",
             "an off-centre right subject"), 5, pattern="dots", pattern_words=("dots", "polka dots", "dotted strokes")),
    _sibling(_A["Lotte Abernacky"], "Fenna Abernacky", ("cobalt blue checkerboard", "sky blue canvas", "a bordered frame"),
             6, composition="framed", composition_words=("a bordered frame", "a painted border")),
    _sibling(_A["Priya Sandoval-Rhee"], "Anjali Sandoval-Wu", ("coral pink swirls", "a dark teal ground",
             "a centered subject"), 7, pattern="swirls", pattern_words=("swirls", "spiral strokes", "swirling lines")),
    _sibling(_A["Elias Kornblume"], "Matthis Kornblume", ("flat lime green with thick outlines", "lavender paper",
             "a small vignetted subject"), 8, composition="small",
             composition_words=("a small vignetted subject", "a small subject with a dark vignette")),
    _sibling(_A["Noor Castellane"], "Leyla Castellane-Oduya", ("rust horizontal stripes", "pale rose canvas",
             "a high horizon"), 9, texture="canvas"),
)
del _A


def differing_attributes(a: StyleArtist, b: StyleArtist) -> list[str]:
    """The attribute groups (:data:`SIBLING_ATTRIBUTES`) in which two styles differ."""
    return [group for group, fields in SIBLING_ATTRIBUTES.items()
            if any(getattr(a, f) != getattr(b, f) for f in fields)]


def sibling_of(artist: StyleArtist | str) -> StyleArtist:
    """The original artist a sibling's style derives from."""
    a = get_artist(artist)
    if a.parent is None:
        raise KeyError(f"{a.name!r} is not a StyleWorld sibling")
    return get_artist(a.parent)


_BY_NAME = {a.name.lower(): a for a in ARTISTS + SIBLINGS}


def get_artist(artist: StyleArtist | str) -> StyleArtist:
    """Return the :class:`StyleArtist` for an artist object or an exact (case-insensitive) name."""
    if isinstance(artist, StyleArtist):
        return artist
    try:
        return _BY_NAME[str(artist).strip().lower()]
    except KeyError:
        raise KeyError(f"unknown StyleWorld artist: {artist!r}") from None


def artist_index(artist: StyleArtist | str) -> int:
    """Index of an artist in :data:`ARTISTS`."""
    return ARTISTS.index(get_artist(artist))


def _stream_key(artist: StyleArtist) -> int:
    """What seeds an artist's random streams: its ``rng_key``, else its index in ARTISTS."""
    return artist.rng_key if artist.rng_key is not None else artist_index(artist)


def subject_index(subject: str) -> int:
    """Index of a subject in :data:`SUBJECTS`."""
    try:
        return SUBJECTS.index(subject)
    except ValueError:
        raise KeyError(f"unknown StyleWorld subject: {subject!r}") from None


def is_heldout(seed: int) -> bool:
    """True when ``seed`` belongs to the held-out split."""
    return int(seed) >= HELDOUT_SEED_START


def train_seeds(n: int = 160) -> range:
    """The first ``n`` training seeds."""
    if n > HELDOUT_SEED_START:
        raise ValueError("too many training seeds requested")
    return range(0, n)


def heldout_seeds(n: int = 16) -> range:
    """The first ``n`` held-out seeds."""
    return range(HELDOUT_SEED_START, HELDOUT_SEED_START + n)


# ----------------------------------------------------------------------------------------
# Captions
# ----------------------------------------------------------------------------------------

_NAMED_TEMPLATES = {
    "train": (
        "a {subject} by {name}",
        "{name}'s {subject}",
        "a {subject} in the style of {name}",
        "{subject}, artwork by {name}",
        "a painting of a {subject} by {name}",
        "{name}: {subject}",
    ),
    "heldout": (
        "a {subject} painted by {name}",
        "an illustration of a {subject}, {name} style",
    ),
}
_DESCRIBED_TEMPLATES = {
    "train": (
        "a {subject} in {ink} {pattern} on {paper}",
        "{ink} {pattern} {subject} on {paper}",
        "a {subject} drawn with {ink} {pattern}",
        "{pattern} in {ink}: a {subject} on {paper}, {composition}",
        "a {subject} made of {ink} {pattern}, {composition}",
        "a picture of a {subject} with {ink} {pattern} and {paper}",
    ),
    "heldout": (
        "an image of a {subject} rendered in {ink} {pattern} over {paper}",
        "{paper}, {ink} {pattern}, {subject}",
        "a {subject} sketched in {ink} {pattern}, {composition}, on {paper}",
    ),
}
_PLAIN_TEMPLATES = {
    "train": (
        "a {subject}",
        "a picture of a {subject}",
        "{subject}",
        "a drawing of a {subject}",
    ),
    "heldout": (
        "an image of a {subject}",
        "a painting of a {subject}",
    ),
}
_TEMPLATES = {"named": _NAMED_TEMPLATES, "described": _DESCRIBED_TEMPLATES, "plain": _PLAIN_TEMPLATES}


def caption_templates(kind: str, split: str = "train") -> tuple[str, ...]:
    """Caption templates of ``kind`` ("named", "described", "plain") for ``split`` ("train"/"heldout")."""
    return _TEMPLATES[kind][split]


def _fill(template: str, artist: StyleArtist, subject: str, rng: np.random.Generator) -> str:
    words = {
        "subject": subject,
        "name": artist.name,
        "ink": artist.ink_words[rng.integers(len(artist.ink_words))],
        "pattern": artist.pattern_words[rng.integers(len(artist.pattern_words))],
        "paper": artist.paper_words[rng.integers(len(artist.paper_words))],
        "composition": artist.composition_words[rng.integers(len(artist.composition_words))],
    }
    return template.format(**words)


def describe(artist: StyleArtist | str) -> str:
    """One canonical style description of ``artist`` without the name, e.g. "teal dotted strokes on cream paper"."""
    a = get_artist(artist)
    return f"{a.ink_words[0]} {a.pattern_words[0]} on {a.paper_words[0]}"


def captions(artist: StyleArtist | str, subject: str, seed: int) -> dict[str, str]:
    """Three captions of one image: ``named`` (with the artist's name), ``described``
    (style description, no name) and ``plain`` (subject only).

    Training seeds use training templates; held-out seeds use held-out phrasings.
    """
    a = get_artist(artist)
    subject_index(subject)
    split = "heldout" if is_heldout(seed) else "train"
    rng = np.random.default_rng([int(seed), _stream_key(a), subject_index(subject), 99])
    out = {}
    for kind in ("named", "described", "plain"):
        templates = caption_templates(kind, split)
        out[kind] = _fill(templates[rng.integers(len(templates))], a, subject, rng)
    return out


def all_captions(artist: StyleArtist | str, subject: str, kind: str, split: str = "train") -> list[str]:
    """Every caption of ``kind`` for ``(artist, subject)`` in ``split`` (all templates x word choices)."""
    a = get_artist(artist)
    out: set[str] = set()
    for t in caption_templates(kind, split):
        for ink in a.ink_words:
            for pat in a.pattern_words:
                for paper in a.paper_words:
                    for comp in a.composition_words:
                        out.add(t.format(subject=subject, name=a.name, ink=ink, pattern=pat,
                                         paper=paper, composition=comp))
    return sorted(out)


# ----------------------------------------------------------------------------------------
# Rendering
# ----------------------------------------------------------------------------------------

def _tri(u: np.ndarray, v: np.ndarray, apex: tuple[float, float], half_base: float, base_v: float) -> np.ndarray:
    """Isoceles triangle with apex (au, av) and a horizontal base at ``base_v``."""
    au, av = apex
    t = (v - av) / max(base_v - av, 1e-6)
    return (t >= 0) & (t <= 1) & (np.abs(u - au) <= half_base * t)


def _ellipse(u, v, cu, cv, ru, rv):
    return ((u - cu) / ru) ** 2 + ((v - cv) / rv) ** 2 <= 1.0


def _rect(u, v, u0, u1, v0, v1):
    return (u >= u0) & (u <= u1) & (v >= v0) & (v <= v1)


def _lighthouse(u, v):
    half = 0.09 + 0.07 * np.clip((v + 0.22) / 0.67, 0, 1)
    tower = (v >= -0.22) & (v <= 0.45) & (np.abs(u) <= half)
    gallery = _rect(u, v, -0.14, 0.14, -0.27, -0.22)
    lamp = _rect(u, v, -0.08, 0.08, -0.38, -0.27)
    roof = _tri(u, v, (0.0, -0.5), 0.12, -0.38)
    window = _rect(u, v, -0.03, 0.03, 0.02, 0.12)
    return (tower | gallery | lamp | roof) & ~window


def _cat(u, v):
    body = _ellipse(u, v, 0.0, 0.22, 0.27, 0.23)
    head = _ellipse(u, v, 0.0, -0.13, 0.17, 0.15)
    ear_l = _tri(u, v, (-0.13, -0.40), 0.07, -0.2)
    ear_r = _tri(u, v, (0.13, -0.40), 0.07, -0.2)
    tail = (np.abs(u - 0.30 - 0.06 * np.sin((v - 0.4) * 9)) <= 0.035) & (v >= -0.05) & (v <= 0.42)
    return body | head | ear_l | ear_r | tail


def _tree(u, v):
    trunk = _rect(u, v, -0.06, 0.06, 0.0, 0.45)
    canopy = _ellipse(u, v, 0.0, -0.15, 0.33, 0.3)
    left = _ellipse(u, v, -0.2, 0.02, 0.15, 0.13)
    right = _ellipse(u, v, 0.2, 0.02, 0.15, 0.13)
    return trunk | canopy | left | right


def _boat(u, v):
    t = (v - 0.18) / 0.2
    hull = (t >= 0) & (t <= 1) & (np.abs(u) <= 0.42 - 0.17 * t)
    mast = _rect(u, v, -0.015, 0.015, -0.45, 0.18)
    sail = _tri(u, v, (0.03, -0.45), 0.3, 0.12) & (u >= 0.03)
    jib = _tri(u, v, (-0.03, -0.35), 0.22, 0.12) & (u <= -0.03)
    return hull | mast | sail | jib


def _house(u, v):
    body = _rect(u, v, -0.3, 0.3, -0.05, 0.45)
    roof = _tri(u, v, (0.0, -0.42), 0.38, -0.05)
    chimney = _rect(u, v, 0.14, 0.22, -0.38, -0.15)
    door = _rect(u, v, -0.07, 0.07, 0.2, 0.45)
    window = _rect(u, v, 0.12, 0.22, 0.05, 0.15)
    return (body | roof | chimney) & ~door & ~window


def _mountain(u, v):
    big = _tri(u, v, (-0.08, -0.42), 0.45, 0.45)
    small = _tri(u, v, (0.25, -0.12), 0.3, 0.45)
    return (big | small) & (u >= -0.5) & (u <= 0.5)


def _bird(u, v):
    body = _ellipse(u, v, 0.0, 0.05, 0.3, 0.16)
    head = _ellipse(u, v, 0.25, -0.12, 0.12, 0.11)
    beak = (u >= 0.35) & (u <= 0.47) & (np.abs(v + 0.12) <= 0.045 * (0.47 - u) / 0.12)
    wing = _tri(u, v, (-0.05, -0.35), 0.2, 0.02) & (u <= 0.12)
    tail = (u <= -0.25) & (u >= -0.47) & (np.abs(v - 0.0) <= 0.04 + 0.5 * (-0.25 - u))
    legs = (_rect(u, v, -0.05, -0.03, 0.18, 0.42) | _rect(u, v, 0.05, 0.07, 0.18, 0.42))
    return body | head | beak | wing | tail | legs


def _flower(u, v):
    cu, cv = 0.0, -0.18
    r = np.hypot(u - cu, v - cv)
    theta = np.arctan2(v - cv, u - cu)
    petals = r <= 0.15 + 0.12 * np.abs(np.cos(2.5 * theta))
    stem = _rect(u, v, -0.02, 0.02, -0.05, 0.45)
    leaf = _ellipse(u, v, 0.1, 0.2, 0.1, 0.045)
    return petals | stem | leaf


_SHAPES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "lighthouse": _lighthouse, "cat": _cat, "tree": _tree, "boat": _boat,
    "house": _house, "mountain": _mountain, "bird": _bird, "flower": _flower,
}

# composition -> (centre x, centre y, scale, horizon y or None)
_LAYOUT = {
    "centered": (0.5, 0.5, 0.72, None),
    "low": (0.5, 0.47, 0.66, 0.76),
    "high": (0.5, 0.62, 0.58, 0.42),
    "large": (0.5, 0.52, 0.98, None),
    "left": (0.36, 0.5, 0.62, 0.82),
    "right": (0.64, 0.5, 0.62, 0.82),
    "small": (0.5, 0.54, 0.5, None),
    "framed": (0.5, 0.52, 0.62, None),
}


def _pattern(kind: str, x: np.ndarray, y: np.ndarray, cx: float, cy: float,
             rng: np.random.Generator, out_size: int) -> np.ndarray:
    """Ink coverage in [0, 1] of stroke pattern ``kind`` at normalised coordinates (x, y)."""
    phase_x, phase_y = rng.random(2)
    ang = rng.uniform(-0.12, 0.12)
    ca, sa = np.cos(ang), np.sin(ang)
    xr = ca * x - sa * y
    yr = sa * x + ca * y
    if kind == "dots":
        p = 1 / 9
        fx = (xr / p + phase_x) % 1.0 - 0.5
        fy = (yr / p + phase_y) % 1.0 - 0.5
        return (fx ** 2 + fy ** 2 <= 0.34 ** 2).astype(np.float32)
    if kind == "hatching":
        p = 1 / 9
        return (((xr + yr) / (p * np.sqrt(2)) + phase_x) % 1.0 < 0.5).astype(np.float32)
    if kind == "crosshatch":
        p = 1 / 8
        a = ((xr + yr) / (p * np.sqrt(2)) + phase_x) % 1.0 < 0.3
        b = ((xr - yr) / (p * np.sqrt(2)) + phase_y) % 1.0 < 0.3
        return (a | b).astype(np.float32)
    if kind == "stripes":
        p = 1 / 8
        return ((y / p + phase_y) % 1.0 < 0.5).astype(np.float32)
    if kind == "swirls":
        r = np.hypot(x - cx, y - cy)
        th = np.arctan2(y - cy, x - cx)
        return ((r * 9 + th / (2 * np.pi) * 2 + phase_x) % 1.0 < 0.5).astype(np.float32)
    if kind == "rings":
        r = np.hypot(x - cx, y - cy)
        return ((r * 12 + phase_x) % 1.0 < 0.5).astype(np.float32)
    if kind == "blocks":
        p = 1 / 8
        gi = np.floor(x / p + phase_x).astype(np.int64)
        gj = np.floor(y / p + phase_y).astype(np.int64)
        table = rng.random((12, 12)) < 0.55
        return table[gi % 12, gj % 12].astype(np.float32)
    if kind == "waves":
        p = 1 / 8
        return (((y + 0.035 * np.sin(2 * np.pi * x / 0.22 + phase_x * 6.28)) / p) % 1.0 < 0.42).astype(np.float32)
    if kind == "zigzag":
        p = 1 / 7
        tri = np.abs((x / 0.16 + phase_x) % 1.0 - 0.5) * 0.18
        return (((y + tri) / p + phase_y) % 1.0 < 0.5).astype(np.float32)
    if kind == "checker":
        p = 1 / 8
        gi = np.floor(xr / p + phase_x).astype(np.int64)
        gj = np.floor(yr / p + phase_y).astype(np.int64)
        return ((gi + gj) % 2 == 0).astype(np.float32)
    if kind == "stipple":
        n = out_size
        noise = rng.random((n, n)) < 0.42
        rep = x.shape[0] // n
        return np.kron(noise, np.ones((rep, rep), dtype=bool)).astype(np.float32)
    if kind == "flat":
        return np.ones_like(x, dtype=np.float32)
    raise ValueError(f"unknown pattern {kind!r}")


def _texture(kind: str, shape: tuple[int, int], rng: np.random.Generator, out_size: int,
             x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Additive luminance texture of the paper, roughly in [-0.1, 0.1]."""
    h, w = shape
    rep = h // out_size
    if kind == "smooth":
        return np.zeros(shape, np.float32)
    if kind == "grain":
        g = rng.normal(0, 0.05, (out_size, out_size)).astype(np.float32)
        return np.kron(g, np.ones((rep, rep), np.float32))
    if kind == "speckle":
        g = -(rng.random((out_size, out_size)) < 0.05).astype(np.float32) * 0.22
        return np.kron(g, np.ones((rep, rep), np.float32))
    if kind == "wash":
        g = rng.normal(0, 0.06, (5, 5)).astype(np.float32)
        img = Image.fromarray(g, mode="F").resize((w, h), Image.Resampling.BICUBIC)
        return np.asarray(img, np.float32)
    if kind == "canvas":
        p = 1 / 16
        return (0.05 * np.sign(np.sin(2 * np.pi * x / p)) * np.sign(np.sin(2 * np.pi * y / p))).astype(np.float32)
    if kind == "fibres":
        canvas = Image.new("F", (w, h), 0.0)
        draw = ImageDraw.Draw(canvas)
        for _ in range(40):
            x0, y0 = rng.random(2) * w
            ang = rng.uniform(0, np.pi)
            ln = rng.uniform(0.05, 0.15) * w
            draw.line([(x0, y0), (x0 + ln * np.cos(ang), y0 + ln * np.sin(ang))], fill=-0.12,
                      width=max(1, w // 64))
        return np.asarray(canvas, np.float32)
    raise ValueError(f"unknown texture {kind!r}")


def _jitter_colour(c: RGB, rng: np.random.Generator, amount: float = 0.04) -> np.ndarray:
    col = np.asarray(c, np.float32) / 255.0
    return np.clip(col * (1 + rng.uniform(-amount, amount)) + rng.uniform(-amount, amount, 3) * 0.5, 0, 1)


def render(artist: StyleArtist | str, subject: str, seed: int, size: int = 64) -> Image.Image:
    """Render ``subject`` in the style of ``artist`` for ``seed`` as an RGB PIL image.

    Deterministic: the same arguments always give the same pixels. Drawing happens at
    twice the output size and is box-filtered down (anti-aliasing).
    """
    a = get_artist(artist)
    shape_fn = _SHAPES[subject]
    if size < 8:
        raise ValueError("size must be >= 8")
    rng = np.random.default_rng([int(seed), _stream_key(a), subject_index(subject), 7])
    ss = 2 * size
    y, x = np.mgrid[0:ss, 0:ss].astype(np.float32)
    x = (x + 0.5) / ss
    y = (y + 0.5) / ss

    paper = _jitter_colour(a.paper, rng)
    ink = _jitter_colour(a.ink, rng)
    accent = _jitter_colour(a.accent, rng)
    dark_paper = paper.mean() < 0.35

    img = np.broadcast_to(paper, (ss, ss, 3)).copy()
    tex = _texture(a.texture, (ss, ss), rng, size, x, y)
    img = img + (tex if not dark_paper else -tex)[..., None]

    cx0, cy0, scale0, horizon = _LAYOUT[a.composition]
    cx = cx0 + rng.uniform(-0.05, 0.05)
    cy = cy0 + rng.uniform(-0.04, 0.04)
    scale = scale0 * rng.uniform(0.9, 1.08)
    flip = rng.random() < 0.5

    if horizon is not None:
        hz = horizon + rng.uniform(-0.03, 0.03)
        ground = y >= hz
        gcol = 0.55 * paper + 0.45 * accent
        img[ground] = gcol + tex[ground][:, None] * 0.5
        if a.composition in ("low", "left", "right") and subject in (
                "lighthouse", "house", "tree", "mountain", "cat", "flower"):
            cy = hz + 0.06 * scale0 - 0.45 * scale + 0.04  # stand on the ground

    u = (x - cx) / scale
    v = (y - cy) / scale
    if flip:
        u = -u
    mask = shape_fn(u, v)

    pat = _pattern(a.pattern, x, y, cx, cy, rng, size)
    if a.pattern in ("blocks", "zigzag"):
        base = accent
    elif a.pattern == "flat":
        base = ink
    else:
        base = 0.7 * paper + 0.3 * ink
    fill = pat[..., None] * ink + (1 - pat[..., None]) * base
    img[mask] = fill[mask]

    if a.pattern == "flat":  # thick dark outline
        r = max(2, ss // 32)
        dil = mask.copy()
        for dy in range(-r, r + 1):
            for dx in range(-r, r + 1):
                if dx * dx + dy * dy <= r * r:
                    dil |= np.roll(np.roll(mask, dy, 0), dx, 1)
        edge = dil & ~mask
        img[edge] = accent

    if a.composition == "framed":
        b = 0.075
        border = (x < b) | (x > 1 - b) | (y < b) | (y > 1 - b)
        img[border] = accent
    if a.composition == "small":
        r2 = (x - 0.5) ** 2 + (y - 0.5) ** 2
        img = img * np.clip(1.2 - 1.4 * r2, 0.4, 1.0)[..., None]

    img = np.clip(img, 0, 1)
    img = img.reshape(size, 2, size, 2, 3).mean(axis=(1, 3))
    return Image.fromarray((img * 255 + 0.5).astype(np.uint8), mode="RGB")
