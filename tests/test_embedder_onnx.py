"""The ONNX embedder backend: same ids, pixels, vectors and decisions as PyTorch; a bad cache is refused."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stylegate.bench.fixtures import register_styleworld
from stylegate.errors import ModelLoadError
from stylegate.governance.clip_preprocess import describe
from stylegate.governance.clip_tokenizer import ClipTokenizer
from stylegate.governance.embedder import Embedder, open_embedder
from stylegate.governance.neutral import cached_neutral_anchor, neutral_anchor, neutral_prompts
from stylegate.governance.onnx_towers import (
    MANIFEST,
    MERGES,
    TEXT_GRAPH,
    CacheMissing,
    CacheRefused,
    OnnxEmbedder,
    cache_key,
    load_towers,
)
from stylegate.operations.ingest import init_home
from stylegate.settings import Settings
from stylegate.styleworld import world
from stylegate.styleworld.models import CLIP_CONFIG_PATH, CLIP_MODEL_NAME, clip_checkpoint_path
from stylegate.workspace import Workspace

TEXTS = [
    "a red bicycle",
    "",
    "  Misty   TEAL watercolor!!  ",
    "ünïcödé café naïve 日本語の絵 Привет мир 🎨🖌️",
    "in the style of Greg Rutkowski, 4k, trending on artstation, " * 6,  # past the context length
    "don't you'll I'm &amp; &lt;b&gt; x",
    "<start_of_text> hi <end_of_text>",
    "a\u200bb zero\u00adwidth ﬁ ligature Ⅻ l33t",
    "tab\tnew\nline 1234567890 3.14 $5",
]
SIZES = [(64, 64), (1, 1), (8, 300), (300, 8), (65, 63), (123, 77), (640, 480)]


def _images() -> list[Image.Image]:
    rng = np.random.default_rng(7)
    images = [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for w, h in SIZES]
    images.append(Image.fromarray(rng.integers(0, 256, (50, 40, 4), dtype=np.uint8), "RGBA"))
    images.append(Image.fromarray(rng.integers(0, 256, (33, 90), dtype=np.uint8), "L"))
    images.append(world.render(world.ARTISTS[0], world.SUBJECTS[0], 3))
    return images


@pytest.fixture(scope="module")
def torch_embedder() -> Embedder:
    return Embedder(CLIP_MODEL_NAME, str(clip_checkpoint_path()), device="cpu", model_config=CLIP_CONFIG_PATH)


@pytest.fixture(scope="module")
def onnx_embedder(tmp_path_factory: pytest.TempPathFactory) -> OnnxEmbedder:
    cache = tmp_path_factory.mktemp("onnx-cache")
    embedder = open_embedder(CLIP_MODEL_NAME, str(clip_checkpoint_path()), device="cpu", model_config=CLIP_CONFIG_PATH,
                             backend="onnx", cache_dir=cache)
    assert isinstance(embedder, OnnxEmbedder)
    return embedder


def test_tokenizer_ids_equal_open_clip(torch_embedder: Embedder, onnx_embedder: OnnxEmbedder) -> None:
    captions = [c for a in world.ARTISTS[:6] for c in world.all_captions(a, "boat", "described", split="heldout")[:3]]
    prompts = [*TEXTS, *neutral_prompts(), *captions, *(a.name for a in world.ARTISTS)]
    ours = onnx_embedder._tokenizer(prompts)
    theirs = torch_embedder._tokenizer(prompts).numpy()
    assert ours.dtype == np.int64 and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


def test_tokenizer_refuses_an_unknown_clean_mode(onnx_embedder: OnnxEmbedder) -> None:
    with pytest.raises(ValueError, match="clean mode"):
        ClipTokenizer(onnx_embedder._folder / MERGES, 32, clean="canonicalize")


def test_preprocess_equals_open_clip_transform(torch_embedder: Embedder) -> None:
    ours = describe(torch_embedder._preprocess)
    for image in _images():
        expected = torch_embedder._preprocess(image.convert("RGB")).numpy()
        np.testing.assert_array_equal(ours(image), expected)


def test_identity_is_the_same_whichever_backend(torch_embedder: Embedder, onnx_embedder: OnnxEmbedder) -> None:
    assert onnx_embedder.identity == torch_embedder.identity
    assert onnx_embedder.dim == torch_embedder.dim == 64


def test_text_vectors_agree(torch_embedder: Embedder, onnx_embedder: OnnxEmbedder) -> None:
    ours, theirs = onnx_embedder.embed_texts(TEXTS), torch_embedder.embed_texts(TEXTS)
    assert ours.dtype == np.float32 and ours.shape == (len(TEXTS), 64)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_image_vectors_agree(torch_embedder: Embedder, onnx_embedder: OnnxEmbedder) -> None:
    images = _images()
    np.testing.assert_allclose(onnx_embedder.embed_images(images), torch_embedder.embed_images(images), atol=1e-5)


def test_batches_and_empty_input(torch_embedder: Embedder, onnx_embedder: OnnxEmbedder) -> None:
    onnx_embedder.batch_size = 3
    try:
        np.testing.assert_allclose(onnx_embedder.embed_texts(TEXTS), torch_embedder.embed_texts(TEXTS), atol=1e-5)
    finally:
        onnx_embedder.batch_size = 64
    assert onnx_embedder.embed_texts([]).shape == (0, 64)
    assert onnx_embedder.embed_images([]).shape == (0, 64)


def _export(cache: Path) -> Path:
    open_embedder(CLIP_MODEL_NAME, str(clip_checkpoint_path()), device="cpu", model_config=CLIP_CONFIG_PATH,
                  backend="onnx", cache_dir=cache)
    (folder,) = [p for p in cache.iterdir() if not p.name.startswith(".")]
    return folder


def test_missing_cache_is_missing(tmp_path: Path) -> None:
    with pytest.raises(CacheMissing):
        load_towers(tmp_path, CLIP_MODEL_NAME, clip_checkpoint_path(), CLIP_CONFIG_PATH)


def test_corrupt_cache_is_refused_then_rebuilt(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = _export(tmp_path)
    graph = folder / TEXT_GRAPH
    data = bytearray(graph.read_bytes())
    data[len(data) // 2] ^= 0xFF
    graph.write_bytes(bytes(data))
    with pytest.raises(CacheRefused, match="does not match the sha256"):
        load_towers(tmp_path, CLIP_MODEL_NAME, clip_checkpoint_path(), CLIP_CONFIG_PATH)
    with caplog.at_level(logging.WARNING, logger="stylegate.governance.embedder"):
        rebuilt = open_embedder(CLIP_MODEL_NAME, str(clip_checkpoint_path()), device="cpu", model_config=CLIP_CONFIG_PATH,
                                cache_dir=tmp_path)
    assert "refusing the ONNX towers cache" in caplog.text
    assert isinstance(rebuilt, OnnxEmbedder)
    assert load_towers(tmp_path, CLIP_MODEL_NAME, clip_checkpoint_path(), CLIP_CONFIG_PATH).identity == rebuilt.identity


def test_foreign_or_damaged_manifest_is_refused(tmp_path: Path) -> None:
    folder = _export(tmp_path)
    manifest = json.loads((folder / MANIFEST).read_text())
    foreign = dict(manifest, identity={**manifest["identity"], "checkpoint_sha256": "0" * 64})
    (folder / MANIFEST).write_text(json.dumps(foreign))
    with pytest.raises(CacheRefused, match="holds towers of"):
        load_towers(tmp_path, CLIP_MODEL_NAME, clip_checkpoint_path(), CLIP_CONFIG_PATH)
    (folder / MANIFEST).write_text("{not json")
    with pytest.raises(CacheRefused, match="unreadable"):
        load_towers(tmp_path, CLIP_MODEL_NAME, clip_checkpoint_path(), CLIP_CONFIG_PATH)
    (folder / MANIFEST).unlink()
    with pytest.raises(CacheRefused, match="has no"):
        load_towers(tmp_path, CLIP_MODEL_NAME, clip_checkpoint_path(), CLIP_CONFIG_PATH)


def test_cache_key_follows_checkpoint_and_config(tmp_path: Path) -> None:
    other_config = tmp_path / "other.json"
    other_config.write_text("{}")
    base = cache_key(CLIP_MODEL_NAME, "a" * 64, CLIP_CONFIG_PATH)
    assert base != cache_key(CLIP_MODEL_NAME, "b" * 64, CLIP_CONFIG_PATH)
    assert base != cache_key(CLIP_MODEL_NAME, "a" * 64, other_config)
    assert base != cache_key("other-model", "a" * 64, CLIP_CONFIG_PATH)


def test_torch_backend_is_forced_by_the_setting(tmp_path: Path) -> None:
    embedder = open_embedder(CLIP_MODEL_NAME, str(clip_checkpoint_path()), device="cpu", model_config=CLIP_CONFIG_PATH,
                             backend="torch", cache_dir=tmp_path)
    assert isinstance(embedder, Embedder)
    assert not any(tmp_path.iterdir())  # nothing exported


@pytest.fixture(scope="module")
def registered_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("backends")
    ws = Workspace(Settings(home=base / "home", device="cpu", embedder_backend="torch"))
    init_home(ws)
    register_styleworld(ws, base / "ref", per_artist=2, artists=world.ARTISTS[:4])
    return base / "home"


def test_gate_decisions_are_the_same_under_both_backends(registered_home: Path) -> None:
    gates = {}
    for backend in ("torch", "onnx"):
        ws = Workspace(Settings(home=registered_home, device="cpu", embedder_backend=backend))
        assert ws.embedder.backend == backend
        gates[backend] = ws.gate()
    prompts = [world.all_captions(a, "boat", "described", split="heldout")[0] for a in world.ARTISTS[:4]]
    prompts += ["a lighthouse", "a cat on a wall", f"a harbour by {world.ARTISTS[1].name}", world.describe(world.ARTISTS[2])]
    images = [world.render(a, world.SUBJECTS[2], world.heldout_seeds()[1]) for a in world.ARTISTS[:5]]
    for prompt in prompts:
        ours, theirs = gates["onnx"].check_prompt(prompt), gates["torch"].check_prompt(prompt)
        assert _summary(ours) == _summary(theirs), prompt
        np.testing.assert_allclose([e.score for e in ours.evidence], [e.score for e in theirs.evidence], atol=1e-4)
    for image in images:
        ours, theirs = gates["onnx"].check_image(image), gates["torch"].check_image(image)
        assert _summary(ours) == _summary(theirs)
        np.testing.assert_allclose([e.score for e in ours.evidence], [e.score for e in theirs.evidence], atol=1e-4)


def _summary(decision) -> tuple:
    return decision.action, sorted((e.kind.value, e.artist.name) for e in decision.evidence)


def test_one_shot_check_imports_neither_torch_nor_open_clip(registered_home: Path, tmp_path: Path) -> None:
    """The cold-start promise: with the towers cached, a prompt check never loads torch."""
    code = (
        "import sys\n"
        "from stylegate.settings import Settings\n"
        "from stylegate.workspace import Workspace\n"
        "ws = Workspace(Settings())\n"
        "decision = ws.gate().check_prompt('a red bicycle')\n"
        "print(decision.action.value, ws.embedder.backend, 'torch' in sys.modules, 'open_clip' in sys.modules)\n"
    )
    env = {**os.environ, "STYLEGATE_HOME": str(registered_home), "STYLEGATE_DEVICE": "cpu"}
    env.pop("STYLEGATE_EMBEDDER_BACKEND", None)
    assert Workspace(Settings(home=registered_home, device="cpu")).embedder.backend == "onnx"  # exported if needed
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.split() == ["allow", "onnx", "False", "False"], out.stderr


def test_neutral_anchor_cache_equals_a_fresh_one_and_ignores_a_bad_file(onnx_embedder: OnnxEmbedder, tmp_path: Path) -> None:
    identity = onnx_embedder.identity.to_dict()
    fresh = neutral_anchor(onnx_embedder.embed_texts)
    first = cached_neutral_anchor(onnx_embedder.embed_texts, identity, tmp_path)
    (cached,) = tmp_path.glob("neutral-*.npy")
    np.testing.assert_array_equal(first, fresh)

    def no_embedding(texts):  # a second call is served from the file
        raise AssertionError("embedded again")

    np.testing.assert_array_equal(cached_neutral_anchor(no_embedding, identity, tmp_path), fresh)
    np.save(cached, np.zeros(64, np.float32))  # not a unit vector: ignored, recomputed
    np.testing.assert_array_equal(cached_neutral_anchor(onnx_embedder.embed_texts, identity, tmp_path), fresh)
    other = {**identity, "checkpoint_sha256": "0" * 64}
    cached_neutral_anchor(onnx_embedder.embed_texts, other, tmp_path)
    assert len(list(tmp_path.glob("neutral-*.npy"))) == 2  # keyed by the embedder's identity


def test_a_failed_export_is_remembered_and_pytorch_serves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from stylegate.governance import onnx_towers

    def unsupported(*args, **kwargs):
        raise onnx_towers.ExportUnsupported("an operator the exporter lacks")

    monkeypatch.setattr(onnx_towers, "export_towers", unsupported)
    args = (CLIP_MODEL_NAME, str(clip_checkpoint_path()))
    kwargs = {"device": "cpu", "model_config": CLIP_CONFIG_PATH, "cache_dir": tmp_path}
    assert isinstance(open_embedder(*args, **kwargs), Embedder)
    (marker,) = tmp_path.glob("*.unsupported")
    assert "an operator the exporter lacks" in marker.read_text()

    def not_again(*args, **kwargs):
        raise AssertionError("export retried")

    monkeypatch.setattr(onnx_towers, "export_towers", not_again)
    assert isinstance(open_embedder(*args, **kwargs), Embedder)
    monkeypatch.setattr(onnx_towers, "export_towers", unsupported)
    with pytest.raises(ModelLoadError, match="cannot serve"):  # onnx insists: it tries again, and says why not
        open_embedder(*args, backend="onnx", **kwargs)
