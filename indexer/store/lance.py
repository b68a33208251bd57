"""Embedded LanceDB backend: vectors + full text, fused by search.py with RRF.

Re-indexing a document replaces its chunks in one commit (a merge on chunk id that also
deletes the document's rows the new version lacks), so a reader sees the old version or
the new one, whole, never none: deleting first and adding later left a window in which
searches found nothing. Writers take turns through a lock file in the index folder.

Reads are answered from an in-memory snapshot of the chunk table, reloaded after each
commit (indexer/store/resident.py); with resident=False (SEARCH_RESIDENT=false) every
read is a LanceDB query: its full-text index and, past VECTOR_INDEX_MIN_ROWS, its ANN index.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import lancedb
import numpy as np
import pyarrow as pa
from lancedb.index import FTS, IvfHnswSq

from indexer.models import Chunk
from indexer.store.base import DocInfo, IndexMismatch, StoredChunk
from indexer.store.fusion import rrf
from indexer.store.resident import Snapshot, current_snapshot, folder_identity
from indexer.store.writes import retry_conflicts, write_lock
from indexer.tokenize import search_text

# Opt in to LanceDB's upcoming default now; it also silences a warning on every process.
os.environ.setdefault("LANCE_INCLUDE_VECTOR_CENTROIDS", "false")
log = logging.getLogger(__name__)
CHUNKS = "chunks"
# Below this a flat scan is fast enough and exact; above it an ANN index pays off.
VECTOR_INDEX_MIN_ROWS = 50_000
VECTOR_INDEX_TYPES = {"IvfHnswSq", "IvfPq", "IvfFlat", "IvfHnswPq", "IvfHnswFlat", "IvfSq", "IvfRq"}
DOCS = "documents"
META = "meta"
LOCK_FILE = ".specbot-write.lock"
_POOL: tuple[int, ThreadPoolExecutor] | None = None
# (index folder, embedder) -> the meta table's _versions folder (inode, mtime) when it matched.
_EMBEDDER_CHECKED: dict[tuple[str, str], tuple[int, int]] = {}


def _pool() -> ThreadPoolExecutor:
    """A thread pool per process: RQ workers fork, and a pool's threads do not survive a fork."""
    global _POOL
    if _POOL is None or _POOL[0] != os.getpid():
        _POOL = (os.getpid(), ThreadPoolExecutor(max_workers=4, thread_name_prefix="lance-hybrid"))
    return _POOL[1]


def _quote(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


class LanceIndex:
    def __init__(
        self,
        path: Path,
        embedder_name: str,
        alpha: float = 0.5,
        vector_index_min_rows: int = VECTOR_INDEX_MIN_ROWS,
        resident: bool = True,
    ) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._key = str(self.path.resolve())  # this index in the per-process caches
        self.embedder_name = embedder_name
        self.alpha = alpha
        self.vector_index_min_rows = vector_index_min_rows
        # Reads from an in-memory snapshot of the table (indexer/store/resident.py);
        # False: every read is a LanceDB query (less memory, slower).
        self.resident = resident
        self._db: Any = None
        self._lock = threading.Lock()
        self._embedder_ok = False

    @property
    def db(self) -> Any:
        # Connected on first use: search() opens an index per call, and a resident read
        # that finds its snapshot current needs no connection at all.
        if self._db is None:
            self._db = lancedb.connect(str(self.path))
        return self._db

    # --- schema -----------------------------------------------------------
    def _tables(self) -> set[str]:
        res = self.db.list_tables()
        names = getattr(res, "tables", res)
        return set(names)

    def _check_embedder(self, write: bool) -> None:
        if self._embedder_ok:
            return
        # Checked once per process and index: the meta table is written once, when the
        # index is created, so an unchanged folder means an unchanged embedder.
        key = (self._key, self.embedder_name)
        ident = folder_identity(str(self.path / f"{META}.lance" / "_versions"))
        if ident is not None and _EMBEDDER_CHECKED.get(key) == ident:
            self._embedder_ok = True
            return
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
        self._embedder_ok = True
        if ident is not None:
            _EMBEDDER_CHECKED[key] = ident

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
            if len(chunks) != (vectors.shape[0] if len(chunks) else 0):
                raise ValueError(f"{len(chunks)} chunks but {vectors.shape[0]} vectors")
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
                    "req_ids": " ".join(r.upper() for r in c.req_ids),
                    "search_text": search_text(c.keyword_text()),
                    "vector": vectors[i].astype(np.float32).tolist(),
                }
                for i, c in enumerate(chunks)
            ]
            with write_lock(self.path / LOCK_FILE):
                self._check_embedder(write=True)
                self._replace_document(doc, content_hash, rows, dim, path)

    def _replace_document(self, doc: str, content_hash: str, rows: list[dict], dim: int, path: str) -> None:
        tables = self._tables()
        # Chunks first, then the documents row: a crash in between leaves the old row
        # (old content hash, or none), so the next run redoes the file.
        if CHUNKS in tables:
            t = self.db.open_table(CHUNKS)
            stored_dim = t.schema.field("vector").type.list_size
            if rows and stored_dim != dim:
                raise IndexMismatch(f"index at {self.path} holds {stored_dim}-d vectors, got {dim}-d")
            if rows:
                data = pa.Table.from_pylist(rows, schema=self._schema(dim))
                # One commit: update chunks that exist, insert new ones, delete the
                # document's chunks that the new version no longer has.
                retry_conflicts(
                    lambda: (
                        t.merge_insert("id")
                        .when_matched_update_all()
                        .when_not_matched_insert_all()
                        .when_not_matched_by_source_delete(f"doc = {_quote(doc)}")
                        .execute(data)
                    ),
                    f"replace {doc}",
                )
            else:
                retry_conflicts(lambda: t.delete(f"doc = {_quote(doc)}"), f"delete {doc}")
            self._refresh_fts(t)
        elif rows:
            t = self.db.create_table(CHUNKS, data=pa.Table.from_pylist(rows, schema=self._schema(dim)))
            self._refresh_fts(t)
        self._write_doc(DocInfo(doc, content_hash, len(rows), datetime.now(UTC).isoformat(), path))

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
            # Replaced in one commit, so the document never drops out of list_documents.
            retry_conflicts(
                lambda: t.merge_insert("doc").when_matched_update_all().when_not_matched_insert_all().execute([row]),
                f"record {info.doc}",
            )
        else:
            self.db.create_table(DOCS, data=[row])

    def delete_document(self, doc: str) -> None:
        with self._lock, write_lock(self.path / LOCK_FILE):
            tables = self._tables()
            if DOCS in tables:
                docs = self.db.open_table(DOCS)
                retry_conflicts(lambda: docs.delete(f"doc = {_quote(doc)}"), f"delete {doc}")
            if CHUNKS in tables:
                t = self.db.open_table(CHUNKS)
                retry_conflicts(lambda: t.delete(f"doc = {_quote(doc)}"), f"delete {doc}")
                self._refresh_fts(t)

    def list_documents(self) -> list[DocInfo]:
        if DOCS not in self._tables():
            return []
        rows = self.db.open_table(DOCS).to_arrow().to_pylist()
        return sorted((DocInfo(**r) for r in rows), key=lambda d: d.doc)

    @staticmethod
    def _fts_config() -> FTS:
        # Terms are pre-tokenized by indexer/tokenize.py (Hangul bigrams, dotted
        # numbers): the index must only split on whitespace and leave them as they are.
        return FTS(
            base_tokenizer="whitespace",
            lower_case=True,
            stem=False,
            remove_stop_words=False,
            ascii_folding=False,
            with_position=False,
        )

    def _refresh_fts(self, t: Any) -> None:
        """Writers keep the indexes current so readers never write.

        Rows added since the last build are still searched (LanceDB scans unindexed
        rows), so folding them in keeps queries fast, not correct. Past
        VECTOR_INDEX_MIN_ROWS a one-time ANN index replaces the flat vector scan
        (bench/search_latency.py: about 8x faster at 100k chunks).
        """
        kinds = {i.index_type for i in t.list_indices()}
        if "FTS" not in kinds:
            retry_conflicts(
                lambda: t.create_index("search_text", config=self._fts_config(), replace=True), "full-text index"
            )
        if not kinds & VECTOR_INDEX_TYPES and t.count_rows() >= self.vector_index_min_rows:
            log.info("building the vector index over %d chunks (one-time)", t.count_rows())
            retry_conflicts(lambda: t.create_index("vector", config=IvfHnswSq(distance_type="cosine")), "vector index")
        if "FTS" in kinds:
            # Old versions go after an hour: readers open the latest version per query.
            retry_conflicts(lambda: t.optimize(cleanup_older_than=timedelta(hours=1)), "optimize")

    def ensure_fts(self) -> None:
        """Build or update the full-text index (also done after every write)."""
        with self._lock, write_lock(self.path / LOCK_FILE):
            if CHUNKS in self._tables():
                self._refresh_fts(self.db.open_table(CHUNKS))

    def close(self) -> None:
        """Nothing to release: LanceDB is files on disk."""

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

    def _table(self):
        self._check_embedder(write=False)
        if CHUNKS not in self._tables():
            return None
        return self.db.open_table(CHUNKS)

    def _snapshot(self) -> Snapshot | None:
        self._check_embedder(write=False)
        return current_snapshot(self._key, str(self.path / f"{CHUNKS}.lance" / "_versions"), self._table_or_none)

    def _table_or_none(self) -> Any:
        return self.db.open_table(CHUNKS) if CHUNKS in self._tables() else None

    def keyword_search(self, query: str, k: int, doc: str | None = None) -> list[StoredChunk]:
        if not self.resident:
            return self._native_keyword_search(query, k, doc)
        return self._resident_keyword(self._snapshot(), query, k, doc)

    def vector_search(self, vector: np.ndarray, k: int, doc: str | None = None) -> list[StoredChunk]:
        if not self.resident:
            return self._native_vector_search(vector, k, doc)
        return self._resident_vector(self._snapshot(), vector, k, doc)

    @staticmethod
    def _resident_keyword(snap: Snapshot | None, query: str, k: int, doc: str | None) -> list[StoredChunk]:
        q = search_text(query)
        if snap is None or not q:
            return []
        found = snap.keyword(q.split(), k, doc)
        return snap.chunks([r for r, _ in found], [s for _, s in found])

    @staticmethod
    def _resident_vector(snap: Snapshot | None, vector: np.ndarray, k: int, doc: str | None) -> list[StoredChunk]:
        if snap is None:
            return []
        found = snap.vector(vector, k, doc)
        return snap.chunks([r for r, _ in found], [s for _, s in found])

    def _native_keyword_search(self, query: str, k: int, doc: str | None = None) -> list[StoredChunk]:
        t = self._table()
        q = search_text(query)
        if t is None or not q:
            return []
        s = t.search(q, query_type="fts", fts_columns="search_text").limit(k)
        if doc:
            s = s.where(f"doc = {_quote(doc)}", prefilter=True)
        return self._rows_to_chunks(s.to_list(), "_score")

    @staticmethod
    def _has_vector_index(t: Any) -> bool:
        return any(i.index_type in VECTOR_INDEX_TYPES for i in t.list_indices())

    def _native_vector_search(self, vector: np.ndarray, k: int, doc: str | None = None) -> list[StoredChunk]:
        t = self._table()
        if t is None:
            return []
        s = t.search(vector.astype(np.float32), vector_column_name="vector").metric("cosine").limit(k)
        if self._has_vector_index(t):
            # A wider HNSW beam and re-ranking on full vectors: at 100k chunks the top-5
            # overlap with an exact scan went about 0.76 -> 0.92 for ~+7 ms (bench/search_latency.py).
            # HNSW needs ef >= the candidates it returns (k x refine_factor).
            s = s.nprobes(20).ef(max(200, 10 * k)).refine_factor(10)
        if doc:
            s = s.where(f"doc = {_quote(doc)}", prefilter=True)
        return self._rows_to_chunks(s.to_list(), "_distance", invert=True)

    def hybrid_search(
        self, query: str, vector: np.ndarray, k: int, doc: str | None = None, alpha: float | None = None
    ) -> list[StoredChunk]:
        """Keyword and vector lists fused by RRF; alpha weighs the vector list (0.5 = equal)."""
        a = self.alpha if alpha is None else alpha
        if self.resident:
            # Both lists from one snapshot (one table version), one after the other: a
            # few milliseconds each, and a thread hand-off did not make it faster.
            snap = self._snapshot()
            lists = [self._resident_keyword(snap, query, k, doc), self._resident_vector(snap, vector, k, doc)]
        else:
            # Full-text and vector search run at once: LanceDB does both in native code
            # outside the GIL, so the hybrid costs the slower of the two, not their sum.
            kw = _pool().submit(self.keyword_search, query, k, doc)
            vec = self.vector_search(vector, k, doc)
            lists = [kw.result(), vec]
        fused = rrf(lists, weights=[2 * (1 - a), 2 * a])
        out = []
        for c, score in fused[:k]:
            c.score = score
            out.append(c)
        return out

    def exact_lookup(
        self, sections: list[str], req_ids: list[str], doc: str | None = None, k: int = 10
    ) -> list[StoredChunk]:
        if not (sections or req_ids):
            return []
        if self.resident:
            snap = self._snapshot()
            if snap is None:
                return []
            # Every chunk of the named sections (bounded), so search.py can pick the heading chunk.
            return snap.chunks(snap.exact(sections, req_ids, doc, max(k, 200)))
        t = self._table()
        if t is None:
            return []
        conds = [f"section = {_quote(s)}" for s in sections]
        conds += [f"(' ' || req_ids || ' ') LIKE {_quote('% ' + r.upper() + ' %')}" for r in req_ids]
        where = "(" + " OR ".join(conds) + ")"
        if doc:
            where += f" AND doc = {_quote(doc)}"
        # Every chunk of the named sections (bounded), so search.py can pick the heading chunk.
        rows = t.search().where(where).limit(max(k, 200)).to_list()
        rows.sort(key=lambda r: (r["doc"], r["ordinal"]))
        return self._rows_to_chunks(rows, "_none_")
