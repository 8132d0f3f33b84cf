"""The HTTP service: the artist portal (HTML pages) and the public API (``stylegate serve``)."""

__version__ = "0.1.0"
