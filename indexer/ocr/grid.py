"""Find a ruled table in a picture: its row and column lines, and which cells are merged.

OpenCV morphology: opening the ink with a long thin kernel keeps only straight
rules longer than any letter stroke. Rule positions give the grid; a missing
stretch of rule between two neighbouring cells means they are one merged cell.
Only ruled tables are detected: a picture without an outer frame and inner rules
is read as text.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

Region = tuple[int, int, int, int]  # first row, first col, last row, last col (inclusive)


@dataclass
class Grid:
    ys: list[int]  # row boundaries, top to bottom (rows + 1 values)
    xs: list[int]  # column boundaries, left to right (cols + 1 values)
    regions: list[Region]  # every cell once; a merged cell is one region over several grid cells
    line_mask: np.ndarray  # the rules themselves (255), to erase before OCR
    thickness: int

    @property
    def n_rows(self) -> int:
        return len(self.ys) - 1

    @property
    def n_cols(self) -> int:
        return len(self.xs) - 1


def _positions(profile: np.ndarray, min_count: int) -> list[tuple[int, int]]:
    """Runs of indexes where the profile reaches min_count, as (start, end) inclusive."""
    idx = np.flatnonzero(profile >= min_count)
    runs: list[tuple[int, int]] = []
    for i in idx:
        if runs and i - runs[-1][1] <= 3:
            runs[-1] = (runs[-1][0], int(i))
        else:
            runs.append((int(i), int(i)))
    return runs


def _coverage(mask: np.ndarray) -> float:
    """Share of positions along the band's length (axis 0) where the band has any rule pixel."""
    if mask.size == 0:
        return 0.0
    return float(np.mean(mask.max(axis=1) > 0))


def find_grid(binary: np.ndarray, glyph_h: float) -> Grid | None:
    ink = 255 - binary
    h, w = ink.shape
    g = max(glyph_h, 8.0)
    # Longer than any stroke of a letter, shorter than the narrowest cell edge.
    hk = int(max(2.6 * g, 24))
    vk = int(max(1.7 * g, 20))
    hmask = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (hk, 1)))
    vmask = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, vk)))
    # A rule broken by noise or a faint scan is still one rule.
    gap = int(max(9, 0.8 * g))
    hmask = cv2.morphologyEx(hmask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (gap, 1)))
    vmask = cv2.morphologyEx(vmask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (1, gap)))
    yruns = _positions((hmask > 0).sum(axis=1), hk)
    xruns = _positions((vmask > 0).sum(axis=0), vk)
    if len(yruns) < 2 or len(xruns) < 2:
        return None
    ys = [(a + b) // 2 for a, b in yruns]
    xs = [(a + b) // 2 for a, b in xruns]
    thick = max(2, int(np.median([b - a + 1 for a, b in yruns + xruns])))
    band = thick // 2 + 3
    # The outer frame must run (almost) all around: boxes in a diagram are not a table.
    left, right, top, bottom = xs[0], xs[-1], ys[0], ys[-1]
    if right - left < 3 * hk or bottom - top < 2 * g:
        return None

    def hcov(y: int, x0: int, x1: int) -> float:
        m = hmask[max(0, y - band) : y + band + 1, x0:x1]
        return _coverage(m.T)

    def vcov(x: int, y0: int, y1: int) -> float:
        m = vmask[y0:y1, max(0, x - band) : x + band + 1]
        return _coverage(m)

    if min(hcov(top, left, right), hcov(bottom, left, right)) < 0.75:
        return None
    if min(vcov(left, top, bottom), vcov(right, top, bottom)) < 0.75:
        return None
    # Drop lines that are parts of something else (a rule under a title outside the frame).
    ys = [y for y in ys if top <= y <= bottom]
    xs = [x for x in xs if left <= x <= right]
    n_rows, n_cols = len(ys) - 1, len(xs) - 1
    if n_rows * n_cols < 2:
        return None
    inset = thick + 2

    parent = list(range(n_rows * n_cols))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for r in range(n_rows):
        for c in range(n_cols):
            if c + 1 < n_cols and vcov(xs[c + 1], ys[r] + inset, ys[r + 1] - inset) < 0.5:
                parent[find(r * n_cols + c + 1)] = find(r * n_cols + c)
            if r + 1 < n_rows and hcov(ys[r + 1], xs[c] + inset, xs[c + 1] - inset) < 0.5:
                parent[find((r + 1) * n_cols + c)] = find(r * n_cols + c)
    groups: dict[int, list[tuple[int, int]]] = {}
    for r in range(n_rows):
        for c in range(n_cols):
            groups.setdefault(find(r * n_cols + c), []).append((r, c))
    regions = sorted(
        (min(r for r, _ in cells), min(c for _, c in cells), max(r for r, _ in cells), max(c for _, c in cells))
        for cells in groups.values()
    )
    mask = cv2.dilate(cv2.bitwise_or(hmask, vmask), np.ones((3, 3), np.uint8))
    return Grid(ys=ys, xs=xs, regions=regions, line_mask=mask, thickness=thick)
