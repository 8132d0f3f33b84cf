"""What a scan reads: image references listed from a folder, Parquet shards, WebDataset tar
shards or the workspace's past generations, cut into parts, and the bytes behind a reference.

Listing is cheap and happens on the driver (no image is opened); the scan workers read the
bytes (:func:`read_ref`). A reference that cannot be read becomes that row's error, never the
scan's. Parts never cross a shard's row group or tar file, so a worker reads each once.
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import os
import re
import tarfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from stylegate.errors import ScanSchemaError, ScanSourceError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff")
ID_COLUMNS = ("id", "key", "uid", "__key__")
BYTES_COLUMNS = ("image", "image_bytes", "bytes", "jpg", "png", "webp")
PATH_COLUMNS = ("path", "image_path", "filepath", "file", "url")


@dataclass(frozen=True)
class ImageRef:
    """One image to check: its id, where its bytes are, and (past generations) what was decided.

    ``kind``: ``file`` (``location`` is a path), ``tar`` (``offset``/``size`` of the member's data
    in the tar at ``location``), ``parquet`` (row ``size`` of row group ``offset`` of column
    ``member`` of the shard at ``location``), or ``missing`` (``detail`` says why).
    """

    id: str
    kind: str
    location: str
    url: str = ""
    member: str = ""
    offset: int = 0
    size: int = 0
    detail: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ImageRef:
        return cls(**d)


@dataclass(frozen=True)
class ScanPlan:
    """The parts of one scan and what identifies its source (a resumed scan must list the same)."""

    kind: str
    description: str
    parts: list[list[ImageRef]]

    @property
    def total(self) -> int:
        return sum(len(p) for p in self.parts)

    def fingerprint(self) -> str:
        """sha256 over every reference in order: equal plans, equal fingerprints."""
        h = hashlib.sha256()
        for part in self.parts:
            for ref in part:
                h.update(json.dumps(ref.to_dict(), sort_keys=True).encode("utf-8"))
                h.update(b"\n")
            h.update(b"|")
        return h.hexdigest()


def chunks(refs: Sequence[ImageRef], size: int) -> Iterator[list[ImageRef]]:
    for start in range(0, len(refs), size):
        yield list(refs[start:start + size])


# -- sources -----------------------------------------------------------------------------------


def expand_braces(pattern: str) -> list[str]:
    """WebDataset shard notation: ``shard-{000..009}.tar`` → ten names (zero padding kept)."""
    m = re.search(r"\{(\d+)\.\.(\d+)\}", pattern)
    if m is None:
        return [pattern]
    lo, hi = m.group(1), m.group(2)
    width = len(lo) if lo.startswith("0") else 0
    names = [pattern[:m.start()] + str(i).zfill(width) + pattern[m.end():] for i in range(int(lo), int(hi) + 1)]
    return [n for name in names for n in expand_braces(name)]


def resolve_sources(sources: Sequence[str]) -> list[Path]:
    """Each SOURCE as paths: a folder, a file, a glob, a brace range, or a ``.txt`` shard list."""
    if not sources:
        raise ScanSourceError("no SOURCE given: name a folder of images, Parquet or WebDataset shards, or use --past-generations")
    paths: list[Path] = []
    for source in sources:
        for name in expand_braces(str(source)):
            if any(c in name for c in "*?["):
                found = sorted(glob.glob(name))
                if not found:
                    raise ScanSourceError(f"no file matches {name!r}")
                paths.extend(Path(f) for f in found)
                continue
            path = Path(name)
            if not path.exists():
                raise ScanSourceError(f"no such file or folder: {name}")
            if path.suffix == ".txt" and path.is_file():
                listed = [line.strip() for line in path.read_text("utf-8").splitlines() if line.strip() and not line.startswith("#")]
                paths.extend(resolve_sources([str(path.parent / p) if not os.path.isabs(p) else p for p in listed]))
                continue
            paths.append(path)
    return paths


def plan_sources(sources: Sequence[str], part_size: int) -> ScanPlan:
    """The plan for SOURCE arguments: one kind only (images, Parquet or tar shards)."""
    paths = resolve_sources(sources)
    expanded: list[Path] = []
    for path in paths:
        if path.is_dir():
            shards = sorted(p for p in path.iterdir() if p.suffix in (".parquet", ".tar"))
            has_images = any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.rglob("*") if p.is_file())
            expanded.extend(shards if shards and not has_images else [path])
        else:
            expanded.append(path)
    kinds = {"folder" if p.is_dir() else p.suffix.lower().lstrip(".") for p in expanded}
    unknown = kinds - {"folder", "parquet", "tar"} - {s.lstrip(".") for s in IMAGE_SUFFIXES}
    if unknown:
        raise ScanSourceError(f"cannot scan {', '.join(sorted('.' + k for k in unknown))} files: "
                              "give a folder of images, .parquet or WebDataset .tar shards (or a .txt list of them)")
    if "parquet" in kinds and len(kinds) == 1:
        return ScanPlan("parquet", _describe(expanded), [c for p in expanded for c in parquet_parts(p, part_size)])
    if "tar" in kinds and len(kinds) == 1:
        return ScanPlan("webdataset", _describe(expanded), [c for p in expanded for c in tar_parts(p, part_size)])
    if kinds & {"parquet", "tar"}:
        raise ScanSourceError("mix of shard kinds: scan Parquet and WebDataset shards separately")
    refs: list[ImageRef] = []
    for p in expanded:
        refs.extend(folder_refs(p) if p.is_dir() else [ImageRef(id=p.name, kind="file", location=str(p), url=str(p))])
    if not refs:
        raise ScanSourceError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {_describe(expanded)}")
    return ScanPlan("folder", _describe(expanded), list(chunks(refs, part_size)))


def _describe(paths: Iterable[Path]) -> str:
    return ", ".join(str(p.resolve()) for p in paths)


def folder_refs(folder: Path) -> list[ImageRef]:
    """Every image file under ``folder`` (recursively, sorted); its id is the relative path."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    return [ImageRef(id=p.relative_to(folder).as_posix(), kind="file", location=str(p), url=str(p)) for p in files]


def _pick(names: Sequence[str], wanted: Sequence[str]) -> str | None:
    lower = {n.lower(): n for n in names}
    return next((lower[w] for w in wanted if w in lower), None)


def parquet_parts(path: Path, part_size: int, id_column: str | None = None) -> Iterator[list[ImageRef]]:
    """Parts of one Parquet shard. It needs an id column and either image bytes (binary, or a
    struct with a ``bytes`` field as Hugging Face ``Image`` stores it) or a local path/URL column."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        shard = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        raise ScanSchemaError(f"{path}: not a readable Parquet file ({exc})") from None
    schema = shard.schema_arrow
    names = schema.names
    id_col = id_column if id_column in names else _pick(names, ID_COLUMNS)
    if id_col is None:
        raise ScanSchemaError(f"{path}: no id column (one of {', '.join(ID_COLUMNS)}); columns are {', '.join(names)}")
    image_col = _pick(names, BYTES_COLUMNS)
    if image_col is not None:
        kind = schema.field(image_col).type
        is_struct = pa.types.is_struct(kind) and kind.get_field_index("bytes") >= 0
        if not (pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or is_struct):
            raise ScanSchemaError(f"{path}: column {image_col!r} is {kind}, not image bytes")
    path_col = _pick(names, PATH_COLUMNS)
    if image_col is None and path_col is None:
        raise ScanSchemaError(f"{path}: no image column (bytes: {', '.join(BYTES_COLUMNS)}; "
                              f"or a local path: {', '.join(PATH_COLUMNS)}); columns are {', '.join(names)}")
    wanted = [c for c in (id_col, path_col) if c is not None]
    for group in range(shard.num_row_groups):
        table = shard.read_row_group(group, columns=wanted)
        ids = [str(v) for v in table.column(id_col).to_pylist()]
        where = table.column(path_col).to_pylist() if path_col is not None else [None] * len(ids)
        refs: list[ImageRef] = []
        for row, (image_id, place) in enumerate(zip(ids, where)):
            url = "" if place is None else str(place)
            if image_col is not None:
                refs.append(ImageRef(id=image_id, kind="parquet", location=str(path), url=url or image_id,
                                     member=image_col, offset=group, size=row))
            else:
                refs.append(_path_ref(image_id, url, path.parent))
        yield from chunks(refs, part_size)


def _path_ref(image_id: str, url: str, base: Path) -> ImageRef:
    """A reference by path or URL: a local file, else a row error (remote URLs are not fetched)."""
    if url.startswith("file://"):
        local = url[len("file://"):]
    elif re.match(r"^[a-z][a-z0-9+.-]*://", url):
        return ImageRef(id=image_id, kind="missing", location="", url=url,
                        detail="remote URL: scan reads local files only (download the shard first, e.g. with img2dataset)")
    else:
        local = url
    if not local:
        return ImageRef(id=image_id, kind="missing", location="", url=url, detail="no image bytes and no path")
    target = Path(local) if os.path.isabs(local) else base / local
    return ImageRef(id=image_id, kind="file", location=str(target), url=url)


def tar_parts(path: Path, part_size: int) -> Iterator[list[ImageRef]]:
    """Parts of one WebDataset shard: one image per sample key (``dir/key.jpg`` → ``dir/key``)."""
    try:
        with tarfile.open(path, "r:") as tar:
            members = tar.getmembers()
    except (OSError, tarfile.TarError) as exc:
        raise ScanSourceError(f"{path}: not a readable (uncompressed) tar shard ({exc})") from None
    seen: dict[str, ImageRef] = {}
    for m in members:
        if not m.isfile():
            continue
        folder, _, base = m.name.rpartition("/")
        stem, dot, ext = base.partition(".")
        if not dot or ("." + ext.lower()) not in IMAGE_SUFFIXES:
            continue
        key = f"{folder}/{stem}" if folder else stem
        if key not in seen:
            seen[key] = ImageRef(id=key, kind="tar", location=str(path), url=f"{path}#{m.name}",
                                 member=m.name, offset=m.offset_data, size=m.size)
    yield from chunks(list(seen.values()), part_size)


def past_generation_parts(entries: Iterable[dict[str, Any]], part_size: int) -> list[list[ImageRef]]:
    """The workspace's written generated images, from its ``generate`` entries (less the images
    a correction says were never written), with what was decided when they were made."""
    generated: list[dict[str, Any]] = []
    unwritten: dict[int, set[str]] = {}
    for e in entries:
        body = e.get("body") or {}
        if e.get("kind") == "generate.correction":
            unwritten.setdefault(int(body.get("corrects", 0)), set()).update(
                str(u.get("path")) for u in body.get("unwritten", []))
        elif e.get("kind") == "generate":
            generated.append(e)
    refs: list[ImageRef] = []
    for e in generated:
        body = e["body"]
        was_artists = sorted({int(a["artist"]["id"]) for a in body.get("attribution", [])})
        for index, image in enumerate(body.get("images", [])):
            path = str(image.get("path", ""))
            if path in unwritten.get(int(e["seq"]), set()):
                continue
            meta = {"generation_seq": int(e["seq"]), "was_action": str(image.get("action", body.get("action", ""))),
                    "was_artists": was_artists}
            kind = "file" if path else "missing"
            refs.append(ImageRef(id=f"{e['seq']}/{index}", kind=kind, location=path, url=path,
                                 detail="" if path else "the entry names no file", meta=meta))
    return list(chunks(refs, part_size))


# -- reading -----------------------------------------------------------------------------------


class RefReader:
    """Reads the bytes of references; keeps the last Parquet row group read (a part never
    spans two), so a part costs one column read."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._group: tuple[str, str, int] | None = None
        self._column: list[Any] = []

    def read(self, ref: ImageRef) -> bytes:
        """The image bytes; raises OSError or ValueError with the reason when they cannot be read."""
        if ref.kind == "missing":
            raise ValueError(ref.detail or "no image")
        if ref.kind == "file":
            from stylegate.registry.validation import read_limited

            return read_limited(ref.location, self.max_bytes)
        if ref.kind == "tar":
            if ref.size > self.max_bytes:
                raise ValueError(f"{ref.size} bytes, over the limit of {self.max_bytes}")
            with open(ref.location, "rb") as f:
                f.seek(ref.offset)
                data = f.read(ref.size)
            if len(data) != ref.size:
                raise ValueError("the tar member is truncated")
            return data
        if ref.kind == "parquet":
            return self._parquet(ref)
        raise ValueError(f"unknown reference kind {ref.kind!r}")

    def _parquet(self, ref: ImageRef) -> bytes:
        import pyarrow.parquet as pq

        key = (ref.location, ref.member, ref.offset)
        if self._group != key:
            self._column = pq.ParquetFile(ref.location).read_row_group(ref.offset, columns=[ref.member]).column(0).to_pylist()
            self._group = key
        value = self._column[ref.size]
        if isinstance(value, dict):
            value = value.get("bytes")
        if value is None:
            raise ValueError("the image cell is empty")
        if len(value) > self.max_bytes:
            raise ValueError(f"{len(value)} bytes, over the limit of {self.max_bytes}")
        return bytes(value)
