"""Index backends behind one interface: embedded LanceDB (default) or Weaviate."""

from __future__ import annotations

from indexer.store.base import DocInfo, Index, IndexMismatch, StoredChunk

__all__ = ["DocInfo", "Index", "IndexMismatch", "StoredChunk", "open_index"]


def open_index(settings=None) -> Index:
    from specbot.settings import get_settings

    s = settings or get_settings()
    if s.weaviate_url:
        from indexer.store.weaviate_store import WeaviateIndex

        return WeaviateIndex(
            s.weaviate_url,
            embedder_name=s.embedding_model,
            api_key=s.weaviate_api_key,
            grpc_port=s.weaviate_grpc_port or None,
            alpha=s.search_alpha,
        )
    from indexer.store.lance import LanceIndex

    return LanceIndex(
        s.data_dir / "lancedb", embedder_name=s.embedding_model, alpha=s.search_alpha, resident=s.search_resident
    )
