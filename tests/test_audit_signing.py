"""Ed25519 checkpoint keys: created once under the home directory, 0600, public half exported."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from stylegate.errors import SigningError
from stylegate.governance.audit import signing
from stylegate.governance.audit.signing import Signer, key_paths, load_or_create_signer, load_public_key


def test_key_created_once_with_private_permissions(home: Path) -> None:
    first = load_or_create_signer(home)
    private, public = key_paths(home)
    assert private == home / "keys" / "audit-ed25519.pem"
    assert private.exists() and public.exists()
    if os.name == "posix":
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
        assert stat.S_IMODE(private.parent.stat().st_mode) == 0o700
    assert b"PRIVATE KEY" in private.read_bytes() and b"PUBLIC KEY" in public.read_bytes()

    again = load_or_create_signer(home)
    assert again.key_id == first.key_id  # loaded, not regenerated
    assert load_public_key(public).public_bytes_raw() == first.public_key.public_bytes_raw()
    assert len(first.key_id) == 16


def test_public_key_is_re_exported_when_missing(home: Path) -> None:
    signer = load_or_create_signer(home)
    _, public = key_paths(home)
    public.unlink()
    assert load_or_create_signer(home).key_id == signer.key_id
    assert load_public_key(public).public_bytes_raw() == signer.public_key.public_bytes_raw()


def test_sign_and_verify() -> None:
    signer, other = Signer.generate(), Signer.generate()
    sig = signer.sign(b"message")
    assert len(sig) == 64
    assert signing.verify_signature(signer.public_key, b"message", sig)
    assert not signing.verify_signature(signer.public_key, b"messagE", sig)
    assert not signing.verify_signature(other.public_key, b"message", sig)
    assert not signing.verify_signature(signer.public_key, b"message", sig[:63])


def test_load_public_key_sources(tmp_path: Path) -> None:
    signer = Signer.generate()
    raw = signing.public_key_raw(signer.public_key)
    pem = signer.public_pem()
    (tmp_path / "k.pem").write_bytes(pem)
    for source in (signer, signer.public_key, raw, pem, tmp_path / "k.pem", str(tmp_path / "k.pem")):
        assert signing.public_key_raw(load_public_key(source)) == raw
    with pytest.raises(SigningError):
        load_public_key(tmp_path / "missing.pem")
    (tmp_path / "bad.pem").write_text("not a key")
    with pytest.raises(SigningError):
        load_public_key(tmp_path / "bad.pem")


def test_refuses_a_non_ed25519_or_broken_private_key(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    path.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(SigningError):
        Signer.load(path)
    with pytest.raises(SigningError):
        Signer.load(tmp_path / "absent.pem")
