"""Benchmarks, the red-team corpus generator and the StyleWorld fixtures they share.

Not product code: the shell's `stylegate bench` commands, the calibration scripts in the
top-level ``bench/`` folder and the tests import from here. Modules load their heavy
dependencies (torch, open_clip, faiss, diffusers) inside the functions that need them, so
importing this package costs nothing.
"""
