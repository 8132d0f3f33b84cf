"""Exceptions shared by every layer, each mapped to a CLI exit code.

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
    """Base class; ``exit_code`` tells the CLI how to end."""

    exit_code = EXIT_ERROR


class InputError(StylegateError):
    """The caller's input cannot be used (fixable by the caller)."""

    exit_code = EXIT_USAGE


class NotFound(InputError):
    """What the caller named does not exist (exit 2, HTTP 404)."""


class ArtistNotFound(NotFound):
    def __init__(self, ref: str) -> None:
        super().__init__(f"unknown artist: {ref!r} (give an artist id or an exact name; see `stylegate artists list`)")
        self.ref = ref


class DuplicateArtist(InputError):
    pass


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
