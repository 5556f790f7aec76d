"""Settings hidden in a picture's pixels by A1111's stealth_pnginfo extension (and NovelAI):
the lowest bit of each alpha value (or of R, G and B), read column by column, holds a
signature, a 32-bit length in bits, then the text, gzip-compressed in the "comp" kinds."""

from __future__ import annotations

import zlib

import numpy as np

MAX_STEALTH_BYTES = 16 * 1024 * 1024  # the hidden text, compressed or not
# signature -> (lowest bits of the alpha channel or of RGB, gzip-compressed)
SIGNATURES = {
    b"stealth_pnginfo": ("alpha", False),
    b"stealth_pngcomp": ("alpha", True),
    b"stealth_rgbinfo": ("rgb", False),
    b"stealth_rgbcomp": ("rgb", True),
}
_SIGNATURE_BYTES = 15
_HEADER_BYTES = _SIGNATURE_BYTES + 4


def _bits(pixels: np.ndarray, kind: str) -> np.ndarray:
    """The hidden bits in reading order: column by column, top to bottom (R, G, B of a
    pixel in turn for the RGB kinds)."""
    if kind == "alpha":
        return pixels[..., 3].T.reshape(-1) & 1
    return pixels[..., :3].transpose(1, 0, 2).reshape(-1) & 1


def read_stealth_text(pixels: np.ndarray) -> str | None:
    """The text hidden in (H, W, 3 or 4) uint8 pixels, None when they hide none. Raises
    ValueError when the signature is there but what follows is damaged."""
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        return None
    kinds = ("alpha", "rgb") if pixels.shape[2] == 4 else ("rgb",)
    for kind in kinds:
        # the header first, from the first columns only, before unpacking the whole picture
        columns = -(-_HEADER_BYTES * 8 // (pixels.shape[0] * (1 if kind == "alpha" else 3)))
        head = np.packbits(_bits(pixels[:, :columns], kind)[: _HEADER_BYTES * 8]).tobytes()
        found = SIGNATURES.get(head[:_SIGNATURE_BYTES])
        if found is None or found[0] != kind or len(head) < _HEADER_BYTES:
            continue
        return _payload(pixels, kind, found[1], int.from_bytes(head[_SIGNATURE_BYTES:], "big"))
    return None


def _payload(pixels: np.ndarray, kind: str, compressed: bool, length_bits: int) -> str:
    bits = _bits(pixels, kind)[_HEADER_BYTES * 8 :]
    if length_bits % 8 or length_bits > len(bits) or length_bits > MAX_STEALTH_BYTES * 8:
        raise ValueError(
            "the settings hidden in the picture's pixels are damaged (their length does "
            "not fit the picture)"
        )
    data = np.packbits(bits[:length_bits]).tobytes()
    if compressed:
        data = _gunzip(data)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("the settings hidden in the picture's pixels are not text") from None


def _gunzip(data: bytes) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        text = inflater.decompress(data, MAX_STEALTH_BYTES)
    except zlib.error:
        raise ValueError("the settings hidden in the picture's pixels are damaged") from None
    if inflater.unconsumed_tail:
        raise ValueError("the settings hidden in the picture's pixels are too large to be real")
    return text
