"""Vectorised code hashes: a deletion's hash is the hash of the string with that character deleted."""

from __future__ import annotations

import random

from stylegate.governance.screening.codehash import hash_words
from stylegate.governance.screening.keyindex import HashMultiMap


def _one(word: str, salt: int = 0) -> int:
    return int(hash_words([word], salt=salt)[1][0])


def test_deletion_hashes_equal_the_hashes_of_the_deleted_strings() -> None:
    rng = random.Random(3)
    words = ["stalenhag", "宮崎駿", "кувшинова", "a", "𝔘nicode𝔘", "ab"]
    words += ["".join(rng.choice("abcdéfghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 20))) for _ in range(300)]
    owner, hashes = hash_words(words, deletions=True)
    by_word: dict[int, list[int]] = {}
    for o, h in zip(owner.tolist(), hashes.tolist()):
        by_word.setdefault(o, []).append(h)
    for k, word in enumerate(words):
        expected = [_one(word)] + [_one(word[:i] + word[i + 1 :]) for i in range(len(word))]
        assert by_word[k] == expected, word


def test_hashes_tell_words_apart_and_salts_keep_kinds_apart() -> None:
    words = sorted({f"{a}{b}{c}" for a in "abcdef" for b in "ghijkl" for c in "mnopqr"})
    _, hashes = hash_words(words)
    assert len(set(hashes.tolist())) == len(words)
    assert _one("stalenhag") != _one("stalenhga") != _one("stalenha")
    assert _one("stalenhag", salt=1) != _one("stalenhag")
    _, batched = hash_words(words * 30000)  # across numpy batches: the same word, the same hash
    assert len(set(batched.tolist())) == len(words)


def test_code_map_finds_every_value_filed_under_a_hash_across_folds() -> None:
    rng = random.Random(5)
    m = HashMultiMap()
    filed: dict[int, set[int]] = {}
    for round_ in range(4):  # bulk, then small batches that go to the overlay, then folds
        for _ in range(20000 if round_ == 0 else 700):
            h = rng.getrandbits(64) - (1 << 63)
            v = rng.randrange(1 << 20)
            m.add(h, v)
            filed.setdefault(h, set()).add(v)
        shared = next(iter(filed))  # one hash under several values
        m.add(shared, 7)
        filed[shared].add(7)
        asked = rng.sample(sorted(filed), 500)
        for h in asked:
            assert filed[h] <= set(m.get_many([h])), h
    stranger = [rng.getrandbits(64) - (1 << 63) for _ in range(2000)]
    assert len(m.get_many(stranger)) < 20  # a 40-bit fingerprint collides rarely
