"""Registry changes reach a long-lived gate on the next check, without a restart."""

from __future__ import annotations

from pathlib import Path

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
