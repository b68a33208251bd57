"""Index files and folders: parse, chunk, embed, store. One bad file never stops the rest."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

from indexer.chunker import chunk_sections
from indexer.docx_parser import parse_docx
from indexer.embedder import get_embedder
from indexer.store import Index, open_index


@dataclass
class FileReport:
    path: str
    status: str  # indexed | unchanged | failed
    sections: int = 0
    tables: int = 0
    chunks: int = 0
    seconds: float = 0.0
    error: str = ""

    def to_json(self) -> dict:
        return self.__dict__.copy()


def collect(paths: list[str | Path]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in (".docx", ".doc"))
        else:
            files.append(p)
    return files


def file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def index_file(path: Path, index: Index, force: bool = False) -> FileReport:
    t0 = time.perf_counter()
    rep = FileReport(path=str(path), status="failed")
    try:
        if not path.exists():
            raise FileNotFoundError(f"no such file: {path}")
        digest = file_hash(path)
        known = {d.doc: d for d in index.list_documents()}
        if not force and path.name in known and known[path.name].content_hash == digest:
            rep.status = "unchanged"
            rep.chunks = known[path.name].chunks
            return rep
        sections = parse_docx(path)
        chunks = chunk_sections(path.name, sections)
        vectors = get_embedder(index.embedder_name).embed([c.embed_text() for c in chunks])
        index.upsert_document(path.name, digest, chunks, vectors, path=str(path.resolve()))
        rep.status, rep.sections, rep.chunks = "indexed", len(sections), len(chunks)
        rep.tables = sum(len(s.tables) for s in sections)
    except Exception as e:  # noqa: BLE001 - every failure is reported per file
        rep.error = f"{type(e).__name__}: {e}"
    finally:
        rep.seconds = round(time.perf_counter() - t0, 3)
    return rep


def index_paths(paths: list[str | Path], index: Index | None = None, progress: bool = True) -> list[FileReport]:
    idx = index or open_index()
    files = collect(paths)
    reports: list[FileReport] = []
    if progress:
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task("indexing", total=len(files))
            for f in files:
                bar.update(task, description=f"indexing {f.name}")
                reports.append(index_file(f, idx))
                bar.advance(task)
    else:
        reports = [index_file(f, idx) for f in files]
    return reports
