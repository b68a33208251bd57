"""The one `Index` interface both backends implement."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from indexer.models import Chunk


class IndexMismatch(Exception):
    """The index was built by another embedder; mixing vectors would be silent garbage."""


@dataclass
class DocInfo:
    doc: str
    content_hash: str
    chunks: int
    indexed_at: str
    path: str = ""


@dataclass
class StoredChunk:
    doc: str
    section: str
    title: str
    text: str
    breadcrumb: list[str]
    ordinal: int
    req_ids: list[str]
    score: float = 0.0
    extra: dict = field(default_factory=dict)


class Index(Protocol):
    embedder_name: str

    def upsert_document(
        self, doc: str, content_hash: str, chunks: list[Chunk], vectors: np.ndarray, path: str = ""
    ) -> None: ...

    def delete_document(self, doc: str) -> None: ...

    def list_documents(self) -> list[DocInfo]: ...

    def keyword_search(self, query: str, k: int, doc: str | None = None) -> list[StoredChunk]: ...

    def vector_search(self, vector: np.ndarray, k: int, doc: str | None = None) -> list[StoredChunk]: ...

    def hybrid_search(
        self, query: str, vector: np.ndarray, k: int, doc: str | None = None, alpha: float | None = None
    ) -> list[StoredChunk]:
        """Keyword + vector in one ranked list; alpha weighs the vector side (1 = vector only)."""
        ...

    def exact_lookup(
        self, sections: list[str], req_ids: list[str], doc: str | None = None, k: int = 10
    ) -> list[StoredChunk]:
        """Every chunk (up to a bound) whose section is one of `sections` or that carries
        one of `req_ids` (case-insensitive), ordered by (doc, ordinal)."""
        ...

    def close(self) -> None: ...
