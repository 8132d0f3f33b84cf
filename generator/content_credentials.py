"""C2PA Content Credentials on every image stylegate writes, and reading them from any generator.

Writing (:func:`encode_with_credentials`, :func:`write_with_credentials`): the image is encoded
(PNG, JPEG or WebP, chosen by the file suffix) and signed with ``c2pa-python`` (the C2PA Rust
SDK). The manifest holds

* ``c2pa.actions``: one ``c2pa.created`` action with digitalSourceType
  ``http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia``;
* ``org.stylegate.decision``: the gate's decision, an evidence summary, the attribution, the
  policy version, the model identities, the audit log sequence number, the prompt's SHA-256,
  the seed, the decoded pixels' SHA-256 and a 64-bit difference hash (``dhash``) of the image.

The signature is made with a certificate chain: the workspace's own (``stylegate init``
creates a local CA and a claim-signing certificate, see :mod:`~stylegate.governance.c2pa_pki`),
the operator's (``STYLEGATE_C2PA_CERT`` / ``STYLEGATE_C2PA_KEY``), or a signing callback
(:class:`CredentialSigner` with ``callback``: a KMS or HSM signs the bytes it is handed).

Reading (:func:`check_credentials`) returns a :class:`CredentialCheck` whose ``status`` is one
of :data:`CREDENTIAL_STATUSES`:

* ``verified``: the manifest validates and its signer chains to a configured trust anchor;
* ``untrusted-signer``: it validates, but its signer chains to no configured anchor;
* ``expired-certificate``: the signing certificate was not valid when the claim was signed;
* ``tampered-pixels``: the manifest is intact but the image's bytes no longer match its hard
  binding (and, for a stylegate manifest, the image is still close to the one signed);
* ``wrong-image``: the manifest is intact but belongs to another image (the hard binding
  fails and the stylegate assertion's difference hash is far from this image's);
* ``tampered-manifest``: the claim or an assertion was changed after signing;
* ``malformed-manifest``: there is C2PA data but it cannot be parsed (truncated, corrupt);
* ``no-manifest``: no C2PA data at all (see :mod:`~stylegate.generator.soft_binding`).

Any generator's CAWG training-and-data-mining assertion is reported in ``training_mining``
(:func:`stylegate.governance.cawg.read_training_mining`).

``c2pa`` is imported inside functions so ``stylegate --help`` stays instant.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from stylegate.errors import CredentialError, InputError, InvalidWork

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

log = logging.getLogger(__name__)

ASSERTION_LABEL = "org.stylegate.decision"
ASSERTION_VERSION = 1
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
FORMATS: dict[str, tuple[str, str]] = {
    ".png": ("PNG", "image/png"),
    ".jpg": ("JPEG", "image/jpeg"),
    ".jpeg": ("JPEG", "image/jpeg"),
    ".webp": ("WEBP", "image/webp"),
}
MIME_BY_FORMAT = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
WRONG_IMAGE_DHASH_BITS = 16  # more differing bits of 64 than this: not the signed image edited

CredentialStatus = Literal[
    "verified",
    "untrusted-signer",
    "expired-certificate",
    "tampered-pixels",
    "wrong-image",
    "tampered-manifest",
    "malformed-manifest",
    "no-manifest",
]
CREDENTIAL_STATUSES: tuple[str, ...] = get_args(CredentialStatus)

_PIXEL_CODES = ("assertion.dataHash.mismatch", "assertion.boxesHash.mismatch", "assertion.bmffHash.mismatch")
_EXPIRED_CODES = ("signingCredential.expired",)
_UNTRUSTED_CODES = ("signingCredential.untrusted",)


def _c2pa() -> Any:
    try:
        import c2pa
    except ImportError as exc:  # pragma: no cover - a dependency
        raise CredentialError("c2pa-python is not installed: pip install c2pa-python") from exc
    return c2pa


# ------------------------------------------------------------------------------ signing


@dataclass
class CredentialSigner:
    """What signs manifests: a PEM chain (end entity first) and either its key or a callback.

    ``callback(data) -> signature`` signs the bytes c2pa hands it with the chain's key (for
    ES256: ECDSA P-256 over SHA-256); use it to keep the key in a KMS or HSM.
    """

    chain_pem: bytes
    key_pem: bytes | None = None
    alg: str = "es256"
    tsa_url: str | None = None
    callback: Callable[[bytes], bytes] | None = None

    def c2pa_signer(self) -> Any:
        c2pa = _c2pa()
        try:
            alg = getattr(c2pa.C2paSigningAlg, self.alg.upper())
        except AttributeError as exc:
            raise InputError(f"unknown C2PA signing algorithm {self.alg!r}") from exc
        try:
            if self.callback is not None:
                return c2pa.Signer.from_callback(self.callback, alg, self.chain_pem.decode("ascii"), self.tsa_url)
            if self.key_pem is None:
                raise InputError("a C2PA signer needs a private key or a signing callback")
            return c2pa.Signer.from_info(c2pa.C2paSignerInfo(alg, self.chain_pem, self.key_pem, self.tsa_url))
        except c2pa.C2paError as exc:
            raise CredentialError(f"cannot create the C2PA signer: {exc}") from exc


def signer_from_settings(settings: Any) -> CredentialSigner:
    """The operator's certificate and key when both are configured, else the workspace's own."""
    cert, key = settings.c2pa_cert, settings.c2pa_key
    if (cert is None) != (key is None):
        raise InputError("set both STYLEGATE_C2PA_CERT and STYLEGATE_C2PA_KEY, or neither")
    if cert is not None and key is not None:
        try:
            return CredentialSigner(Path(cert).read_bytes(), Path(key).read_bytes(), settings.c2pa_alg, settings.c2pa_tsa_url)
        except OSError as exc:
            raise InputError(f"cannot read the C2PA certificate or key: {exc}") from exc
    from stylegate.governance.c2pa_pki import ensure_workspace_identity

    ident = ensure_workspace_identity(settings.home)
    return CredentialSigner(ident.chain_pem(), ident.key_pem(), "es256", settings.c2pa_tsa_url)


def trust_anchors(settings: Any) -> str:
    """PEM trust anchors for reading: the workspace CA (when it exists) plus configured extras."""
    from stylegate.governance.c2pa_pki import load_anchors, workspace_identity

    paths = list(settings.c2pa_trust_anchors)
    anchor = workspace_identity(settings.home).anchor
    if anchor is not None and anchor.exists():
        paths.insert(0, anchor)
    return load_anchors(paths)


# ------------------------------------------------------------------------------ hashes


def dhash64(image: Image.Image) -> str:
    """A 64-bit difference hash (9x8 grey thumbnail, left < right), as 16 hex digits."""
    from PIL import Image as PILImage

    grey = image.convert("L").resize((9, 8), PILImage.Resampling.BILINEAR)
    px = grey.tobytes()
    bits = 0
    for row in range(8):
        for col in range(8):
            bits = (bits << 1) | (1 if px[row * 9 + col] < px[row * 9 + col + 1] else 0)
    return f"{bits:016x}"


def dhash_distance(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


# ------------------------------------------------------------------------------ writing


def build_manifest(record: Mapping[str, Any], title: str, generator_version: str) -> dict[str, Any]:
    """The manifest definition: the created action and stylegate's own assertion."""
    return {
        "claim_generator_info": [{"name": "stylegate", "version": generator_version}],
        "title": title,
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                            "softwareAgent": {"name": "stylegate", "version": generator_version},
                        }
                    ]
                },
            },
            {"label": ASSERTION_LABEL, "data": dict(record, v=ASSERTION_VERSION)},
        ],
    }


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("stylegate")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"


def _format_for(path: Path) -> tuple[str, str]:
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError as exc:
        raise InputError(f"{path}: Content Credentials are written to .png, .jpg/.jpeg or .webp files") from exc


def _encode(image: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    rgb = image if image.mode in ("RGB", "RGBA") or fmt == "PNG" else image.convert("RGB")
    if fmt == "JPEG":
        rgb.convert("RGB").save(buf, format="JPEG", quality=95)
    elif fmt == "WEBP":
        rgb.save(buf, format="WEBP", lossless=True)
    else:
        rgb.save(buf, format="PNG")
    return buf.getvalue()


def encode_with_credentials(
    image: Image.Image,
    fmt: str,
    record: Mapping[str, Any],
    signer: CredentialSigner,
    *,
    title: str = "stylegate image",
    encoded: bytes | None = None,
) -> bytes:
    """``image`` encoded as ``fmt`` (PNG/JPEG/WEBP) with a signed C2PA manifest; read back to check.

    ``encoded`` lets the caller hand over bytes already encoded (a PNG carrying stylegate's
    own provenance chunk); the pixel hash and dhash in the assertion are of ``image``.
    """
    from stylegate.generator.provenance import pixels_sha256

    c2pa = _c2pa()
    mime = MIME_BY_FORMAT[fmt]
    source = encoded if encoded is not None else _encode(image, fmt)
    from PIL import Image as PILImage

    with PILImage.open(io.BytesIO(source)) as decoded:
        decoded.load()
        full = dict(record, pixels_sha256=pixels_sha256(decoded), dhash=dhash64(decoded))
    manifest = build_manifest(full, title, _version())
    out = io.BytesIO()
    c_signer = signer.c2pa_signer()
    try:
        with c2pa.Builder(manifest) as builder:
            builder.sign(c_signer, mime, io.BytesIO(source), out)
    except c2pa.C2paError as exc:
        raise CredentialError(f"C2PA signing failed: {exc}") from exc
    finally:
        c_signer.close()
    data = out.getvalue()
    with c2pa.Reader(mime, io.BytesIO(data)) as reader:
        state = reader.get_validation_state()
    if state not in ("Valid", "Trusted"):
        raise CredentialError(f"the signed image does not validate ({state}); check the certificate and key")
    return data


def write_with_credentials(
    image: Image.Image,
    path: str | os.PathLike[str],
    record: Mapping[str, Any],
    signer: CredentialSigner,
    *,
    provenance_signer: Any = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write ``image`` at ``path`` (format from the suffix) with Content Credentials, atomically.

    For PNG and a ``provenance_signer`` (the audit Ed25519 key) the file also carries
    stylegate's own signed record (:mod:`~stylegate.generator.provenance`), inside the part
    the C2PA hard binding covers. Returns ``{"path", "format", "pixels_sha256", "dhash"}``.
    ``overwrite=False`` raises FileExistsError when ``path`` exists.
    """
    from stylegate.generator.provenance import encode_png_with_provenance, pixels_sha256
    from stylegate.registry._fs import atomic_write_bytes

    target = Path(path)
    fmt, _ = _format_for(target)
    encoded = None
    if fmt == "PNG" and provenance_signer is not None:
        encoded, _ = encode_png_with_provenance(image, record, provenance_signer, str(target))
    data = encode_with_credentials(image, fmt, record, signer, title=target.name, encoded=encoded)
    atomic_write_bytes(target, data, overwrite=overwrite)
    from PIL import Image as PILImage

    with PILImage.open(io.BytesIO(data)) as decoded:
        decoded.load()
        info = {"path": str(target), "format": fmt, "pixels_sha256": pixels_sha256(decoded), "dhash": dhash64(decoded)}
    log.info("wrote %s with Content Credentials (%s)", target, fmt)
    return info


# ------------------------------------------------------------------------------ reading


@dataclass
class CredentialCheck:
    """What :func:`check_credentials` found. ``assertion`` is stylegate's own, when present."""

    status: CredentialStatus
    reason: str
    ok: bool = False
    signer: dict[str, Any] | None = None
    claim_generator: str | None = None
    validation_state: str | None = None
    codes: list[str] = field(default_factory=list)
    assertion: dict[str, Any] | None = None
    digital_source_type: str | None = None
    training_mining: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _mime_of(data: bytes) -> str | None:
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _codes(results: Mapping[str, Any] | None, kind: str) -> list[str]:
    active = (results or {}).get("activeManifest") or {}
    return [str(item.get("code")) for item in active.get(kind) or []]


def _source_type(manifest: Mapping[str, Any]) -> str | None:
    for a in manifest.get("assertions") or []:
        if str(a.get("label", "")).startswith("c2pa.actions"):
            for act in (a.get("data") or {}).get("actions") or []:
                if act.get("action") == "c2pa.created":
                    return act.get("digitalSourceType")
    return None


def check_credentials(source: str | os.PathLike[str] | bytes, anchors_pem: str) -> CredentialCheck:
    """Read and validate the C2PA manifest of an image from any generator.

    ``anchors_pem`` are the trust anchors (PEM). Raises :class:`InvalidWork` for a file that
    is missing or not a PNG, JPEG or WebP image.
    """
    from stylegate.governance.cawg import read_training_mining

    c2pa = _c2pa()
    if isinstance(source, bytes):
        data, label = source, "<image>"
    else:
        label = str(source)
        try:
            data = Path(source).read_bytes()
        except FileNotFoundError as exc:
            raise InvalidWork(label, "no such file") from exc
        except OSError as exc:
            raise InvalidWork(label, f"cannot be read: {exc}") from exc
    mime = _mime_of(data)
    if mime is None:
        raise InvalidWork(label, "is not a PNG, JPEG or WebP image; Content Credentials are read from those")
    settings: dict[str, Any] = {"verify": {"verify_trust": True}}
    if anchors_pem.strip():
        settings["trust"] = {"trust_anchors": anchors_pem}
    try:
        context = c2pa.Context.from_dict(settings)
    except c2pa.C2paError as exc:
        raise InputError(f"the configured C2PA trust anchors cannot be used: {exc}") from exc
    try:
        reader = c2pa.Reader(mime, io.BytesIO(data), context=context)
    except c2pa.C2paError.ManifestNotFound:
        return CredentialCheck("no-manifest", "the image carries no C2PA manifest")
    except c2pa.C2paError as exc:
        return CredentialCheck("malformed-manifest", f"the C2PA data cannot be read: {exc}")
    with reader:
        try:
            state = reader.get_validation_state()
            results = reader.get_validation_results()
            manifest = reader.get_active_manifest() or {}
        except c2pa.C2paError as exc:
            return CredentialCheck("malformed-manifest", f"the C2PA manifest cannot be read: {exc}")
    failures = _codes(results, "failure")
    info = manifest.get("signature_info") or {}
    signer = {k: info.get(k) for k in ("common_name", "issuer", "alg", "cert_serial_number", "time")} if info else None
    gen = manifest.get("claim_generator") or ", ".join(
        str(g.get("name", "")) for g in manifest.get("claim_generator_info") or [] if isinstance(g, Mapping)
    )
    assertion = None
    for a in manifest.get("assertions") or []:
        if a.get("label") == ASSERTION_LABEL:
            assertion = a.get("data")
    check = CredentialCheck(
        "verified", "", signer=signer, claim_generator=gen or None, validation_state=state,
        codes=failures, assertion=assertion, digital_source_type=_source_type(manifest),
        training_mining=read_training_mining(manifest),
    )
    who = f"{(signer or {}).get('common_name')} (issued by {(signer or {}).get('issuer')})"
    if any(c in _PIXEL_CODES for c in failures):
        far = _far_from_assertion(data, assertion)
        if far is not None and far > WRONG_IMAGE_DHASH_BITS:
            check.status, check.reason = "wrong-image", (
                f"the manifest signed by {who} belongs to another image ({far} of 64 dhash bits differ)"
            )
        else:
            check.status, check.reason = "tampered-pixels", f"the image no longer matches the manifest signed by {who}"
    elif any(c in _EXPIRED_CODES for c in failures):
        check.status, check.reason = "expired-certificate", f"the signing certificate of {who} is outside its validity period (expired)"
    elif failures and all(c in _UNTRUSTED_CODES for c in failures):
        check.status, check.reason = "untrusted-signer", f"valid manifest, but {who} chains to no configured trust anchor"
    elif failures:
        check.status, check.reason = "tampered-manifest", f"the manifest fails validation: {', '.join(failures)}"
    elif state == "Trusted":
        check.status, check.reason, check.ok = "verified", f"signed by {who}, a trusted signer; the pixels match", True
    else:
        check.status, check.reason = "untrusted-signer", f"valid manifest ({state}), but {who} is not a trusted signer"
    return check


def consent_signals(paths: Sequence[Path], artist_consent: str | None = None) -> list[dict[str, Any]]:
    """The CAWG training-and-data-mining assertions in the C2PA manifests of ``paths``.

    One ``{"path", "training_mining", "status", "signer", "conflict"}`` per file that has one
    (its manifest's validation status included: an unverified signal is still reported, with
    its status); ``conflict`` is True when the file forbids AI training but the artist's
    registered consent (``artist_consent``) is not ``opt-out``. Unreadable files are skipped.
    """
    from stylegate.governance.cawg import forbids_training

    out: list[dict[str, Any]] = []
    for path in paths:
        try:
            data = Path(path).read_bytes()
        except OSError:
            continue
        if _mime_of(data) is None or not _may_hold_manifest(data):
            continue
        try:
            check = check_credentials(data, "")
        except (InvalidWork, InputError):
            continue
        if check.training_mining is None:
            continue
        conflict = forbids_training(check.training_mining) and artist_consent not in (None, "opt-out")
        if conflict:
            log.warning("%s says it must not be used for AI training, but the artist's consent is %s",
                        path, artist_consent)
        out.append({"path": str(path), "training_mining": check.training_mining, "status": check.status,
                    "signer": check.signer, "conflict": conflict})
    return out


def _may_hold_manifest(data: bytes) -> bool:
    """A cheap pre-filter: C2PA data is JUMBF, whose boxes are labelled ``jumb`` / ``c2pa``."""
    return b"jumb" in data or b"c2pa" in data


def _far_from_assertion(data: bytes, assertion: Mapping[str, Any] | None) -> int | None:
    if not assertion or not isinstance(assertion.get("dhash"), str):
        return None
    from PIL import Image as PILImage

    try:
        with PILImage.open(io.BytesIO(data)) as im:
            im.load()
            return dhash_distance(dhash64(im), assertion["dhash"])
    except (OSError, ValueError, PILImage.DecompressionBombError):
        return None


__all__: Sequence[str] = (
    "ASSERTION_LABEL",
    "CREDENTIAL_STATUSES",
    "CredentialCheck",
    "CredentialError",
    "CredentialSigner",
    "build_manifest",
    "check_credentials",
    "dhash64",
    "encode_with_credentials",
    "signer_from_settings",
    "trust_anchors",
    "write_with_credentials",
)


def image_credentials(source: str | os.PathLike[str] | bytes, rgb: Any, settings: Any, gate: Any) -> dict[str, Any]:
    """What ``check image`` reports about an image's provenance (the CLI and the API alike):
    its C2PA check against the configured trust anchors and, when it carries no manifest, its
    soft-binding match among this home's recorded outputs (or null)."""
    import json

    from stylegate.generator.soft_binding import OutputStore

    found = check_credentials(source, trust_anchors(settings)).to_dict()
    if found["status"] != "no-manifest":
        return found
    embedder = gate.embedder
    embedding = embedder.embed_images([rgb])[0] if embedder is not None else None
    identity = json.dumps(embedder.identity.to_dict(), sort_keys=True) if embedder is not None else None
    with OutputStore.for_home(settings.home) as store:
        match = store.lookup(rgb, embedding, identity)
    found["soft_binding"] = match.to_dict() if match else None
    if match is not None:
        found["reason"] = (f"no C2PA manifest; found by soft binding ({match.how}) as the output of "
                           f"audit entry {match.audit_seq}")
    return found
