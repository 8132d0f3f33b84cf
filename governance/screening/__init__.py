"""Name screening: canonicalisation, transliteration, lexicon and word frequencies, fuzzy,
phonetic and inflected lookups, the name matcher, style cues and name claims.

:mod:`.names` is the matcher and :mod:`.canonical` the canonicalisation; the other modules
each answer one question for them.
"""
