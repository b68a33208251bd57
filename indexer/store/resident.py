"""The embedded index's read path held in memory: one snapshot per table version.

LanceDB answers every query from its files: about 27 ms for a full-text query and
42 ms for an approximate vector query at 100k chunks on the shared 2-core machine
(bench/search_latency.py), more than a brute-force NumPy scan (16 ms). A reader
process therefore loads the chunk table once per version into NumPy arrays and
answers from them (hybrid search() 15 ms against LanceDB's 58 ms in the same run):

- vectors: one float32 matrix, scanned exactly (a matrix-vector product divided by
  the row norms: cosine), so results are the exact nearest neighbours, with no ANN
  recall loss;
- full text: BM25 postings in CSR form (term -> rows, each with its precomputed
  document weight), scored like LanceDB's own index (k1 = 1.2, b = 0.75, the same
  IDF, terms of 40 bytes or more dropped as its tokenizer drops them, a term named
  twice in the query counted twice) over the same pre-tokenized `search_text`;
- exact lookups: dicts from section number and requirement ID to rows.

LanceDB stays the store: writers commit there as before, and a snapshot is the rows
of one committed table version, so each answer comes from one version of a document,
old or new, never a mix. A reader notices a commit through the table's `_versions`
folder (a commit adds a manifest there, which changes the folder's mtime) and loads the
new version before answering. An mtime is trusted only if it was older than RACY_NS
when read: the kernel stamps files with a coarse clock, so two commits in one tick
share an mtime, and until then every query asks LanceDB for the version (about 1 ms).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from indexer.store.base import StoredChunk

# LanceDB's BM25 constants (lance-index scalar/inverted/scorer.rs) and its tokenizer's
# default max_token_length: longer tokens are dropped from documents and queries alike.
K1 = 1.2
B = 0.75
MAX_TOKEN_BYTES = 40
RACY_NS = 2_000_000_000
UNTRUSTED = (-1, -1)  # an identity no folder has
now_ns = time.time_ns  # the wall clock file mtimes are compared with (tests move it)
COLUMNS = ["doc", "section", "title", "breadcrumb", "text", "ordinal", "req_ids"]
EMPTY = pa.schema([(c, pa.int32() if c == "ordinal" else pa.string()) for c in COLUMNS])


@dataclass
class Snapshot:
    """One table version, ready to query. Its data never changes, so threads share it."""

    version: int
    identity: tuple[int, int]  # (inode, mtime_ns) of the _versions folder, once trusted
    rows: pa.Table  # the COLUMNS, for turning row numbers into StoredChunks
    vectors: np.ndarray  # (n, d) float32, as stored
    inv_norm: np.ndarray  # 1 / each row's norm (0 for a zero row)
    doc_rows: dict[str, np.ndarray]
    vocab: dict[str, int]
    indptr: np.ndarray  # term t's postings are [indptr[t], indptr[t + 1])
    post_rows: np.ndarray  # int32 row numbers
    post_weight: np.ndarray  # float32 BM25 document weight of the term in that row
    idf: np.ndarray  # float32 per term
    sections: dict[str, np.ndarray]
    req_ids: dict[str, np.ndarray]
    order: np.ndarray  # each row's rank in (doc, ordinal) order
    load_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.vectors.shape[0])

    def nbytes(self) -> int:
        """Memory held by the arrays (the dict keys add a few MB at 100k chunks)."""
        arrays = [self.vectors, self.inv_norm, self.indptr, self.post_rows, self.post_weight, self.idf, self.order]
        arrays += list(self.doc_rows.values()) + list(self.sections.values()) + list(self.req_ids.values())
        return int(sum(a.nbytes for a in arrays) + self.rows.nbytes)

    # --- queries ------------------------------------------------------------
    def keyword(self, query_terms: list[str], k: int, doc: str | None = None) -> list[tuple[int, float]]:
        """(row, BM25 score) of the best k rows that contain a query term."""
        counts = Counter(self.vocab[t] for t in query_terms if len(t.encode()) < MAX_TOKEN_BYTES and t in self.vocab)
        if not counts or k <= 0:
            return []
        scores = np.zeros(self.n, dtype=np.float32)
        for t, c in counts.items():
            lo, hi = self.indptr[t], self.indptr[t + 1]
            # Rows are unique within a term's postings, so fancy-index += is exact.
            scores[self.post_rows[lo:hi]] += np.float32(c * self.idf[t]) * self.post_weight[lo:hi]
        if doc is not None:
            rows = self.doc_rows.get(doc)
            if rows is None:
                return []
            cand = rows[scores[rows] > 0]
        else:
            cand = np.flatnonzero(scores > 0)
        return _top(cand, scores[cand], k)

    def vector(self, query: np.ndarray, k: int, doc: str | None = None) -> list[tuple[int, float]]:
        """(row, cosine similarity) of the k nearest rows, exact."""
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        if self.n and q.shape[0] != self.vectors.shape[1]:
            raise ValueError(f"query vector has {q.shape[0]} dimensions, the index {self.vectors.shape[1]}")
        norm = float(np.linalg.norm(q))
        if norm > 0:
            q = q / norm
        if k <= 0 or self.n == 0:
            return []
        # The last question's similarities are kept: a Korean question scores the same
        # vector twice (the hybrid list, then search.py's check of which language it is
        # about), and at 100k chunks a scan is most of a search's time.
        key = (q.tobytes(), doc)
        last = self.extra.get("last_vector")
        if last is not None and last[0] == key:
            rows, scores = last[1], last[2]
        elif doc is not None:
            rows = self.doc_rows.get(doc)
            if rows is None:
                return []
            scores = _matvec(self.vectors[rows], q) * self.inv_norm[rows]
        else:
            rows, scores = None, _matvec(self.vectors, q) * self.inv_norm
        self.extra["last_vector"] = (key, rows, scores)
        return _top(rows, scores, k)

    def exact(self, sections: list[str], req_ids: list[str], doc: str | None, limit: int) -> np.ndarray:
        """Rows of the named sections or carrying the IDs (case-insensitive), in (doc, ordinal) order."""
        found = [self.sections[s] for s in sections if s in self.sections]
        found += [self.req_ids[r.upper()] for r in req_ids if r.upper() in self.req_ids]
        if not found:
            return np.zeros(0, dtype=np.int64)
        rows = np.unique(np.concatenate(found))
        if doc is not None:
            own = self.doc_rows.get(doc)
            rows = rows[np.isin(rows, own)] if own is not None else rows[:0]
        return rows[np.argsort(self.order[rows], kind="stable")][:limit]

    def chunks(self, rows: list[int] | np.ndarray, scores: list[float] | None = None) -> list[StoredChunk]:
        if len(rows) == 0:
            return []
        cols = self.rows.take(pa.array(np.asarray(rows, dtype=np.int64))).to_pydict()
        out = []
        for i in range(len(rows)):
            out.append(
                StoredChunk(
                    doc=cols["doc"][i],
                    section=cols["section"][i],
                    title=cols["title"][i],
                    text=cols["text"][i],
                    breadcrumb=json.loads(cols["breadcrumb"][i] or "[]"),
                    ordinal=int(cols["ordinal"][i]),
                    req_ids=(cols["req_ids"][i] or "").split(),
                    score=0.0 if scores is None else float(scores[i]),
                )
            )
        return out


def _matvec(m: np.ndarray, q: np.ndarray) -> np.ndarray:
    """m @ q through BLAS, on OpenBLAS's threads: a scan of 100k x 384 is bound by memory
    bandwidth, and two cores read it in 7 ms where one takes 11-12 ms (quiet 2-core
    machine). On a host whose cores are all busy with other workers, threads that
    spin-wait for a core cost more than they save (16 ms vs 11 ms under load here):
    set OPENBLAS_NUM_THREADS=1 for the workers there (README, Search latency)."""
    return m @ q


def _top(rows: np.ndarray | None, scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The k best (row, score), best first; ties go to the earlier row, so results are stable."""
    m = scores.shape[0]
    if m == 0:
        return []
    if m > k:
        kth = np.partition(scores, m - k)[m - k]
        sel = np.flatnonzero(scores >= kth)
    else:
        sel = np.arange(m)
    sel = sel[np.argsort(-scores[sel], kind="stable")][:k]
    picked = sel if rows is None else rows[sel]
    return list(zip(picked.tolist(), scores[sel].tolist(), strict=True))


def _positions(values: list[Any]) -> dict[Any, np.ndarray]:
    groups: dict[Any, list[int]] = {}
    for i, v in enumerate(values):
        groups.setdefault(v, []).append(i)
    return {v: np.asarray(ix, dtype=np.int64) for v, ix in groups.items()}


def build(batches: Iterable[pa.RecordBatch], version: int, identity: tuple[int, int], rows_hint: int = 0) -> Snapshot:
    """A snapshot of one table version's rows (the `chunks` table's schema), read batch
    by batch: holding the whole table as Arrow while tokenizing it took the process to
    1.4 GB at 100k chunks, batches to 1.07 GB (most of the rest is LanceDB's read-ahead).
    `rows_hint` (the row count) lets the vector matrix be allocated once."""
    try:
        return _build(batches, version, identity, rows_hint)
    finally:
        _release_free_memory()


def _release_free_memory() -> None:
    """Hand the loading's temporaries back to the OS: Arrow's allocator and glibc keep
    freed memory for reuse, which left ~70 MB more resident per 10k chunks."""
    pa.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class _Postings:
    """(term, row, count) triples gathered batch by batch, with one vocabulary."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self.terms: list[np.ndarray] = []
        self.rows: list[np.ndarray] = []
        self.tf: list[np.ndarray] = []
        self.doc_len: list[np.ndarray] = []

    def add(self, search_text: pa.Array, first_row: int) -> None:
        # Split the way LanceDB's index sees `search_text`: on the spaces
        # indexer/tokenize.py joins its (already lowercased) terms with, tokens of
        # MAX_TOKEN_BYTES or more dropped and not counted in the document's length.
        m = len(search_text)
        split = pc.split_pattern(pc.fill_null(search_text, ""), " ")
        lengths = pc.list_value_length(split).to_numpy(zero_copy_only=False)
        tokens = pc.list_flatten(split)
        tok_row = np.repeat(np.arange(m, dtype=np.int64), lengths)
        blen = pc.binary_length(tokens).to_numpy(zero_copy_only=False)
        keep = (blen > 0) & (blen < MAX_TOKEN_BYTES)
        if not keep.all():
            tokens = tokens.filter(pa.array(keep))
            tok_row = tok_row[keep]
        self.doc_len.append(np.bincount(tok_row, minlength=m).astype(np.float32))
        enc = pc.dictionary_encode(tokens)
        local = enc.dictionary.to_pylist()
        to_global = np.fromiter((self.vocab.setdefault(w, len(self.vocab)) for w in local), np.int64, len(local))
        # Distinct (term, row) pairs of this batch with their counts.
        pair = to_global[enc.indices.to_numpy(zero_copy_only=False)] * max(m, 1) + tok_row
        pair.sort()
        if pair.size:
            starts = np.flatnonzero(np.concatenate(([True], pair[1:] != pair[:-1])))
            self.tf.append(np.diff(np.append(starts, pair.size)).astype(np.float32))
            pair = pair[starts]
        term, row = np.divmod(pair, max(m, 1))
        self.terms.append(term.astype(np.int32) if len(self.vocab) < 2**31 else term)
        self.rows.append((row + first_row).astype(np.int32))

    def csr(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(indptr, rows, counts, doc_len): each term's rows in row order."""
        term = np.concatenate(self.terms) if self.terms else np.zeros(0, np.int64)
        rows = np.concatenate(self.rows) if self.rows else np.zeros(0, np.int32)
        tf = np.concatenate(self.tf) if self.tf else np.zeros(0, np.float32)
        # Each batch is sorted by term and later batches hold later rows: a stable sort
        # on the term alone leaves each term's rows in order.
        order = np.argsort(term, kind="stable")
        indptr = np.zeros(len(self.vocab) + 1, dtype=np.int64)
        np.cumsum(np.bincount(term, minlength=len(self.vocab)), out=indptr[1:])
        doc_len = np.concatenate(self.doc_len) if self.doc_len else np.zeros(0, np.float32)
        return indptr, rows[order], tf[order], doc_len


def _build(batches: Iterable[pa.RecordBatch], version: int, identity: tuple[int, int], rows_hint: int) -> Snapshot:
    t0 = time.perf_counter()
    vectors: np.ndarray | None = None
    parts: list[pa.RecordBatch] = []
    postings = _Postings()
    n = 0
    for batch in batches:
        m = batch.num_rows
        vec = batch.column("vector")
        if vectors is None or n + m > vectors.shape[0]:
            grown = np.empty((max(rows_hint, n + m), vec.type.list_size), dtype=np.float32)
            if vectors is not None:
                grown[:n] = vectors[:n]
            vectors = grown
        vectors[n : n + m] = vec.flatten().to_numpy(zero_copy_only=False).reshape(m, -1)
        parts.append(batch.select(COLUMNS))
        postings.add(batch.column("search_text"), n)
        n += m
    if vectors is None:  # every document deleted
        vectors = np.zeros((0, 0), dtype=np.float32)
        parts.append(pa.RecordBatch.from_pylist([], schema=EMPTY))
    vectors = vectors[:n]
    # Copied out of the batches, so their other columns (vectors, search_text) are freed.
    rows = pa.Table.from_batches(parts).combine_chunks()
    del parts
    # Cosine = dot product / row norm: dividing the few scores beats a normalized copy.
    norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))
    inv_norm = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0).astype(np.float32)
    indptr, post_rows, tf, doc_len = postings.csr()
    df = np.diff(indptr)
    avgdl = float(doc_len.sum()) / n if n else 1.0
    norm = K1 * (1.0 - B + B * doc_len[post_rows] / np.float32(avgdl or 1.0))
    post_weight = ((K1 + 1.0) * tf / (tf + norm)).astype(np.float32)
    idf = np.log((n - df + 0.5) / (df + 0.5) + 1.0).astype(np.float32)

    docs = rows.column("doc").to_pylist()
    ordinals = rows.column("ordinal").to_numpy(zero_copy_only=False)
    doc_rows = _positions(docs)
    sections = _positions(rows.column("section").to_pylist())
    req_groups: dict[str, list[int]] = {}
    for i, ids in enumerate(rows.column("req_ids").to_pylist()):
        for r in dict.fromkeys((ids or "").split()):
            req_groups.setdefault(r, []).append(i)
    doc_code = np.empty(n, dtype=np.int64)
    for code, d in enumerate(sorted(doc_rows)):
        doc_code[doc_rows[d]] = code
    order = np.empty(n, dtype=np.int64)
    order[np.lexsort((ordinals, doc_code))] = np.arange(n)
    return Snapshot(
        version=version,
        identity=identity,
        rows=rows,
        vectors=vectors,
        inv_norm=inv_norm,
        doc_rows=doc_rows,
        vocab=postings.vocab,
        indptr=indptr,
        post_rows=post_rows,
        post_weight=post_weight,
        idf=idf,
        sections=sections,
        req_ids={r: np.asarray(ix, dtype=np.int64) for r, ix in req_groups.items()},
        order=order,
        load_s=time.perf_counter() - t0,
    )


# --- one snapshot per index folder, per process --------------------------------
_SNAPSHOTS: dict[str, Snapshot] = {}
_LOCKS: dict[str, threading.Lock] = {}
_GUARD: tuple[int, threading.Lock] | None = None


def _lock_for(key: str) -> threading.Lock:
    """A load lock per index; locks are remade after a fork (one held then would stay held)."""
    global _GUARD
    if _GUARD is None or _GUARD[0] != os.getpid():
        _GUARD = (os.getpid(), threading.Lock())
        _LOCKS.clear()
    with _GUARD[1]:
        return _LOCKS.setdefault(key, threading.Lock())


def folder_identity(versions_dir: str) -> tuple[int, int] | None:
    try:
        st = os.stat(versions_dir)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns)


def manifest_mark(versions_dir: str, version: int) -> tuple[int, int] | None:
    """(inode, mtime) of a version's manifest file: tells a re-created table that reached
    the same version number from the one loaded. Lance names manifests `{version}` or
    (V2 paths) `{u64 max - version}`; None when neither exists (then the number decides)."""
    for name in (f"{2**64 - 1 - version:020d}.manifest", f"{version}.manifest"):
        ident = folder_identity(os.path.join(versions_dir, name))
        if ident is not None:
            return ident
    return None


def current_snapshot(key: str, versions_dir: str, open_table: Any) -> Snapshot | None:
    """This process's snapshot of the latest committed version of a table.

    `open_table()` returns the LanceDB table (None when there is none); it is only
    called when the `_versions` folder changed or changed too recently to be sure.
    """
    ident = folder_identity(versions_dir)
    seen_at = now_ns()
    snap = _SNAPSHOTS.get(key)
    if snap is not None and ident is not None and snap.identity == ident:
        return snap
    with _lock_for(key):
        snap = _SNAPSHOTS.get(key)
        t = open_table()
        if t is None:
            _SNAPSHOTS.pop(key, None)
            return None
        version = int(t.version)
        mark = manifest_mark(versions_dir, version)
        # The folder's (inode, mtime) vouches for "no commit since" only if the mtime was
        # already RACY_NS old when it was read: a commit later in the same clock tick
        # would leave it unchanged. A fresh one is not kept, so the next query asks again.
        trusted = ident if ident is not None and seen_at - ident[1] > RACY_NS else UNTRUSTED
        if snap is not None and snap.version == version and snap.extra.get("manifest") == mark:
            snap.identity = trusted
            return snap
        # The handle stays on the version it opened, so the rows are that version's.
        reader = t.search().select([*COLUMNS, "search_text", "vector"]).limit(None).to_batches()
        snap = build(reader, version, trusted, rows_hint=t.count_rows())
        snap.extra["manifest"] = mark
        _SNAPSHOTS[key] = snap
        return snap
