"""Reciprocal-rank fusion: merges ranked lists without comparing their raw scores."""

from __future__ import annotations

from indexer.store.base import StoredChunk

RRF_K = 60


def chunk_key(c: StoredChunk) -> tuple[str, int]:
    return (c.doc, c.ordinal)


def rrf(
    lists: list[list[StoredChunk]], k: int | None = None, weights: list[float] | None = None
) -> list[tuple[StoredChunk, float]]:
    """Each list adds weight / (k + rank) to an item; BM25 and cosine scales never mix."""
    k = RRF_K if k is None else k
    scores: dict[tuple[str, int], float] = {}
    items: dict[tuple[str, int], StoredChunk] = {}
    for i, lst in enumerate(lists):
        w = 1.0 if weights is None else weights[i]
        for rank, c in enumerate(lst):
            key = chunk_key(c)
            scores[key] = scores.get(key, 0.0) + w / (k + rank + 1)
            items.setdefault(key, c)
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    return [(items[key], s) for key, s in ranked]
