"""The second shipped StyleWorld CLIP (``styleworld-clip-s``): found by name, a trained embedder of
its own, served by ONNX like the first, and the shipped thresholds are refused on it until
`stylegate calibrate` fits its own."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from stylegate.cli import app
from stylegate.errors import EXIT_ERROR
from stylegate.governance.embedder import Embedder, open_embedder
from stylegate.governance.onnx_towers import OnnxEmbedder
from stylegate.governance.policy import load_policy
from stylegate.registry.works import file_sha256
from stylegate.settings import Settings
from stylegate.styleworld import models, world
from stylegate.workspace import Workspace

NAME = models.CLIP_SMALL_MODEL_NAME
runner = CliRunner()


def sg(home: Path, *args: str):
    return runner.invoke(app, ["--home", str(home), *args])


@pytest.fixture(scope="module")
def small() -> Embedder:
    return Embedder(NAME, str(models.clip_checkpoint_path(NAME)), device="cpu", model_config=models.clip_config_path(NAME))


def test_the_name_alone_finds_the_shipped_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STYLEGATE_CLIP_MODEL", NAME)
    identity = Workspace(Settings(home=tmp_path / "h", device="cpu", embedder_backend="torch")).embedder.identity
    first = Workspace(Settings(home=tmp_path / "g", device="cpu", embedder_backend="torch",
                               clip_model=models.CLIP_MODEL_NAME)).embedder.identity
    assert identity.model == NAME and identity.checkpoint_sha256 == file_sha256(models.clip_checkpoint_path(NAME))
    assert identity.dim == json.loads(models.clip_config_path(NAME).read_text())["embed_dim"]
    assert first.checkpoint_sha256 == load_policy().calibration.embedder.checkpoint_sha256
    assert identity.checkpoint_sha256 != first.checkpoint_sha256


def test_it_is_a_trained_embedder_not_random_weights(small: Embedder) -> None:
    """Held-out renders sit nearest their own artist's training renders (the 12 originals), and a
    held-out described caption nearest its own artist's renders."""
    protos, held, labels = [], [], []
    for i, artist in enumerate(world.ARTISTS):
        train = small.embed_images([world.render(artist, s, seed) for s in world.SUBJECTS for seed in (0, 1)])
        p = train.mean(0)
        protos.append(p / np.linalg.norm(p))
        held.append(small.embed_images([world.render(artist, s, 1_000_000 + 3) for s in world.SUBJECTS]))
        labels += [i] * len(world.SUBJECTS)
    P = np.stack(protos)
    images = np.concatenate(held)
    assert np.allclose(np.linalg.norm(images, axis=1), 1.0, atol=1e-5)
    assert np.mean((images @ P.T).argmax(1) == np.array(labels)) >= 0.9
    texts = [world.all_captions(a, "boat", "described", split="heldout")[0] for a in world.ARTISTS]
    assert np.mean((small.embed_texts(texts) @ P.T).argmax(1) == np.arange(len(world.ARTISTS))) >= 0.75


def test_the_onnx_towers_serve_it_with_the_same_vectors(small: Embedder, tmp_path: Path) -> None:
    onnx = open_embedder(NAME, str(models.clip_checkpoint_path(NAME)), device="cpu",
                         model_config=models.clip_config_path(NAME), backend="onnx", cache_dir=tmp_path)
    assert isinstance(onnx, OnnxEmbedder) and onnx.identity == small.identity
    images = [world.render(a, "cat", 5) for a in world.ARTISTS[:4]] + [world.render(world.SIBLINGS[0], "tree", 2)]
    texts = ["a cat in teal dotted strokes", "", "ordinary words about a harbour"]
    assert np.abs(onnx.embed_images(images) - small.embed_images(images)).max() < 1e-4
    assert np.abs(onnx.embed_texts(texts) - small.embed_texts(texts)).max() < 1e-4


@pytest.mark.slow
def test_shipped_thresholds_are_refused_and_calibrated_ones_accepted(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STYLEGATE_CLIP_MODEL", NAME)
    home = tmp_path / "home"
    assert sg(home, "init").exit_code == 0
    for i, artist in enumerate(world.ARTISTS[:4]):
        args = ["artists", "add", artist.name, "--consent", artist.consent]
        for d in artist.descriptors:
            args += ["--descriptor", d]
        assert sg(home, *args).exit_code == 0
        folder = tmp_path / f"w{i}"
        folder.mkdir()
        for k in range(5):
            world.render(artist, world.SUBJECTS[k], k).save(folder / f"{k}.png")
        assert sg(home, "works", "add", artist.name, str(folder)).exit_code == 0
    prompt = f"a boat, {world.describe(world.ARTISTS[1])}"
    refused = sg(home, "check", "prompt", prompt, "--json")
    assert refused.exit_code == EXIT_ERROR == 1, refused.output
    error = json.loads(refused.stdout.strip().splitlines()[-1])["error"]
    assert "styleworld-clip (sha256 ddd47a853779" in error and f"{NAME} (sha256" in error
    assert "stylegate calibrate" in error
    fitted = sg(home, "calibrate", "--json")
    assert fitted.exit_code == 0, fitted.output
    assert json.loads(fitted.stdout)["embedder"]["model"] == NAME
    checked = sg(home, "check", "prompt", prompt, "--json")
    assert checked.exit_code != EXIT_ERROR, checked.output
    decision = json.loads(checked.stdout)
    assert decision["embedder"]["model"] == NAME


@pytest.mark.slow
def test_trained_with_the_siblings_it_tells_them_from_their_parents_more_often(small: Embedder) -> None:
    """styleworld-clip-s saw the siblings' training renders (train_clip --with-siblings);
    styleworld-clip never did. Held-out renders of a sibling and of its parent, each compared
    with the two artists' training prototypes: the second CLIP picks the right one more often."""
    first = Embedder(models.CLIP_MODEL_NAME, str(models.clip_checkpoint_path(models.CLIP_MODEL_NAME)), device="cpu",
                     model_config=models.clip_config_path(models.CLIP_MODEL_NAME))

    def right_side(e: Embedder) -> float:
        def proto(a: world.StyleArtist) -> np.ndarray:
            p = e.embed_images([world.render(a, s, seed) for s in world.SUBJECTS for seed in (0, 1)]).mean(0)
            return p / np.linalg.norm(p)

        ok: list[bool] = []
        for sib in world.SIBLINGS:
            parent = world.sibling_of(sib)
            ps, pp = proto(sib), proto(parent)
            for who, own, other in ((sib, ps, pp), (parent, pp, ps)):
                x = e.embed_images([world.render(who, s, world.HELDOUT_SEED_START + k) for s in world.SUBJECTS for k in (3, 4)])
                ok += list(x @ own > x @ other)
        return float(np.mean(ok))

    seen, unseen = right_side(small), right_side(first)
    assert seen >= 0.75 and seen > unseen + 0.05, (seen, unseen)
