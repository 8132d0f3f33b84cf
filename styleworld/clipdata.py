"""Caption banks and image helpers shared by CLIP training and evaluation."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .world import ARTISTS, SUBJECTS, StyleArtist, all_captions, caption_templates, describe

logger = logging.getLogger(__name__)

NAME_ONLY_TEMPLATES = {
    "train": ("{name}", "by {name}", "in the style of {name}", "artwork by {name}", "a painting by {name}"),
    "heldout": ("a work by {name}", "{name} style"),
}

# OpenAI CLIP normalisation (open_clip's default for custom configs).
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass
class CaptionBank:
    """Captions with the set of (artist, subject) images each one truthfully describes."""

    texts: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    artist_mask: list[np.ndarray] = field(default_factory=list)  # bool (n_artists,)
    subject: list[int] = field(default_factory=list)  # -1 = any subject
    by_key: dict = field(default_factory=dict)  # (kind, artist or -1, subject or -1) -> [ids]
    n_artists: int = len(ARTISTS)  # artist masks index this roster

    def add(self, text: str, kind: str, artists: list[int] | None, subject: int, keys: list[tuple]) -> None:
        mask = np.zeros(self.n_artists, bool)
        if artists is None:
            mask[:] = True
        else:
            mask[artists] = True
        i = len(self.texts)
        self.texts.append(text)
        self.kinds.append(kind)
        self.artist_mask.append(mask)
        self.subject.append(subject)
        for k in keys:
            self.by_key.setdefault(k, []).append(i)


def style_only_phrases(artist_idx: int, roster: Sequence[StyleArtist] = ARTISTS) -> list[tuple[str, list[int]]]:
    """Name-free style phrases for one artist of ``roster``, each with the roster artists it truthfully describes.

    A phrase names one attribute group or the whole style; it describes every roster artist
    whose words for it match (a sibling shares its parent's unchanged attributes).
    """
    a = roster[artist_idx]

    def sharing(**words: str) -> list[int]:
        """The roster artists whose word lists (field -> word) all contain the given words."""
        return [j for j, b in enumerate(roster) if all(w in getattr(b, f) for f, w in words.items())]

    out: list[tuple[str, list[int]]] = []
    for ink in a.ink_words:
        for pat in a.pattern_words:
            out.append((f"{ink} {pat}", sharing(ink_words=ink, pattern_words=pat)))
            paper0 = a.paper_words[0]
            out.append((f"{ink} {pat} on {paper0}", sharing(ink_words=ink, pattern_words=pat, paper_words=paper0)))
    for paper in a.paper_words:
        out.append((paper, sharing(paper_words=paper)))
    canonical = describe(a)
    out.append((canonical, [j for j, b in enumerate(roster) if describe(b) == canonical]))
    for d in a.descriptors:
        out.append((d, sharing(descriptors=d)))
    for comp in a.composition_words:  # composition phrases can be shared between artists
        out.append((comp, sharing(composition_words=comp)))
    return out


def build_caption_bank(split: str = "train", roster: Sequence[StyleArtist] = ARTISTS) -> CaptionBank:
    """All training (or held-out) captions of every kind for the artists of ``roster``."""
    bank = CaptionBank(n_artists=len(roster))
    seen: set[tuple[str, str]] = set()
    for ai, a in enumerate(roster):
        for si, s in enumerate(SUBJECTS):
            for kind in ("named", "described"):
                for t in all_captions(a, s, kind, split):
                    bank.add(t, kind, [ai], si, [(kind, ai, si)])
        for t in NAME_ONLY_TEMPLATES[split]:
            bank.add(t.format(name=a.name), "name_only", [ai], -1, [("name_only", ai, -1)])
        for text, arts in style_only_phrases(ai, roster):
            if ("style_only", text) in seen:
                for j in arts:
                    bank.by_key.setdefault(("style_only", j, -1), []).append(bank.texts.index(text))
                continue
            seen.add(("style_only", text))
            bank.add(text, "style_only", arts, -1, [("style_only", j, -1) for j in arts])
    for si, s in enumerate(SUBJECTS):
        for t in caption_templates("plain", split):
            bank.add(t.format(subject=s), "plain", None, si, [("plain", -1, si)])
    for k in bank.by_key:
        bank.by_key[k] = sorted(set(bank.by_key[k]))
    return bank


def images_to_tensor(images_uint8: np.ndarray):
    """(N, H, W, 3) uint8 -> normalised float tensor (N, 3, H, W) as the CLIP preprocess does."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(images_uint8)).permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (x - mean) / std
