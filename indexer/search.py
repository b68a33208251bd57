"""Hybrid search: exact section/ID matches first, then keyword + vector fused by RRF."""

from __future__ import annotations

import re

from indexer.embedder import get_embedder
from indexer.models import Hit
from indexer.store import Index, StoredChunk, open_index

SECTION_IN_QUERY = re.compile(r"(?:§\s*)?\b(\d+(?:\.\d+){1,8})\b")
REQ_IN_QUERY = re.compile(r"\b([A-Za-z]{2,5}(?:-[A-Za-z]{2,5})?-?\d{1,5})\b")
RRF_K = 60


def query_keys(query: str) -> tuple[list[str], list[str]]:
    sections = SECTION_IN_QUERY.findall(query)
    if not sections:
        # "section 5" / "§5" name a top-level section.
        sections = re.findall(r"(?:§\s*|section\s+|절\s*)(\d+)\b", query, flags=re.I)
    reqs = [r.upper() for r in REQ_IN_QUERY.findall(query) if any(ch.isdigit() for ch in r)]
    return sections, reqs


def _key(c: StoredChunk) -> tuple[str, int]:
    return (c.doc, c.ordinal)


def rrf(lists: list[list[StoredChunk]], k: int = RRF_K) -> list[tuple[StoredChunk, float]]:
    scores: dict[tuple[str, int], float] = {}
    items: dict[tuple[str, int], StoredChunk] = {}
    for lst in lists:
        for rank, c in enumerate(lst):
            scores[_key(c)] = scores.get(_key(c), 0.0) + 1.0 / (k + rank + 1)
            items.setdefault(_key(c), c)
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    return [(items[key], s) for key, s in ranked]


def search(
    query: str,
    k: int = 5,
    doc: str | None = None,
    mode: str = "hybrid",
    index: Index | None = None,
) -> list[Hit]:
    idx = index or open_index()
    pool = max(k * 4, 20)
    exact: list[StoredChunk] = []
    if mode == "hybrid":
        sections, reqs = query_keys(query)
        exact = idx.exact_lookup(sections, reqs, doc=doc, k=k)
    lists: list[list[StoredChunk]] = []
    if mode in ("hybrid", "keyword"):
        lists.append(idx.keyword_search(query, pool, doc=doc))
    if mode in ("hybrid", "vector"):
        vec = get_embedder(idx.embedder_name).embed([query])[0]
        lists.append(idx.vector_search(vec, pool, doc=doc))
    fused = rrf(lists)
    top = fused[0][1] if fused else 1.0
    hits: list[Hit] = []
    seen: set[tuple[str, int]] = set()
    for c in exact:
        if _key(c) not in seen:
            seen.add(_key(c))
            hits.append(Hit(c.doc, c.section, c.title, c.text, 1.0))
    for c, s in fused:
        if len(hits) >= k:
            break
        if _key(c) in seen:
            continue
        seen.add(_key(c))
        # Normalised so the best fused hit scores just under an exact match.
        hits.append(Hit(c.doc, c.section, c.title, c.text, 0.99 * s / top))
    return hits[:k]
