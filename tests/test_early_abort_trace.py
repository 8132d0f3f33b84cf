"""Replay and choice of early-abort settings on a recorded trace (no pipeline runs)."""

from __future__ import annotations

from typing import Any

from stylegate.bench.early_abort_trace import choose, replay

STEPS = 10  # previews at fractions 0.2 ... 0.8 land after steps 2 ... 8
POINTS = [2, 4, 6, 8]


def run(margins: list[float | None], doomed: bool, steered: bool = True) -> dict[str, Any]:
    return {"prompt": "a boat in x", "used": "a boat" if steered else "a boat in x", "fold": 0, "doomed": doomed,
            "planned": STEPS, "points": POINTS, "margins": margins}


def test_replay_stops_on_the_first_preview_over_the_margin_and_counts_false_aborts() -> None:
    runs = [run([0.1, 0.3, 0.5, 0.5], doomed=True), run([0.4, 0.1, None, None], doomed=False)]
    early = replay(runs, (0.2, 0.4, 0.6, 0.8), margin=0.3, confirm=1, steps=STEPS)
    assert (early["caught"], early["false_aborts"]) == (1, 1)
    assert early["steps_saved_fraction"] == 0.6  # the doomed run stopped after 4 of 10 steps
    late = replay(runs, (0.6, 0.8), margin=0.3, confirm=1, steps=STEPS)  # the passing run's early blip is not seen
    assert (late["caught"], late["false_aborts"], late["steps_saved_fraction"]) == (1, 0, 0.4)


def test_confirm_needs_consecutive_previews_at_the_chosen_points() -> None:
    runs = [run([0.5, 0.0, 0.5, 0.5], doomed=True)]
    assert replay(runs, (0.2, 0.4, 0.6, 0.8), 0.3, 2, STEPS)["steps_saved_fraction"] == 0.2  # stops after 8
    assert replay(runs, (0.2, 0.6), 0.3, 2, STEPS)["steps_saved_fraction"] == 0.4  # 2 and 6 are consecutive here


def test_choose_keeps_the_false_abort_budget_on_steered_runs() -> None:
    """Passing steered runs read as styled early, doomed ones late: the rule must give up the
    early points rather than stop passing runs, even though stopping early saves more."""
    doomed = [run([0.5, 0.5, 0.5, 0.5], doomed=True) for _ in range(10)]
    passing = [run([0.6, 0.6, None, None], doomed=False) for _ in range(10)]
    unsteered = [run([None] * 4, doomed=False, steered=False) for _ in range(200)]  # would dilute the rate
    chosen = choose(doomed + passing + unsteered, STEPS)["chosen"]
    assert chosen is not None
    assert chosen["steered"]["false_aborts"] == 0 and chosen["caught"] == 10
    assert chosen["steps_saved_fraction"] == 0.4  # the earliest point that stops no passing run: after 6 of 10
