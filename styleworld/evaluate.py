"""Measure the shipped StyleWorld models on held-out data and write the weight manifest.

    python -m stylegate.styleworld.evaluate            # CLIP + diffusion + manifest
    python -m stylegate.styleworld.evaluate --only clip
    python -m stylegate.styleworld.evaluate --only manifest
    python -m stylegate.styleworld.evaluate --only clip --clip styleworld-clip-s   # the second CLIP

Results go to ``styleworld/weights/metrics.json``; sha256 of every shipped weight file to
``styleworld/weights/MANIFEST.json`` (the model card README shows both).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .clipdata import NAME_ONLY_TEMPLATES, images_to_tensor
from .data import grid, render_set
from .models import CLIP_MODEL_NAME, MANIFEST_PATH, SHIPPED_CLIPS, WEIGHTS_DIR, load_clip, load_pipeline
from .world import ARTISTS, SUBJECTS, all_captions, describe, heldout_seeds, train_seeds

logger = logging.getLogger(__name__)

METRICS_PATH = WEIGHTS_DIR / "metrics.json"
# files that are logs / card material, not weights
_NOT_WEIGHTS = {"MANIFEST.json", "metrics.json", "train_clip_log.json", "train_diffusion_log.json"}


# ----------------------------------------------------------------------------------------
# embeddings and prototypes
# ----------------------------------------------------------------------------------------

def embed_images(model, images_uint8: np.ndarray, batch: int = 256) -> np.ndarray:
    """L2-normalised CLIP embeddings of (N, H, W, 3) uint8 images (resized to 64 like the preprocess)."""
    import torch
    import torch.nn.functional as F

    out = []
    with torch.no_grad():
        for i in range(0, len(images_uint8), batch):
            chunk = images_uint8[i:i + batch]
            if chunk.shape[1] != 64:
                from PIL import Image

                chunk = np.stack([np.asarray(Image.fromarray(c).resize((64, 64), Image.Resampling.BICUBIC)) for c in chunk])
            out.append(F.normalize(model.encode_image(images_to_tensor(chunk)), dim=-1).numpy())
    return np.concatenate(out)


def embed_texts(model, tokenizer, texts: Sequence[str], batch: int = 512) -> np.ndarray:
    """L2-normalised CLIP text embeddings."""
    import torch
    import torch.nn.functional as F

    out = []
    with torch.no_grad():
        for i in range(0, len(texts), batch):
            out.append(F.normalize(model.encode_text(tokenizer(list(texts[i:i + batch]))), dim=-1).numpy())
    return np.concatenate(out)


def artist_prototypes(model, n_seeds: int = 24) -> np.ndarray:
    """(n_artists, dim) mean of training-image embeddings per artist, re-normalised."""
    rs = render_set(grid(train_seeds(n_seeds)), size=64, progress=False)
    emb = embed_images(model, rs.images)
    protos = np.stack([emb[rs.artists == a].mean(0) for a in range(len(ARTISTS))])
    return protos / np.linalg.norm(protos, axis=1, keepdims=True)


def top1(emb: np.ndarray, protos: np.ndarray, labels: np.ndarray) -> float:
    """Share of rows whose nearest prototype is their label."""
    return float(((emb @ protos.T).argmax(1) == labels).mean())


# ----------------------------------------------------------------------------------------
# CLIP
# ----------------------------------------------------------------------------------------

def metrics_key(name: str) -> str:
    """Where a CLIP's results live in metrics.json: ``clip`` for the first, ``clip/<name>`` for others."""
    return "clip" if name == CLIP_MODEL_NAME else f"clip/{name}"


def eval_clip(n_heldout: int = 12, name: str = CLIP_MODEL_NAME) -> dict[str, Any]:
    """Held-out accuracies of a tiny CLIP (see the model card for definitions)."""
    model, _, tokenizer = load_clip(name=name)
    protos = artist_prototypes(model)
    res: dict[str, Any] = {}
    ho = render_set(grid(heldout_seeds(n_heldout)), size=64, progress=False)
    emb = embed_images(model, ho.images)
    res["image_to_artist_top1"] = top1(emb, protos, ho.artists)
    res["image_to_artist_n"] = len(ho)
    ho32 = render_set(grid(heldout_seeds(n_heldout)), size=32, progress=False)
    res["image32_to_artist_top1"] = top1(embed_images(model, ho32.images), protos, ho32.artists)

    # zero-shot subject recognition with plain captions
    subj_txt = embed_texts(model, tokenizer, [f"a {s}" for s in SUBJECTS])
    res["image_to_subject_top1_plain_text"] = float(((emb @ subj_txt.T).argmax(1) == ho.subjects).mean())

    def text_top1(kind: str, split: str) -> tuple[float, int]:
        texts, labels = [], []
        for ai, a in enumerate(ARTISTS):
            for s in SUBJECTS:
                cs = all_captions(a, s, kind, split)
                texts += cs
                labels += [ai] * len(cs)
        return top1(embed_texts(model, tokenizer, texts), protos, np.array(labels)), len(texts)

    for kind in ("named", "described"):
        for split in ("train", "heldout"):
            acc, n = text_top1(kind, split)
            res[f"{kind}_text_to_artist_top1_{split}_phrasings"] = acc
            res[f"{kind}_text_to_artist_n_{split}_phrasings"] = n
    texts, labels = [], []
    for ai, a in enumerate(ARTISTS):
        for t in NAME_ONLY_TEMPLATES["train"] + NAME_ONLY_TEMPLATES["heldout"]:
            texts.append(t.format(name=a.name))
            labels.append(ai)
    res["name_only_text_to_artist_top1"] = top1(embed_texts(model, tokenizer, texts), protos, np.array(labels))
    res["describe_to_artist_top1"] = top1(embed_texts(model, tokenizer, [describe(a) for a in ARTISTS]), protos,
                                          np.arange(len(ARTISTS)))
    texts, labels = [], []
    for ai, a in enumerate(ARTISTS):
        for d in a.descriptors[:2]:  # the composition descriptor is shared by design
            texts.append(d)
            labels.append(ai)
    res["descriptor_to_artist_top1"] = top1(embed_texts(model, tokenizer, texts), protos, np.array(labels))
    return res


# ----------------------------------------------------------------------------------------
# diffusion
# ----------------------------------------------------------------------------------------

def generate(pipe, prompts: list[str], seeds: list[int], steps: int = 25, guidance: float | None = None,
             batch: int = 32) -> np.ndarray:
    """Generate one image per (prompt, seed); returns uint8 (N, H, W, 3). ``guidance`` None:
    the pipeline's default (``pipeline.DEFAULT_GUIDANCE``)."""
    import torch
    from tqdm.auto import tqdm

    from .pipeline import DEFAULT_GUIDANCE

    guidance = DEFAULT_GUIDANCE if guidance is None else guidance

    out = []
    for i in tqdm(range(0, len(prompts), batch), desc="generate", mininterval=5):
        gens = [torch.Generator().manual_seed(s) for s in seeds[i:i + batch]]
        imgs = pipe(prompts[i:i + batch], generator=gens, num_inference_steps=steps, guidance_scale=guidance,
                    output_type="np").images
        out.append((imgs * 255 + 0.5).astype(np.uint8))
    return np.concatenate(out)


def eval_diffusion(per_pair: int = 4, steps: int = 25, guidance: float | None = None) -> dict[str, Any]:
    """Style fidelity of generated images, judged by the non-neural classifier and by the tiny CLIP."""
    import torch

    from .pipeline import DEFAULT_GUIDANCE
    from .style_classifier import feature_matrix, fit_default

    guidance = DEFAULT_GUIDANCE if guidance is None else guidance

    torch.set_num_threads(2)
    pipe = load_pipeline()
    model, _, tokenizer = load_clip()
    protos = artist_prototypes(model)
    t = time.time()
    clf = fit_default()
    logger.info("style classifier fitted in %.1f s", time.time() - t)
    res: dict[str, Any] = {"steps": steps, "guidance_scale": guidance, "per_pair": per_pair}

    # speed: one prompt, one image, 25 steps, CFG (batch of 2 through the UNet)
    g = torch.Generator().manual_seed(0)
    pipe("a cat by Mira Okonkwo", num_inference_steps=steps, generator=g)
    times = []
    for k in range(5):
        t = time.time()
        pipe("a lighthouse by Tobiah Vellcourt", num_inference_steps=steps, generator=torch.Generator().manual_seed(k))
        times.append(time.time() - t)
    res["seconds_per_image_single"] = float(np.median(times))

    def judge(imgs: np.ndarray, labels: np.ndarray, prefix: str) -> None:
        pred = clf.predict_proba_features(feature_matrix(imgs)).argmax(1)
        names = [ARTISTS[i].name for i in labels]
        res[f"{prefix}_style_classifier_top1"] = float(np.mean([clf.classes_[p] == n for p, n in zip(pred, names)]))
        res[f"{prefix}_clip_top1"] = top1(embed_images(model, imgs), protos, labels)
        res[f"{prefix}_n"] = int(len(labels))

    prompts, seeds, labels = [], [], []
    for ai, a in enumerate(ARTISTS):
        for si, s in enumerate(SUBJECTS):
            for k in range(per_pair):
                prompts.append(f"a {s} by {a.name}")
                seeds.append(10_000 + 100 * ai + 10 * si + k)
                labels.append(ai)
    t = time.time()
    imgs = generate(pipe, prompts, seeds, steps, guidance)
    res["seconds_per_image_batched"] = (time.time() - t) / len(prompts)
    labels_a = np.array(labels)
    judge(imgs, labels_a, "named")
    # per-artist breakdown (classifier)
    pred = clf.predict_proba_features(feature_matrix(imgs)).argmax(1)
    res["named_style_classifier_per_artist"] = {
        a.name: float(np.mean([clf.classes_[p] == a.name for p in pred[labels_a == ai]]))
        for ai, a in enumerate(ARTISTS)}
    save_contact_sheet(imgs, per_pair * len(SUBJECTS), WEIGHTS_DIR.parent / "samples.png")

    # held-out description phrasings (no names)
    prompts, seeds, labels = [], [], []
    rng = np.random.default_rng(1)
    for ai, a in enumerate(ARTISTS):
        for si, s in enumerate(SUBJECTS):
            cs = all_captions(a, s, "described", "heldout")
            prompts.append(cs[rng.integers(len(cs))])
            seeds.append(20_000 + 100 * ai + si)
            labels.append(ai)
    judge(generate(pipe, prompts, seeds, steps, guidance), np.array(labels), "described_heldout")

    # subject recognition of named generations by zero-shot CLIP ("a SUBJECT")
    subj_txt = embed_texts(model, tokenizer, [f"a {s}" for s in SUBJECTS])
    subj_labels = np.tile(np.repeat(np.arange(len(SUBJECTS)), per_pair), len(ARTISTS))
    res["named_subject_clip_top1"] = float(((embed_images(model, imgs) @ subj_txt.T).argmax(1) == subj_labels).mean())
    return res


def save_contact_sheet(imgs: np.ndarray, per_row: int, path: Path) -> None:
    """Save a grid of images (one artist per row) as PNG."""
    from PIL import Image

    n, h, w, _ = imgs.shape
    rows = int(np.ceil(n / per_row))
    sheet = np.zeros((rows * h, per_row * w, 3), np.uint8)
    for i in range(n):
        r, c = divmod(i, per_row)
        sheet[r * h:(r + 1) * h, c * w:(c + 1) * w] = imgs[i]
    Image.fromarray(sheet).save(path)


# ----------------------------------------------------------------------------------------
# manifest
# ----------------------------------------------------------------------------------------

def sha256_file(path: Path) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def weight_files() -> list[Path]:
    """Every shipped weight/config file under ``weights/`` (logs and metrics excluded)."""
    files = []
    for p in sorted(WEIGHTS_DIR.rglob("*")):
        if (p.is_file() and p.name not in _NOT_WEIGHTS and not p.name.startswith("train_clip_log.")
                and "__pycache__" not in p.parts):
            files.append(p)
    return files


def write_manifest() -> dict[str, Any]:
    """Write ``weights/MANIFEST.json``: relative path -> {sha256, bytes}."""
    entries: dict[str, dict[str, Any]] = {str(p.relative_to(WEIGHTS_DIR)).replace(os.sep, "/"): {"sha256": sha256_file(p), "bytes": p.stat().st_size}
               for p in weight_files()}
    manifest = {"files": entries, "total_bytes": sum(e["bytes"] for e in entries.values())}
    MANIFEST_PATH.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--only", choices=["clip", "diffusion", "manifest"], default=None)
    p.add_argument("--per-pair", type=int, default=4)
    p.add_argument("--clip", choices=SHIPPED_CLIPS, default=CLIP_MODEL_NAME, help="which CLIP --only clip measures")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    import torch

    torch.set_num_threads(2)
    metrics = json.loads(METRICS_PATH.read_text()) if METRICS_PATH.exists() else {}
    metrics["machine"] = {"platform": platform.platform(), "machine": platform.machine(), "cpu_count": os.cpu_count(),
                          "torch_threads": torch.get_num_threads()}
    if args.only in (None, "clip"):
        key = metrics_key(args.clip)
        metrics[key] = eval_clip(name=args.clip)
        logger.info("%s: %s", key, json.dumps(metrics[key], indent=1))
    if args.only in (None, "diffusion"):
        metrics["diffusion"] = eval_diffusion(per_pair=args.per_pair)
        logger.info("diffusion: %s", json.dumps(metrics["diffusion"], indent=1))
    if args.only != "manifest":
        METRICS_PATH.write_text(json.dumps(metrics, indent=1) + "\n")
    manifest = write_manifest()
    logger.info("manifest: %d files, %.1f MB", len(manifest["files"]), manifest["total_bytes"] / 1e6)


if __name__ == "__main__":
    main()
