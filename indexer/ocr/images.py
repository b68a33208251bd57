"""One picture's bytes -> ImageResult: refuse what cannot or need not be read, else OCR it.

Checked before any pixel is decoded: vector formats (EMF/WMF are skipped, not
converted: no converter ships with Debian's Tesseract, and Word's vector pictures
are drawings, not scans), the pixel cap (a 1-bit PNG of a few KB can decode to
gigabytes), animated GIFs. Then the decode itself: corrupt and truncated files
are reported instead of raising.
"""

from __future__ import annotations

import io
import warnings

from indexer.ocr import ImageResult, OcrConfig

# Smaller than this cannot hold a readable word: bullets, icons, spacer pixels.
MIN_WIDTH, MIN_HEIGHT, MIN_PIXELS = 24, 12, 2500


def _is_vector(data: bytes, name: str) -> str | None:
    low = name.lower()
    if low.endswith((".emf", ".emz")) or (data[:4] == b"\x01\x00\x00\x00" and data[40:44] == b" EMF"):
        return "EMF"
    # Placeable WMF key, else a plain WMF header (memory or disk metafile, version 3).
    wmf = data[:4] == b"\xd7\xcd\xc6\x9a" or data[:6] in (b"\x01\x00\x09\x00\x00\x03", b"\x02\x00\x09\x00\x00\x03")
    if low.endswith((".wmf", ".wmz")) or wmf:
        return "WMF"
    if low.endswith(".svg") or data.lstrip()[:5] == b"<?xml" or data.lstrip()[:4] == b"<svg":
        return "SVG"
    return None


def check(data: bytes, name: str, cfg: OcrConfig) -> ImageResult | None:
    """A result for pictures that are not OCR'd (None: go ahead)."""
    from PIL import Image

    vec = _is_vector(data, name)
    if vec:
        return ImageResult("skipped", message=f"vector image ({vec}) skipped: vector pictures are not OCR'd")
    cap = int(cfg.max_megapixels * 1_000_000)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = Image.open(io.BytesIO(data))
            w, h = im.size
            if w * h > cap:
                size = f"{w}x{h} px ({w * h / 1e6:.0f} MP, cap {cfg.max_megapixels:g} MP)"
                return ImageResult("skipped", message=f"image too large: {size}")
            frames = int(getattr(im, "n_frames", 1))
            if getattr(im, "is_animated", False) and frames > 1:
                return ImageResult("skipped", message=f"animated {im.format or 'image'} skipped ({frames} frames)")
    except Image.DecompressionBombError as e:
        return ImageResult("skipped", message=f"image too large ({e})")
    except Exception as e:
        return ImageResult("bad", message=f"not a readable image ({type(e).__name__})")
    if w < MIN_WIDTH or h < MIN_HEIGHT or w * h < MIN_PIXELS:
        return ImageResult("small")
    return None


def decode(data: bytes, cfg: OcrConfig):
    import numpy as np
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None  # the cap was checked in `check`
    try:
        im = Image.open(io.BytesIO(data))
        im.load()
    except Exception as e:
        return ImageResult("bad", message=f"corrupt or truncated image ({type(e).__name__}: {e})"[:200])
    # Transparent pictures keep alpha: text drawn on transparency is put on white paper.
    transparent = im.mode in ("RGBA", "LA", "P", "PA") or "transparency" in im.info
    return np.asarray(im.convert("RGBA" if transparent else "L"))


def read_image(data: bytes, name: str, cfg: OcrConfig) -> ImageResult:
    """Everything for one picture; runs in an OCR worker process. Never raises."""
    pre = check(data, name, cfg)
    if pre is not None:
        return pre
    arr = decode(data, cfg)
    if isinstance(arr, ImageResult):
        return arr
    from indexer.ocr.engine import Reader

    try:
        out = Reader(cfg.langs, cfg.min_confidence).read(arr)
    except Exception as e:
        return ImageResult("bad", message=f"OCR failed ({type(e).__name__}: {e})"[:200])
    if out.kind == "low_confidence":
        return ImageResult(
            "low_confidence",
            message=f"OCR confidence too low ({out.dropped} of {out.words} words under {cfg.min_confidence:g})",
        )
    return ImageResult(out.kind, rows=out.rows, text=out.text, confidence=round(out.confidence, 1))
