"""The workspace's C2PA signing identity: a local CA and an end-entity claim-signing certificate.

``stylegate init`` creates, under ``$STYLEGATE_HOME/keys/c2pa/``:

* ``ca.pem`` / ``ca-key.pem``: a self-signed P-256 root (``CA:TRUE, pathlen:0``, keyCertSign);
  it is the trust anchor ``stylegate check image`` validates against by default;
* ``signer.pem`` / ``signer-key.pem``: a P-256 end-entity certificate issued by that root, with
  the profile the C2PA specification asks of claim signers: X.509 v3, ``CA:FALSE``, key usage
  digitalSignature (critical), extended key usage ``id-kp-emailProtection`` and
  ``id-kp-documentSigning``, subject and authority key identifiers. ``signer.pem`` holds the
  chain (end entity first, then the root) as c2pa expects.

ES256 is used because every C2PA validator supports it. Private keys are written 0600.
Nothing here talks to a network; an operator who wants validators elsewhere to trust the
images uses a certificate from a CA on the C2PA trust list instead (see README).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from stylegate.errors import InputError

log = logging.getLogger(__name__)

PKI_DIR = ("keys", "c2pa")
DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")  # id-kp-documentSigning (RFC 9336)
CA_YEARS = 10
SIGNER_DAYS = 2 * 365


@dataclass(frozen=True)
class Identity:
    """Where the signing chain and key live (PEM files)."""

    chain: Path
    key: Path
    anchor: Path | None = None

    def chain_pem(self) -> bytes:
        return self.chain.read_bytes()

    def key_pem(self) -> bytes:
        return self.key.read_bytes()


def pki_dir(home: str | os.PathLike[str]) -> Path:
    return Path(home).expanduser().joinpath(*PKI_DIR)


def workspace_identity(home: str | os.PathLike[str]) -> Identity:
    folder = pki_dir(home)
    return Identity(folder / "signer.pem", folder / "signer-key.pem", folder / "ca.pem")


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _name(common: str, org: str = "stylegate workspace") -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common), x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)])


def make_ca(
    common_name: str, now: dt.datetime, years: int = CA_YEARS, org: str = "stylegate workspace"
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name, org)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def issue_signer(
    ca: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    common_name: str,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """An end-entity C2PA claim-signing certificate issued by ``ca``."""
    key = ec.generate_private_key(ec.SECP256R1())
    org = ca.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    if not isinstance(org, str):  # a bit-string attribute's value is bytes; an organization name is text
        raise ValueError("the CA's organization name is not text")
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, org))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def chain_pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def ensure_workspace_identity(home: str | os.PathLike[str], common_name: str = "stylegate generator") -> Identity:
    """Create the workspace CA and signer once (idempotent); return where they are."""
    ident = workspace_identity(home)
    folder = ident.chain.parent
    if ident.chain.exists() and ident.key.exists() and ident.anchor is not None and ident.anchor.exists():
        return ident
    folder.mkdir(parents=True, exist_ok=True)
    for path in (ident.chain, ident.key, folder / "ca-key.pem", folder / "ca.pem"):
        if path.exists():
            raise InputError(f"{path} exists but the C2PA identity in {folder} is incomplete; move the folder away to recreate it")
    now = dt.datetime.now(dt.timezone.utc)
    ca, ca_key = make_ca(f"stylegate workspace CA ({folder.parent.parent.name})", now)
    cert, key = issue_signer(ca, ca_key, common_name, now - dt.timedelta(minutes=5), now + dt.timedelta(days=SIGNER_DAYS))
    _write_private(folder / "ca-key.pem", _pem_key(ca_key))
    _write_private(ident.key, _pem_key(key))
    (folder / "ca.pem").write_bytes(chain_pem(ca))
    ident.chain.write_bytes(chain_pem(cert, ca))
    log.info("created the workspace C2PA CA and signing certificate in %s", folder)
    return ident


def load_anchors(paths: list[Path]) -> str:
    """Concatenated PEM trust anchors from files; InputError when one is missing or not PEM."""
    out: list[str] = []
    for path in paths:
        try:
            data = Path(path).read_bytes()
            certs = x509.load_pem_x509_certificates(data)
        except FileNotFoundError as exc:
            raise InputError(f"trust anchor file {path} does not exist") from exc
        except ValueError as exc:
            raise InputError(f"trust anchor file {path} holds no PEM certificate") from exc
        out.extend(c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in certs)
    return "".join(out)
