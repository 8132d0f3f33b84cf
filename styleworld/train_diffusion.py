"""Train the tiny StyleWorld pixel-space diffusion model and save it as a diffusers pipeline.

    python -m stylegate.styleworld.train_diffusion [--steps 4000] [--batch 32] [--time-limit 1500] [--seed 0]

Needs the shipped CLIP checkpoint (``train_clip`` first): its text tower, converted to
``transformers.CLIPTextModelWithProjection``, is the pipeline's frozen text encoder.
Writes ``styleworld/weights/styleworld-pipeline/`` (a ``DiffusionPipeline`` folder).
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import math
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import cast

import numpy as np

from .clipdata import build_caption_bank
from .data import grid, render_set
from .models import CLIP_CONFIG_PATH, WEIGHTS_DIR, load_clip, pipeline_path
from .world import ARTISTS, SUBJECTS, train_seeds

logger = logging.getLogger(__name__)

SIZE = 32
KIND_PROBS = {"named": 0.4, "described": 0.3, "plain": 0.1, "name_only": 0.1, "style_only": 0.1}
CFG_DROPOUT = 0.1
MIN_SNR_GAMMA = 5.0
PIPELINE_FILE = "pipeline_styleworld"


def kind_probs(plain_share: float | None = None) -> np.ndarray:
    """Caption-kind probabilities in :data:`KIND_PROBS` order; ``plain_share`` sets the plain
    kind's share and scales the others to keep their proportions."""
    probs = np.array(list(KIND_PROBS.values()), dtype=np.float64)
    if plain_share is None:
        return probs
    if not 0.0 <= plain_share < 1.0:
        raise ValueError(f"--plain-share must be in [0, 1) (got {plain_share})")
    plain = list(KIND_PROBS).index("plain")
    rest = np.delete(probs, plain)
    return np.insert(rest / rest.sum() * (1.0 - plain_share), plain, plain_share)


_LINEAGE_KEYS = ("steps", "steps_planned", "lr", "ema", "seed", "train_seconds", "train_cpu_seconds", "threads",
                 "kind_probs", "init_from")


def run_log_path(out: Path) -> Path:
    """Where the training log of the pipeline folder ``out`` lives: the shipped log for the
    shipped folder, else ``<out>_log.json`` beside it."""
    shipped = out.resolve() == pipeline_path().resolve()
    return WEIGHTS_DIR / "train_diffusion_log.json" if shipped else out.with_name(out.name + "_log.json")


def lineage(init_from: Path | None) -> list[dict]:
    """The runs that made the checkpoint a fine-tuning run starts from, oldest first (from
    that folder's training log; empty when there is none), so the shipped log keeps every
    run's steps and time, not only the last one's."""
    if init_from is None:
        return []
    path = run_log_path(init_from)
    if not path.is_file():
        return [{"init_from": str(init_from), "log": None}]
    prev = json.loads(path.read_text())
    run = {k: prev.get(k) for k in _LINEAGE_KEYS}
    if run["kind_probs"] is None:
        run["kind_probs"] = dict(KIND_PROBS)
    return list(prev.get("previous_runs", [])) + [run]


def load_text_side(folder: Path):
    """The (frozen) text encoder and tokenizer of an existing pipeline folder."""
    from transformers import CLIPTextModelWithProjection, CLIPTokenizer

    text_encoder = CLIPTextModelWithProjection.from_pretrained(str(folder), subfolder="text_encoder").eval()
    return text_encoder, CLIPTokenizer.from_pretrained(str(folder), subfolder="tokenizer")


def unet_config(text_width: int, embed_dim: int) -> dict:
    """The UNet2DConditionModel configuration (pixel space, 32x32 RGB)."""
    return dict(
        sample_size=SIZE, in_channels=3, out_channels=3,
        block_out_channels=(32, 64, 64), layers_per_block=1,
        down_block_types=("DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
        mid_block_type="UNetMidBlock2DCrossAttn",
        cross_attention_dim=text_width, attention_head_dim=4, norm_num_groups=16,
        class_embed_type="projection", projection_class_embeddings_input_dim=embed_dim,
        resnet_time_scale_shift="scale_shift",
    )


def scheduler_config() -> dict:
    """Noise schedule used for training (and, as DDIM, for sampling)."""
    return dict(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", prediction_type="v_prediction",
                clip_sample=True)


def save_pipeline(unet, text_encoder, tokenizer, out: Path) -> Path:
    """Save the components as a pipeline folder loadable by ``DiffusionPipeline.from_pretrained``."""
    from diffusers import DDIMScheduler
    from diffusers.pipelines.pipeline_utils import DiffusionPipeline

    from .pipeline import StyleWorldPipeline

    sched = DDIMScheduler(**scheduler_config(), timestep_spacing="trailing", set_alpha_to_one=True)
    # the UNet is stored in fp16 (diffusers loads it back as fp32) to keep the folder under 30 MB
    unet = copy.deepcopy(unet).half()
    # mypy reads pipeline.py's ``from diffusers import DiffusionPipeline`` as diffusers' dummy stand-in
    # (the package's no-torch branch), so it is told the class that is really there
    pipe = cast(DiffusionPipeline, StyleWorldPipeline(unet=unet, scheduler=sched, text_encoder=text_encoder,
                                                      tokenizer=tokenizer))
    tmp = Path(tempfile.mkdtemp(prefix="swpipe-", dir=str(out.parent)))
    try:
        pipe.save_pretrained(str(tmp), safe_serialization=True)
        shutil.copyfile(Path(__file__).with_name("pipeline.py"), tmp / f"{PIPELINE_FILE}.py")
        index_path = tmp / "model_index.json"
        index = json.loads(index_path.read_text())
        index["_class_name"] = [PIPELINE_FILE, "StyleWorldPipeline"]
        index_path.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> None:
    """Entry point: render data, encode captions, train the UNet, save the pipeline."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seeds", type=int, default=128, help="training seeds per (artist, subject)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--ema", type=float, default=0.995)
    p.add_argument("--out", type=Path, default=pipeline_path())
    p.add_argument("--init-from", type=Path, default=None,
                   help="continue from the UNet of an existing pipeline folder (fine-tuning run)")
    p.add_argument("--time-limit", type=float, default=1500, help="stop after this many seconds (0 = none)")
    p.add_argument("--plain-share", type=float, default=None,
                   help=f"share of captions that are plain subject prompts (default {KIND_PROBS['plain']:.2f}; the "
                        "other kinds keep their proportions): more weight on drawing the subject")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    import torch
    import torch.nn.functional as F

    # from their modules, not the package root: mypy reads the root's names as the dummy
    # stand-ins diffusers defines for when torch is missing (the same classes at run time)
    from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel
    from diffusers.schedulers.scheduling_ddpm import DDPMScheduler
    from tqdm.auto import tqdm

    from .export import build_hf_tokenizer, check_conversion, convert_text_tower

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    t0 = time.time()

    cfg = json.loads(CLIP_CONFIG_PATH.read_text())
    tok_dir = Path(tempfile.mkdtemp(prefix="swtok-"))
    bank = build_caption_bank("train")
    if args.init_from is not None:
        # a fine-tuning run keeps the text encoder its UNet was trained against: the shipped
        # pipeline's is the first CLIP release's text tower, not the CLIP shipped today
        text_encoder, tokenizer = load_text_side(args.init_from)
        logger.info("text encoder and tokenizer from %s", args.init_from)
    else:
        # frozen text encoder = the CLIP text tower in transformers' layout
        clip, _, oc_tok = load_clip()
        text_encoder = convert_text_tower(clip, cfg)
        tokenizer = build_hf_tokenizer(tok_dir, cfg["text_cfg"]["context_length"])
        diff = check_conversion(clip, text_encoder, tokenizer, oc_tok, bank.texts[:64] + [""])
        logger.info("text tower conversion max |diff| = %.2e", diff)
        if diff > 1e-4:
            raise RuntimeError(f"text tower conversion differs from open_clip by {diff}")

    # encode every caption once
    hid_chunks, pool_chunks = [], []
    from .pipeline import COND_SCALE

    with torch.no_grad():
        texts = bank.texts + [""]
        for i in range(0, len(texts), 512):
            ids = tokenizer(texts[i:i + 512], padding="max_length", max_length=tokenizer.model_max_length,
                            truncation=True, return_tensors="pt").input_ids
            o = text_encoder(input_ids=ids)
            hid_chunks.append(o.last_hidden_state.half())
            pool_chunks.append(F.normalize(o.text_embeds, dim=-1) * COND_SCALE)
    hid_all = torch.cat(hid_chunks)
    pool_all = torch.cat(pool_chunks)
    null_id = len(bank.texts)

    data = render_set(grid(train_seeds(args.seeds)), size=SIZE, cache=f"diffusion_train_s{args.seeds}")
    images = torch.from_numpy(data.images).permute(0, 3, 1, 2).contiguous()  # uint8
    t_prep = time.time() - t0

    unet = UNet2DConditionModel(**unet_config(cfg["text_cfg"]["width"], cfg["embed_dim"]))
    if args.init_from is not None:
        unet = UNet2DConditionModel.from_pretrained(str(args.init_from), subfolder="unet").float()
        logger.info("continuing from %s", args.init_from)
    n_params = sum(p.numel() for p in unet.parameters())
    logger.info("UNet: %.2fM parameters", n_params / 1e6)
    ema = copy.deepcopy(unet).eval()
    for prm in ema.parameters():
        prm.requires_grad_(False)
    noise_sched = DDPMScheduler(**scheduler_config())
    acp = noise_sched.alphas_cumprod
    opt = torch.optim.AdamW(unet.parameters(), lr=args.lr, weight_decay=0.01)
    warm = 200

    def lr_at(step: int, elapsed: float) -> float:
        # cosine decay over steps, or over the time budget when that runs out first
        if step < warm:
            return args.lr * (step + 1) / warm
        q = (step - warm) / max(1, args.steps - warm)
        if args.time_limit:
            q = max(q, elapsed / args.time_limit)
        q = min(q, 1.0)
        return args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * q)))

    kinds = list(KIND_PROBS)
    try:
        kprobs = kind_probs(args.plain_share)
    except ValueError as exc:
        p.error(str(exc))
    history = []
    t1, cpu1 = time.time(), time.process_time()
    steps_done = 0
    bar = tqdm(range(args.steps), desc="train diffusion", mininterval=5)
    unet.train()
    for step in bar:
        for g in opt.param_groups:
            g["lr"] = lr_at(step, time.time() - t1)
        idx = rng.choice(len(data), size=args.batch, replace=False)
        cap = []
        for a, s in zip(data.artists[idx], data.subjects[idx]):
            if rng.random() < CFG_DROPOUT:
                cap.append(null_id)
                continue
            kind = kinds[rng.choice(len(kinds), p=kprobs)]
            key = {"named": ("named", a, s), "described": ("described", a, s), "plain": ("plain", -1, s),
                   "name_only": ("name_only", a, -1), "style_only": ("style_only", a, -1)}[kind]
            pool = bank.by_key[key]
            cap.append(pool[rng.integers(len(pool))])
        cap_t = torch.tensor(cap)
        x0 = images[idx].float() / 127.5 - 1.0
        noise = torch.randn_like(x0)
        t = torch.randint(0, noise_sched.config["num_train_timesteps"], (args.batch,))
        a_t = acp[t].view(-1, 1, 1, 1)
        xt = a_t.sqrt() * x0 + (1 - a_t).sqrt() * noise
        pred = unet(xt, t, encoder_hidden_states=hid_all[cap_t].float(), class_labels=pool_all[cap_t]).sample
        v_target = a_t.sqrt() * noise - (1 - a_t).sqrt() * x0
        snr = a_t / (1 - a_t)
        weight = snr.clamp(max=MIN_SNR_GAMMA) / (snr + 1)  # min-SNR-gamma weighting for v-prediction
        loss = (weight * (pred - v_target) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        decay = 0.0 if step < warm else min(args.ema, (1 + step - warm) / (10 + step - warm))
        with torch.no_grad():
            for pe, pu in zip(ema.parameters(), unet.parameters()):
                pe.mul_(decay).add_(pu.detach(), alpha=1 - decay)
        steps_done = step + 1
        if step % 25 == 0 and args.threads > 1:
            # the CPU is shared: two OpenMP threads thrash when another job holds a core
            busy = os.getloadavg()[0] > args.threads + 0.5
            torch.set_num_threads(1 if busy else args.threads)
        if step % 50 == 0:
            history.append({"step": step, "loss": round(float(loss.detach()), 5)})
            bar.set_postfix(loss=f"{float(loss.detach()):.4f}")
        if args.time_limit and time.time() - t1 > args.time_limit:
            logger.warning("time limit reached after %d steps", steps_done)
            break
    t_train, cpu_train = time.time() - t1, time.process_time() - cpu1

    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_pipeline(ema, text_encoder, tokenizer, args.out)
    shutil.rmtree(tok_dir, ignore_errors=True)
    info = {
        "unet_params": n_params, "steps": steps_done, "steps_planned": args.steps, "batch": args.batch,
        "lr": args.lr, "ema": args.ema, "cfg_dropout": CFG_DROPOUT, "min_snr_gamma": MIN_SNR_GAMMA,
        "prediction_type": scheduler_config()["prediction_type"], "train_seeds_per_pair": args.seeds,
        "images": len(data), "size": SIZE, "seed": args.seed, "prep_seconds": round(t_prep, 1),
        "train_seconds": round(t_train, 1), "train_cpu_seconds": round(cpu_train, 1), "threads": args.threads,
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(), "cpu_count": os.cpu_count(),
        "torch": torch.__version__, "history": history, "unet_config": unet_config(64, 64),
        "artists": len(ARTISTS), "subjects": len(SUBJECTS),
        "init_from": str(args.init_from) if args.init_from else None,
        "kind_probs": dict(zip(kinds, [round(float(x), 4) for x in kprobs])),
        "previous_runs": lineage(args.init_from),
    }
    import diffusers

    info["diffusers"] = diffusers.__version__
    # the shipped log describes the shipped weights; a run written elsewhere logs beside its folder
    log_path = run_log_path(args.out)
    log_path.write_text(json.dumps(info, indent=1))
    logger.info("saved pipeline to %s after %.0f s of training", args.out, t_train)


if __name__ == "__main__":
    main()
