"""Issue #13: images a pipeline takes (img2img init image, style reference) are gated too.

A tiny randomly initialised StableDiffusionImg2ImgPipeline is built from diffusers' own
classes (no network). Its outputs are noise; what matters is that its input image is checked
against the works index before it runs.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image
from test_generator_pipelines import build_tiny_sd
from typer.testing import CliRunner

from stylegate.bench.fixtures import demo_artists, new_styleworld_workspace
from stylegate.cli import app
from stylegate.generator.gated import GatedGenerator
from stylegate.governance.decision import Action
from stylegate.styleworld import world
from stylegate.workspace import Workspace

torch.set_num_threads(1)
REGISTERED, UNREGISTERED = demo_artists()
OPT_OUT = next(a for a in REGISTERED if a.consent == "opt-out")


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    base = tmp_path_factory.mktemp("inputs")
    ws, _ = new_styleworld_workspace(base, artists=REGISTERED, per_artist=3)
    return ws


@pytest.fixture(scope="module")
def img2img(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from diffusers import DiffusionPipeline, StableDiffusionImg2ImgPipeline

    folder = build_tiny_sd(tmp_path_factory.mktemp("tiny-img2img"))
    text2img = DiffusionPipeline.from_pretrained(str(folder))
    pipe = StableDiffusionImg2ImgPipeline(**text2img.components)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def recording(pipe: Any) -> tuple[Any, list[dict]]:
    calls: list[dict] = []
    original = type(pipe).__call__

    class Spy(type(pipe)):
        @functools.wraps(original)  # the same signature, so the gate sees the same capabilities
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            calls.append(kwargs)
            return original(self, *args, **kwargs)

    spy = Spy(**pipe.components)
    spy.set_progress_bar_config(disable=True)
    return spy, calls


def a_work_of(ws: Workspace, name: str) -> Image.Image:
    artist = ws.store.get_artist(name)
    work = ws.store.list_works(artist.id)[0]
    return Image.open(ws.settings.works_dir / work.path).convert("RGB")


def test_an_opted_out_artists_work_as_init_image_blocks_before_generating(ws: Workspace, img2img: Any) -> None:
    pipe, calls = recording(img2img)
    gen = GatedGenerator(ws.gate(), pipe, early_abort=None)
    result = gen.generate("a quiet harbour", steps=4, inputs={"image": a_work_of(ws, OPT_OUT.name)})
    assert result.action is Action.BLOCK and result.images == [] and calls == []
    evidence = result.input_decision.evidence
    assert evidence and {e.detail["input"] for e in evidence} == {"image"}
    assert any(e.artist.name == OPT_OUT.name and e.kind.value in ("near-duplicate", "style") for e in evidence)
    decision = result.decision_dict()
    assert any(e.get("stage") == "input" for e in decision["evidence"])


def test_an_unregistered_style_as_init_image_is_generated_from(ws: Workspace, img2img: Any) -> None:
    pipe, calls = recording(img2img)
    gen = GatedGenerator(ws.gate(), pipe, early_abort=None)
    init = world.render(UNREGISTERED[0], "boat", 4242, size=64)
    result = gen.generate("a quiet harbour", steps=4, inputs={"image": init})
    assert result.input_decision is not None and result.input_decision.action is not Action.BLOCK
    assert calls and all(c.get("image") is init for c in calls)  # the checked image went in
    assert len(result.images) == 1 and result.images[0].attempt_log


def test_a_blocked_style_reference_is_left_out_not_blocked(ws: Workspace, tmp_path: Path) -> None:
    from stylegate.generator.loading import load_text_to_image

    pipe, calls = recording(load_text_to_image(str(build_tiny_sd(tmp_path))))
    gen = GatedGenerator(ws.gate(), pipe, early_abort=None)
    result = gen.generate("a quiet harbour", steps=4, inputs={"ip_adapter_image": a_work_of(ws, OPT_OUT.name)})
    assert result.dropped_inputs == ["ip_adapter_image"]
    assert calls and all("ip_adapter_image" not in c for c in calls)
    if result.action is not Action.BLOCK:  # the post-check of noise decides the rest
        assert result.action is Action.STEER
    assert any("left out" in r for r in result.decision_dict()["reasons"])


def test_an_input_the_pipeline_does_not_take_is_a_usage_error(ws: Workspace, tmp_path: Path) -> None:
    from stylegate.errors import InputError
    from stylegate.generator.loading import load_text_to_image

    gen = GatedGenerator(ws.gate(), load_text_to_image(str(build_tiny_sd(tmp_path))), early_abort=None)
    with pytest.raises(InputError, match="takes no image input"):
        gen.generate("a quiet harbour", steps=2, inputs={"image": world.render(UNREGISTERED[0], "boat", 1, size=64)})


def test_cli_checks_an_input_image_file_before_loading_a_model(ws: Workspace, tmp_path: Path) -> None:
    junk = tmp_path / "init.png"
    junk.write_bytes(b"not an image")
    result = CliRunner().invoke(app, ["--home", str(ws.settings.home), "generate", "a boat", "--image", str(junk),
                                      "--model", str(tmp_path / "no-such-pipeline")])
    assert result.exit_code == 2 and "not an image" in result.output
    missing = CliRunner().invoke(app, ["--home", str(ws.settings.home), "generate", "a boat", "--style-reference",
                                       str(tmp_path / "nope.png")])
    assert missing.exit_code == 2 and "no such file" in missing.output
