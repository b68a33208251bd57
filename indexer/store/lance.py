"""Embedded LanceDB backend: vectors + full text, fused by search.py with RRF."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import lancedb
import numpy as np
import pyarrow as pa

from indexer.models import Chunk
from indexer.store.base import DocInfo, IndexMismatch, StoredChunk
from indexer.tokenize import search_text

CHUNKS = "chunks"
DOCS = "documents"
META = "meta"


def _quote(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


class LanceIndex:
    def __init__(self, path: Path, embedder_name: str) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.embedder_name = embedder_name
        self.db = lancedb.connect(str(self.path))
        self._lock = threading.Lock()
        self._fts_dirty = False

    # --- schema -----------------------------------------------------------
    def _tables(self) -> set[str]:
        res = self.db.list_tables()
        names = getattr(res, "tables", res)
        return set(names)

    def _check_embedder(self, write: bool) -> None:
        if META not in self._tables():
            if write:
                self.db.create_table(META, data=[{"key": "embedder", "value": self.embedder_name}])
            return
        rows = self.db.open_table(META).to_arrow().to_pylist()
        stored = {r["key"]: r["value"] for r in rows}.get("embedder")
        if stored and stored != self.embedder_name:
            raise IndexMismatch(
                f"index at {self.path} was built with embedder {stored!r}, "
                f"but EMBEDDING_MODEL is {self.embedder_name!r}; re-index or change EMBEDDING_MODEL"
            )

    def _schema(self, dim: int) -> pa.Schema:
        return pa.schema(
            [
                ("id", pa.string()),
                ("doc", pa.string()),
                ("section", pa.string()),
                ("title", pa.string()),
                ("breadcrumb", pa.string()),
                ("text", pa.string()),
                ("ordinal", pa.int32()),
                ("req_ids", pa.string()),
                ("search_text", pa.string()),
                ("vector", pa.list_(pa.float32(), dim)),
            ]
        )

    # --- writes -----------------------------------------------------------
    def upsert_document(
        self, doc: str, content_hash: str, chunks: list[Chunk], vectors: np.ndarray, path: str = ""
    ) -> None:
        with self._lock:
            self._check_embedder(write=True)
            dim = int(vectors.shape[1]) if len(chunks) else 0
            rows = [
                {
                    "id": c.chunk_id,
                    "doc": c.doc,
                    "section": c.section,
                    "title": c.title,
                    "breadcrumb": json.dumps(c.breadcrumb, ensure_ascii=False),
                    "text": c.text,
                    "ordinal": c.ordinal,
                    "req_ids": " ".join(c.req_ids),
                    "search_text": search_text(
                        f"{c.section} {c.title} {' '.join(c.breadcrumb)} {' '.join(c.req_ids)}\n{c.text}"
                    ),
                    "vector": vectors[i].astype(np.float32).tolist(),
                }
                for i, c in enumerate(chunks)
            ]
            tables = self._tables()
            if CHUNKS in tables:
                t = self.db.open_table(CHUNKS)
                # Delete-then-add keeps one copy of a changed document; the docs
                # row is written last so a crash leaves the file "not indexed".
                t.delete(f"doc = {_quote(doc)}")
                if rows:
                    t.add(pa.Table.from_pylist(rows, schema=self._schema(dim)))
            elif rows:
                self.db.create_table(CHUNKS, data=pa.Table.from_pylist(rows, schema=self._schema(dim)))
            self._write_doc(DocInfo(doc, content_hash, len(rows), datetime.now(UTC).isoformat(), path))
            self._fts_dirty = True

    def _write_doc(self, info: DocInfo) -> None:
        row = {
            "doc": info.doc,
            "content_hash": info.content_hash,
            "chunks": info.chunks,
            "indexed_at": info.indexed_at,
            "path": info.path,
        }
        if DOCS in self._tables():
            t = self.db.open_table(DOCS)
            t.delete(f"doc = {_quote(info.doc)}")
            t.add([row])
        else:
            self.db.create_table(DOCS, data=[row])

    def delete_document(self, doc: str) -> None:
        with self._lock:
            tables = self._tables()
            if CHUNKS in tables:
                self.db.open_table(CHUNKS).delete(f"doc = {_quote(doc)}")
            if DOCS in tables:
                self.db.open_table(DOCS).delete(f"doc = {_quote(doc)}")
            self._fts_dirty = True

    def list_documents(self) -> list[DocInfo]:
        if DOCS not in self._tables():
            return []
        rows = self.db.open_table(DOCS).to_arrow().to_pylist()
        return sorted((DocInfo(**r) for r in rows), key=lambda d: d.doc)

    def ensure_fts(self) -> None:
        """(Re)build the full-text index after writes; queries need it current."""
        if CHUNKS not in self._tables():
            return
        t = self.db.open_table(CHUNKS)
        t.create_fts_index(
            "search_text",
            replace=True,
            base_tokenizer="whitespace",
            lower_case=True,
            stem=False,
            remove_stop_words=False,
            ascii_folding=False,
            with_position=False,
        )
        self._fts_dirty = False

    # --- reads ------------------------------------------------------------
    def _rows_to_chunks(self, rows: list[dict], score_key: str, invert: bool = False) -> list[StoredChunk]:
        out = []
        for r in rows:
            s = float(r.get(score_key, 0.0) or 0.0)
            out.append(
                StoredChunk(
                    doc=r["doc"],
                    section=r["section"],
                    title=r["title"],
                    text=r["text"],
                    breadcrumb=json.loads(r["breadcrumb"] or "[]"),
                    ordinal=int(r["ordinal"]),
                    req_ids=(r["req_ids"] or "").split(),
                    score=(1.0 - s) if invert else s,
                )
            )
        return out

    def _table(self):  # type: ignore[no-untyped-def]
        self._check_embedder(write=False)
        if CHUNKS not in self._tables():
            return None
        return self.db.open_table(CHUNKS)

    def keyword_search(self, query: str, k: int, doc: str | None = None) -> list[StoredChunk]:
        t = self._table()
        q = search_text(query)
        if t is None or not q:
            return []
        if self._fts_dirty or not t.list_indices():
            self.ensure_fts()
            t = self.db.open_table(CHUNKS)
        s = t.search(q, query_type="fts", fts_columns="search_text").limit(k)
        if doc:
            s = s.where(f"doc = {_quote(doc)}", prefilter=True)
        return self._rows_to_chunks(s.to_list(), "_score")

    def vector_search(self, vector: np.ndarray, k: int, doc: str | None = None) -> list[StoredChunk]:
        t = self._table()
        if t is None:
            return []
        s = t.search(vector.astype(np.float32), vector_column_name="vector").metric("cosine").limit(k)
        if doc:
            s = s.where(f"doc = {_quote(doc)}", prefilter=True)
        return self._rows_to_chunks(s.to_list(), "_distance", invert=True)

    def exact_lookup(
        self, sections: list[str], req_ids: list[str], doc: str | None = None, k: int = 10
    ) -> list[StoredChunk]:
        t = self._table()
        if t is None or not (sections or req_ids):
            return []
        conds = [f"section = {_quote(s)}" for s in sections]
        conds += [f"(' ' || req_ids || ' ') LIKE {_quote('% ' + r + ' %')}" for r in req_ids]
        where = "(" + " OR ".join(conds) + ")"
        if doc:
            where += f" AND doc = {_quote(doc)}"
        rows = t.search().where(where).limit(k).to_list()
        rows.sort(key=lambda r: (r["doc"], r["ordinal"]))
        return self._rows_to_chunks(rows, "_none_")
