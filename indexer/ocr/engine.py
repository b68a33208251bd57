"""Tesseract (Debian's `tesseract-ocr`, through pytesseract) on one picture: a table or text.

A table is read with one Tesseract call for all its cells: each cell, with the rules
erased and trimmed to its ink, is stacked in its own horizontal band of one tall
image (`--psm 6`), and every word goes back to the cell whose band holds it. That
costs one process start per table instead of one per cell (~0.2-0.3 s each, since
Tesseract loads the Korean model every time). Cells that come back empty although
they hold ink, and very short ones (a pin number, a single letter), are read again
on their own with the page-segmentation mode made for them: `--psm 10` (one
character) or `--psm 7` (one line).

Words below the confidence threshold are dropped. When most of a picture's words
are below it, the picture is reported and nothing of it is indexed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field

import cv2
import numpy as np

from indexer.ocr.grid import Grid, find_grid
from indexer.ocr.preprocess import drop_small, glyph_height, prepare

INSTALL_HINT = "apt-get update && apt-get install -y tesseract-ocr tesseract-ocr-kor tesseract-ocr-eng"
_BAND_GAP = 24
_MIN_INK_PX = 12
# A short cell read this surely in the block is not read again on its own.
_SURE = 90


@dataclass
class Word:
    text: str
    conf: float
    x: int
    y: int
    w: int
    h: int
    line: tuple[int, int, int]


@dataclass
class OcrOutput:
    kind: str  # table | text | empty | low_confidence
    rows: list[list[str]] = field(default_factory=list)
    text: str = ""
    words: int = 0
    dropped: int = 0
    confidence: float = 0.0  # mean confidence of kept words, 0-100


def engine_problem(langs: str) -> str | None:
    """Why OCR cannot run here (None when it can): the binary or a language is missing."""
    exe = shutil.which("tesseract")
    if not exe:
        return f"tesseract is not installed; run: {INSTALL_HINT}"
    try:
        out = subprocess.run([exe, "--list-langs"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as e:
        return f"tesseract does not run ({e}); run: {INSTALL_HINT}"
    have = {ln.strip() for ln in (out.stdout + out.stderr).splitlines()}
    missing = [lang for lang in langs.split("+") if lang and lang not in have]
    if missing:
        return f"tesseract language data missing ({', '.join(missing)}); run: {INSTALL_HINT}"
    return None


def _tesseract_words(img: np.ndarray, langs: str, psm: int) -> list[Word]:
    import pytesseract

    # One thread per Tesseract: parallelism comes from the OCR process pool, and
    # OpenMP threads on top of it only fight for the same cores.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    d = pytesseract.image_to_data(
        img, lang=langs, config=f"--psm {psm} -c tessedit_do_invert=0", output_type=pytesseract.Output.DICT
    )
    out: list[Word] = []
    for i, t in enumerate(d["text"]):
        t = (t or "").strip()
        conf = float(d["conf"][i])
        if not t or conf < 0:
            continue
        out.append(
            Word(
                t, conf, d["left"][i], d["top"][i], d["width"][i], d["height"][i],
                (d["block_num"][i], d["par_num"][i], d["line_num"][i]),
            )
        )  # fmt: skip
    return out


def _join(words: list[Word]) -> str:
    """Words in reading order: lines by their first word's position, then left to right."""
    lines: dict[tuple[int, int, int], list[Word]] = {}
    for wd in words:
        lines.setdefault(wd.line, []).append(wd)
    ordered = sorted(lines.values(), key=lambda ws: (min(w.y for w in ws), min(w.x for w in ws)))
    return "\n".join(" ".join(w.text for w in sorted(ws, key=lambda w: w.x)) for ws in ordered)


_STRAY = set("|[]_.,'‘’`\"“”-~ㆍ·:;")


def _tidy(text: str) -> str:
    # Tesseract reads a leftover bit of rule or a speck beside the text as a lone
    # | [ . or ' token; a cell that is only "-" keeps it.
    words = text.split()
    while len(words) > 1 and all(ch in _STRAY for ch in words[-1]):
        words.pop()
    while len(words) > 1 and all(ch in _STRAY for ch in words[0]):
        words.pop(0)
    # A speck touching the text reads as punctuation glued to it ("KL30," "_Active" "3-").
    text = " ".join(words)
    if len(text) > 1:
        text = text.lstrip(_LEAD).rstrip(_TRAIL) or text
    return _ZERO.sub("0", text)


_LEAD = "|[]_'‘’`,.~-:;ㆍ·\"“”"
_TRAIL = "|[]_'‘’`,~-:;ㆍ·\"“”"


# The letter O where a digit zero must be: beside digits ("1O" "O.5"), or alone before a
# unit ("OV", "OmA"). The fonts of spec tables draw them alike; Tesseract guesses O.
_ZERO = re.compile(r"(?<=\d)O|O(?=[.,]?\d)|\bO(?=(?:V|A|mA|mV|Ω|W|Hz)\b)")


def _trim(crop: np.ndarray, pad: int) -> np.ndarray | None:
    """The crop cut to its ink plus a white margin; None when it holds no ink."""
    ink = crop < 128
    if int(ink.sum()) < _MIN_INK_PX:
        return None
    ys, xs = np.nonzero(ink)
    c = crop[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    return cv2.copyMakeBorder(c, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=255)


def _despeckle(binary: np.ndarray, glyph_h: float) -> np.ndarray:
    """Remove ink blobs far smaller than the dot of a letter (scan noise)."""
    return drop_small(binary, max(3, (glyph_h / 12) ** 2))


class Reader:
    def __init__(self, langs: str, min_conf: float) -> None:
        self.langs = langs
        self.min_conf = min_conf
        self.calls = 0

    def words(self, img: np.ndarray, psm: int) -> list[Word]:
        self.calls += 1
        return _tesseract_words(img, self.langs, psm)

    def read(self, image: np.ndarray) -> OcrOutput:
        gray, binary = prepare(image)
        gh = glyph_height(binary)
        grid = find_grid(binary, gh)
        if grid is not None:
            return self._table(gray, binary, grid, gh)
        return self._text(_despeckle(binary, gh))

    # -- text -----------------------------------------------------------------
    def _text(self, binary: np.ndarray) -> OcrOutput:
        words = self.words(binary, 3)
        kept = [w for w in words if w.conf >= self.min_conf]
        out = OcrOutput(kind="text", words=len(words), dropped=len(words) - len(kept))
        if not words:
            out.kind = "empty"
            return out
        if len(kept) < len(words) / 2:
            out.kind = "low_confidence"
            return out
        out.confidence = float(np.mean([w.conf for w in kept])) if kept else 0.0
        out.text = "\n".join(" ".join(ln.split()) for ln in _join(kept).split("\n") if ln.strip())
        if not out.text:
            out.kind = "empty"
        return out

    # -- tables ---------------------------------------------------------------
    def _table(self, gray: np.ndarray, binary: np.ndarray, grid: Grid, gh: float) -> OcrOutput:
        clean = binary.copy()
        clean[grid.line_mask > 0] = 255
        clean = _despeckle(clean, gh)
        inset = grid.thickness + 1
        pad = max(8, int(gh * 0.4))
        crops: dict[int, np.ndarray] = {}
        for i, (r0, c0, r1, c1) in enumerate(grid.regions):
            cell = clean[grid.ys[r0] + inset : grid.ys[r1 + 1] - inset, grid.xs[c0] + inset : grid.xs[c1 + 1] - inset]
            trimmed = _trim(cell, pad)
            if trimmed is not None:
                crops[i] = trimmed
        texts: dict[int, str] = {}
        confs: dict[int, list[float]] = {}
        n_words = n_dropped = 0
        if crops:
            width = max(crop.shape[1] for crop in crops.values()) + 2 * _BAND_GAP
            bands: list[tuple[int, int, int]] = []
            y = _BAND_GAP
            for i, crop in crops.items():
                bands.append((y, y + crop.shape[0], i))
                y += crop.shape[0] + max(_BAND_GAP, int(gh))
            montage = np.full((y + _BAND_GAP, width), 255, np.uint8)
            for y0, y1, i in bands:
                montage[y0:y1, _BAND_GAP : _BAND_GAP + crops[i].shape[1]] = crops[i]
            per: dict[int, list[Word]] = {}
            for wd in self.words(montage, 6):
                cy = wd.y + wd.h / 2
                for y0, y1, i in bands:
                    if y0 - _BAND_GAP / 2 <= cy < y1 + _BAND_GAP / 2:
                        per.setdefault(i, []).append(wd)
                        break
            for i, ws in per.items():
                n_words += len(ws)
                kept = [w for w in ws if w.conf >= self.min_conf]
                n_dropped += len(ws) - len(kept)
                texts[i] = _tidy(_join(kept).replace("\n", " "))
                confs[i] = [w.conf for w in kept]
            # Single characters, numbers and cells the block read missed: their own mode.
            for i, crop in crops.items():
                t = texts.get(i, "")
                sure = min(confs.get(i) or [0])
                if t and (sure >= _SURE or (len(t) > 2 and sure >= self.min_conf + 15)):
                    continue
                h, w = crop.shape
                psm = 10 if w <= 1.8 * h else 7
                again = self.words(crop, psm)
                kept = [wd for wd in again if wd.conf >= self.min_conf]
                alt = _tidy(" ".join(wd.text for wd in sorted(kept, key=lambda wd: wd.x)))
                alt_conf = float(np.mean([wd.conf for wd in kept])) if kept else 0.0
                old_conf = float(np.mean(confs[i])) if confs.get(i) else 0.0
                if alt and (not t or alt_conf > old_conf):
                    if i not in per:
                        n_words += len(again)
                        n_dropped += len(again) - len(kept)
                    texts[i], confs[i] = alt, [wd.conf for wd in kept]
                elif not t and i not in per:
                    n_words += max(1, len(again))
                    n_dropped += max(1, len(again))
        rows = [[""] * grid.n_cols for _ in range(grid.n_rows)]
        for i, (r0, c0, r1, c1) in enumerate(grid.regions):
            # A merged cell reads the same in every row and column it covers, as Word tables do.
            for r in range(r0, r1 + 1):
                for c in range(c0, c1 + 1):
                    rows[r][c] = texts.get(i, "")
        out = OcrOutput(kind="table", rows=rows, words=n_words, dropped=n_dropped)
        kept_confs = [x for v in confs.values() for x in v]
        out.confidence = float(np.mean(kept_confs)) if kept_confs else 0.0
        if n_words and n_dropped > n_words / 2:
            out.kind, out.rows = "low_confidence", []
        elif not any(any(c for c in r) for r in rows):
            out.kind, out.rows = "empty", []
        return out
