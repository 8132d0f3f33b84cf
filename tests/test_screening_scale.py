"""The compact matcher: live adds, removes and folds must agree with a matcher built afresh."""

from __future__ import annotations

import random

from stylegate.bench.names import synthetic_names
from stylegate.governance.screening.fuzzy import DeletionIndex
from stylegate.governance.screening.names import NameMatcher


def _found(matcher: NameMatcher, prompts: list[str]) -> list[list[tuple[int, str, int, int]]]:
    return [[(h.artist_id, h.how, h.start, h.end) for h in matcher.find(p)] for p in prompts]


def test_live_changes_agree_with_a_fresh_build() -> None:
    names = synthetic_names(700, seed=3)
    start, later = names[:500], names[500:]
    live = NameMatcher(enumerate(start, start=1))
    removed = set(range(1, 501, 3))
    for artist_id in sorted(removed):
        live.remove(artist_id)
    for k, name in enumerate(later, start=501):
        live.add(k, name)
    live.replace(2, ["Quillfeather Marrowind"])
    final = [(k, n) for k, n in enumerate(start, start=1) if k not in removed and k != 2]
    final += list(enumerate(later, start=501)) + [(2, "Quillfeather Marrowind")]
    fresh = NameMatcher(final)
    rng = random.Random(5)
    prompts = []
    for name in rng.sample(names, 120) + ["Quillfeather Marrowind", "Quilfeather Marrowind"]:
        cut = rng.randrange(1, len(name) - 1)
        prompts.append(f"a harbour at dawn in the style of {name}")
        prompts.append(f"portrait, in the style of {name[:cut] + name[cut + 1:]}")
    assert len(live) == len(fresh)
    live_hits, fresh_hits = _found(live, prompts), _found(fresh, prompts)
    assert live_hits == fresh_hits
    assert sum(bool(h) for h in live_hits) > len(prompts) // 2  # the comparison is not vacuous
    # removed artists are gone, including their misspellings
    assert not any(a in removed for hits in live_hits for a, *_ in hits)


def test_deletion_index_survives_folds_and_compaction() -> None:
    rng = random.Random(7)
    keys = sorted({"".join(rng.choice("abcdefghijklmnop") for _ in range(rng.randint(7, 12))) for _ in range(9000)})
    index = DeletionIndex()
    for key in keys[:300]:
        index.add(key)
    index.settle()
    for n, key in enumerate(keys[300:], start=300):  # one at a time: overlay, then folds
        index.add(key)
        if n % 500 == 0:
            assert (key, 1) in index.search(key[:3] + key[4:])
    gone = set(keys[::2])
    for key in gone:  # more than a quarter of the slots: the arrays are compacted
        index.discard(key)
    for key in keys[1::2][:2000:7]:
        assert (key, 1) in index.search(key + "q")
    for key in list(gone)[:300]:
        assert key not in {k for k, _ in index.search(key + "q")}
    assert len(index) == len(keys) - len(gone)


def test_a_bulk_build_agrees_with_one_made_name_by_name() -> None:
    """The constructor's shortcuts (a per-build word cache, the fuzzy, phonetic and
    inflection indexes filed on first use) decide exactly as adding each name on its own does."""
    names = synthetic_names(600, seed=11) + ["Greg Rutkowski", "Simon Stalenhag", "Kuvshinova", "Aivazovsky Ivan"]
    bulk = NameMatcher(enumerate(names, start=1))
    assert not bulk.fully_built  # the secondary indexes wait for their first use
    single = NameMatcher()
    for k, name in enumerate(names, start=1):
        single.add(k, name)
    rng = random.Random(13)
    prompts = ["w stylu Rutkowskiego", "by Stalenhags", "Aiwasowsky Ivan painting", "портрет в стиле Кувшиновой"]
    for name in rng.sample(names, 80):
        cut = rng.randrange(1, len(name) - 1)
        prompts += [f"in the style of {name}", f"art by {name[:cut] + name[cut + 1:]}"]
    bulk_hits, single_hits = _found(bulk, prompts), _found(single, prompts)
    assert bulk.fully_built
    assert bulk_hits == single_hits
    assert {how for hits in bulk_hits for _, how, *_ in hits} >= {"exact", "fuzzy", "inflection"}
