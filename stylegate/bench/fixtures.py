"""StyleWorld fixtures for benches, calibration scripts, tests and the demo.

A workspace with the StyleWorld artists registered (their consent, descriptors and rendered
reference works) is what every end-to-end measurement starts from.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REFERENCE_WORKS_PER_ARTIST = 6


def by_consent() -> dict[str, list[Any]]:
    """The StyleWorld artists grouped by consent state, in world order."""
    from stylegate.styleworld import world

    groups: dict[str, list[Any]] = {}
    for artist in world.ARTISTS:
        groups.setdefault(artist.consent, []).append(artist)
    return groups


def demo_artists() -> tuple[list[Any], list[Any]]:
    """(registered, unregistered): the last artist of each consent group stays unclaimed.

    Every StyleWorld picture is in some artist's style, so with everyone registered no
    generation could be a plain allow; styles nobody registered are what a plain allow is.
    """
    registered, unregistered = [], []
    for group in by_consent().values():
        registered.extend(group[:-1])
        unregistered.append(group[-1])
    return registered, unregistered


def register_styleworld(ws: Any, reference_dir: Path, per_artist: int = REFERENCE_WORKS_PER_ARTIST,
                        artists: Sequence[Any] | None = None, seeds: Sequence[int] | None = None) -> int:
    """Register StyleWorld artists (default: all) with descriptors and rendered works.

    Work ``k`` of an artist is rendered at ``seeds[k]``; the default is the first training
    seeds, which the shipped CLIPs were trained on. A calibration measurement passes seeds the
    embedder never saw (:func:`unseen_work_seeds`), so its registered works look like an
    operator's: fitted on training renders, thresholds see tighter scores than real works give.
    """
    from stylegate.operations.ingest import add_works
    from stylegate.registry.models import Consent
    from stylegate.styleworld import world

    seeds = world.train_seeds() if seeds is None else seeds
    if len(seeds) < per_artist:
        raise ValueError(f"{per_artist} works per artist need as many seeds, got {len(seeds)}")
    total = 0
    for i, artist in enumerate(world.ARTISTS if artists is None else artists):
        ws.store.add_artist(artist.name, consent=Consent(artist.consent), descriptors=artist.descriptors, royalty_rate=0.2 if artist.consent == "royalty" else None)
        folder = reference_dir / f"{i:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(per_artist):
            seed = seeds[k]
            world.render(artist, world.SUBJECTS[(i + k) % len(world.SUBJECTS)], seed).save(folder / f"{k}.png")
        total += len(add_works(ws, artist.name, [folder]).added)
    return total


def unseen_work_seeds(per_artist: int, skip: int) -> range:
    """Seeds for registered works that no shipped embedder trained on: held-out seeds after the
    first ``skip`` (which held-out evaluation renders use), so works and test renders are disjoint."""
    from stylegate.styleworld import world

    return world.heldout_seeds(skip + per_artist)[skip:]


def new_styleworld_workspace(root: Path, artists: Sequence[Any] | None = None, per_artist: int = REFERENCE_WORKS_PER_ARTIST) -> tuple[Any, int]:
    """A CPU workspace initialised at ``root/home`` with StyleWorld artists (default: all)
    registered from works rendered under ``root/reference``; returns it and the works added."""
    from stylegate.operations.ingest import init_home
    from stylegate.settings import Settings
    from stylegate.workspace import Workspace

    ws = Workspace(Settings(home=root / "home", device="cpu"))
    ws.configure_threads()
    init_home(ws)
    return ws, register_styleworld(ws, root / "reference", per_artist=per_artist, artists=artists)


@contextmanager
def styleworld_workspace(artists: Sequence[Any] | None = None) -> Iterator[Any]:
    """A temporary home with StyleWorld artists (default: all) registered, for calibration."""
    with tempfile.TemporaryDirectory() as tmp:
        yield new_styleworld_workspace(Path(tmp), artists=artists)[0]
