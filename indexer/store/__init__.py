"""Index backends behind one interface: embedded LanceDB (default) or Weaviate."""

from __future__ import annotations

from indexer.store.base import DocInfo, Index, IndexMismatch, StoredChunk

__all__ = ["DocInfo", "Index", "IndexMismatch", "StoredChunk", "open_index"]


def open_index(settings=None) -> Index:  # type: ignore[no-untyped-def]
    from specbot.settings import get_settings

    s = settings or get_settings()
    if s.weaviate_url:
        from indexer.store.weaviate_store import WeaviateIndex

        return WeaviateIndex(s.weaviate_url, api_key=s.weaviate_api_key, embedder_name=s.embedding_model)
    from indexer.store.lance import LanceIndex

    return LanceIndex(s.data_dir / "lancedb", embedder_name=s.embedding_model)
