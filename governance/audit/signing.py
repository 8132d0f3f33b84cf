"""Ed25519 keys for signing audit checkpoints: create once, load, sign, verify.

The local key lives under the home directory: ``<home>/keys/audit-ed25519.pem`` (PKCS#8 PEM,
unencrypted, file mode 0600, folder 0700) with its public half exported beside it as
``<home>/keys/audit-ed25519.pub.pem`` (SubjectPublicKeyInfo PEM) for auditors. A key's id is
the first 16 hex characters of SHA-256 over its raw 32-byte public key.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from stylegate.errors import SigningError
from stylegate.registry._fs import atomic_write_bytes, fsync_dir

from .verdict import Reason, Verdict, accept, refuse

log = logging.getLogger(__name__)

KEYS_DIR = "keys"
PRIVATE_KEY_FILE = "audit-ed25519.pem"
PUBLIC_KEY_FILE = "audit-ed25519.pub.pem"
SIGNATURE_SIZE = 64


def key_paths(home: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``(private_key_path, public_key_path)`` under ``home``."""
    keys = Path(home).expanduser() / KEYS_DIR
    return keys / PRIVATE_KEY_FILE, keys / PUBLIC_KEY_FILE


def public_key_raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(public_key: Ed25519PublicKey) -> str:
    """First 16 hex characters of SHA-256 over the raw public key."""
    return hashlib.sha256(public_key_raw(public_key)).hexdigest()[:16]


@dataclass(frozen=True)
class Signer:
    """An Ed25519 private key that signs checkpoints."""

    private_key: Ed25519PrivateKey
    path: Path | None = None

    @classmethod
    def generate(cls) -> Signer:
        """A fresh in-memory key (tests, ephemeral logs)."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Signer:
        """Read a PKCS#8 PEM Ed25519 private key; warns when the file is readable by others."""
        p = Path(path).expanduser()
        try:
            data = p.read_bytes()
            mode = p.stat().st_mode
        except OSError as exc:
            raise SigningError(f"cannot read the signing key {p}: {exc.strerror or exc}") from exc
        if os.name == "posix" and mode & 0o077:
            log.warning("signing key %s is accessible to other users (mode %o); chmod 600 it", p, mode & 0o777)
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise SigningError(f"{p} is not an unencrypted PEM private key: {exc}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningError(f"{p} holds a {type(key).__name__}, not an Ed25519 key")
        return cls(key, p)

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)

    def public_pem(self) -> bytes:
        return public_key_pem(self.public_key)

    def sign(self, message: bytes) -> bytes:
        """A 64-byte Ed25519 signature over ``message``."""
        return self.private_key.sign(message)


def load_or_create_signer(home: str | os.PathLike[str]) -> Signer:
    """The local signing key under ``home``, created on first use (0600; race-safe across processes).

    The public key file is (re)written whenever it is missing or does not match the private key.
    """
    private_path, public_path = key_paths(home)
    if not private_path.exists():
        _create_private_key(private_path)
    signer = Signer.load(private_path)
    pem = signer.public_pem()
    try:
        current = public_path.read_bytes() if public_path.exists() else None
    except OSError:
        current = None
    if current != pem:
        atomic_write_bytes(public_path, pem)
        log.info("exported the audit public key to %s (key id %s)", public_path, signer.key_id)
    return signer


def _create_private_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # fails if another process created the key first: keep theirs
        except FileExistsError:
            return
        except OSError:  # no hard links here: exclusive create instead
            try:
                out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                return
            with os.fdopen(out, "wb") as fh:
                fh.write(pem)
                fh.flush()
                os.fsync(fh.fileno())
        fsync_dir(path.parent)
        log.info("created the audit signing key %s", path)
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


def load_public_key(source: Ed25519PublicKey | Signer | bytes | str | os.PathLike[str]) -> Ed25519PublicKey:
    """An Ed25519 public key from a key object, a signer, PEM or raw 32 bytes, or a PEM file path."""
    if isinstance(source, Ed25519PublicKey):
        return source
    if isinstance(source, Signer):
        return source.public_key
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
        if len(data) == 32:
            return Ed25519PublicKey.from_public_bytes(data)
        return _public_from_pem(data, "the given PEM")
    path = Path(source).expanduser()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningError(f"cannot read the public key {path}: {exc.strerror or exc}") from exc
    return _public_from_pem(data, str(path))


def _public_from_pem(data: bytes, where: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise SigningError(f"{where} is not a PEM public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise SigningError(f"{where} holds a {type(key).__name__}, not an Ed25519 key")
    return key


def verify_signature(public_key: Ed25519PublicKey, message: bytes, signature: bytes) -> Verdict:
    """Whether ``signature`` is ``public_key``'s Ed25519 signature over ``message`` (truthy if so)."""
    try:
        raw = bytes(signature)
        data = bytes(message)
    except (TypeError, ValueError) as exc:
        return refuse(Reason.MALFORMED, f"the signature or message is not bytes: {exc}")
    if len(raw) != SIGNATURE_SIZE:
        return refuse(Reason.MALFORMED, f"an Ed25519 signature is {SIGNATURE_SIZE} bytes, got {len(raw)}")
    try:
        public_key.verify(raw, data)
    except InvalidSignature:
        return refuse(Reason.BAD_SIGNATURE, f"the signature is not key {key_id(public_key)}'s over this message")
    except (TypeError, ValueError, AttributeError) as exc:
        return refuse(Reason.MALFORMED, f"the key cannot check signatures: {exc}")
    return accept()
