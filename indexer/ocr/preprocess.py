"""What scans need before Tesseract sees them: despeckle, upscale, deskew, binarise.

Tesseract reads best at a cap height of ~20-40 px on clean black-on-white text. Word
documents carry screenshots at 96 dpi, faxes and phone photos of printouts, so on a
noisy page salt-and-pepper specks are removed first, at the original resolution where
they are smaller than any mark of a letter; small text is then upscaled (cubic), a
tilt of up to 6 degrees is undone (the angle whose row projection is sharpest), and
the page is binarised with a local threshold that survives grey, uneven paper.
"""

from __future__ import annotations

import cv2
import numpy as np

# Text smaller than this (median glyph height, px) is upscaled towards TARGET_GLYPH_PX.
TARGET_GLYPH_PX = 34
MAX_UPSCALE = 4.0
MAX_SKEW_DEG = 6.0
# Lone dark pixels per pixel above which a picture is taken for a noisy scan (~10x what
# small anti-aliased text gives, ~1/10 of a light 1.5% salt-and-pepper scan).
NOISY_SPECKS = 0.001


def to_gray(img: np.ndarray) -> np.ndarray:
    if img.ndim == 2:
        return img
    if img.shape[2] == 4:  # transparent PNG: text on alpha, put it on white paper
        alpha = img[:, :, 3:4].astype(np.float32) / 255.0
        rgb = img[:, :, :3].astype(np.float32) * alpha + 255.0 * (1 - alpha)
        img = rgb.astype(np.uint8)
    return cv2.cvtColor(img[:, :, :3], cv2.COLOR_RGB2GRAY)


def binarise(gray: np.ndarray) -> np.ndarray:
    """Ink = 0, paper = 255: Otsu, or a local threshold on grey, uneven paper."""
    _, otsu = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    paper = gray[otsu > 0]
    if paper.size == 0 or float(np.std(paper)) < 12:
        return otsu
    # Ink where a local threshold AND Otsu both see it: the texture of flat paper does
    # not turn into specks, and a shadow does not turn into ink.
    block = max(15, (min(gray.shape[:2]) // 20) | 1)
    local = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY, block, 12)
    return cv2.bitwise_or(local, otsu)


def despike(gray: np.ndarray) -> np.ndarray:
    """Remove salt-and-pepper noise: dark specks on the paper and light holes in the ink.

    At the original resolution, before upscaling, where a speck is a pixel or two: a
    pixel that differs from the median of its 3x3 neighbourhood by more than a third of
    the ink/paper contrast, with at most one neighbour of its own shade, takes that
    median. A stroke continues both ways and the dot of an i or of "3.3V" is wider than
    a pixel, so they keep their ink where a median filter over the whole page would wear
    thin strokes away; a speck touching a letter goes too (morphology would keep it and
    Tesseract would read it as punctuation). Only noisy pages are touched: on a clean one
    the few lone pixels are anti-aliased dots of small letters.
    """
    _, otsu = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    if not (otsu > 0).any() or not (otsu == 0).any():
        return gray
    paper = float(np.median(gray[otsu > 0]))
    t = max(25.0, 0.3 * (paper - float(np.median(gray[otsu == 0]))))
    dark = (gray.astype(np.float32) < paper - t).astype(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(dark, connectivity=8)
    if int(np.count_nonzero(stats[1:, cv2.CC_STAT_AREA] == 1)) < NOISY_SPECKS * gray.size:
        return gray
    g = gray.astype(np.int16)
    med = cv2.medianBlur(gray, 3)
    m = med.astype(np.int16)
    p = np.pad(g, 1, mode="edge")
    h, w = g.shape
    as_dark = np.zeros(g.shape, np.int8)
    as_light = np.zeros(g.shape, np.int8)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:
                nb = p[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
                as_dark += nb < g + t
                as_light += nb > g - t
    spike = ((as_dark <= 1) & (g < m - t)) | ((as_light <= 1) & (g > m + t))
    out = gray.copy()
    out[spike] = med[spike]
    return out


def drop_small(binary: np.ndarray, min_area: float) -> np.ndarray:
    n, labels, stats, _ = cv2.connectedComponentsWithStats(255 - binary, connectivity=8)
    if n <= 1:
        return binary
    small = np.flatnonzero(stats[1:, cv2.CC_STAT_AREA] < min_area) + 1
    out = binary.copy()
    out[np.isin(labels, small)] = 255
    return out


def glyph_height(binary: np.ndarray) -> float:
    """Typical height of a character in px (0 when none).

    Ink is first joined vertically a little, so that a Hangul syllable (jamo stacked
    over each other, e.g. 스) or an i with its dot counts as one glyph.
    """
    ink = cv2.dilate(255 - binary, np.ones((5, 1), np.uint8))
    n, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    if n <= 1:
        return 0.0
    h = stats[1:, cv2.CC_STAT_HEIGHT] - 4
    w = stats[1:, cv2.CC_STAT_WIDTH]
    area = stats[1:, cv2.CC_STAT_AREA]
    # Characters: not specks, not long table rules.
    ok = (h >= 4) & (area >= 12) & (w < 6 * h) & (h < binary.shape[0] * 0.5)
    if not ok.any():
        return 0.0
    hs = h[ok]
    # The tall half: lowercase, punctuation and noise pull a plain median down.
    return float(np.median(hs[hs >= np.percentile(hs, 50)]))


def upscale_factor(gray: np.ndarray) -> float:
    _, b = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    gh = glyph_height(b)
    if gh <= 0 or gh >= TARGET_GLYPH_PX * 0.8:
        return 1.0
    return float(min(MAX_UPSCALE, TARGET_GLYPH_PX / gh))


def skew_angle(binary: np.ndarray) -> float:
    """Angle (degrees, counter-clockwise) that makes text rows and table rules horizontal."""
    ink = 255 - binary
    h, w = ink.shape
    s = min(1.0, 900.0 / max(h, w))
    small = cv2.resize(ink, (max(1, int(w * s)), max(1, int(h * s))), interpolation=cv2.INTER_AREA)
    centre = (small.shape[1] / 2, small.shape[0] / 2)

    def sharpness(a: float) -> float:
        m = cv2.getRotationMatrix2D(centre, a, 1.0)
        r = cv2.warpAffine(small, m, (small.shape[1], small.shape[0]), flags=cv2.INTER_NEAREST, borderValue=0)
        prof = r.sum(axis=1, dtype=np.float64)
        return float(np.sum(np.diff(prof) ** 2))

    best = max((float(a) for a in np.arange(-MAX_SKEW_DEG, MAX_SKEW_DEG + 0.01, 0.5)), key=sharpness)
    fine = max((float(a) for a in np.arange(best - 0.5, best + 0.51, 0.1)), key=sharpness)
    return float(round(fine, 2))


def rotate(img: np.ndarray, angle: float) -> np.ndarray:
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(h * sin + w * cos), int(h * cos + w * sin)
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    return cv2.warpAffine(img, m, (nw, nh), flags=cv2.INTER_CUBIC, borderValue=255)


def prepare(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(grey, binary) ready for grid detection and OCR: upscaled, denoised, deskewed, binarised."""
    gray = to_gray(img)
    if float(np.median(gray)) < 110:  # white text on a dark banner
        gray = 255 - gray
    gray = despike(gray)
    f = upscale_factor(gray)
    if f > 1.05:
        gray = cv2.resize(gray, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC)
    binary = binarise(gray)
    angle = skew_angle(binary)
    if abs(angle) >= 0.2:
        gray = rotate(gray, angle)
        binary = binarise(gray)
    return gray, binary
