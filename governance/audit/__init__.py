"""The tamper-evident audit log: Merkle tree, entries, log, verification, export, signing,
checkpoints (C2SP signed notes) and the registry outbox, one module each.

Front ends import the few names below from here; everything else from its module.
"""

from __future__ import annotations

from stylegate.errors import AuditEntryNotFound, AuditError

from .entry import AuditEntry, AuditKind, CorrectionRecord, DecisionRecord, registry_kind
from .export import verify_export
from .log import AuditLog, default_audit_path
from .outbox import AuditOutbox
from .verdict import Reason, Verdict
from .verify import VerifyResult, verify_consistency, verify_entry_proof, verify_inclusion

__all__ = [
    "AuditEntry",
    "AuditEntryNotFound",
    "AuditError",
    "AuditKind",
    "AuditLog",
    "AuditOutbox",
    "CorrectionRecord",
    "DecisionRecord",
    "Reason",
    "Verdict",
    "VerifyResult",
    "default_audit_path",
    "registry_kind",
    "verify_consistency",
    "verify_entry_proof",
    "verify_export",
    "verify_inclusion",
]
