"""Name screening helpers: scripts, transliteration, word frequencies, style cues, claims.

The matcher itself lives in :mod:`stylegate.governance.names` and canonicalisation in
:mod:`stylegate.governance.canonical`; the modules here each answer one question for them.
"""
