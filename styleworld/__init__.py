"""StyleWorld: stylegate's bundled synthetic art world and the tiny models trained on it.

- :mod:`stylegate.styleworld.world` — fictional artists, subjects, the procedural renderer and
  captions (numpy + PIL only; cheap to import);
- :mod:`stylegate.styleworld.models` — paths and loaders of the shipped tiny CLIP
  (``styleworld-clip``) and diffusers pipeline;
- :mod:`stylegate.styleworld.style_classifier` — a non-neural style classifier used as an
  independent judge;
- ``train_clip``, ``train_diffusion``, ``evaluate``, ``card`` — the reproducible training and
  evaluation scripts (``python -m stylegate.styleworld.<name>``).

Importing this package imports nothing heavy.
"""
