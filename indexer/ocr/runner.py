"""Read many pictures: the cache first, then a bounded process pool, with progress.

Results are cached by the image's SHA-256 (plus the reader's settings) as JSON in
`<data dir>/ocr-cache/`, so re-indexing a document, or another document with the
same picture, never OCRs it again. Pictures that need no OCR (too small, vector,
bad) are answered without Tesseract and are not cached: checking them is cheaper
than reading a cache file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path

from indexer.ocr import ImageResult, OcrConfig


@dataclass
class OcrRun:
    results: dict[str, ImageResult] = field(default_factory=dict)  # by content hash
    ocr_done: int = 0  # pictures Tesseract read in this run
    cached: int = 0  # pictures answered from the cache
    engine_problem: str | None = None  # why OCR was skipped (Tesseract missing)


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@lru_cache(maxsize=4)
def engine_problem(langs: str) -> str | None:
    from indexer.ocr.engine import engine_problem as probe

    return probe(langs)


def _cache_path(cfg: OcrConfig, digest: str) -> Path | None:
    if cfg.cache_dir is None:
        return None
    key = hashlib.sha256(f"{cfg.fingerprint()}|{digest}".encode()).hexdigest()
    return cfg.cache_dir / key[:2] / f"{key}.json"


def _cache_get(cfg: OcrConfig, digest: str) -> ImageResult | None:
    p = _cache_path(cfg, digest)
    if p is None or not p.is_file():
        return None
    try:
        r = ImageResult.from_json(json.loads(p.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None  # a damaged cache entry is read again
    r.cached = True
    return r


def _cache_put(cfg: OcrConfig, digest: str, r: ImageResult) -> None:
    p = _cache_path(cfg, digest)
    if p is None:
        return
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(r.to_json(), f, ensure_ascii=False)
        os.replace(tmp, p)  # atomic: a concurrent indexer never reads half a file
    except OSError:
        pass  # no cache is slower, not wrong


def _work(data: bytes, name: str, cfg: OcrConfig) -> ImageResult:
    from indexer.ocr.images import read_image

    return read_image(data, name, cfg)


def run_ocr(
    images: dict[str, tuple[str, bytes]],
    cfg: OcrConfig,
    on_progress: Callable[[int, int], None] | None = None,
) -> OcrRun:
    """OCR `images` ({content hash: (name, bytes)}); `on_progress(done, total)` after each."""
    from indexer.ocr.images import check

    run = OcrRun()
    total = len(images)
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if on_progress:
            on_progress(done, total)

    todo: dict[str, tuple[str, bytes]] = {}
    for digest, (name, data) in images.items():
        pre = check(data, name, cfg)
        if pre is None:
            pre = _cache_get(cfg, digest)
            if pre is not None:
                run.cached += 1
        if pre is not None:
            run.results[digest] = pre
            tick()
        else:
            todo[digest] = (name, data)
    if not todo:
        return run
    problem = engine_problem(cfg.langs)
    if problem:
        run.engine_problem = problem
        for digest in todo:
            run.results[digest] = ImageResult("skipped", message="OCR skipped: " + problem)
            tick()
        return run
    if cfg.workers <= 1 or len(todo) == 1:
        for digest, (name, data) in todo.items():
            run.results[digest] = _finish(cfg, digest, _work(data, name, cfg), run)
            tick()
        return run
    # spawn, not fork: the indexer process has threads (LanceDB, progress bar).
    with ProcessPoolExecutor(max_workers=min(cfg.workers, len(todo)), mp_context=get_context("spawn")) as pool:
        futs = {pool.submit(_work, data, name, cfg): digest for digest, (name, data) in todo.items()}
        for fut in as_completed(futs):
            digest = futs[fut]
            try:
                r = fut.result()
            except Exception as e:
                r = ImageResult("bad", message=f"OCR failed ({type(e).__name__})")
            run.results[digest] = _finish(cfg, digest, r, run)
            tick()
    return run


def _finish(cfg: OcrConfig, digest: str, r: ImageResult, run: OcrRun) -> ImageResult:
    run.ocr_done += 1
    if r.status in ("table", "text", "empty", "low_confidence"):
        _cache_put(cfg, digest, r)
    return r
