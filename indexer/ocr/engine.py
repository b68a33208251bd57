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
    return _VOLT.sub("V", _ZERO.sub("0", text))


_LEAD = "|[]_'‘’`,.~-:;ㆍ·\"“”"
_TRAIL = "|[]_'‘’`,~-:;ㆍ·\"“”"


# The letter O where a digit zero must be: beside digits ("1O" "O.5"), or alone before a
# unit ("OV", "OmA"). The fonts of spec tables draw them alike; Tesseract guesses O.
_ZERO = re.compile(r"(?<=\d)O|O(?=[.,]?\d)|\bO(?=(?:V|A|mA|mV|Ω|W|Hz)\b)")


# A backslash right after a number, ending the word: a V (volts) whose blurred strokes
# Tesseract took for one slanted line. No spec value reads 24\ .
_VOLT = re.compile(r"(?<=\d)\\(?=\s|$)")


def _despeckle(binary: np.ndarray, glyph_h: float) -> np.ndarray:
    """Remove ink blobs far smaller than the dot of a letter (scan noise)."""
    return drop_small(binary, max(3, (glyph_h / 12) ** 2))


class Reader:
    def __init__(self, langs: str, min_conf: float) -> None:
        self.langs = langs
        self.min_conf = min_conf
        self.calls = 0

    def words(self, img: np.ndarray, psm: int, langs: str | None = None) -> list[Word]:
        self.calls += 1
        return _tesseract_words(img, langs or self.langs, psm)

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
        # Where the ink is: the binary without rules and specks, to cut each cell to its text.
        mask = binary.copy()
        mask[grid.line_mask > 0] = 255
        mask = _despeckle(mask, gh)
        # What Tesseract reads first: the grey page with its paper made white and the rules
        # erased. Its LSTM reads grey; a binarised low-resolution scan loses the anti-aliased
        # edges that tell 5 from S and the faint dot of "3.3V".
        paper = cv2.dilate(gray, np.ones((15, 15), np.uint8))
        flat = np.clip(gray.astype(np.float32) * 255.0 / np.maximum(paper, 1), 0, 255).astype(np.uint8)
        flat[grid.line_mask > 0] = 255
        inset = grid.thickness + 1
        pad = max(8, int(gh * 0.4))
        boxes: dict[int, tuple[int, int, int, int]] = {}
        for i, (r0, c0, r1, c1) in enumerate(grid.regions):
            y0, y1 = grid.ys[r0] + inset, grid.ys[r1 + 1] - inset
            x0, x1 = grid.xs[c0] + inset, grid.xs[c1 + 1] - inset
            box = _ink_box(mask[y0:y1, x0:x1])
            if box is not None:
                boxes[i] = (y0 + box[0], y0 + box[1], x0 + box[2], x0 + box[3])
        # Text outside the grid: a title above, a note below.
        captions = _caption_boxes(mask, grid, gh)

        def crops(src: np.ndarray, which: list[int]) -> dict[int, np.ndarray]:
            out = {}
            for i in which:
                y0, y1, x0, x1 = boxes[i]
                out[i] = cv2.copyMakeBorder(src[y0:y1, x0:x1], pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=255)
            return out

        reads: dict[int, _CellRead] = {}
        caption_words: dict[int, list[Word]] = {}
        if captions:
            # Read apart from the cells: a long line of prose in the cells' block changes how
            # Tesseract reads the short words of the cells.
            boxes.update(captions)
            for key, cr in self._montage(crops(flat, list(captions)), gh).items():
                caption_words[key] = cr.kept
                del boxes[key]
        if boxes:
            reads = self._montage(crops(flat, list(boxes)), gh)
            # A second look, binarised, at cells the grey read left empty or unsure: take
            # whichever read is surer.
            unsure = [i for i in boxes if not reads[i].sure(self.min_conf)]
            if unsure:
                for i, alt in self._montage(crops(mask, unsure), gh).items():
                    reads[i] = reads[i].better(alt)
            # Korean cells where the mixed model heard Latin ("사용 OF 함") or dropped a word:
            # read again with Korean alone, keep the surer read.
            langs = self.langs.split("+")
            if "kor" in langs and len(langs) > 1:
                mixed = [i for i in boxes if reads[i].mixed_korean()]
                if mixed:
                    for i, alt in self._montage(crops(flat, mixed), gh, langs="kor").items():
                        reads[i] = reads[i].better(alt)
            # Single characters, numbers and cells both block reads missed: their own mode.
            for i, crop in crops(flat, [i for i in boxes if not reads[i].sure(self.min_conf)]).items():
                h, w = crop.shape
                reads[i] = reads[i].better(self._cell(crop, 10 if w <= 1.8 * h else 7))
        rows = [[""] * grid.n_cols for _ in range(grid.n_rows)]
        for i, (r0, c0, r1, c1) in enumerate(grid.regions):
            # A merged cell reads the same in every row and column it covers, as Word tables do.
            for r in range(r0, r1 + 1):
                for c in range(c0, c1 + 1):
                    rows[r][c] = reads[i].text if i in reads else ""
        n_words = sum(max(1, len(cr.words)) for cr in reads.values())
        n_dropped = sum(max(1, len(cr.words)) if not cr.text else len(cr.words) - len(cr.kept) for cr in reads.values())
        out = OcrOutput(kind="table", rows=rows, words=n_words, dropped=n_dropped)
        out.text = "\n".join(_join(caption_words[k]) for k in sorted(caption_words, reverse=True) if caption_words[k])
        kept_confs = [w.conf for cr in reads.values() for w in cr.kept]
        out.confidence = float(np.mean(kept_confs)) if kept_confs else 0.0
        if n_words and n_dropped > n_words / 2:
            out.kind, out.rows = "low_confidence", []
        elif not any(any(c for c in r) for r in rows):
            out.kind, out.rows = "empty", []
        return out

    def _montage(self, crops: dict[int, np.ndarray], gh: float, langs: str | None = None) -> dict[int, _CellRead]:
        """Read many cell crops with one Tesseract call: each in its own band of one tall image."""
        width = max(crop.shape[1] for crop in crops.values()) + 2 * _BAND_GAP
        bands: list[tuple[int, int, int]] = []
        y = _BAND_GAP
        for i, crop in crops.items():
            bands.append((y, y + crop.shape[0], i))
            y += crop.shape[0] + max(_BAND_GAP, int(gh))
        montage = np.full((y + _BAND_GAP, width), 255, np.uint8)
        for y0, y1, i in bands:
            montage[y0:y1, _BAND_GAP : _BAND_GAP + crops[i].shape[1]] = crops[i]
        per: dict[int, list[Word]] = {i: [] for i in crops}
        for wd in self.words(montage, 6, langs):
            cy = wd.y + wd.h / 2
            for y0, y1, i in bands:
                if y0 - _BAND_GAP / 2 <= cy < y1 + _BAND_GAP / 2:
                    per[i].append(wd)
                    break
        return {i: _CellRead.of(ws, self.min_conf) for i, ws in per.items()}

    def _cell(self, crop: np.ndarray, psm: int) -> _CellRead:
        return _CellRead.of(self.words(crop, psm), self.min_conf)


_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_SHORT_LATIN = re.compile(r"[A-Za-z]{1,2}")


_ABOVE, _BELOW = -1, -2


def _caption_boxes(mask: np.ndarray, grid: Grid, gh: float) -> dict[int, tuple[int, int, int, int]]:
    """Boxes (top, bottom, left, right) of text lines above and below the table's frame."""
    out: dict[int, tuple[int, int, int, int]] = {}
    edge = grid.thickness + 2
    for key, y0, y1 in ((_ABOVE, 0, grid.ys[0] - edge), (_BELOW, grid.ys[-1] + edge, mask.shape[0])):
        if y1 - y0 < gh * 0.6:
            continue
        # Only blobs the size of letters count: scan dust beside a table is no caption.
        region = drop_small(mask[y0:y1], (gh / 4) ** 2)
        box = _ink_box(region)
        if box is not None and box[1] - box[0] >= gh * 0.5:
            out[key] = (y0 + box[0], y0 + box[1], box[2], box[3])
    return out


def _ink_box(cell: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of the ink in a binary cell; None when it holds none."""
    ink = cell < 128
    if int(ink.sum()) < _MIN_INK_PX:
        return None
    ys, xs = np.nonzero(ink)
    return int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1


@dataclass
class _CellRead:
    words: list[Word]
    kept: list[Word]
    text: str

    @classmethod
    def of(cls, words: list[Word], min_conf: float) -> _CellRead:
        kept = [w for w in words if w.conf >= min_conf]
        return cls(words, kept, _tidy(_join(kept).replace("\n", " ")))

    @property
    def conf(self) -> float:
        # Over every word Tesseract saw, dropped ones too: a read that keeps one sure word
        # and drops two unsure ones is not surer than one that reads all three fairly well.
        return float(np.mean([w.conf for w in self.words])) if self.kept and self.text else 0.0

    def sure(self, min_conf: float) -> bool:
        # A short cell (a pin number, "5V") is easy to misread in a block of text: it must
        # be read very surely to be left alone.
        least = min((w.conf for w in self.kept), default=0.0)
        return bool(self.text) and (least >= _SURE or (len(self.text) > 2 and least >= min_conf + 15))

    def mixed_korean(self) -> bool:
        """Hangul read beside a short Latin word, or beside a word under the threshold."""
        if not any(_HANGUL.search(w.text) for w in self.kept):
            return False
        return len(self.kept) < len(self.words) or any(_SHORT_LATIN.fullmatch(w.text) for w in self.kept)

    def better(self, other: _CellRead) -> _CellRead:
        if other.text and (not self.text or other.conf > self.conf):
            return other
        return self
