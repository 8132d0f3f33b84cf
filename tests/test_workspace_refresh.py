"""Registry changes reach a long-lived gate on the next check, without a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from stylegate.gate_cache import GateCache
from stylegate.governance.decision import Action
from stylegate.operations.ingest import init_home
from stylegate.registry.models import Consent
from stylegate.settings import Settings
from stylegate.workspace import Workspace


def test_register_rename_alias_and_remove_take_effect_on_the_next_check(tmp_path: Path) -> None:
    ws = Workspace(Settings(home=tmp_path / "home", device="cpu"))
    init_home(ws)
    prompt = "a harbour at night by Wren Halloway"
    assert ws.gate().check_prompt(prompt).action is Action.ALLOW

    ws.store.add_artist("Wren Halloway", consent=Consent.OPT_OUT)
    assert ws.gate().check_prompt(prompt).action is Action.BLOCK

    other = Workspace(Settings(home=tmp_path / "home", device="cpu"))  # a second process's view
    other.store.update_artist("Wren Halloway", name="Wren Hallowell", aliases=("W. Hallowell",))
    assert ws.gate().check_prompt(prompt).action is Action.ALLOW
    assert ws.gate().check_prompt("a harbour by W. Hallowell").action is Action.BLOCK

    other.store.remove_artist("Wren Hallowell")
    assert ws.gate().check_prompt("a harbour by W. Hallowell").action is Action.ALLOW


def test_the_gate_is_reused_while_nothing_changes(tmp_path: Path) -> None:
    ws = Workspace(Settings(home=tmp_path / "home", device="cpu"))
    init_home(ws)
    assert ws.gate() is ws.gate()


class _Registry:
    """A stand-in for the store's revision counter and the index file."""

    def __init__(self) -> None:
        self.revision = 0
        self.loads = 0
        self.gates = 0

    def load_index(self) -> object:
        self.loads += 1
        return ("index", self.loads)

    def build_gate(self, index: object) -> object:
        self.gates += 1
        return ("gate", self.gates, index)


def _cache(reg: _Registry) -> GateCache:
    return GateCache(lambda: reg.revision, reg.load_index, reg.build_gate)  # type: ignore[arg-type]


def test_gate_cache_rebuilds_the_gate_and_reloads_the_index_after_a_registry_change() -> None:
    reg = _Registry()
    cache = _cache(reg)
    assert cache.index is None
    first = cache.gate()
    assert cache.gate() is first and (reg.loads, reg.gates) == (1, 1)
    reg.revision += 1  # any process changed the registry (and saved the index)
    second = cache.gate()
    assert second is not first and (reg.loads, reg.gates) == (2, 2)
    assert second[2] == ("index", 2) and cache.index_revision == 1


def test_gate_cache_drops_only_a_stale_index() -> None:
    reg = _Registry()
    cache = _cache(reg)
    loaded = cache.current_index()
    cache.drop_stale_index()
    assert cache.current_index() is loaded and reg.loads == 1
    reg.revision += 1
    cache.drop_stale_index()
    assert cache.index is None and cache.current_index() == ("index", 2)
    cache.invalidate_index()
    assert cache.index is None and cache.index_revision is None


def test_gate_cache_uses_a_rebuilt_index_at_once() -> None:
    reg = _Registry()
    cache = _cache(reg)
    old_gate = cache.gate()
    rebuilt = ("index", "rebuilt")
    cache.replace_index(rebuilt)  # type: ignore[arg-type]
    gate = cache.gate()
    assert gate is not old_gate and gate[2] is rebuilt and reg.loads == 1


def test_a_running_gate_is_brought_forward_by_the_change_not_rebuilt(tmp_path: Path) -> None:
    ws = Workspace(Settings(home=tmp_path / "home", device="cpu"))
    init_home(ws)
    gate = ws.gate()
    other = Workspace(Settings(home=tmp_path / "home", device="cpu"))  # a second process writes
    other.store.add_artist("Wren Halloway", consent=Consent.OPT_OUT, descriptors=("misty harbours at night",))
    assert ws.gate() is gate and gate.check_prompt("a harbour by Wren Halloway").action is Action.BLOCK
    other.store.update_artist("Wren Halloway", consent=Consent.CREDIT)
    assert ws.gate().check_prompt("a harbour by Wren Halloway").action is not Action.BLOCK
    other.store.remove_artist("Wren Halloway")
    assert ws.gate() is gate and gate.check_prompt("a harbour by Wren Halloway").action is Action.ALLOW
    assert (ws.gate_cache.rebuilds, ws.gate_cache.refreshes) == (1, 3)
    assert gate.view.revision == ws.store.revision() and not gate.view.text_prototype_artists.size


def test_gate_cache_rebuilds_when_the_refresh_cannot_or_fails() -> None:
    reg = _Registry()
    answers: list[object] = []

    def refresh(gate: object, built_at: int) -> int | None:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[return-value]

    cache = GateCache(lambda: reg.revision, reg.load_index, reg.build_gate, refresh)  # type: ignore[arg-type]
    first = cache.gate()
    reg.revision, answers[:] = 1, [1]
    assert cache.gate() is first and (reg.gates, cache.refreshes) == (1, 1)
    reg.revision, answers[:] = 2, [None]  # the change log cannot answer
    second = cache.gate()
    assert second is not first and reg.gates == 2
    reg.revision, answers[:] = 3, [RuntimeError("half applied")]
    third = cache.gate()
    assert third is not second and (reg.gates, cache.refreshes, cache.rebuilds) == (3, 1, 3)


def _assert_same_view(running: object, fresh: object) -> None:
    import numpy as np

    a, b = running, fresh
    assert a.artists == b.artists and a.work_artist == b.work_artist  # type: ignore[attr-defined]
    assert a.prototype_artists.tolist() == b.prototype_artists.tolist()  # type: ignore[attr-defined]
    np.testing.assert_allclose(a.prototypes, b.prototypes, atol=1e-6)  # type: ignore[attr-defined]
    assert a.text_prototype_artists.tolist() == b.text_prototype_artists.tolist()  # type: ignore[attr-defined]
    # descriptors embedded one artist at a time, or in one batch: the same up to float rounding
    np.testing.assert_allclose(a.text_prototypes, b.text_prototypes, atol=1e-5)  # type: ignore[attr-defined]
    assert sorted(a.style_norms) == sorted(b.style_norms)  # type: ignore[attr-defined]
    for artist_id, norm in b.style_norms.items():  # type: ignore[attr-defined]
        got = a.style_norms[artist_id]  # type: ignore[attr-defined]
        assert abs(got.impostor - norm.impostor) < 1e-5 and abs(got.genuine - norm.genuine) < 1e-5
    ids = np.sort(b.index.ids())  # type: ignore[attr-defined]
    assert np.sort(a.index.ids()).tolist() == ids.tolist()  # type: ignore[attr-defined]
    np.testing.assert_array_equal(a.index.reconstruct(ids), b.index.reconstruct(ids))  # type: ignore[attr-defined]


@pytest.mark.slow
def test_works_uploaded_and_withdrawn_by_another_process_reach_the_running_gate(tmp_path: Path) -> None:
    from stylegate.bench.fixtures import new_styleworld_workspace, register_styleworld
    from stylegate.operations.ingest import remove_artist, remove_works
    from stylegate.styleworld import world

    ws, _ = new_styleworld_workspace(tmp_path, artists=world.ARTISTS[:2], per_artist=3)
    gate = ws.gate()
    loaded = ws.gate_cache.index
    other = Workspace(Settings(home=tmp_path / "home", device="cpu"))
    register_styleworld(other, tmp_path / "more", per_artist=3, artists=world.ARTISTS[2:3])
    assert ws.gate() is gate and ws.gate_cache.refreshes == 1
    # the loaded index was brought forward by the writer's delta, not read from the file again
    assert ws.gate_cache.index is loaded and gate.view.index is loaded
    _assert_same_view(gate.view, Workspace(Settings(home=tmp_path / "home", device="cpu")).registry_view())
    newcomer = other.store.get_artist(world.ARTISTS[2].name)
    remove_works(other, [w.id for w in other.store.list_works(newcomer.id)][:1])
    assert ws.gate() is gate and ws.gate_cache.index is loaded
    _assert_same_view(gate.view, Workspace(Settings(home=tmp_path / "home", device="cpu")).registry_view())
    remove_artist(other, world.ARTISTS[0].name)
    assert ws.gate() is gate and ws.gate_cache.rebuilds == 1
    _assert_same_view(gate.view, Workspace(Settings(home=tmp_path / "home", device="cpu")).registry_view())
