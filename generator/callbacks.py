"""diffusers ``PipelineCallback`` objects for gated generation, composed with the caller's own.

The gate's early-abort monitor (:class:`~stylegate.generator.early_abort.PreviewMonitor`)
rides along as a :class:`GateCallback`. A caller who has step-end callbacks of their own
(a CFG cut-off, a progress hook, a latent edit) hands them to the gated generator; they run
first, in the order given, and the gate's callback runs last so its preview sees the latents
the pipeline continues with. diffusers' ``MultiPipelineCallbacks`` passes each callback's
returned ``callback_kwargs`` on to the next, so the gate's callback returns them unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from diffusers.callbacks import MultiPipelineCallbacks, PipelineCallback

from stylegate.generator.early_abort import PreviewMonitor

StepEnd = Callable[[Any, int, Any, dict[str, Any]], dict[str, Any]]


class GateCallback(PipelineCallback):
    """The gate's preview monitor as a diffusers callback: previews, checks, interrupts."""

    def __init__(self, monitor: PreviewMonitor) -> None:
        super().__init__(cutoff_step_ratio=1.0)
        self.monitor = monitor

    @property
    def tensor_inputs(self) -> list[str]:
        return self.monitor.tensor_inputs

    def callback_fn(self, pipeline: Any, step_index: int, timestep: Any, callback_kwargs: dict[str, Any]) -> dict[str, Any]:
        self.monitor(pipeline, step_index, timestep, callback_kwargs)
        return callback_kwargs


class FunctionCallback(PipelineCallback):
    """A plain ``callback_on_step_end`` function, wrapped so it composes with other callbacks.

    diffusers lets such a function return only the tensors it changed; the wrapper merges
    them into the step's ``callback_kwargs`` so the callbacks after it still see the rest.
    """

    def __init__(self, function: StepEnd, tensor_inputs: Sequence[str] = ("latents",)) -> None:
        super().__init__(cutoff_step_ratio=1.0)
        self.function = function
        self._tensor_inputs = list(tensor_inputs)

    @property
    def tensor_inputs(self) -> list[str]:
        return self._tensor_inputs

    def callback_fn(self, pipeline: Any, step_index: int, timestep: Any, callback_kwargs: dict[str, Any]) -> dict[str, Any]:
        changed = self.function(pipeline, step_index, timestep, callback_kwargs)
        return {**callback_kwargs, **(changed or {})}


def as_callbacks(callback: Any, tensor_inputs: Sequence[str] | None = None) -> list[PipelineCallback]:
    """The caller's ``callback_on_step_end`` as a flat list of ``PipelineCallback``s.

    Takes what diffusers takes: a ``PipelineCallback``, a ``MultiPipelineCallbacks``, a plain
    function (with its ``tensor_inputs``, ``["latents"]`` by default), or a list of these.
    """
    if callback is None:
        return []
    if isinstance(callback, MultiPipelineCallbacks):
        return as_callbacks(list(callback.callbacks))
    if isinstance(callback, PipelineCallback):
        return [callback]
    if isinstance(callback, (list, tuple)):
        return [c for item in callback for c in as_callbacks(item, tensor_inputs)]
    if callable(callback):
        return [FunctionCallback(callback, tensor_inputs or ("latents",))]
    raise TypeError(f"callback_on_step_end must be a PipelineCallback, MultiPipelineCallbacks or function, not {type(callback).__name__}")


def compose(callbacks: Sequence[PipelineCallback], monitor: PreviewMonitor | None) -> tuple[Any, list[str]] | None:
    """One ``callback_on_step_end`` (and its tensor inputs) for a pipeline call: the caller's
    callbacks in order, then the gate's; None when there is nothing to call."""
    chain = list(callbacks) + ([GateCallback(monitor)] if monitor is not None else [])
    if not chain:
        return None
    tensors = list(dict.fromkeys(name for cb in chain for name in cb.tensor_inputs))
    return (chain[0] if len(chain) == 1 else MultiPipelineCallbacks(chain)), tensors
