"""The image check on a registry forced onto the IVF/mmap path (``auto:N``) decides as the Flat one."""

from __future__ import annotations

import pytest

from stylegate.bench.fixtures import register_styleworld
from stylegate.operations.ingest import init_home, rebuild_index, remove_works
from stylegate.settings import Settings
from stylegate.styleworld import world
from stylegate.workspace import Workspace


def summary(decision) -> tuple:
    return (decision.action, sorted((e.kind, e.artist.name, round(e.score, 4)) for e in decision.evidence))


@pytest.fixture(scope="module")
def homes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, Workspace]:
    base = tmp_path_factory.mktemp("mmapgate")
    flat = Workspace(Settings(home=base / "home", device="cpu"))
    init_home(flat)
    register_styleworld(flat, base / "ref", artists=world.ARTISTS[:-1])
    # the same home, rebuilt with a threshold below its size: IVF-PQ codes + mmap'd vectors
    ivf = Workspace(Settings(home=base / "home", device="cpu", index_factory="auto:10"))
    rebuild_index(ivf)
    return flat, ivf


def images() -> list:
    out = [world.render(a, world.SUBJECTS[i % len(world.SUBJECTS)], 900 + i) for i, a in enumerate(world.ARTISTS)]
    out.append(world.render(world.ARTISTS[0], world.SUBJECTS[0], world.train_seeds()[0]))  # a registered work
    return out


@pytest.mark.slow
def test_decisions_equal_the_in_ram_path_and_withdrawal_holds(homes: tuple[Workspace, Workspace]) -> None:
    from stylegate.governance.matching.artist_works import OnDemandArtistWorks

    flat, ivf = homes
    flat_gate = flat.gate()
    assert flat_gate.view.index is not None and not flat_gate.view.index.memory_mapped
    decisions = [summary(flat_gate.check_image(im)) for im in images()]
    assert any(d[1] for d in decisions)  # the sample has evidence to compare, not only allows
    ivf_gate = ivf.gate()
    assert ivf_gate.view.index is not None and ivf_gate.view.index.memory_mapped
    assert "RMmap" in ivf_gate.view.index.factory
    assert isinstance(ivf_gate.view.artist_works, OnDemandArtistWorks)
    assert [summary(ivf_gate.check_image(im)) for im in images()] == decisions

    # withdraw the works of the first artist's style block: the refreshed gate never returns them
    artist = world.ARTISTS[0].name
    gone = [w for w, a in ivf_gate.view.work_artist.items() if ivf_gate.view.artists[a].name == artist]
    remove_works(ivf, gone)
    after = ivf.gate()
    assert after.view.index is not None and after.view.index.memory_mapped and len(after.view.index) > 0
    for im in images():
        vector = ivf.embedder.embed_images([im])[0]
        _, ids = after.view.index.search(vector.reshape(1, -1), len(after.view.index))
        assert not set(ids[0].tolist()) & set(gone)
        decision = after.check_image(im)
        assert artist not in {e.artist.name for e in decision.evidence if e.kind == "style"}
