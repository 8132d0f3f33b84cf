"""`stylegate bench names`: the name matcher at registry scale (10k, 100k, 1M names).

Synthetic artists are generated deterministically from syllables of several writing
systems, so the registry looks like a real one: mostly Latin "Given Surname" names from
several languages' sound patterns, with Cyrillic, Greek, Japanese, Chinese, Korean and
Arabic names mixed in, their given names and surnames drawn with Zipf weights from pools
of a census's size (see :data:`GIVEN_POOL`), so words repeat as they do in a real registry. For each size the benchmark reports:

- build time of the matcher, twice: until its exact tables are ready (the constructor
  returns) and until the fuzzy, phonetic and inflection indexes, built on first use
  (``NameMatcher.ensure_built``, which every lookup calls), are done too; and the process
  memory it adds (resident set size, once fully built);
- screening latency per prompt on one core (p50, p99, max; wall clock, and the thread's
  CPU time, which a shared machine's waiting does not inflate) over ordinary prompts, a
  quarter of which name a registered artist, some of them misspelt or in another script.
  The matcher remembers the registry's answers for the window texts it has seen (prompts
  share most of their words), so the CPU figures are taken twice, on prompts it has not
  screened before: as a running gate sees them (``cpu_p50_ms``/``cpu_p99_ms``), and cold,
  everything it remembered forgotten before each prompt (``cold_cpu_p50_ms``/``cold_cpu_p99_ms``;
  ``NameMatcher.forget_lookups``), the cost of a prompt none of whose words were seen;
- the time to add and to remove one artist in the built matcher (no rebuild).

Figures are printed, never asserted (timing tests on a shared machine would be flaky).
"""

from __future__ import annotations

import bisect
import gc
import itertools
import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from stylegate.bench.synthetic import syllable_word
from stylegate.bench.timing import time_each

log = logging.getLogger(__name__)

TARGET_BUILD_S = 10.0
TARGET_MEMORY_MB = 1024.0
TARGET_P99_MS = 1.0
TARGET_UPDATE_MS = 10.0

_LATIN_SYLLABLES = (
    "ka", "ri", "mo", "zen", "la", "vor", "tis", "an", "dre", "shu", "pel", "gri", "ost", "nel", "bau", "fie",
    "jor", "qua", "xen", "ul", "bri", "dak", "est", "hol", "mir", "sev", "tak", "wyn", "son", "berg", "ski",
    "ova", "ez", "ini", "sen", "ko", "ma", "ru", "lo", "ven", "tor", "hel", "ga", "dim", "ros", "lin",
)
_CYRILLIC = ("ка", "ри", "мо", "ла", "вор", "тис", "ан", "дре", "шу", "пел", "гри", "ов", "ин", "ский", "ева", "ко", "на")
_GREEK = ("κα", "ρι", "μο", "λα", "νι", "τσα", "ου", "πα", "δη", "στο", "γι", "ος", "ης", "αν")
_KANA = ("か", "り", "も", "た", "な", "さ", "き", "ゆ", "み", "こ", "ひ", "ろ")
_HAN = "山田中村林森川本松井高橋佐藤伊吉小大清水石原"
_HANGUL = "김이박최정강조윤장임한오서신권황안송류홍"
_ARABIC = ("مح", "مد", "سع", "يد", "عل", "ي", "حس", "ن", "فا", "طم", "ة")


# Real registries repeat given names and surnames massively: in a national census a few
# thousand given names and a few hundred thousand surnames cover nearly everyone, with
# frequencies close to Zipf's law (the thousand most common surnames alone cover about 40%).
# So the synthetic words of each script are drawn from pools of that size, rank r with
# weight 1/r, and full names are distinct pairs of them (1M names hold ~25k given names
# and ~250k surnames, not 2M distinct words).
# (The smaller scripts' pools stay well inside what their few syllables can spell.)
GIVEN_POOL = {"latin": 20_000, "cyrillic": 2_000, "greek": 1_000, "kana": 800, "arabic": 600}
SURNAME_POOL = {"latin": 400_000, "cyrillic": 30_000, "greek": 10_000, "kana": 8_000, "arabic": 600}


class _Pool:
    """Distinct invented words of one script, drawn with Zipf weights (rank r: 1/r)."""

    def __init__(self, rng: random.Random, make: Callable[[], str], size: int) -> None:
        self._rng = rng
        self._make = make
        self._size = size
        self._words: list[str] = []
        self._seen: set[str] = set()
        self._cum = list(itertools.accumulate(1.0 / r for r in range(1, size + 1)))

    def draw(self) -> str:
        rank = bisect.bisect_left(self._cum, self._rng.random() * self._cum[-1])
        misses = 0
        while len(self._words) <= rank:  # the pool is invented lazily, in rank order
            word = self._make()
            if word.casefold() not in self._seen:
                self._seen.add(word.casefold())
                self._words.append(word)
                misses = 0
            else:
                misses += 1
                if misses > 10_000:
                    raise ValueError(f"a pool of {self._size:,} words is more than these syllables can spell")
        return self._words[rank]


def synthetic_names(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct names: about 80% Latin, the rest Cyrillic, Greek, kana, Han, Hangul, Arabic.

    Spaced names are a given name and a surname, each drawn from a per-script pool with
    Zipf weights (see :data:`GIVEN_POOL`), so words repeat the way they do in a real registry.
    """
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[str] = []

    def from_parts(parts: Sequence[str], lo: int, hi: int) -> str:
        return "".join(rng.choice(parts) for _ in range(rng.randint(lo, hi)))

    def pools(kind: str, make_given: Callable[[], str], make_surname: Callable[[], str]) -> Callable[[], str]:
        given = _Pool(rng, make_given, GIVEN_POOL[kind])
        surname = _Pool(rng, make_surname, SURNAME_POOL[kind])
        return lambda: f"{given.draw()} {surname.draw()}"

    makers: list[tuple[float, Callable[[], str]]] = [
        (0.80, pools("latin", lambda: syllable_word(rng, _LATIN_SYLLABLES, 2, 3),
                     lambda: syllable_word(rng, _LATIN_SYLLABLES, 2, 4))),
        (0.06, pools("cyrillic", lambda: from_parts(_CYRILLIC, 2, 3).capitalize(),
                     lambda: from_parts(_CYRILLIC, 2, 4).capitalize())),
        (0.03, pools("greek", lambda: from_parts(_GREEK, 2, 3).capitalize(), lambda: from_parts(_GREEK, 2, 4).capitalize())),
        (0.03, lambda: from_parts(_HAN, 2, 2) + from_parts(_HAN, 1, 2)),
        (0.03, lambda: from_parts(_HANGUL, 3, 3)),
        (0.03, pools("kana", lambda: from_parts(_KANA, 2, 3), lambda: from_parts(_KANA, 2, 4))),
        (0.02, pools("arabic", lambda: from_parts(_ARABIC, 2, 3), lambda: from_parts(_ARABIC, 2, 3))),
    ]
    weights = [w for w, _ in makers]
    misses = 0
    while len(out) < n:
        _, make = rng.choices(makers, weights)[0]
        name = make()
        if name.casefold() not in seen:
            seen.add(name.casefold())
            out.append(name)
            misses = 0
        else:
            misses += 1
            if misses > 10_000:
                raise ValueError(f"cannot invent {n:,} distinct names from these pools")
    return out


def _prompts(names: Sequence[str], n: int, seed: int) -> list[str]:
    rng = random.Random(seed + 1)
    things = ("harbour at dawn", "forest path", "city street in the rain", "portrait of an old sailor",
              "still life with lemons", "mountain lake", "night market", "train station", "lighthouse in a storm")
    extras = ("highly detailed", "soft light", "35mm photo", "wide angle", "oil on canvas", "volumetric fog", "8k")
    out = []
    for k in range(n):
        text = f"a {rng.choice(things)}, {', '.join(rng.sample(extras, 3))}"
        if k % 4 == 0:
            name = rng.choice(names)
            if k % 8 == 0 and len(name) > 8 and name.isascii():
                i = rng.randrange(1, len(name) - 1)
                name = name[:i] + name[i + 1 :]  # a deletion: the fuzzy path
            text += f", in the style of {name}"
        out.append(text)
    return out


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def measure(n: int, n_prompts: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Build, memory, latency and update figures for ``n`` registered names."""
    from stylegate.governance.screening import frequency, givennames, lexicon, places
    from stylegate.governance.screening.names import NameMatcher

    lexicon.frequencies()
    frequency.load()
    givennames.load()
    places.load()
    places.is_place("x")  # the shared tables are loaded before the baseline
    names = synthetic_names(n + 20, seed)
    registered, spare = names[:n], names[n:]
    gc.collect()
    base = _rss_mb()
    start, cpu_start = time.perf_counter(), time.process_time()
    matcher = NameMatcher(enumerate(registered, start=1))
    ready_s, ready_cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
    matcher.ensure_built()
    build_s, build_cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
    gc.collect()
    memory_mb = _rss_mb() - base
    # A long-lived gate freezes what it built: the cyclic collector then never walks the
    # matcher's millions of objects, which would otherwise stall a prompt now and then.
    gc.freeze()
    prompts = _prompts(registered, n_prompts, seed)
    for p in prompts[:100]:
        matcher.find(p)
    samples = sorted(time_each(matcher.find, prompts))
    # The thread's CPU time per prompt (waiting for a shared core does not count), on prompts
    # not screened before: as they come, and cold (nothing remembered from earlier prompts).
    cpu_samples = []
    for p in _prompts(registered, n_prompts, seed + 1):
        t0 = time.thread_time()
        matcher.find(p)
        cpu_samples.append(time.thread_time() - t0)
    cpu_samples.sort()
    cold_samples = []
    for p in _prompts(registered, n_prompts, seed + 2):
        matcher.forget_lookups()
        t0 = time.thread_time()
        matcher.find(p)
        cold_samples.append(time.thread_time() - t0)
    cold_samples.sort()
    adds, removes = [], []
    for k, name in enumerate(spare):
        artist_id = n + 1 + k
        t0 = time.perf_counter()
        matcher.add(artist_id, name)
        adds.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        matcher.remove(artist_id)
        removes.append(time.perf_counter() - t0)
    del matcher
    gc.unfreeze()

    def pct(q: float, of: list[float] = samples) -> float:
        return round(1000 * of[min(len(of) - 1, int(q * len(of)))], 3)

    return {
        "names": n,
        "ready_s": round(ready_s, 2),
        "ready_cpu_s": round(ready_cpu_s, 2),
        "build_s": round(build_s, 2),
        "build_cpu_s": round(build_cpu_s, 2),
        "cpu_p50_ms": pct(0.50, cpu_samples),
        "cpu_p99_ms": pct(0.99, cpu_samples),
        "cold_cpu_p50_ms": pct(0.50, cold_samples),
        "cold_cpu_p99_ms": pct(0.99, cold_samples),
        "memory_mb": round(memory_mb, 1),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": round(1000 * samples[-1], 3),
        "add_ms": round(1000 * max(adds), 3),
        "remove_ms": round(1000 * max(removes), 3),
        "prompts": len(prompts),
    }


def run_names_bench(sizes: Sequence[int] = (10_000, 100_000, 1_000_000), progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    say = progress or log.info
    out = []
    for n in sizes:
        say(f"name matcher with {n:,} names")
        out.append(measure(n))
        gc.collect()
    return out


def print_names_bench(results: Sequence[dict[str, Any]]) -> None:
    from stylegate.output import table

    def mark(ok: bool) -> str:
        return "met" if ok else "NOT met"

    table(
        "name matcher at scale (one core; targets at 1M names: build ≤ 10 s, memory ≤ 1 GB, p99 ≤ 1 ms, update ≤ 10 ms;"
        " 'exact ready' = the constructor returned, 'built' = the fuzzy, phonetic and inflection indexes too)",
        ["names", "exact ready s", "exact ready CPU s", "built s", "built CPU s", "memory MB", "p50 ms", "p99 ms", "p50 CPU ms",
         "p99 CPU ms", "cold p99 CPU ms", "max ms", "add ms (max)", "remove ms (max)", "targets"],
        [
            [f"{r['names']:,}", r["ready_s"], r["ready_cpu_s"], r["build_s"], r["build_cpu_s"], r["memory_mb"], r["p50_ms"], r["p99_ms"],
             r["cpu_p50_ms"], r["cpu_p99_ms"], r["cold_cpu_p99_ms"], r["max_ms"], r["add_ms"], r["remove_ms"],
             ", ".join(f"{k} {mark(v)}" for k, v in (
                 ("build", r["build_s"] <= TARGET_BUILD_S), ("memory", r["memory_mb"] <= TARGET_MEMORY_MB),
                 ("p99 CPU", r["cpu_p99_ms"] <= TARGET_P99_MS),
                 ("update", max(r["add_ms"], r["remove_ms"]) <= TARGET_UPDATE_MS)))]
            for r in results
        ],
    )
