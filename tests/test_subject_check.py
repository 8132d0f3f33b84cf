"""The steered output's subject, checked with the gate's own CLIP (issue #13: subject kept).

A steered attempt whose output passes the post-check but lost the subject samples another
candidate; a candidate in the opted-out style ends the attempt (the retry pushes harder).
The pipelines here draw StyleWorld renders chosen by the seed they are given, so which
candidate shows the subject is known."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from stylegate.bench.fixtures import demo_artists, new_styleworld_workspace
from stylegate.generator.gated import CANDIDATE_SEED_STRIDE, GatedGenerator
from stylegate.governance.decision import Action
from stylegate.governance.gate import PolicyGate
from stylegate.governance.policy import default_policy_text, parse_policy
from stylegate.governance.subject_check import SubjectCheck, bundled_nouns
from stylegate.styleworld import world

torch.set_num_threads(1)

REGISTERED, UNREGISTERED = demo_artists()
OPT_OUT = next(a for a in REGISTERED if a.consent == "opt-out")
FREE = UNREGISTERED[0]  # nobody registered this style: its pictures pass the post-check
PROMPT = f"a boat in {world.describe(OPT_OUT)}"  # described opted-out style: steered to "a boat"


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> PolicyGate:
    ws, _ = new_styleworld_workspace(tmp_path_factory.mktemp("subject"), artists=REGISTERED)
    return ws.gate()


def _with(gate: PolicyGate, **steering: Any) -> PolicyGate:
    policy = parse_policy(default_policy_text())
    policy = policy.model_copy(update={"steering": policy.steering.model_copy(update=steering)})
    return PolicyGate(policy, gate.embedder, gate.view)


class SeededRenders:
    """A text-to-image callable that draws ``draw(seed)`` = (artist, subject), whatever the prompt."""

    def __init__(self, draw: Any) -> None:
        self.draw = draw
        self.seeds: list[int] = []

    def __call__(self, prompt: str, negative_prompt: str | None = None, num_inference_steps: int = 25,
                 guidance_scale: float = 3.0, generator: Any = None) -> Any:
        seed = int(generator.initial_seed())
        self.seeds.append(seed)
        artist, subject = self.draw(seed)
        return [world.render(artist, subject, world.heldout_seeds()[len(self.seeds) % 16], size=32)]


# ------------------------------------------------------------------ the check itself
def test_the_subject_word_is_read_and_only_it_is_swapped_in_the_contrast_prompts() -> None:
    seen: list[str] = []

    def vectors(texts: Sequence[str]) -> np.ndarray:
        seen.extend(texts)
        return np.eye(len(texts), 4, dtype=np.float32)

    check = SubjectCheck("a boat on a calm sea", vectors, vocabulary=["cat", "boat", "tree"])
    assert check.subject == "boat"
    assert seen == ["a boat on a calm sea", "a cat on a calm sea", "a tree on a calm sea"]  # not "boat" against itself
    assert check.rivals == ["cat", "tree"]
    with pytest.raises(ValueError, match="no noun"):
        SubjectCheck("a boat", vectors, vocabulary=["boat"])
    assert {"boat", "cat", "lighthouse"} <= set(bundled_nouns()) and len(bundled_nouns()) == len(set(bundled_nouns()))


def test_the_gates_clip_finds_the_subject_in_a_render_of_it_and_names_the_rival_in_another(gate: PolicyGate) -> None:
    check = SubjectCheck("a boat", gate.text_vectors)
    embed = gate.embedder.embed_images
    boats = [check.score(v) for v in embed([world.render(FREE, "boat", s, size=32) for s in world.heldout_seeds(3)])]
    cats = [check.score(v) for v in embed([world.render(FREE, "cat", s, size=32) for s in world.heldout_seeds(3)])]
    assert all(b.found and b.margin > 0 for b in boats), [b.to_dict() for b in boats]
    assert not any(c.found for c in cats) and {c.rival for c in cats} == {"cat"}, [c.to_dict() for c in cats]


# ------------------------------------------------------------ through the generator
def test_a_steered_output_without_its_subject_gets_another_candidate(gate: PolicyGate) -> None:
    pipe = SeededRenders(lambda seed: (FREE, "cat" if seed == 7 else "boat"))
    result = GatedGenerator(_with(gate, subject_candidates=3), pipe).generate(PROMPT, seed=7, steps=4)
    assert result.prompt_decision.action is Action.STEER and result.used_prompt.startswith("a boat")
    (im,) = result.images
    assert result.action is Action.STEER and im.image is not None
    assert pipe.seeds == [7, 7 + CANDIDATE_SEED_STRIDE]  # a second seed, at the same push
    assert im.attempts == 1 and im.samples == 2 and im.seed == 7 + CANDIDATE_SEED_STRIDE
    first, second = im.attempt_log
    assert first.subject is not None and not first.subject["found"] and first.subject["rival"] == "cat"
    assert second.subject is not None and second.subject["found"] and second.candidate == 1
    assert im.to_dict()["attempt_log"][1]["subject"]["subject"] == "boat"  # in the audit entry's detail
    assert im.steps_run == 8  # both candidates' steps are counted


def test_one_candidate_turns_the_check_off(gate: PolicyGate) -> None:
    pipe = SeededRenders(lambda seed: (FREE, "cat"))
    (im,) = GatedGenerator(_with(gate, subject_candidates=1), pipe).generate(PROMPT, seed=7, steps=4).images
    assert im.image is not None and im.samples == 1 and im.attempt_log[0].subject is None


def test_never_found_keeps_the_candidate_that_shows_it_best_after_the_budget(gate: PolicyGate) -> None:
    pipe = SeededRenders(lambda seed: (FREE, "cat"))
    (im,) = GatedGenerator(_with(gate, subject_candidates=4), pipe).generate(PROMPT, seed=7, steps=4).images
    assert im.image is not None and im.action is Action.STEER  # the steer still writes an image
    assert im.samples == 4 and im.attempts == 1
    margins = [a.subject["margin"] for a in im.attempt_log if a.subject]
    assert im.seed == im.attempt_log[int(np.argmax(margins))].seed


def test_a_candidate_in_the_opted_out_style_ends_the_attempt_and_the_retry_pushes_harder(gate: PolicyGate) -> None:
    pipe = SeededRenders(lambda seed: (OPT_OUT, "boat") if seed == 7 else (FREE, "boat"))
    (im,) = GatedGenerator(_with(gate, subject_candidates=3), pipe).generate(PROMPT, seed=7, steps=4).images
    first, second = im.attempt_log
    assert first.action is Action.BLOCK and first.subject is None  # rejected: not scored for the subject
    assert second.attempt == 2 and second.candidate == 0 and second.negative_prompt  # a new attempt, pushed away
    assert im.image is not None and im.attempts == 2


# ------------------------------------------------- more weight on the subject in training
def test_plain_share_reweights_the_caption_kinds_and_keeps_the_others_proportions() -> None:
    from stylegate.styleworld.train_diffusion import KIND_PROBS, kind_probs

    kinds = list(KIND_PROBS)
    base, more = kind_probs(), kind_probs(0.3)
    assert more.sum() == pytest.approx(1.0) and more[kinds.index("plain")] == pytest.approx(0.3)
    others = [i for i, k in enumerate(kinds) if k != "plain"]
    assert np.allclose(more[others] / more[others].sum(), base[others] / base[others].sum())
    with pytest.raises(ValueError, match="plain-share"):
        kind_probs(1.0)


def test_a_fine_tuning_run_keeps_the_runs_before_it_in_its_log(tmp_path: Path) -> None:
    import json

    from stylegate.styleworld.train_diffusion import lineage, run_log_path

    assert lineage(None) == []
    first, second = tmp_path / "pipe-1", tmp_path / "pipe-2"
    assert run_log_path(first) == tmp_path / "pipe-1_log.json"
    assert lineage(first) == [{"init_from": str(first), "log": None}]  # a folder with no log says so
    run_log_path(first).write_text(json.dumps({"steps": 2295, "lr": 0.001, "seed": 0, "init_from": None}))
    (run,) = lineage(first)
    assert run["steps"] == 2295 and run["init_from"] is None and run["kind_probs"]["plain"] == 0.1
    run_log_path(second).write_text(json.dumps({"steps": 1100, "seed": 1, "init_from": str(first),
                                                "kind_probs": {"plain": 0.3}, "previous_runs": [run]}))
    assert [r["steps"] for r in lineage(second)] == [2295, 1100]  # oldest first
    assert lineage(second)[1]["kind_probs"] == {"plain": 0.3}
