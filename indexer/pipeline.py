"""Index files and folders: parse, chunk, embed, store. One bad file never stops the rest.

A file is written to the index only after it was parsed, chunked and embedded in
full, so a failure leaves the previously indexed version (if any) untouched.
Unchanged files (same content hash) are skipped; `prune` removes documents whose
files are gone.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from indexer.chunker import chunk_sections
from indexer.docx_parser import parse_document
from indexer.embedder import EmbeddingCache, embed_passages, get_embedder, passage_chars
from indexer.errors import IndexError_
from indexer.store import Index, open_index

WORD_SUFFIXES = (".docx", ".doc", ".docm")


@dataclass
class FileReport:
    path: str
    status: str  # indexed | unchanged | failed | pruned
    sections: int = 0
    tables: int = 0
    chunks: int = 0
    paragraphs: int = 0
    seconds: float = 0.0
    error: str = ""
    # Pictures (OCR): placements found, read as tables / as text, read from the cache,
    # and what went wrong with some of them ("name: reason"), all per file.
    images: int = 0
    ocr_tables: int = 0
    ocr_texts: int = 0
    ocr_cached: int = 0
    ocr_read: int = 0  # pictures Tesseract read in this run (0 when all came from the cache)
    ocr_low_confidence: list[str] = field(default_factory=list)
    image_problems: list[str] = field(default_factory=list)
    ocr_skipped: str = ""

    def to_json(self) -> dict:
        return {k: (list(v) if isinstance(v, list) else v) for k, v in self.__dict__.items()}

    def take_images(self, st) -> None:
        if st is None:
            return
        self.images, self.ocr_tables, self.ocr_texts, self.ocr_cached = st.found, st.tables, st.texts, st.cached
        self.ocr_read = st.ocr_done
        self.ocr_low_confidence, self.image_problems = list(st.low_confidence), list(st.problems)
        self.ocr_skipped = st.skipped_reason


def collect(paths: list[str | Path]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(
                f
                for f in p.rglob("*")
                # "~$name.docx" is Word's lock file for an open document, not a document.
                if f.is_file() and f.suffix.lower() in WORD_SUFFIXES and not f.name.startswith("~$")
            )
        else:
            files.append(p)
    return files


def file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def describe(e: BaseException) -> str:
    """One line a person can act on: our own errors say it all, others keep their type."""
    if isinstance(e, IndexError_):
        return str(e)
    return f"{type(e).__name__}: {e}"


def open_cache() -> EmbeddingCache | None:
    from specbot.settings import get_settings

    p = get_settings().embed_cache_path
    return EmbeddingCache(p) if p else None


def index_file(
    path: Path,
    index: Index,
    force: bool = False,
    known: dict | None = None,
    on_image: Callable[[int, int], None] | None = None,
    cache: EmbeddingCache | None = None,
) -> FileReport:
    t0 = time.perf_counter()
    rep = FileReport(path=str(path), status="failed")
    try:
        if not path.is_file():
            raise IndexError_(f"no such file: {path}")
        digest = file_hash(path)
        if known is None:
            known = {d.doc: d for d in index.list_documents()}
        if not force and path.name in known and known[path.name].content_hash == digest:
            rep.status = "unchanged"
            rep.chunks = known[path.name].chunks
            return rep
        from indexer.ocr import OcrConfig

        parsed = parse_document(path, ocr=OcrConfig.from_settings(), on_image=on_image)
        rep.take_images(parsed.images)
        chunks = chunk_sections(path.name, parsed.sections)
        emb = get_embedder(index.embedder_name)
        n = passage_chars(emb)
        vectors = embed_passages(emb, [c.passage_text(n) for c in chunks], cache)
        # The store replaces the document's old chunks (delete + add) in one call.
        index.upsert_document(path.name, digest, chunks, vectors, path=str(path.resolve()))
        rep.status, rep.sections, rep.chunks = "indexed", len(parsed.sections), len(chunks)
        rep.tables, rep.paragraphs = parsed.tables, parsed.paragraphs
    except Exception as e:  # every failure is reported per file
        rep.error = describe(e)
    finally:
        rep.seconds = round(time.perf_counter() - t0, 3)
    return rep


def prune_missing(index: Index) -> list[FileReport]:
    """Remove documents whose source file no longer exists."""
    out: list[FileReport] = []
    for d in index.list_documents():
        if d.path and not Path(d.path).exists():
            t0 = time.perf_counter()
            index.delete_document(d.doc)
            out.append(FileReport(path=d.path, status="pruned", chunks=d.chunks, seconds=time.perf_counter() - t0))
    return out


def index_paths(
    paths: list[str | Path],
    index: Index | None = None,
    progress: bool = True,
    force: bool = False,
    prune: bool = False,
    on_report: Callable[[FileReport], None] | None = None,
) -> list[FileReport]:
    idx = index or open_index()
    files = collect(paths)
    cache = open_cache()
    reports: list[FileReport] = []
    seen: dict[str, Path] = {}
    on_image: Callable[[int, int], None] | None = None

    def one(f: Path) -> FileReport:
        # Documents are keyed by file name: a second file with the same name would
        # silently replace the first one's chunks.
        if f.name in seen and seen[f.name].resolve() != f.resolve():
            return FileReport(
                path=str(f), status="failed", error=f"same file name as {seen[f.name]} (documents are keyed by name)"
            )
        seen[f.name] = f
        known = {d.doc: d for d in idx.list_documents()}
        rep = index_file(f, idx, force=force, known=known, on_image=on_image, cache=cache)
        if on_report:
            on_report(rep)
        return rep

    if progress and files:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=Console(stderr=True), transient=True,
        ) as bar:  # fmt: skip
            task = bar.add_task("indexing", total=len(files))
            pics = bar.add_task("pictures (OCR)", total=None, visible=False)

            def on_image(done: int, total: int) -> None:
                bar.update(pics, completed=done, total=total, visible=done < total)

            for f in files:
                bar.update(task, description=f"indexing {f.name}")
                reports.append(one(f))
                bar.advance(task)
    else:
        reports = [one(f) for f in files]
    if prune:
        reports += prune_missing(idx)
    return reports
