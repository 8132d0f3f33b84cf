"""Train the tiny ``styleworld-clip`` open_clip model on rendered StyleWorld images.

    python -m stylegate.styleworld.train_clip [--steps 1500] [--batch 256] [--seed 0]
    python -m stylegate.styleworld.train_clip --model styleworld-clip-s --steps 900 --batch 192 --seed 7
    python -m stylegate.styleworld.train_clip --model styleworld-clip-s --with-siblings --time-limit 840
    python -m stylegate.styleworld.train_clip --model styleworld-clip-s --with-siblings \
        --init styleworld/weights/styleworld-clip-s.safetensors --sibling-share 0.5 --supcon 0.5

``--with-siblings`` adds the 10 sibling artists (:data:`.world.SIBLINGS`) to the training
roster (their training seeds only; held-out seeds stay unseen). ``--sibling-share`` fills that
share of every batch with sibling/parent groups (same subject, several seeds each: the hardest
negatives, :mod:`.sibling_batches`), and ``--supcon`` adds an image-to-image supervised contrastive
loss by artist with that weight; ``--init`` continues from an existing checkpoint.

Writes ``styleworld/weights/<model>.safetensors`` (fp32) and a training log JSON.
Contrastive loss with multiple positives: a caption is a positive for every image in the
batch it truthfully describes ("a cat" fits every cat; "by Mira Okonkwo" every Mira image).
Distractor captions (:mod:`.distractors`) teach the text tower ordinary English: neutral
text fits every image alike (and is left out of the image-to-text loss), a subject among
unrelated words is still that subject, a style description among them still that style.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import platform
import time
from pathlib import Path

import numpy as np

from .clipdata import build_caption_bank
from .data import grid, render_set
from .distractors import HELD_OUT_WORDS, DistractorSampler, read_word_list
from .models import CLIP_MODEL_NAME, SHIPPED_CLIPS, clip_checkpoint_path, clip_train_log_path, register_clip
from .sibling_batches import PairSampler, sibling_pairs, supcon_loss
from .world import ARTISTS, SIBLINGS, SUBJECTS, StyleArtist, train_seeds

logger = logging.getLogger(__name__)

# caption kind -> sampling probability for an image's caption
KIND_PROBS = {
    "named": 0.24, "described": 0.26, "plain": 0.08, "name_only": 0.08, "style_only": 0.12,
    "neutral": 0.12, "subject_context": 0.05, "diluted": 0.05,
}


def augment(x, rng: np.random.Generator):
    """Augment a float image batch in [0, 1] (B, 3, 64, 64): low-resolution round trips and noise.

    The 64->32->64 round trip mimics 32 px diffusion samples resized by the CLIP preprocess.
    """
    import torch
    import torch.nn.functional as F

    b = x.shape[0]
    low = torch.from_numpy(rng.random(b) < 0.5)
    if low.any():
        small = F.interpolate(x[low], size=(32, 32), mode="area")
        x[low] = F.interpolate(small, size=(64, 64), mode="bicubic", align_corners=False).clamp(0, 1)
    blur = torch.from_numpy(rng.random(b) < 0.15)
    if blur.any():
        k = torch.tensor([1.0, 2.0, 1.0])
        k = (k[:, None] * k[None, :]) / 16
        k = k.expand(3, 1, 3, 3)
        x[blur] = F.conv2d(F.pad(x[blur], (1, 1, 1, 1), mode="replicate"), k, groups=3)
    noisy = torch.from_numpy(rng.random(b) < 0.3)
    if noisy.any():
        sig = torch.from_numpy(rng.uniform(0, 0.05, int(noisy.sum()))).float().view(-1, 1, 1, 1)
        x[noisy] = (x[noisy] + sig * torch.randn_like(x[noisy])).clamp(0, 1)
    return x


def sample_captions(bank, sampler: DistractorSampler, artists: np.ndarray, subjects: np.ndarray,
                    rng: np.random.Generator) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """One caption per image, its kind drawn from KIND_PROBS.

    Returns the texts, the artists each caption describes (B, n_artists), the subject it
    describes (-1 = any) and whether it is neutral.
    """
    kinds = list(KIND_PROBS)
    probs = np.array([KIND_PROBS[k] for k in kinds])
    texts, masks, subs, neutral = [], [], [], []
    everyone = np.ones(bank.n_artists, bool)
    for a, s in zip(artists, subjects):
        kind = kinds[rng.choice(len(kinds), p=probs)]
        if kind == "neutral":
            texts.append(sampler.neutral())
            masks.append(everyone)
            subs.append(-1)
            neutral.append(True)
            continue
        if kind == "subject_context":
            texts.append(sampler.subject_context(SUBJECTS[s]))
            masks.append(everyone)
            subs.append(int(s))
            neutral.append(False)
            continue
        key = {
            "named": ("named", a, s), "described": ("described", a, s), "plain": ("plain", -1, s),
            "name_only": ("name_only", a, -1), "style_only": ("style_only", a, -1),
            "diluted": ("described", a, s),
        }[kind]
        pool = bank.by_key[key]
        cid = pool[rng.integers(len(pool))]
        texts.append(sampler.around(bank.texts[cid]) if kind == "diluted" else bank.texts[cid])
        masks.append(bank.artist_mask[cid])
        subs.append(bank.subject[cid])
        neutral.append(False)
    return texts, np.stack(masks), np.array(subs), np.array(neutral)


def main(argv: list[str] | None = None) -> None:
    """Entry point: render data, train, save the checkpoint."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seeds", type=int, default=128, help="training seeds per (artist, subject)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--time-limit", type=float, default=None,
                   help="seconds of training: the schedule runs on max(step share, time share) and ends at 1")
    p.add_argument("--fp16", action="store_true", help="store the checkpoint in fp16 (half the bytes; loads into fp32)")
    p.add_argument("--model", choices=SHIPPED_CLIPS, default=CLIP_MODEL_NAME, help="which shipped config to train")
    p.add_argument("--with-siblings", action="store_true",
                   help="train on the sibling artists too (their training seeds), not the 12 originals alone")
    p.add_argument("--init", type=Path, default=None, help="start from this checkpoint (same config) instead of scratch")
    p.add_argument("--sibling-share", type=float, default=0.0,
                   help="share of each batch drawn as sibling/parent groups (needs --with-siblings)")
    p.add_argument("--supcon", type=float, default=0.0, help="weight of the image-image contrastive loss by artist")
    p.add_argument("--supcon-temperature", type=float, default=0.1)
    p.add_argument("--warmup", type=int, default=150, help="warm-up steps (at most a tenth of --steps)")
    p.add_argument("--out", type=Path, default=None, help="checkpoint path (default: the shipped one of --model)")
    p.add_argument("--held-out-words", type=Path, default=HELD_OUT_WORDS,
                   help="words kept out of the distractor vocabulary, one a line (default: the red-team corpus's)")
    args = p.parse_args(argv)
    if args.out is None:
        args.out = clip_checkpoint_path(args.model)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    import open_clip
    import torch
    import torch.nn.functional as F
    from safetensors.torch import save_file
    from tqdm.auto import tqdm

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    t0 = time.time()
    init_sha = None
    if args.init is not None:
        import hashlib

        init_sha = hashlib.sha256(args.init.read_bytes()).hexdigest()
    # a continuation's log keeps the log of the run it continues (the checkpoint's history)
    previous_log = clip_train_log_path(register_clip(args.model))
    init_log = json.loads(previous_log.read_text()) if args.init is not None and previous_log.is_file() else None

    roster: tuple[StyleArtist, ...] = ARTISTS + SIBLINGS if args.with_siblings else ARTISTS
    tag = "_sib" if args.with_siblings else ""
    data = render_set(grid(train_seeds(args.seeds), len(roster)), size=64, cache=f"clip_train_s{args.seeds}{tag}",
                      roster=roster)
    t_render = time.time() - t0
    bank = build_caption_bank("train", roster)
    name = register_clip(args.model)
    tokenizer = open_clip.get_tokenizer(name)
    sampler = DistractorSampler.create(seed=args.seed, held_out=read_word_list(args.held_out_words))
    logger.info("%d images, %d captions", len(data), len(bank.texts))

    model = open_clip.create_model(name)
    if args.init is not None:
        from safetensors.torch import load_file

        state = {k: v.float() for k, v in load_file(str(args.init)).items()}
        model.load_state_dict(state)
        logger.info("continuing from %s", args.init)
    if not 0.0 <= args.sibling_share < 1.0:
        p.error("--sibling-share must be in [0, 1)")
    pairs = sibling_pairs(roster)
    if args.sibling_share and not pairs:
        p.error("--sibling-share needs --with-siblings (no sibling/parent pairs in the roster)")
    sampler_pairs = PairSampler(data.artists, data.subjects, pairs, rng)
    model.train()
    n_params = sum(p.numel() for p in model.parameters())
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.98), eps=1e-6)
    warm = min(args.warmup, args.steps // 10)

    def progress_at(step: int) -> float:
        """How far through the schedule: by steps, or by the time budget when that runs out first."""
        q = (step - warm) / max(1, args.steps - warm)
        if args.time_limit:
            q = max(q, (time.time() - t1) / args.time_limit)
        return q

    def lr_at(step: int) -> float:
        if step < warm:
            return args.lr * (step + 1) / warm
        return args.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress_at(step))))

    mean = torch.tensor((0.48145466, 0.4578275, 0.40821073)).view(1, 3, 1, 1)
    std = torch.tensor((0.26862954, 0.26130258, 0.27577711)).view(1, 3, 1, 1)
    history = []
    t1 = time.time()
    bar = tqdm(range(args.steps), desc="train clip", mininterval=5)
    steps_run = 0
    for step in bar:
        if step >= warm and progress_at(step) >= 1.0:
            break
        steps_run = step + 1
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        idx = sampler_pairs.batch(args.batch, args.sibling_share)
        a_idx, s_idx = data.artists[idx], data.subjects[idx]
        x = torch.from_numpy(data.images[idx]).permute(0, 3, 1, 2).float() / 255.0
        x = (augment(x, rng) - mean) / std
        texts, cmask_np, csub_np, neutral = sample_captions(bank, sampler, a_idx, s_idx, rng)
        cmask, csub = torch.from_numpy(cmask_np), torch.from_numpy(csub_np)
        a_t, s_t = torch.from_numpy(a_idx), torch.from_numpy(s_idx)
        # target[i, j]: caption i truthfully describes image j
        target = cmask[:, a_t] & ((csub[:, None] == -1) | (csub[:, None] == s_t[None, :]))
        target = target.float()
        img_f = F.normalize(model.encode_image(x), dim=-1)
        txt_f = F.normalize(model.encode_text(tokenizer(texts)), dim=-1)
        logits = model.logit_scale.exp().clamp(max=100) * txt_f @ img_f.T
        loss_t2i = -(target / target.sum(1, keepdim=True) * F.log_softmax(logits, 1)).sum(1).mean()
        # Neutral captions fit every image alike: they teach nothing about telling images apart.
        keep = torch.from_numpy(~neutral)
        tt = target[keep].T
        has = tt.sum(1) > 0  # an image whose only caption was neutral may have no positive left
        tt = tt[has]
        loss_i2t = -(tt / tt.sum(1, keepdim=True) * F.log_softmax(logits[keep].T[has], 1)).sum(1).mean()
        loss = 0.5 * (loss_t2i + loss_i2t)
        sc = supcon_loss(img_f, a_t, args.supcon_temperature) if args.supcon else None
        if sc is not None:
            loss = loss + args.supcon * sc
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 50 == 0 or step == args.steps - 1:
            history.append({"step": step, "loss": float(loss), "logit_scale": float(model.logit_scale.exp()),
                            **({} if sc is None else {"supcon": float(sc.detach())})})
            bar.set_postfix(loss=f"{float(loss):.3f}")
    t_train = time.time() - t1

    model.eval()
    dtype = torch.float16 if args.fp16 else torch.float32
    sd = {k: v.detach().contiguous().to(dtype) for k, v in model.state_dict().items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_file(sd, str(args.out), metadata={"model": name, "format": "pt"})
    info = {
        "model": name, "params": n_params, "steps": steps_run, "steps_planned": args.steps,
        "time_limit": args.time_limit, "batch": args.batch,
        "lr": args.lr, "dtype": str(dtype).removeprefix("torch."), "train_seeds_per_pair": args.seeds, "images": len(data), "captions": len(bank.texts),
        "kind_probs": KIND_PROBS, "distractor_vocabulary": len(sampler.words), "invented_names": len(sampler.names),
        "seed": args.seed, "render_seconds": round(t_render, 1), "train_seconds": round(t_train, 1),
        "threads": args.threads, "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpu_count": __import__("os").cpu_count(), "torch": torch.__version__,
        "open_clip": open_clip.__version__, "history": history,
        "artists": len(roster), "with_siblings": bool(args.with_siblings), "subjects": len(SUBJECTS),
        "init": None if args.init is None else args.init.name, "init_sha256": init_sha,
        "sibling_share": args.sibling_share, "supcon": args.supcon, "supcon_temperature": args.supcon_temperature,
        "warmup": warm, **({"init_log": init_log} if init_log is not None else {}),
    }
    clip_train_log_path(name).write_text(json.dumps(info, indent=1))
    logger.info("saved %s (%.1f MB) after %.0f s", args.out, args.out.stat().st_size / 1e6, t_train)


if __name__ == "__main__":
    main()
