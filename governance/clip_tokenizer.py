"""CLIP's byte-level BPE tokenizer in pure Python and numpy (no torch).

The ONNX embedder backend needs token ids without importing torch or open_clip (together
about 4 s of a one-shot check's cold start). This produces the same ids as open_clip's
``SimpleTokenizer`` with the ``lower`` or ``whitespace`` clean and plain truncation: the text
is repaired (ftfy), HTML-unescaped twice, whitespace-collapsed (and lowercased), split by
CLIP's pre-tokenising pattern, each piece's UTF-8 bytes mapped to printable characters and
merged by rank. The merges are those of the BPE file open_clip ships, written next to the
exported graphs (so the pair is hashed and versioned together).
"""

from __future__ import annotations

import gzip
import html
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

START = "<start_of_text>"
END = "<end_of_text>"
# The merges file holds more merges than CLIP uses; the vocabulary is 256 bytes, 256 word-final
# bytes, 48 894 merges and the two special tokens (49 408 ids).
MERGES_USED = 49152 - 256 - 2
CLEAN_MODES = ("lower", "whitespace")
_PATTERN = r"""<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""


@lru_cache(maxsize=1)
def byte_alphabet() -> dict[int, str]:
    """Each byte value → a printable character: printable Latin-1 bytes stand for themselves,
    the others are shifted past 255 so no piece contains whitespace or control characters."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table = {b: chr(b) for b in printable}
    shift = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + shift)
            shift += 1
    return table  # insertion order is the id order: printable bytes first


def write_merges(bpe_gz: Path, dest: Path) -> None:
    """Write the merges CLIP uses from open_clip's gzipped BPE file, as plain text (fast to load)."""
    lines = gzip.decompress(Path(bpe_gz).read_bytes()).decode("utf-8").split("\n")
    Path(dest).write_text("\n".join(lines[1 : MERGES_USED + 1]), "utf-8")


class ClipTokenizer:
    """Text → ``int64`` token ids of shape ``(n, context_length)``, zero-padded."""

    def __init__(self, merges_path: Path, context_length: int, clean: str = "lower") -> None:
        """``merges_path``: the used merges, one ``"a b"`` pair a line (see :func:`write_merges`)."""
        import regex

        if clean not in CLEAN_MODES:
            raise ValueError(f"unsupported clean mode {clean!r}; choose one of {CLEAN_MODES}")
        merges = Path(merges_path).read_text("utf-8").split("\n")
        if len(merges) != MERGES_USED or any(line.count(" ") != 1 for line in merges[:: 997]):
            raise ValueError(f"{merges_path} does not hold {MERGES_USED} merges, one pair a line")
        alphabet = list(byte_alphabet().values())
        vocab = [*alphabet, *(c + "</w>" for c in alphabet), *(m.replace(" ", "") for m in merges), START, END]
        # Later duplicates win, as in open_clip (two merges can spell the same piece).
        self.encoder = dict(zip(vocab, range(len(vocab))))
        self.ranks = dict(zip(merges, range(len(merges))))  # "first second" → rank (pieces hold no spaces)
        self.start_id = self.encoder[START]
        self.end_id = self.encoder[END]
        self.context_length = context_length
        self.clean = clean
        self._pattern = regex.compile(_PATTERN, regex.IGNORECASE)
        self._bytes = byte_alphabet()
        self._memo: dict[str, list[str]] = {START: [START], END: [END]}

    def __len__(self) -> int:
        return len(self.encoder)

    def _clean(self, text: str) -> str:
        import ftfy

        text = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
        text = " ".join(text.split())
        return text.lower() if self.clean == "lower" else text

    def _merge(self, piece: str) -> list[str]:
        """Apply the ranked merges to one pre-token (its last symbol marked word-final)."""
        known = self._memo.get(piece)
        if known is not None:
            return known
        symbols = [*piece[:-1], piece[-1] + "</w>"]
        while len(symbols) > 1:
            pairs = {f"{a} {b}" for a, b in zip(symbols, symbols[1:])}
            ranked = [(self.ranks[pair], pair) for pair in pairs if pair in self.ranks]
            if not ranked:
                break
            first, second = min(ranked)[1].split(" ")
            merged: list[str] = []
            k = 0
            while k < len(symbols):
                if k + 1 < len(symbols) and symbols[k] == first and symbols[k + 1] == second:
                    merged.append(first + second)
                    k += 2
                else:
                    merged.append(symbols[k])
                    k += 1
            symbols = merged
        self._memo[piece] = symbols
        return symbols

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for token in self._pattern.findall(self._clean(text)):
            piece = "".join(self._bytes[b] for b in token.encode("utf-8"))
            ids.extend(self.encoder[s] for s in self._merge(piece))
        return ids

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.context_length), dtype=np.int64)
        for row, text in enumerate(texts):
            ids = [self.start_id, *self.encode(text), self.end_id]
            if len(ids) > self.context_length:
                ids = ids[: self.context_length]
                ids[-1] = self.end_id
            out[row, : len(ids)] = ids
        return out
