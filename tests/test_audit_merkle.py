"""RFC 6962 hashing and proofs against the published Certificate Transparency test vectors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from stylegate.governance.audit.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    consistency_proof,
    frontier_push,
    frontier_root,
    inclusion_proof,
    leaf_hash,
    merkle_root,
    node_hash,
    root_from_inclusion_proof,
    split_point,
)
from stylegate.governance.audit.verify import verify_consistency, verify_inclusion

VECTORS = json.loads((Path(__file__).parent / "data" / "rfc6962" / "vectors.json").read_text())
LEAVES = [leaf_hash(bytes.fromhex(x)) for x in VECTORS["leaves"]]
ROOTS = {int(k): bytes.fromhex(v) for k, v in VECTORS["roots"].items()}
TREE = MerkleTree(LEAVES)


def test_well_known_heads() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert ROOTS[8].hex() == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()


@pytest.mark.parametrize("size", range(0, 9))
def test_roots_match_vectors(size: int) -> None:
    assert merkle_root(LEAVES[:size]) == ROOTS[size]
    assert TREE.root(size) == ROOTS[size]
    frontier: list[bytes] = []
    for i, h in enumerate(LEAVES[:size]):
        frontier = frontier_push(frontier, i, h)
    assert frontier_root(frontier) == ROOTS[size]
    assert len(frontier) == bin(size).count("1")


@pytest.mark.parametrize("vector", VECTORS["inclusion"], ids=lambda v: f"{v['index']}of{v['tree_size']}")
def test_inclusion_vectors(vector: dict) -> None:
    index, size = vector["index"], vector["tree_size"]
    path = [bytes.fromhex(h) for h in vector["path"]]
    assert TREE.inclusion_proof(index, size) == path
    assert inclusion_proof(LEAVES, index, size) == path
    assert verify_inclusion(LEAVES[index], index, size, path, ROOTS[size])
    assert verify_inclusion(LEAVES[index].hex(), index, size, vector["path"], ROOTS[size].hex())
    # the usual corruptions (after transparency-dev/merkle's probes) all fail
    assert not verify_inclusion(LEAVES[index], index + 1, size, path, ROOTS[size])
    assert not verify_inclusion(LEAVES[index], index, size * 2, path, ROOTS[size])
    assert not verify_inclusion(leaf_hash(b"WrongLeaf"), index, size, path, ROOTS[size])
    assert not verify_inclusion(LEAVES[index], index, size, path, EMPTY_ROOT)
    assert not verify_inclusion(LEAVES[index], index, size, path + [ROOTS[size]], ROOTS[size])
    assert not verify_inclusion(LEAVES[index], index, size, [ROOTS[size]] + path, ROOTS[size])
    if path:
        assert not verify_inclusion(LEAVES[index], index, size, path[:-1], ROOTS[size])
        flipped = [bytes([path[0][0] ^ 8]) + path[0][1:]] + path[1:]
        assert not verify_inclusion(LEAVES[index], index, size, flipped, ROOTS[size])


@pytest.mark.parametrize("vector", VECTORS["consistency"], ids=lambda v: f"{v['old_size']}to{v['new_size']}")
def test_consistency_vectors(vector: dict) -> None:
    m, n = vector["old_size"], vector["new_size"]
    proof = [bytes.fromhex(h) for h in vector["proof"]]
    assert TREE.consistency_proof(m, n) == proof
    assert consistency_proof(LEAVES, m, n) == proof
    assert verify_consistency(m, n, ROOTS[m], ROOTS[n], proof)
    if proof:
        assert not verify_consistency(m, n, ROOTS[n], ROOTS[m], proof)  # swapped roots
        assert not verify_consistency(m - 1, n, ROOTS[m], ROOTS[n], proof)
        assert not verify_consistency(m + 1, n, ROOTS[m], ROOTS[n], proof)
        assert not verify_consistency(m, n * 2, ROOTS[m], ROOTS[n], proof)
        assert not verify_consistency(m, n // 2, ROOTS[m], ROOTS[n], proof)
        assert not verify_consistency(m, n, ROOTS[m], ROOTS[n], [])
        assert not verify_consistency(m, n, ROOTS[m], ROOTS[n], proof[:-1])
        assert not verify_consistency(m, n, ROOTS[m], ROOTS[n], proof + [ROOTS[n]])
        for i in range(len(proof)):
            bad = list(proof)
            bad[i] = bytes([bad[i][0] ^ 16]) + bad[i][1:]
            assert not verify_consistency(m, n, ROOTS[m], ROOTS[n], bad)


def test_every_shape_round_trips() -> None:
    leaves = [leaf_hash(i.to_bytes(2, "big")) for i in range(40)]
    tree = MerkleTree(leaves)
    for n in range(0, 41):
        root = tree.root(n)
        assert root == merkle_root(leaves[:n])
        for i in range(n):
            path = tree.inclusion_proof(i, n)
            assert root_from_inclusion_proof(leaves[i], i, n, path) == root
            assert verify_inclusion(leaves[i], i, n, path, root)
            if n > 1:
                assert not verify_inclusion(leaves[i], (i + 1) % n, n, path, root) or leaves[i] == leaves[(i + 1) % n]
        for m in range(0, n + 1):
            proof = tree.consistency_proof(m, n)
            assert verify_consistency(m, n, tree.root(m), root, proof)
            if 0 < m < n:
                assert not verify_consistency(m, n, tree.root(m - 1), root, proof)


def test_degenerate_cases_and_malformed_input() -> None:
    assert split_point(2) == 1 and split_point(5) == 4 and split_point(8) == 4 and split_point(9) == 8
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(0, 8, EMPTY_ROOT, ROOTS[8], [])
    assert not verify_consistency(0, 8, ROOTS[1], ROOTS[8], [])
    assert not verify_consistency(4, 4, ROOTS[4], ROOTS[5], [])
    assert not verify_consistency(4, 4, ROOTS[4], ROOTS[4], [EMPTY_ROOT])
    assert not verify_consistency(5, 3, ROOTS[5], ROOTS[3], [])
    assert not verify_consistency(1, 8, "zz", ROOTS[8], [])
    assert verify_inclusion(LEAVES[0], 0, 1, [], ROOTS[1])
    assert not verify_inclusion(LEAVES[0], 0, 0, [], ROOTS[1])
    assert not verify_inclusion(LEAVES[0], -1, 8, [], ROOTS[8])
    assert not verify_inclusion(b"short", 0, 1, [], ROOTS[1])
    assert not verify_inclusion(LEAVES[0], 0, 8, ["nothex"], ROOTS[8])
    assert not verify_inclusion(LEAVES[0], 0, 8, None, ROOTS[8])  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        TREE.inclusion_proof(8, 8)
    with pytest.raises(ValueError):
        TREE.consistency_proof(5, 3)
    with pytest.raises(ValueError):
        TREE.root(9)
