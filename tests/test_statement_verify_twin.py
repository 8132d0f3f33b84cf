"""The standalone statement verifier re-implements RFC 9162's proof checks on purpose (an artist
copies one file that needs only the standard library and `cryptography`); these tests keep that
copy in agreement with the audit package's own Merkle tree and verifiers."""

from __future__ import annotations

import hashlib

from stylegate.governance.audit.merkle import MerkleTree, leaf_hash
from stylegate.governance.audit.statement_verify import consistent, root_from_path
from stylegate.governance.audit.verify import verify_consistency

LEAVES = [leaf_hash(hashlib.sha256(str(i).encode()).digest()) for i in range(33)]


def test_inclusion_paths_give_the_trees_root_and_nothing_else() -> None:
    tree = MerkleTree(LEAVES)
    for size in range(1, len(LEAVES) + 1):
        root = tree.root(size)
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            assert root_from_path(LEAVES[index], index, size, proof) == root
            assert root_from_path(LEAVES[(index + 1) % size], index, size, proof) != root or size == 1
            assert root_from_path(LEAVES[index], index, size, [*proof, root]) is None  # one hash too many


def test_consistency_agrees_with_the_audit_verifier() -> None:
    tree = MerkleTree(LEAVES)
    for new in range(1, 18):
        for old in range(1, new + 1):
            proof = tree.consistency_proof(old, new)
            old_root, new_root = tree.root(old), tree.root(new)
            assert consistent(old, new, old_root, new_root, proof) is True
            assert bool(verify_consistency(old, new, old_root, new_root, proof))
            forged = tree.root(old - 1) if old > 1 else LEAVES[-1]
            assert consistent(old, new, forged, new_root, proof) == bool(verify_consistency(old, new, forged, new_root, proof))
            assert consistent(old, new, forged, new_root, proof) is False
