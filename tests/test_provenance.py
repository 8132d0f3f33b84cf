"""Signed PNG provenance: written with the local key, read back, and every kind of tampering caught."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, PngImagePlugin

from stylegate.errors import InvalidWork, ProvenanceError
from stylegate.generator.provenance import (
    PROVENANCE_KEY,
    STATUSES,
    build_provenance,
    pixels_sha256,
    read_provenance,
    save_with_provenance,
    verify_provenance,
)
from stylegate.governance.audit.entry import canonical_json
from stylegate.governance.audit.signing import Signer, key_paths, load_or_create_signer


def _image(mode: str = "RGB", size: tuple[int, int] = (16, 12)) -> Image.Image:
    im = Image.new("RGB", size)
    im.putdata([((x * 16) % 256, (y * 20) % 256, (x * y) % 256) for y in range(size[1]) for x in range(size[0])])
    return im if mode == "RGB" else im.convert(mode)


def _record() -> dict[str, Any]:
    return {
        "decision": {"subject": "generation", "action": "steer", "reasons": ["opted-out name removed"]},
        "attribution": [{"artist": {"id": 3, "name": "Zoë Ångström"}, "share": 0.625, "consent": "opt_in"}],
        "policy_sha256": "ab" * 32,
        "models": {"pipeline": "styleworld@1234", "embedder": "clip-vit-b32"},
        "audit_seq": 17,
        "prompt_sha256": "cd" * 32,
        "seed": 42,
    }


def _write_png(path: Path, image: Image.Image, chunk: str | None) -> None:
    info = PngImagePlugin.PngInfo()
    if chunk is not None:
        info.add_itxt(PROVENANCE_KEY, chunk)
    image.save(path, format="PNG", pnginfo=info)


def _chunk(path: Path) -> str:
    with Image.open(path) as im:
        return str(im.text[PROVENANCE_KEY])


@pytest.fixture()
def signed(tmp_path: Path) -> tuple[Path, Path, Signer, dict[str, Any]]:
    home = tmp_path / "home"
    signer = load_or_create_signer(home)
    out = tmp_path / "out" / "image-0.png"
    envelope = save_with_provenance(_image(), out, _record(), signer)
    return home, out, signer, envelope


def test_round_trip_verifies_with_the_local_key(signed: tuple[Path, Path, Signer, dict[str, Any]]) -> None:
    home, out, signer, envelope = signed
    private, public = key_paths(home)
    assert private.exists() and public.exists()
    assert envelope["key_id"] == signer.key_id and envelope["v"] == 1
    assert envelope["record"] == _record()
    assert read_provenance(out) == envelope
    assert json.loads(_chunk(out)) == envelope and _chunk(out) == canonical_json(envelope)

    check = verify_provenance(out, trusted_public_key=public)
    assert check.ok and check.status == "verified" and check.trusted is True
    assert check.record == _record() and check.key_id == signer.key_id and check.path == str(out)
    assert json.loads(json.dumps(check.to_dict()))["status"] == "verified"

    loose = verify_provenance(out)  # no trusted key: self-consistent only
    assert loose.ok and loose.trusted is None
    with Image.open(out) as im:  # an opened image works as well as a path
        assert verify_provenance(im, trusted_public_key=signer).status == "verified"
    assert not [p.name for p in out.parent.iterdir() if p.name != out.name]  # no temp files left


def test_re_encoding_the_same_pixels_still_verifies(tmp_path: Path, signed: tuple[Path, Path, Signer, dict[str, Any]]) -> None:
    _, out, signer, _ = signed
    chunk = _chunk(out)
    with Image.open(out) as im:
        rgba = im.convert("RGBA")  # opaque RGBA: the same pixels
        rgb = im.copy()
    again = tmp_path / "again.png"
    info = PngImagePlugin.PngInfo()
    info.add_text(PROVENANCE_KEY, chunk)  # tEXt instead of compressed iTXt, other compression
    rgb.save(again, format="PNG", pnginfo=info, compress_level=1)
    assert verify_provenance(again, signer).status == "verified"
    _write_png(again, rgba, chunk)
    assert verify_provenance(again, signer).status == "verified"


def test_an_edited_pixel_is_caught(tmp_path: Path, signed: tuple[Path, Path, Signer, dict[str, Any]]) -> None:
    _, out, signer, _ = signed
    with Image.open(out) as im:
        edited = im.copy()
    edited.putpixel((3, 4), (255, 0, 255))
    forged = tmp_path / "forged.png"
    _write_png(forged, edited, _chunk(out))
    check = verify_provenance(forged, signer)
    assert (check.ok, check.status) == (False, "tampered-pixels")
    assert check.record == _record()  # what was claimed, for the report


@pytest.mark.parametrize("trusted", [False, True])
def test_an_edited_record_is_caught(tmp_path: Path, signed: tuple[Path, Path, Signer, dict[str, Any]], trusted: bool) -> None:
    _, out, signer, _ = signed
    env = json.loads(_chunk(out))
    env["record"]["decision"]["action"] = "allow"
    env["record"]["attribution"][0]["share"] = 0.0
    with Image.open(out) as im:
        same_pixels = im.copy()
    forged = tmp_path / "forged.png"
    _write_png(forged, same_pixels, canonical_json(env))
    check = verify_provenance(forged, signer if trusted else None)
    assert not check.ok and check.status == "tampered-metadata"
    assert "changed after signing" in check.reason


def _mutate(env: dict[str, Any], how: str) -> str:
    if how == "not-json":
        return "{not json"
    if how == "duplicate-key":
        text = canonical_json(env)
        return text[:-1] + ',"record":{"decision":"allow"}}'
    if how == "nan":
        return canonical_json(env)[:-1] + ',"x":NaN}'
    if how == "extra-field":
        env["approved_by"] = "the artist"
    elif how == "missing-field":
        del env["pixels_sha256"]
    elif how == "version":
        env["v"] = 2
    elif how == "short-signature":
        env["signature"] = env["signature"][:-2]
    elif how == "flipped-signature":
        env["signature"] = ("0" if env["signature"][0] != "0" else "1") + env["signature"][1:]
    elif how == "key-id":
        env["key_id"] = "0" * 16
    elif how == "bad-public-key":
        env["public_key"] = "zz" * 32
    elif how == "pixel-hash":
        env["pixels_sha256"] = "0" * 64
    return canonical_json(env)


@pytest.mark.parametrize(
    "how, status",
    [
        ("not-json", "tampered-metadata"),
        ("duplicate-key", "tampered-metadata"),
        ("nan", "tampered-metadata"),
        ("extra-field", "tampered-metadata"),
        ("missing-field", "tampered-metadata"),
        ("version", "tampered-metadata"),
        ("flipped-signature", "tampered-metadata"),
        ("pixel-hash", "tampered-metadata"),  # the signed hash itself was edited
        ("short-signature", "bad-signature"),
        ("key-id", "bad-signature"),
        ("bad-public-key", "bad-signature"),
    ],
)
def test_malformed_or_edited_metadata(tmp_path: Path, signed: tuple[Path, Path, Signer, dict[str, Any]], how: str, status: str) -> None:
    _, out, signer, _ = signed
    with Image.open(out) as im:
        pixels = im.copy()
    forged = tmp_path / "forged.png"
    _write_png(forged, pixels, _mutate(json.loads(_chunk(out)), how))
    check = verify_provenance(forged, signer)
    assert (check.ok, check.status) == (False, status), check.reason
    assert check.status in STATUSES


def test_another_signers_key_is_untrusted(tmp_path: Path, signed: tuple[Path, Path, Signer, dict[str, Any]]) -> None:
    home, out, signer, _ = signed
    other = load_or_create_signer(tmp_path / "other-home")
    check = verify_provenance(out, trusted_public_key=key_paths(tmp_path / "other-home")[1])
    assert (check.ok, check.status, check.trusted, check.key_id) == (False, "untrusted-key", False, signer.key_id)

    # a forger re-signs an edited record with their own key: self-consistent, but not ours
    with Image.open(out) as im:
        pixels = im.copy()
    record = dict(_record(), decision={"action": "allow"})
    forged = tmp_path / "resigned.png"
    save_with_provenance(pixels, forged, record, other)
    assert verify_provenance(forged).status == "verified"
    assert verify_provenance(forged, key_paths(home)[1]).status == "untrusted-key"


def test_a_png_without_metadata_is_unsigned(tmp_path: Path) -> None:
    plain = tmp_path / "plain.png"
    _image().save(plain)
    assert read_provenance(plain) is None
    check = verify_provenance(plain, Signer.generate())
    assert (check.ok, check.status, check.record, check.key_id) == (False, "unsigned", None, None)
    assert verify_provenance(_image()).status == "unsigned"  # an in-memory image


def test_unreadable_files_raise_invalid_work(tmp_path: Path, signed: tuple[Path, Path, Signer, dict[str, Any]]) -> None:
    _, out, _, _ = signed
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(out.read_bytes()[: out.stat().st_size // 2])
    jpeg = tmp_path / "photo.jpg"
    _image().save(jpeg, format="JPEG")
    cases = {text: "not an image", truncated: "truncated", jpeg: "not a PNG", tmp_path / "missing.png": "no such file"}
    for path, words in cases.items():
        for fn in (read_provenance, verify_provenance):
            with pytest.raises(InvalidWork, match=words) as info:
                fn(path)
            assert info.value.exit_code == 2 and info.value.path == str(path)


def test_read_provenance_rejects_a_non_json_chunk(tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    _write_png(bad, _image(), "[1, 2")
    with pytest.raises(InvalidWork, match="not valid JSON"):
        read_provenance(bad)


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGBA", "I;16"])
def test_other_modes_round_trip(tmp_path: Path, mode: str) -> None:
    signer = Signer.generate()
    out = tmp_path / f"{mode.replace(';', '_')}.png"
    image = _image("L").convert("I;16") if mode == "I;16" else _image(mode)
    save_with_provenance(image, out, {"seed": 1}, signer)
    assert verify_provenance(out, signer).status == "verified"


def test_pixel_hash_covers_pixels_and_size() -> None:
    rgb = _image()
    assert pixels_sha256(rgb) == pixels_sha256(rgb.convert("RGBA"))
    assert pixels_sha256(rgb) != pixels_sha256(rgb.resize((12, 16)))
    edited = rgb.copy()
    edited.putpixel((0, 0), (1, 2, 3))
    assert pixels_sha256(rgb) != pixels_sha256(edited)


def test_save_refuses_what_it_cannot_sign_and_writes_nothing(tmp_path: Path) -> None:
    signer = Signer.generate()
    target = tmp_path / "x.png"
    with pytest.raises(ProvenanceError, match="JSON"):
        save_with_provenance(_image(), target, {"seed": object()}, signer)
    with pytest.raises(ProvenanceError, match="PNG"):
        save_with_provenance(Image.new("CMYK", (4, 4)), target, {}, signer)
    assert list(tmp_path.iterdir()) == []


def test_save_replaces_an_existing_file_and_normalises_the_record(tmp_path: Path) -> None:
    signer = Signer.generate()
    target = tmp_path / "x.png"
    target.write_bytes(b"old")
    env = save_with_provenance(_image(), target, {"models": ("a", "b"), "share": 0.1}, signer)
    assert env["record"] == {"models": ["a", "b"], "share": 0.1}
    assert read_provenance(target) == env
    assert build_provenance(_image(), {"seed": 1}, signer)["pixels_sha256"] == env["pixels_sha256"]


def test_an_extra_frame_is_caught(tmp_path: Path, signed: tuple[Path, Path, Signer, dict[str, Any]]) -> None:
    _, out, signer, _ = signed
    with Image.open(out) as im:
        first = im.copy()
    info = PngImagePlugin.PngInfo()
    info.add_itxt(PROVENANCE_KEY, _chunk(out))
    apng = tmp_path / "anim.png"
    buf = io.BytesIO()
    first.save(buf, format="PNG", save_all=True, append_images=[Image.new("RGB", first.size, "red")], pnginfo=info)
    apng.write_bytes(buf.getvalue())
    assert verify_provenance(apng, signer).status == "tampered-pixels"
