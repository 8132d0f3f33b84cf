"""The embedder's text and image towers as ONNX graphs under onnxruntime (no torch at run time).

A one-shot check spends most of its cold start importing torch and open_clip. The towers of
a checkpoint are exported once (:func:`export_towers`, which needs torch) into a cache folder
keyed by the checkpoint's sha256, the model name and its config; :func:`load_towers` then
embeds with onnxruntime, numpy and PIL only. The cache is verified before use: its manifest
must name this checkpoint, and every file must match the sha256 the manifest records; a cache
that fails is refused with the reason (and re-exported by the caller), never used silently.
The exported graphs are compared with the PyTorch towers before the cache is written.

The identity (model name, checkpoint sha256, dim) is the PyTorch embedder's, so indexes,
thresholds and audit entries stay valid whichever backend runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from stylegate.governance.clip_preprocess import ClipPreprocess, UnsupportedTransform, describe
from stylegate.governance.clip_tokenizer import CLEAN_MODES, ClipTokenizer, write_merges
from stylegate.governance.embedder import EmbedderIdentity, normalise
from stylegate.registry.works import file_sha256

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

    from stylegate.governance.embedder import Embedder

log = logging.getLogger(__name__)

FORMAT = 2  # bump when the cache's layout or the export changes meaning
MANIFEST = "manifest.json"
TEXT_GRAPH = "text.onnx"
IMAGE_GRAPH = "image.onnx"
MERGES = "bpe_merges.txt"
OPSET = 17
# Largest difference allowed between an exported tower and PyTorch on the export's probes
# (unit vectors; measured differences on the StyleWorld CLIP are about 1e-6).
TOLERANCE = 1e-4


class CacheRefused(Exception):
    """An ONNX cache folder that must not be used (the message says why)."""


class CacheMissing(CacheRefused):
    """No export of this checkpoint is cached yet."""


class ExportUnsupported(Exception):
    """This model's towers, tokenizer or transform cannot be served by the ONNX backend."""


def cache_key(model_name: str, checkpoint_sha256: str, model_config: Path | None) -> str:
    """The cache folder's name: what the graphs are a function of."""
    config_sha = file_sha256(model_config) if model_config is not None else None
    blob = json.dumps({"format": FORMAT, "model": model_name, "checkpoint": checkpoint_sha256, "config": config_sha})
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


class OnnxEmbedder:
    """Embeds texts and images with exported towers; same interface and identity as ``Embedder``."""

    backend = "onnx"

    def __init__(self, folder: Path, manifest: dict[str, Any], *, threads: int = 1, batch_size: int = 64) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._options = options
        self._providers = ["CPUExecutionProvider"]
        self._folder = folder
        self._text: Any = None
        self._image: Any = None
        tok = manifest["tokenizer"]
        self._tokenizer = ClipTokenizer(folder / MERGES, int(tok["context_length"]), str(tok["clean"]))
        self._preprocess = ClipPreprocess.from_dict(manifest["preprocess"])
        ident = manifest["identity"]
        self.identity = EmbedderIdentity(model=ident["model"], checkpoint_sha256=ident["checkpoint_sha256"], dim=int(ident["dim"]))
        self.image_size = self._preprocess.size
        self.batch_size = batch_size
        self.device = "cpu"

    @property
    def dim(self) -> int:
        return self.identity.dim

    def _session(self, graph: str) -> Any:
        import onnxruntime as ort

        return ort.InferenceSession(str(self._folder / graph), sess_options=self._options, providers=self._providers)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        if self._text is None:
            self._text = self._session(TEXT_GRAPH)
        out = []
        for start in range(0, len(texts), self.batch_size):
            tokens = self._tokenizer(list(texts[start : start + self.batch_size]))
            out.append(normalise(self._text.run(None, {"tokens": tokens})[0]))
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        if self._image is None:
            self._image = self._session(IMAGE_GRAPH)
        out = []
        for start in range(0, len(images), self.batch_size):
            pixels = self._preprocess.batch(list(images[start : start + self.batch_size]))
            out.append(normalise(self._image.run(None, {"pixels": pixels})[0]))
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)


def read_manifest(folder: Path, model_name: str, checkpoint_sha256: str) -> dict[str, Any]:
    """The folder's manifest after checking it belongs to this checkpoint and its files are intact."""
    path = folder / MANIFEST
    if not folder.exists():
        raise CacheMissing(f"{folder} does not exist")
    if not path.is_file():
        raise CacheRefused(f"{folder} has no {MANIFEST}")
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise CacheRefused(f"{path} is unreadable: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CacheRefused(f"{path} is not a format-{FORMAT} manifest")
    ident = manifest.get("identity") or {}
    if ident.get("model") != model_name or ident.get("checkpoint_sha256") != checkpoint_sha256:
        raise CacheRefused(
            f"{folder} holds towers of {ident.get('model')!r} / {str(ident.get('checkpoint_sha256'))[:12]}, "
            f"not of {model_name!r} / {checkpoint_sha256[:12]}"
        )
    files = manifest.get("files") or {}
    for name in (TEXT_GRAPH, IMAGE_GRAPH, MERGES):
        expected = files.get(name)
        file = folder / name
        if not file.is_file():
            raise CacheRefused(f"{file} is missing")
        if expected is None or file_sha256(file) != expected:
            raise CacheRefused(f"{file} does not match the sha256 in its manifest (corrupt or replaced)")
    return manifest


def load_towers(cache_dir: Path, model_name: str, checkpoint: Path, model_config: Path | None = None, *,
                threads: int = 1, batch_size: int = 64, checkpoint_sha256: str | None = None) -> OnnxEmbedder:
    """The cached towers of ``checkpoint``; :class:`CacheRefused` when absent or unusable.

    ``checkpoint_sha256``: the checkpoint's hash when the caller has just computed it.
    """
    sha = checkpoint_sha256 or file_sha256(checkpoint)
    folder = cache_dir / cache_key(model_name, sha, model_config)
    manifest = read_manifest(folder, model_name, sha)
    try:
        return OnnxEmbedder(folder, manifest, threads=threads, batch_size=batch_size)
    except (KeyError, TypeError, ValueError, UnsupportedTransform) as exc:
        raise CacheRefused(f"{folder / MANIFEST} is malformed: {exc}") from exc


def refusal_path(cache_dir: Path, model_name: str, checkpoint_sha256: str, model_config: Path | None) -> Path:
    """Where a failed export's reason is kept, so later runs go straight to PyTorch."""
    return cache_dir / f"{cache_key(model_name, checkpoint_sha256, model_config)}.unsupported"


def remember_refusal(cache_dir: Path, identity: EmbedderIdentity, model_config: Path | None, reason: str) -> None:
    path = refusal_path(cache_dir, identity.model, identity.checkpoint_sha256, model_config)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(reason + "\n", "utf-8")
    os.replace(tmp, path)


def export_towers(embedder: Embedder, cache_dir: Path, model_config: Path | None = None) -> Path:
    """Export ``embedder``'s towers into the cache (atomically: a temp folder renamed into place).

    Raises :class:`ExportUnsupported` for a tokenizer or transform this backend cannot replay,
    or when the exported graphs disagree with PyTorch.
    """
    tokenizer_info = _tokenizer_info(embedder._tokenizer)
    try:
        preprocess = describe(embedder._preprocess)
    except UnsupportedTransform as exc:
        raise ExportUnsupported(f"image transform not supported: {exc}") from exc
    identity = embedder.identity
    folder = cache_dir / cache_key(identity.model, identity.checkpoint_sha256, model_config)
    cache_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=cache_dir))
    try:
        _export_graphs(embedder, work, preprocess.size, tokenizer_info["context_length"])
        write_merges(tokenizer_info.pop("merges_path"), work / MERGES)
        manifest = {
            "format": FORMAT,
            "identity": identity.to_dict(),
            "tokenizer": tokenizer_info,
            "preprocess": preprocess.to_dict(),
            "files": {name: file_sha256(work / name) for name in (TEXT_GRAPH, IMAGE_GRAPH, MERGES)},
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True), "utf-8")
        _check_agreement(embedder, OnnxEmbedder(work, manifest))
        _install(work, folder, identity)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("exported the %s towers to %s", identity.model, folder)
    return folder


def _tokenizer_info(tokenizer: Any) -> dict[str, Any]:
    from open_clip.tokenizer import SimpleTokenizer, default_bpe, get_clean_fn

    if type(tokenizer) is not SimpleTokenizer:
        raise ExportUnsupported(f"tokenizer {type(tokenizer).__name__} (only open_clip's SimpleTokenizer is replayed)")
    if tokenizer.reduction_fn is not None or len(tokenizer.encoder) != 49408:
        raise ExportUnsupported("tokenizer with a reduction mask or extra special tokens")
    clean = next((mode for mode in CLEAN_MODES if get_clean_fn(mode) is tokenizer.clean_fn), None)
    if clean is None:
        raise ExportUnsupported("tokenizer clean function other than 'lower' or 'whitespace'")
    return {"context_length": int(tokenizer.context_length), "clean": clean, "merges_path": default_bpe()}


def _export_graphs(embedder: Embedder, folder: Path, image_size: int, context_length: int) -> None:
    import torch

    model = embedder._model

    class TextTower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            return self.model.encode_text(tokens)

    class ImageTower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, pixels: torch.Tensor) -> torch.Tensor:
            return self.model.encode_image(pixels)

    tokens = embedder._tokenizer(["a photo", "b"]).to(embedder.device)
    pixels = torch.zeros(2, 3, image_size, image_size, device=embedder.device)
    exports = ((TextTower(), tokens, TEXT_GRAPH, "tokens"), (ImageTower(), pixels, IMAGE_GRAPH, "pixels"))
    try:
        for tower, example, name, input_name in exports:
            # With autograd on, attention traces as plain ops (in no_grad it takes a fused
            # kernel the exporter cannot translate); nothing is trained here.
            with torch.inference_mode(False), torch.enable_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    tower.eval(), (example,), str(folder / name), input_names=[input_name], output_names=["features"],
                    dynamic_axes={input_name: {0: "batch"}, "features": {0: "batch"}}, opset_version=OPSET, dynamo=False,
                )
    except Exception as exc:  # noqa: BLE001 - the exporter raises many kinds; all mean "cannot export"
        raise ExportUnsupported(f"torch.onnx.export failed: {exc}") from exc


def _check_agreement(embedder: Embedder, exported: OnnxEmbedder) -> None:
    """Probe texts and images through both backends; refuse an export that disagrees."""
    from PIL import Image

    texts = ["a photo of a cat", "", "misty teal watercolor, soft edges " * 8, "café ünïcödé 日本語"]
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for h, w in ((64, 64), (37, 91), (120, 50))]
    pairs = ((embedder.embed_texts(texts), exported.embed_texts(texts), "text"),
             (embedder.embed_images(images), exported.embed_images(images), "image"))
    for ref, got, what in pairs:
        gap = float(np.abs(ref - got).max())
        if gap > TOLERANCE:
            raise ExportUnsupported(f"the exported {what} tower differs from PyTorch by {gap:.2e} (> {TOLERANCE})")


def _install(work: Path, folder: Path, identity: EmbedderIdentity) -> None:
    """Move the finished export into place. A valid export already there (another process
    finished first, and may be using it) is kept; a refused one is replaced."""
    if folder.exists():
        try:
            read_manifest(folder, identity.model, identity.checkpoint_sha256)
            return
        except CacheRefused:
            stale = folder.with_name(f".stale-{folder.name}-{os.getpid()}")
            try:
                os.replace(folder, stale)
                shutil.rmtree(stale, ignore_errors=True)
            except FileNotFoundError:
                pass  # another process moved it first
    try:
        os.replace(work, folder)
    except OSError:
        read_manifest(folder, identity.model, identity.checkpoint_sha256)  # another process's, valid: fine
