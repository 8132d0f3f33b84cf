"""Exceptions shared by every layer, each mapped to a CLI exit code and an HTTP status.

Exit codes (the CLI contract): 0 done, 3 blocked by policy, 1 error, 2 usage.
"Usage" covers every problem with what the caller handed us (unknown artist, missing or
corrupt file, empty or oversized prompt, invalid policy file): the caller can fix it.
"Error" covers the environment (database, an index built by another embedder, a model
that cannot load): the operator must act.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_BLOCKED = 3


class StylegateError(Exception):
    """Base class; ``exit_code`` tells the CLI how to end, ``http_status`` the service what to answer
    (503 for the environment: the operator must act)."""

    exit_code = EXIT_ERROR
    http_status = 503


class InputError(StylegateError):
    """The caller's input cannot be used (fixable by the caller)."""

    exit_code = EXIT_USAGE
    http_status = 422


class NotFound(InputError):
    """What the caller named does not exist (exit 2, HTTP 404)."""

    http_status = 404


class ArtistNotFound(NotFound):
    def __init__(self, ref: str) -> None:
        super().__init__(f"unknown artist: {ref!r} (give an artist id or an exact name; see `stylegate artists list`)")
        self.ref = ref


class DuplicateArtist(InputError):
    http_status = 409


class InvalidWork(InputError):
    """A reference work failed validation (format, size, truncation, not an image)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class InvalidPrompt(InputError):
    pass


class PolicyError(InputError):
    """The policy file is missing or does not validate."""


class IndexMismatch(StylegateError):
    """The style index on disk was built by another embedder or is out of date."""


class ModelLoadError(StylegateError):
    pass


class HomeError(StylegateError):
    """The home folder is missing, not initialised, or has lost its registry or audit log."""


class ThresholdsForeign(StylegateError):
    """The policy's semantic thresholds were fitted for another embedder (run `stylegate calibrate`)."""

class InvalidName(InputError):
    """A name or alias cannot be registered: it canonicalises to nothing or to a fragment of itself."""

    def __init__(self, label: str, reason: str) -> None:
        super().__init__(f"cannot register the name {label!r}: {reason}")
        self.label = label
        self.reason = reason


# ------------------------------------------------------------ imports
class ImportBusy(StylegateError):
    """Another import held the lock for longer than this one would wait."""


# ------------------------------------------------------------ calibration
class CalibrationError(StylegateError):
    """The workspace holds too little to fit a threshold (exit 1; the message says what to add)."""


# ------------------------------------------------------------ the audit log
class SigningError(StylegateError):
    """A key cannot be created, read or used."""


class NoteError(InputError):
    """A note, checkpoint body or verifier key that does not follow the C2SP format."""


class AuditError(StylegateError):
    """The audit log cannot be opened, written or read, or it failed a check before signing."""


class AuditEntryNotFound(AuditError, InputError):
    """No entry has the requested sequence number (exit code 2: the caller asked for it)."""


# ------------------------------------------------------------ provenance and credentials
class ProvenanceError(StylegateError):
    """Provenance cannot be written: the record is not JSON, or the PNG would not verify."""


class CredentialError(StylegateError):
    """Content Credentials could not be made (signing failed, the library is missing ...)."""


class SoftBindingError(StylegateError):
    """The outputs store cannot be read or written."""


# ------------------------------------------------------------ the registry
class NoAccount(ArtistNotFound):
    """The artist exists (or not) but has no portal account."""

    def __init__(self, artist_id: int) -> None:
        InputError.__init__(self, f"artist #{artist_id} has no portal account")
        self.ref = str(artist_id)


class VectorError(StylegateError, ValueError):
    """Vectors handed to the index have the wrong shape, type, dimension or norm."""


class UnregisteredVectors(StylegateError):
    """A rebuild would drop vectors of works the database does not know."""


# ------------------------------------------------------------ reports
class ReportError(AuditError, ValueError):
    """The audit entries cannot be turned into a report (e.g. attribution shares that do not sum to 1)."""


# ------------------------------------------------------------ royalty statements
class StatementExists(InputError):
    """Statements for this period (or this correction) were already issued: they are immutable."""

    http_status = 409


class StatementNotFound(NotFound):
    """No issued statement has the given id (for ``--correct``)."""


class StatementInvalid(StylegateError):
    """An issued statement on disk no longer verifies (edited or damaged): nothing is paid on it."""


# ------------------------------------------------------------ batch scans
class ScanSourceError(InputError):
    """A scan's source is missing, empty or not a folder, Parquet or WebDataset shard list (exit 2)."""


class ScanSchemaError(ScanSourceError):
    """A Parquet shard lacks the columns a scan reads (an id, and image bytes or a local path)."""


class ScanResumeMismatch(InputError):
    """The output folder holds another scan (other source, options or registry snapshot); use a
    fresh ``--out`` or ``--restart`` (HTTP 409)."""

    http_status = 409


class ScanSnapshotChanged(StylegateError):
    """The registry changed while a scan ran, so its rows would be judged against two snapshots."""


class ScanEngineError(StylegateError):
    """Ray is missing, cannot start, or a scan worker failed (not a per-image problem)."""
