"""Matching against the registry: the gate's registry view, artist prototypes and scores,
image matching, near-duplicates, per-artist style norms, thresholds and their calibration."""
