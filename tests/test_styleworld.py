"""Tests of the bundled StyleWorld: renderer, captions, shipped weights, tiny CLIP and pipeline."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

from stylegate.styleworld import world
from stylegate.styleworld.world import (
    ARTISTS,
    SUBJECTS,
    StyleArtist,
    captions,
    describe,
    get_artist,
    heldout_seeds,
    is_heldout,
    render,
    train_seeds,
)

STYLEWORLD_DIR = Path(world.__file__).resolve().parent
WEIGHTS = STYLEWORLD_DIR / "weights"
MANIFEST = WEIGHTS / "MANIFEST.json"


# ------------------------------------------------------------------ world
def test_world_size_and_artists():
    assert len(ARTISTS) >= 12
    assert len(SUBJECTS) >= 8
    assert len({a.name for a in ARTISTS}) == len(ARTISTS)
    for a in ARTISTS:
        assert isinstance(a, StyleArtist)
        assert len(a.name.split()) >= 2
        assert a.consent in {"opt-out", "royalty", "credit"}
        assert a.descriptors and all(a.name.split()[0] not in d for d in a.descriptors)
    # every artist's style is a distinct combination
    assert len({(a.paper, a.ink, a.pattern) for a in ARTISTS}) == len(ARTISTS)
    assert len({describe(a) for a in ARTISTS}) == len(ARTISTS)


def test_render_is_deterministic_and_rgb():
    a = ARTISTS[0]
    im1 = render(a, "lighthouse", 3)
    im2 = render(a.name, "lighthouse", 3)
    assert im1.mode == "RGB" and im1.size == (64, 64)
    assert np.array_equal(np.asarray(im1), np.asarray(im2))
    assert not np.array_equal(np.asarray(im1), np.asarray(render(a, "lighthouse", 4)))
    assert render(a, "cat", 1, size=32).size == (32, 32)


def test_render_all_pairs_distinct_styles():
    means = []
    for a in ARTISTS:
        for s in SUBJECTS:
            arr = np.asarray(render(a, s, 0, size=32), np.float32)
            assert arr.std() > 5  # something is drawn
        means.append(np.asarray(render(a, "house", 0, size=32), np.float32).reshape(-1, 3).mean(0))
    means = np.array(means)
    d = np.linalg.norm(means[:, None] - means[None], axis=-1) + np.eye(len(means)) * 1e3
    assert d.min() > 3  # average colours differ between artists


def test_captions_three_kinds():
    a = ARTISTS[0]
    c = captions(a, "lighthouse", 0)
    assert set(c) == {"named", "described", "plain"}
    assert a.name in c["named"] and "lighthouse" in c["named"]
    assert a.name not in c["described"] and "lighthouse" in c["described"]
    for part in a.name.split():
        assert part not in c["described"] and part not in c["plain"]
    assert "lighthouse" in c["plain"]
    assert captions(a, "lighthouse", 0) == c
    # several phrasings are used, and held-out seeds use held-out phrasings
    assert len({captions(a, "cat", s)["described"] for s in range(40)}) > 5
    tr = {captions(a, "cat", s)["named"].replace(a.name, "N") for s in train_seeds(60)}
    ho = {captions(a, "cat", s)["named"].replace(a.name, "N") for s in heldout_seeds(60)}
    assert tr.isdisjoint(ho)


def test_splits_and_describe():
    assert not any(is_heldout(s) for s in train_seeds(100))
    assert all(is_heldout(s) for s in heldout_seeds(10))
    for a in ARTISTS:
        d = describe(a)
        assert d and a.name not in d
    assert get_artist(ARTISTS[3].name.upper()) is ARTISTS[3]
    with pytest.raises(KeyError):
        get_artist("Nobody Atall")


def test_world_import_is_light():
    import subprocess
    import sys

    code = ("import sys; import stylegate.styleworld.world; "
            "bad=[m for m in ('torch','open_clip','diffusers') if m in sys.modules]; print(bad); sys.exit(bool(bad))")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# ------------------------------------------------------------------ shipped weights
def _sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_manifest_matches_files_and_card():
    manifest = json.loads(MANIFEST.read_text())
    files = manifest["files"]
    assert "styleworld-clip.safetensors" in files
    assert any(k.startswith("styleworld-pipeline/") and k.endswith(".safetensors") for k in files)
    card = (STYLEWORLD_DIR / "README.md").read_text()
    card_hashes = set(re.findall(r"\b[0-9a-f]{64}\b", card))
    for rel, entry in files.items():
        p = WEIGHTS / rel
        assert p.is_file(), rel
        assert p.stat().st_size == entry["bytes"], rel
        assert _sha256(p) == entry["sha256"], rel
        assert entry["sha256"] in card_hashes, f"{rel} sha256 missing from the model card"
    assert (WEIGHTS / "styleworld-clip.safetensors").stat().st_size <= 20 * 2**20
    pipe_bytes = sum(p.stat().st_size for p in (WEIGHTS / "styleworld-pipeline").rglob("*") if p.is_file())
    assert pipe_bytes <= 30 * 2**20


# ------------------------------------------------------------------ tiny CLIP
@pytest.fixture(scope="module")
def clip():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(2)
    from stylegate.styleworld.models import load_clip

    return load_clip()


def test_clip_loads_via_open_clip(clip):
    import open_clip

    from stylegate.styleworld.models import CLIP_MODEL_NAME, clip_checkpoint_path, register_clip

    assert register_clip() == CLIP_MODEL_NAME == "styleworld-clip"
    assert register_clip() == CLIP_MODEL_NAME  # idempotent
    model, _, preprocess = open_clip.create_model_and_transforms(
        CLIP_MODEL_NAME, pretrained=str(clip_checkpoint_path()))
    tok = open_clip.get_tokenizer(CLIP_MODEL_NAME)
    assert tok(["a cat"]).shape[1] == 32
    x = preprocess(render(ARTISTS[0], "cat", 1_000_000)).unsqueeze(0)
    assert tuple(x.shape) == (1, 3, 64, 64)


def test_clip_heldout_sanity(clip):
    import torch

    model, preprocess, tokenizer = clip
    with torch.no_grad():
        # prototypes from a few training renders
        protos = []
        for a in ARTISTS:
            x = torch.stack([preprocess(render(a, s, seed)) for s in SUBJECTS for seed in (0, 1)])
            e = torch.nn.functional.normalize(model.encode_image(x), dim=-1).mean(0)
            protos.append(torch.nn.functional.normalize(e, dim=0))
        protos = torch.stack(protos)
        # 24 held-out images
        items = [(i % len(ARTISTS), SUBJECTS[(i * 5) % len(SUBJECTS)], 1_000_000 + i) for i in range(24)]
        x = torch.stack([preprocess(render(ARTISTS[a], s, seed)) for a, s, seed in items])
        emb = torch.nn.functional.normalize(model.encode_image(x), dim=-1)
        acc_img = ((emb @ protos.T).argmax(1) == torch.tensor([a for a, _, _ in items])).float().mean()
        texts = [f"a {SUBJECTS[i % len(SUBJECTS)]} painted by {a.name}" for i, a in enumerate(ARTISTS)]
        t = torch.nn.functional.normalize(model.encode_text(tokenizer(texts)), dim=-1)
        acc_name = ((t @ protos.T).argmax(1) == torch.arange(len(ARTISTS))).float().mean()
    assert acc_img >= 0.8
    assert acc_name >= 0.8


# ------------------------------------------------------------------ pipeline
@pytest.fixture(scope="module")
def pipe():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(2)
    from diffusers import DiffusionPipeline

    from stylegate.styleworld.models import pipeline_path

    p = DiffusionPipeline.from_pretrained(str(pipeline_path()), trust_remote_code=True)
    p.set_progress_bar_config(disable=True)
    return p


def test_pipeline_folder_is_self_describing():
    from stylegate.styleworld.models import pipeline_path

    folder = pipeline_path()
    index = json.loads((folder / "model_index.json").read_text())
    assert index["_class_name"] == ["pipeline_styleworld", "StyleWorldPipeline"]
    shipped = (folder / "pipeline_styleworld.py").read_text()
    assert shipped == (STYLEWORLD_DIR / "pipeline.py").read_text()


def test_pipeline_generates_deterministically(pipe):
    import torch

    g = lambda: torch.Generator().manual_seed(7)  # noqa: E731
    out1 = pipe("a cat by Mira Okonkwo", num_inference_steps=6, generator=g(), output_type="np").images
    out2 = pipe("a cat by Mira Okonkwo", num_inference_steps=6, generator=g(), output_type="np").images
    size = pipe.unet.config.sample_size
    assert out1.shape == (1, size, size, 3)
    assert np.array_equal(out1, out2)
    assert 0.0 <= out1.min() and out1.max() <= 1.0
    pil = pipe(["a boat", "a tree"], num_inference_steps=4, num_images_per_prompt=2,
               negative_prompt="crimson cross-hatching", guidance_scale=4.0, generator=g()).images
    assert len(pil) == 4 and pil[0].size == (size, size) and pil[0].mode == "RGB"


def test_pipeline_callback_and_interrupt(pipe):
    import torch

    seen = []

    def cb(p, step, timestep, kwargs):
        seen.append((step, sorted(kwargs)))
        assert kwargs["latents"].shape[-1] == p.unet.config.sample_size
        x0 = kwargs["pred_original_sample"]
        assert x0.min() >= -1.0 - 1e-4 and x0.max() <= 1.0 + 1e-4
        if step == 2:
            p._interrupt = True
        return kwargs

    out = pipe("a house by Kenji Arbelo", num_inference_steps=10, generator=torch.Generator().manual_seed(0),
               callback_on_step_end=cb, callback_on_step_end_tensor_inputs=["latents", "pred_original_sample"],
               output_type="np")
    assert [s for s, _ in seen] == [0, 1, 2]
    assert pipe.steps_run == 3 and pipe.interrupt
    assert out.images.shape[0] == 1
    preview = pipe.latents_to_images(torch.zeros(1, 3, 4, 4))
    assert preview[0].size == (4, 4)
