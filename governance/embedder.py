"""CLIP embedder: open_clip behind a small interface.

Built from an open_clip model name plus either a pretrained tag (downloaded by open_clip
from its hub in a real deployment) or a local checkpoint file. Returns L2-normalised
float32 vectors. Its identity (model, checkpoint sha256, dim) goes into every index and
every decision, so vectors from different models are never mixed.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from stylegate.errors import ModelLoadError
from stylegate.registry.works import file_sha256

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda", "mps")


class ClipEmbedder(Protocol):
    """What the gate, the registry and the front ends use of an embedder, whichever backend."""

    identity: EmbedderIdentity
    backend: str

    @property
    def dim(self) -> int: ...

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray: ...


@dataclass(frozen=True)
class EmbedderIdentity:
    model: str
    checkpoint_sha256: str
    dim: int

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "checkpoint_sha256": self.checkpoint_sha256, "dim": self.dim}


def resolve_device(device: str) -> str:
    """Map ``auto`` to the best available torch device; validate the others."""
    import torch

    if device not in DEVICES:
        raise ModelLoadError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError("device 'cuda' requested but torch sees no CUDA device")
    if device == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ModelLoadError("device 'mps' requested but it is not available")
    return device


class Embedder:
    """Embeds texts and images with an open_clip model under PyTorch (training, export, fallback)."""

    backend = "torch"

    def __init__(
        self,
        model_name: str,
        pretrained: str | None = None,
        *,
        device: str = "auto",
        batch_size: int = 64,
        model_config: Path | None = None,
    ) -> None:
        import open_clip
        import torch

        self.model_name = model_name
        self.batch_size = batch_size
        self.device = resolve_device(device)
        if model_config is not None:
            open_clip.add_model_config(str(model_config))
        checkpoint_path = Path(pretrained) if pretrained and Path(pretrained).is_file() else None
        if not pretrained:
            torch.manual_seed(0)  # a weightless model is seeded, so its identity is reproducible
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(
                model_name, pretrained=pretrained, device=self.device
            )
            tokenizer = open_clip.get_tokenizer(model_name)
        except Exception as exc:  # open_clip raises many kinds; all mean "cannot load"
            hint = ""
            if pretrained and checkpoint_path is None:
                hint = " (a pretrained tag is downloaded from the model hub; offline, pass a local checkpoint file)"
            raise ModelLoadError(f"cannot load open_clip model {model_name!r} / {pretrained!r}: {exc}{hint}") from exc
        model.eval()
        self._model = model
        self._preprocess = preprocess
        self._tokenizer = tokenizer
        with torch.inference_mode():
            dim = int(model.encode_text(tokenizer(["a"]).to(self.device)).shape[-1])
        if checkpoint_path is not None:
            sha = file_sha256(checkpoint_path)
        else:
            sha = _parameters_sha256(model)
        self.identity = EmbedderIdentity(model=model_name, checkpoint_sha256=sha, dim=dim)
        self.image_size = _image_size(preprocess)
        log.info("embedder %s on %s (dim %d)", model_name, self.device, dim)

    @property
    def dim(self) -> int:
        return self.identity.dim

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                tokens = self._tokenizer(list(texts[start : start + self.batch_size])).to(self.device)
                out.append(self._normalise(self._model.encode_text(tokens)))
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        import torch

        out = []
        with torch.inference_mode():
            for start in range(0, len(images), self.batch_size):
                batch = torch.stack([self._preprocess(im.convert("RGB")) for im in images[start : start + self.batch_size]])
                out.append(self._normalise(self._model.encode_image(batch.to(self.device))))
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)

    @staticmethod
    def _normalise(features: Any) -> np.ndarray:
        return normalise(features.float().cpu().numpy())


def normalise(features: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, as ``float32`` (both backends end here)."""
    vectors = np.asarray(features, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def _parameters_sha256(model: Any) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _image_size(preprocess: Any) -> int:
    for t in getattr(preprocess, "transforms", []):
        size = getattr(t, "size", None)
        if isinstance(size, int):
            return size
        if isinstance(size, (tuple, list)) and size:
            return int(size[0])
    return 224


BACKENDS = ("auto", "onnx", "torch")


def open_embedder(
    model_name: str,
    pretrained: str | None,
    *,
    device: str = "auto",
    model_config: Path | None = None,
    backend: str = "auto",
    cache_dir: Path,
    threads: int = 1,
) -> ClipEmbedder:
    """The embedder for inference: the cached ONNX towers when they can serve, else PyTorch.

    ``auto`` uses ONNX for a local checkpoint on the CPU (``device`` ``cpu``, or ``auto`` with
    no GPU visible), exporting the towers on first use; a model that cannot be exported, or a
    pretrained tag, runs under PyTorch. ``onnx`` insists (an error if it cannot serve);
    ``torch`` never uses ONNX. A refused cache (foreign, corrupt) is logged and re-exported.
    """
    if backend not in BACKENDS:
        raise ModelLoadError(f"unknown embedder backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    checkpoint = Path(pretrained) if pretrained and Path(pretrained).is_file() else None
    use_onnx = backend == "onnx" or (backend == "auto" and checkpoint is not None and _cpu_only(device))
    if backend == "onnx" and checkpoint is None:
        raise ModelLoadError("the onnx embedder backend needs a local checkpoint file (not a pretrained tag)")
    if backend == "onnx" and device not in ("auto", "cpu"):
        raise ModelLoadError(f"the onnx embedder backend runs on the CPU, not on {device!r}")
    if use_onnx:
        from stylegate.governance.onnx_towers import CacheMissing, CacheRefused, load_towers, refusal_path

        assert checkpoint is not None
        sha = file_sha256(checkpoint)
        refused = refusal_path(cache_dir, model_name, sha, model_config)
        if backend == "auto" and refused.is_file():
            log.info("%s runs under PyTorch: its export failed before (%s; delete the file to retry)", model_name, refused)
            use_onnx = False
        else:
            try:
                return load_towers(cache_dir, model_name, checkpoint, model_config, threads=threads, checkpoint_sha256=sha)
            except CacheMissing:
                log.info("no ONNX towers cached for %s yet; exporting them", model_name)
            except CacheRefused as exc:
                log.warning("refusing the ONNX towers cache: %s; exporting them again", exc)
    set_torch_threads(threads)
    torch_embedder = Embedder(model_name, pretrained, device="cpu" if use_onnx else device, model_config=model_config)
    if not use_onnx:
        return torch_embedder
    from stylegate.governance.onnx_towers import ExportUnsupported, export_towers, load_towers, remember_refusal

    assert checkpoint is not None
    try:
        export_towers(torch_embedder, cache_dir, model_config)
    except ExportUnsupported as exc:
        if backend == "onnx":
            raise ModelLoadError(f"cannot serve {model_name!r} through ONNX: {exc}") from exc
        remember_refusal(cache_dir, torch_embedder.identity, model_config, str(exc))
        log.warning("%s runs under PyTorch: %s", model_name, exc)
        return torch_embedder
    return load_towers(cache_dir, model_name, checkpoint, model_config, threads=threads)


def set_cpu_threads(threads: int, *, torch: bool = True) -> None:
    """Apply a CPU thread count to FAISS (OpenMP) and, unless ``torch=False``, to torch."""
    import faiss

    if torch:
        set_torch_threads(threads)
    faiss.omp_set_num_threads(threads)


def set_torch_threads(threads: int) -> None:
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def _cpu_only(device: str) -> bool:
    """Whether ``device`` means the CPU, decided without importing torch."""
    if device == "cpu":
        return True
    if device != "auto":
        return False
    if sys.platform == "darwin":
        return False  # auto may pick mps
    gpus = Path("/proc/driver/nvidia/gpus")
    return not (gpus.is_dir() and any(gpus.iterdir()))
