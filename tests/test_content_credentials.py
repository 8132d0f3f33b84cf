"""C2PA Content Credentials: written with c2pa-python, read back with its Reader, tampered with.

Every check runs the real C2PA SDK (c2pa-python) and real X.509 chains made with
``cryptography``; nothing is mocked.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from c2pa_helpers import manifest_chunk, replace_manifest, with_pixels_of
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image
from typer.testing import CliRunner

from stylegate.generator import content_credentials as cc
from stylegate.generator.soft_binding import OutputStore
from stylegate.governance import c2pa_pki as pki
from stylegate.settings import Settings

c2pa = pytest.importorskip("c2pa")

RECORD = {"decision": "allow", "audit_seq": 41, "policy_version": "p1", "attribution": [], "evidence": []}


def _noise(seed: int, size: int = 64) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray((rng.random((size, size, 3)) * 255).astype("uint8"))


def _smooth(seed: int, size: int = 96) -> Image.Image:
    """A picture-like image (smooth gradients) that survives lossy re-encoding recognisably."""
    y, x = np.mgrid[0:size, 0:size] / size
    rng = np.random.default_rng(seed)
    a, b, c = rng.random(3) * 6
    rgb = np.stack([np.sin(a * x + b * y), np.cos(b * x - c * y), np.sin(c * x * y + a)], axis=-1)
    return Image.fromarray(((rgb + 1) * 127.5).astype("uint8"))


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


@pytest.fixture()
def ident(tmp_path: Path) -> pki.Identity:
    return pki.ensure_workspace_identity(tmp_path / "home")


@pytest.fixture()
def signer(ident: pki.Identity) -> cc.CredentialSigner:
    return cc.CredentialSigner(ident.chain_pem(), ident.key_pem())


def _anchor(ident: pki.Identity) -> str:
    assert ident.anchor is not None
    return ident.anchor.read_text()


# -- the identity -------------------------------------------------------------------------------


def test_workspace_certificate_has_the_c2pa_profile(ident: pki.Identity) -> None:
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    leaf, root = x509.load_pem_x509_certificates(ident.chain_pem())
    assert leaf.issuer == root.subject and root.issuer == root.subject
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    ku = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature
    eku = set(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert {ExtendedKeyUsageOID.EMAIL_PROTECTION, pki.DOCUMENT_SIGNING} <= eku
    root.public_key().verify(leaf.signature, leaf.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
    assert (ident.key.stat().st_mode & 0o777) == 0o600
    again = pki.ensure_workspace_identity(ident.chain.parent.parent.parent)
    assert again.chain_pem() == ident.chain_pem()  # idempotent: not re-issued


# -- writing: every format, read back by c2pa's own Reader -----------------------------------


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp"])
def test_written_image_validates_with_c2pa_reader_against_the_workspace_anchor(
    tmp_path: Path, ident: pki.Identity, signer: cc.CredentialSigner, suffix: str
) -> None:
    path = tmp_path / f"out{suffix}"
    info = cc.write_with_credentials(_noise(1), path, RECORD, signer)
    mime = cc.FORMATS[suffix][1]
    context = c2pa.Context.from_dict({"verify": {"verify_trust": True}, "trust": {"trust_anchors": _anchor(ident)}})
    with c2pa.Reader(mime, io.BytesIO(path.read_bytes()), context=context) as reader:
        assert reader.get_validation_state() == "Trusted"
        manifest = reader.get_active_manifest()
    labels = {a["label"]: a["data"] for a in manifest["assertions"]}
    actions = next(v for k, v in labels.items() if k.startswith("c2pa.actions"))["actions"]
    assert actions[0]["action"] == "c2pa.created"
    assert actions[0]["digitalSourceType"].endswith("/trainedAlgorithmicMedia")
    ours = labels[cc.ASSERTION_LABEL]
    assert ours["audit_seq"] == 41 and ours["decision"] == "allow" and ours["pixels_sha256"] == info["pixels_sha256"]
    assert manifest["signature_info"]["common_name"] == "stylegate generator"
    # Without the anchor the same manifest is valid but not trusted.
    with c2pa.Reader(mime, io.BytesIO(path.read_bytes())) as reader:
        assert reader.get_validation_state() == "Valid"
    with pytest.raises(FileExistsError):
        cc.write_with_credentials(_noise(2), path, RECORD, signer, overwrite=False)


def test_png_keeps_stylegates_own_record_inside_the_c2pa_binding(tmp_path: Path, ident, signer) -> None:
    from stylegate.generator.provenance import verify_provenance
    from stylegate.governance.audit.signing import Signer

    audit_key = Signer.generate()
    path = tmp_path / "both.png"
    cc.write_with_credentials(_noise(3), path, RECORD, signer, provenance_signer=audit_key)
    assert verify_provenance(path, audit_key.public_key).status == "verified"
    assert cc.check_credentials(path, _anchor(ident)).status == "verified"


def test_a_signing_callback_signs_like_a_kms(tmp_path: Path, ident: pki.Identity) -> None:
    key = serialization.load_pem_private_key(ident.key_pem(), None)
    calls: list[int] = []

    def kms_sign(data: bytes) -> bytes:
        calls.append(len(data))
        return key.sign(data, ec.ECDSA(hashes.SHA256()))

    data = cc.encode_with_credentials(_noise(4), "PNG", RECORD, cc.CredentialSigner(ident.chain_pem(), callback=kms_sign))
    assert calls and cc.check_credentials(data, _anchor(ident)).status == "verified"


def test_a_wrong_key_for_the_certificate_is_refused(ident: pki.Identity) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(cc.CredentialError):
        cc.encode_with_credentials(_noise(5), "PNG", RECORD, cc.CredentialSigner(ident.chain_pem(), _key_pem(other)))


def test_unsupported_suffix_is_a_usage_error(tmp_path: Path, signer) -> None:
    from stylegate.errors import InputError

    with pytest.raises(InputError):
        cc.write_with_credentials(_noise(6), tmp_path / "x.gif", RECORD, signer)


# -- reading: each failure has its own status and message --------------------------------------


def _foreign(now: dt.datetime, not_after: dt.datetime | None = None) -> tuple[cc.CredentialSigner, str]:
    ca, ca_key = pki.make_ca("Elsewhere Root", now, org="Elsewhere Inc")
    leaf, key = pki.issue_signer(ca, ca_key, "elsewhere generator", now - dt.timedelta(days=1),
                                 not_after or now + dt.timedelta(days=30))
    return cc.CredentialSigner(pki.chain_pem(leaf, ca), _key_pem(key)), pki.chain_pem(ca).decode()


def test_every_kind_of_damage_is_named(ident: pki.Identity, signer: cc.CredentialSigner) -> None:
    anchor = _anchor(ident)
    image = _noise(7)
    good = cc.encode_with_credentials(image, "PNG", RECORD, signer)
    other = cc.encode_with_credentials(_noise(8), "PNG", dict(RECORD, audit_seq=42), signer)
    edited = image.copy()
    edited.putpixel((5, 5), (0, 0, 0))
    manifest = manifest_chunk(good)
    assert manifest.count(b"allow") == 1
    now = dt.datetime.now(dt.timezone.utc)
    stranger, stranger_anchor = _foreign(now)
    unknown = cc.encode_with_credentials(image, "PNG", RECORD, stranger)

    found = {
        "verified": cc.check_credentials(good, anchor),
        "tampered-pixels": cc.check_credentials(with_pixels_of(good, edited), anchor),
        "tampered-manifest": cc.check_credentials(replace_manifest(good, manifest.replace(b"allow", b"block")), anchor),
        "malformed-manifest": cc.check_credentials(replace_manifest(good, manifest[: len(manifest) // 2]), anchor),
        "wrong-image": cc.check_credentials(replace_manifest(other, manifest), anchor),
        "untrusted-signer": cc.check_credentials(unknown, anchor),
        "no-manifest": cc.check_credentials(replace_manifest(good, None), anchor),
    }
    for expected, check in found.items():
        assert check.status == expected, (expected, check.reason, check.codes)
        assert check.reason and check.ok is (expected == "verified")
    assert len({c.reason for c in found.values()}) == len(found)
    assert "elsewhere generator" in found["untrusted-signer"].reason
    assert found["tampered-pixels"].assertion["audit_seq"] == 41  # still says what it claimed
    # The unknown signer is trusted once its root is configured as an extra anchor.
    assert cc.check_credentials(unknown, anchor + stranger_anchor).status == "verified"


def test_an_expired_certificate_is_named(ident: pki.Identity) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    brief, brief_anchor = _foreign(now, not_after=now + dt.timedelta(seconds=2))
    data = cc.encode_with_credentials(_noise(9), "PNG", RECORD, brief)
    time.sleep(3)
    check = cc.check_credentials(data, _anchor(ident) + brief_anchor)
    assert check.status == "expired-certificate" and "expired" in check.reason


def test_non_images_are_input_errors(tmp_path: Path, ident) -> None:
    from stylegate.errors import InvalidWork

    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image at all")
    with pytest.raises(InvalidWork):
        cc.check_credentials(junk, _anchor(ident))
    with pytest.raises(InvalidWork):
        cc.check_credentials(tmp_path / "missing.png", _anchor(ident))


def test_settings_choose_the_operators_certificate_and_extra_anchors(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    stranger, stranger_anchor = _foreign(now)
    (tmp_path / "chain.pem").write_bytes(stranger.chain_pem)
    (tmp_path / "key.pem").write_bytes(stranger.key_pem or b"")
    (tmp_path / "anchor.pem").write_text(stranger_anchor)
    home = tmp_path / "home"
    pki.ensure_workspace_identity(home)
    own = Settings(home=home, c2pa_cert=tmp_path / "chain.pem", c2pa_key=tmp_path / "key.pem")
    data = cc.encode_with_credentials(_noise(10), "PNG", RECORD, cc.signer_from_settings(own))
    assert cc.check_credentials(data, cc.trust_anchors(Settings(home=home))).status == "untrusted-signer"
    extra = Settings(home=home, c2pa_trust_anchors=[tmp_path / "anchor.pem"])
    assert cc.check_credentials(data, cc.trust_anchors(extra)).status == "verified"
    from stylegate.errors import InputError

    with pytest.raises(InputError):
        cc.signer_from_settings(Settings(home=home, c2pa_cert=tmp_path / "chain.pem"))
    with pytest.raises(InputError):
        cc.trust_anchors(Settings(home=home, c2pa_trust_anchors=[tmp_path / "nope.pem"]))


def test_a_cawg_training_mining_assertion_is_read_from_another_generator(ident: pki.Identity) -> None:
    """A manifest made here with c2pa's Builder directly, as another tool would make it."""
    from stylegate.governance.cawg import forbids_training

    now = dt.datetime.now(dt.timezone.utc)
    stranger, _ = _foreign(now)
    manifest = {
        "claim_generator_info": [{"name": "some camera app", "version": "9"}],
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [{
                "action": "c2pa.created",
                "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"}]}},
            {"label": "cawg.training-mining", "data": {"entries": {
                "cawg.ai_generative_training": {"use": "notAllowed"},
                "cawg.data_mining": {"use": "constrained", "constraint_info": "ask first"},
                "cawg.ai_inference": {"use": "sometimes"},
            }}},
        ],
    }
    src = io.BytesIO()
    _noise(12).save(src, format="JPEG")
    out = io.BytesIO()
    c_signer = stranger.c2pa_signer()
    with c2pa.Builder(manifest) as builder:
        builder.sign(c_signer, "image/jpeg", io.BytesIO(src.getvalue()), out)
    check = cc.check_credentials(out.getvalue(), _anchor(ident))
    assert check.status == "untrusted-signer" and check.assertion is None
    assert check.digital_source_type is not None and check.digital_source_type.endswith("/digitalCapture")
    assert check.claim_generator and "some camera app" in check.claim_generator
    tdm = check.training_mining
    assert tdm is not None and tdm["entries"]["cawg.ai_generative_training"] == {"use": "notAllowed"}
    assert tdm["entries"]["cawg.data_mining"]["constraint_info"] == "ask first"
    assert "cawg.ai_inference" not in tdm["entries"] and len(tdm["problems"]) == 1
    assert forbids_training(tdm)


def _tdm_work(path: Path, signer: cc.CredentialSigner, use: str, seed: int) -> Path:
    manifest = {
        "claim_generator_info": [{"name": "an artist's portfolio tool", "version": "1"}],
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [{
                "action": "c2pa.created",
                "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCreation"}]}},
            {"label": "cawg.training-mining", "data": {"entries": {"cawg.ai_training": {"use": use}}}},
        ],
    }
    src = io.BytesIO()
    _smooth(seed).save(src, format="PNG")
    out = io.BytesIO()
    c_signer = signer.c2pa_signer()
    with c2pa.Builder(manifest) as builder:
        builder.sign(c_signer, "image/png", io.BytesIO(src.getvalue()), out)
    path.write_bytes(out.getvalue())
    return path


def test_works_add_reports_the_consent_signals_of_uploaded_works(tmp_path: Path) -> None:
    import stylegate.cli  # noqa: F401

    home = tmp_path / "home"
    assert sg(home, "init").exit_code == 0
    assert sg(home, "artists", "add", "Wren Example", "--consent", "credit").exit_code == 0
    now = dt.datetime.now(dt.timezone.utc)
    portfolio, _ = _foreign(now)
    folder = tmp_path / "works"
    folder.mkdir()
    _tdm_work(folder / "no.png", portfolio, "notAllowed", 1)
    _tdm_work(folder / "yes.png", portfolio, "allowed", 2)
    _smooth(3).save(folder / "plain.png")
    res = sg(home, "works", "add", "Wren Example", str(folder), "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert len(out["added"]) == 3
    signals = {Path(s["path"]).name: s for s in out["consent_signals"]}
    assert set(signals) == {"no.png", "yes.png"}
    assert signals["no.png"]["conflict"] is True and signals["yes.png"]["conflict"] is False
    assert signals["no.png"]["training_mining"]["entries"]["cawg.ai_training"]["use"] == "notAllowed"
    assert signals["no.png"]["status"] == "untrusted-signer"  # reported, with how far to trust it
    # kept with the works: `artists list` says so later, and follows the artist's consent
    listed = json.loads(sg(home, "artists", "list", "--json").stdout)["artists"][0]
    assert listed["consent_signals"] == {"works": 2, "conflicts": 1}
    assert "disagrees" in sg(home, "artists", "list").stdout
    assert sg(home, "artists", "list").exit_code == 0
    from stylegate.settings import Settings
    from stylegate.workspace import Workspace

    Workspace(Settings(home=home, device="cpu")).store.update_artist("Wren Example", consent="opt-out")
    listed = json.loads(sg(home, "artists", "list", "--json").stdout)["artists"][0]
    assert listed["consent_signals"] == {"works": 2, "conflicts": 0}


def test_consent_in_cawg_terms() -> None:
    from stylegate.governance.cawg import ENTRY_KEYS, consent_entries, forbids_training, read_training_mining

    for consent in ("opt-out", "royalty", "credit"):
        entries = consent_entries(consent, 0.25)
        assert set(entries) == set(ENTRY_KEYS)
        parsed = read_training_mining({"assertions": [{"label": "cawg.training-mining", "data": {"entries": entries}}]})
        assert parsed is not None and parsed["entries"] == entries and not parsed["problems"]
        assert forbids_training(parsed) is (consent == "opt-out")
    assert "0.25" in consent_entries("royalty", 0.25)["cawg.ai_training"]["constraint_info"]
    with pytest.raises(ValueError):
        consent_entries("maybe")


# -- soft binding -------------------------------------------------------------------------------


def test_soft_binding_finds_stripped_and_recompressed_outputs(tmp_path: Path) -> None:
    images = [_smooth(i) for i in range(4)]
    with OutputStore(tmp_path / "outputs.db") as store:
        for seq, im in enumerate(images, start=10):
            store.add(seq, f"/out/{seq}.png", im)
        assert len(store) == 4
        exact = store.lookup(images[2].copy())
        assert exact is not None and (exact.audit_seq, exact.how) == (12, "pixels-sha256")
        buf = io.BytesIO()
        images[1].save(buf, format="JPEG", quality=70)
        recompressed = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
        near = store.lookup(recompressed)
        assert near is not None and (near.audit_seq, near.how) == (11, "pixel-signature")
        assert store.lookup(_smooth(99)) is None


# -- the CLI: generate writes credentials; check image reads them ------------------------------


runner = CliRunner()


def sg(home: Path, *args: str):
    return runner.invoke(sys.modules["stylegate.cli"].app, ["--home", str(home), *args])


def test_generate_then_check_image_reads_credentials_and_finds_stripped_images(tmp_path: Path) -> None:
    import stylegate.cli  # noqa: F401  (sg looks it up)

    home = tmp_path / "home"
    assert sg(home, "init").exit_code == 0
    out = tmp_path / "out"
    result = sg(home, "generate", "a red boat on a lake", "--steps", "4", "--num-images", "2", "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    paths = [Path(f["path"]) for f in summary["files"]]
    assert len(paths) == 2
    anchor = (home / "keys" / "c2pa" / "ca.pem").read_text()
    context = c2pa.Context.from_dict({"verify": {"verify_trust": True}, "trust": {"trust_anchors": anchor}})
    with c2pa.Reader("image/png", io.BytesIO(paths[0].read_bytes()), context=context) as reader:
        assert reader.get_validation_state() == "Trusted"

    def check(path: Path) -> dict:
        res = sg(home, "check", "image", str(path), "--json")
        assert res.exit_code in (0, 3), res.output
        return json.loads(res.stdout.strip().splitlines()[-1])["credentials"]

    first = check(paths[0])
    assert first["status"] == "verified" and first["assertion"]["audit_seq"] == summary["audit_seq"]
    assert first["digital_source_type"].endswith("trainedAlgorithmicMedia")

    data = paths[1].read_bytes()
    stripped = tmp_path / "stripped.png"
    stripped.write_bytes(replace_manifest(data, None))
    found = check(stripped)
    assert found["status"] == "no-manifest"
    assert found["soft_binding"]["audit_seq"] == summary["audit_seq"] and found["soft_binding"]["path"] == str(paths[1])
    assert "soft binding" in found["reason"]

    with Image.open(paths[1]) as im:
        edited = im.convert("RGB")
    edited.putpixel((1, 1), (255, 0, 255))
    tampered = tmp_path / "tampered.png"
    tampered.write_bytes(with_pixels_of(data, edited))
    assert check(tampered)["status"] == "tampered-pixels"
    unrelated = tmp_path / "unrelated.png"
    _noise(11).save(unrelated)
    plain = check(unrelated)
    assert plain["status"] == "no-manifest" and plain["soft_binding"] is None


def test_help_does_not_import_c2pa() -> None:
    probe = "import sys, stylegate.cli; print('c2pa' in sys.modules, 'cryptography.x509' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.split()[0] == "False"
