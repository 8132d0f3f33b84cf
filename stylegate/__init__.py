"""stylegate: artist consent and style governance for text-to-image generation.

The public Python API. Names are loaded on first use (PEP 562), so ``import stylegate``
and ``stylegate --help`` stay instant; torch, open_clip and diffusers load only when a
gate, an embedder or a pipeline is built.

    import stylegate

    ws = stylegate.open_workspace("~/stylegate-home")      # an initialised home (`stylegate init`)
    decision = stylegate.check_prompt(ws, "a lighthouse by Mira Vale")
    decision.action                                        # Action.BLOCK, with its evidence

Gating your own diffusers pipeline: ``stylegate.GatedGenerator(ws.gate(), pipeline=pipe,
callback_on_step_end=your_callbacks)``; or pass ``stylegate.GateCallback`` into a call
yourself. See README.md, "Python API".
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS: dict[str, str] = {
    "Settings": "stylegate.settings",
    "Workspace": "stylegate.workspace",
    "open_workspace": "stylegate.operations.workspaces",
    "check_prompt": "stylegate.operations.checks",
    "check_image": "stylegate.operations.checks",
    "generate_to_dir": "stylegate.operations.generate",
    "PolicyGate": "stylegate.governance.gate",
    "Decision": "stylegate.governance.decision",
    "Action": "stylegate.governance.decision",
    "GatedGenerator": "stylegate.generator.gated",
    "GateCallback": "stylegate.generator.callbacks",
    "verify_provenance": "stylegate.generator.provenance",
    "StylegateError": "stylegate.errors",
}

__all__ = [
    "Action",
    "Decision",
    "GateCallback",
    "GatedGenerator",
    "PolicyGate",
    "Settings",
    "StylegateError",
    "Workspace",
    "__version__",
    "check_image",
    "check_prompt",
    "generate_to_dir",
    "open_workspace",
    "verify_provenance",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from stylegate.errors import StylegateError
    from stylegate.generator.callbacks import GateCallback
    from stylegate.generator.gated import GatedGenerator
    from stylegate.generator.provenance import verify_provenance
    from stylegate.governance.decision import Action, Decision
    from stylegate.governance.gate import PolicyGate
    from stylegate.operations.checks import check_image, check_prompt
    from stylegate.operations.generate import generate_to_dir
    from stylegate.operations.workspaces import open_workspace
    from stylegate.settings import Settings
    from stylegate.workspace import Workspace


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'stylegate' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this hook
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
