"""What scans need before Tesseract sees them: upscale, deskew, binarise.

Tesseract reads best at a cap height of ~20-40 px on clean black-on-white text. Word
documents carry screenshots at 96 dpi and phone photos of printouts, so small text
is upscaled (cubic), a tilt of up to 6 degrees is undone (the angle whose row
projection is sharpest), and the page is binarised with a local threshold that
survives grey, uneven paper, after a median filter for salt-and-pepper noise.
"""

from __future__ import annotations

import cv2
import numpy as np

# Text smaller than this (median glyph height, px) is upscaled towards TARGET_GLYPH_PX.
TARGET_GLYPH_PX = 34
MAX_UPSCALE = 4.0
MAX_SKEW_DEG = 6.0


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


def _noise_level(gray: np.ndarray) -> float:
    """Isolated specks (ink blobs of 1-2 px) per pixel: salt-and-pepper noise of a scan.

    Clean renders have almost none (anti-aliased glyph edges join their glyph).
    """
    _, b = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    n, _, stats, _ = cv2.connectedComponentsWithStats(b, connectivity=8)
    return float(np.sum(stats[1:, cv2.CC_STAT_AREA] <= 2)) / max(1, gray.size)


def _remove_specks(gray: np.ndarray) -> np.ndarray:
    """Paint 1-2 px ink blobs with the paper's colour, at the original resolution.

    There a speck is smaller than the smallest real mark (the dot of an i or of
    "3.3V" is 2x2 or more); after upscaling both are blobs, and a median filter
    would also wear away thin strokes of small text.
    """
    _, b = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(b, connectivity=8)
    specks = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] <= 1)
    specks = specks[specks > 0]
    out = gray.copy()
    out[np.isin(labels, specks)] = int(np.median(gray[b == 0])) if (b == 0).any() else 255
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
    noisy = _noise_level(gray) > 0.0005
    if noisy:
        gray = _remove_specks(gray)
    f = upscale_factor(gray)
    if f > 1.05:
        gray = cv2.resize(gray, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC)
    binary = binarise(gray)
    if noisy:
        # Specks that touched each other survive the first pass: at this scale they are
        # still smaller than a full stop (2x2 px or more before upscaling).
        binary = drop_small(binary, 2.5 * f * f)
    angle = skew_angle(binary)
    if abs(angle) >= 0.2:
        gray = rotate(gray, angle)
        binary = binarise(gray)
    return gray, binary
