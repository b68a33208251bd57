"""Weaviate backend (deployment): self-provided vectors, native hybrid search, batch writes.

Korean full text: the keyword side searches one property, `search_text`, that holds
the same pre-tokenized terms as the LanceDB backend (words plus Hangul bigrams from
indexer/tokenize.py) with `Tokenization.WHITESPACE`. Chosen over the alternatives because:
- `kagome_kr`/`gse` need ENABLE_TOKENIZER_* flags on the server, so a stock Weaviate
  rejects the schema;
- `TRIGRAM` yields no term for a two-syllable query word (보안, 암호, 속도: common in
  Korean specs), so those queries miss;
- identical terms on both backends make the golden-set figures hold for both.
`doc`, `section` and `req_ids` use `Tokenization.FIELD`: they are exact-match keys.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

import numpy as np

from indexer.models import Chunk
from indexer.store.base import DocInfo, IndexMismatch, StoredChunk
from indexer.tokenize import search_text

VECTOR = "default"
DEFAULT_ALPHA = 0.5
BATCH_SIZE = 200
_EMBEDDER_RE = re.compile(r"embedder=(\S+)")


class WeaviateWriteError(Exception):
    """A batch write lost objects; the document is left unindexed rather than half-written."""


def connect(url: str, api_key: str | None = None, grpc_port: int | None = None):  # type: ignore[no-untyped-def]
    """Client for WEAVIATE_URL. gRPC runs on the same host; its port defaults to 50051
    (plain) or 443 (https), as Weaviate's own deployments do."""
    import weaviate
    from weaviate.classes.init import AdditionalConfig, Auth, Timeout

    u = urlparse(url)
    secure = u.scheme == "https"
    host = u.hostname or "localhost"
    port = u.port or (443 if secure else 8080)
    return weaviate.connect_to_custom(
        http_host=host,
        http_port=port,
        http_secure=secure,
        grpc_host=host,
        grpc_port=grpc_port or (443 if secure else 50051),
        grpc_secure=secure,
        auth_credentials=Auth.api_key(api_key) if api_key else None,
        additional_config=AdditionalConfig(timeout=Timeout(init=10, query=30, insert=120)),
    )


def _doc_filter(doc: str | None):  # type: ignore[no-untyped-def]
    from weaviate.classes.query import Filter

    return Filter.by_property("doc").equal(doc) if doc else None


class WeaviateIndex:
    def __init__(
        self,
        url: str,
        embedder_name: str,
        api_key: Any = None,
        grpc_port: int | None = None,
        prefix: str = "Specbot",
        alpha: float = DEFAULT_ALPHA,
    ) -> None:
        key = api_key.get_secret_value() if hasattr(api_key, "get_secret_value") else api_key
        self.client = connect(url, key, grpc_port)
        self.embedder_name = embedder_name
        self.alpha = alpha
        self.chunks_name = f"{prefix}Chunk"
        self.docs_name = f"{prefix}Document"
        self._checked = False

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> WeaviateIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- schema -----------------------------------------------------------
    def _create_collections(self) -> None:
        from weaviate.classes.config import Configure, DataType, Property, Tokenization, VectorDistances

        def text(name: str, tok: Tokenization, searchable: bool = True, filterable: bool = True) -> Property:
            return Property(
                name=name,
                data_type=DataType.TEXT,
                tokenization=tok,
                index_searchable=searchable,
                index_filterable=filterable,
            )

        if not self.client.collections.exists(self.chunks_name):
            self.client.collections.create(
                self.chunks_name,
                # The embedder is part of the schema so every reader can check it.
                description=f"specbot chunks; embedder={self.embedder_name}",
                vector_config=Configure.Vectors.self_provided(
                    name=VECTOR,
                    vector_index_config=Configure.VectorIndex.hnsw(distance_metric=VectorDistances.COSINE),
                ),
                properties=[
                    text("doc", Tokenization.FIELD, searchable=False),
                    text("section", Tokenization.FIELD, searchable=False),
                    Property(name="req_ids", data_type=DataType.TEXT_ARRAY, tokenization=Tokenization.FIELD),
                    text("search_text", Tokenization.WHITESPACE, filterable=False),
                    # Shown to the user only; searching goes through search_text.
                    text("title", Tokenization.WORD, searchable=False, filterable=False),
                    text("text", Tokenization.WORD, searchable=False, filterable=False),
                    text("breadcrumb", Tokenization.WORD, searchable=False, filterable=False),
                    Property(name="ordinal", data_type=DataType.INT),
                ],
            )
        if not self.client.collections.exists(self.docs_name):
            self.client.collections.create(
                self.docs_name,
                description=f"specbot documents; embedder={self.embedder_name}",
                vector_config=Configure.Vectors.self_provided(name=VECTOR),
                properties=[
                    text("doc", Tokenization.FIELD, searchable=False),
                    text("content_hash", Tokenization.FIELD, searchable=False),
                    Property(name="chunks", data_type=DataType.INT),
                    text("indexed_at", Tokenization.FIELD, searchable=False),
                    text("path", Tokenization.FIELD, searchable=False),
                ],
            )

    def _check_embedder(self, write: bool) -> bool:
        """True when the chunk collection exists (and was made by our embedder)."""
        if self._checked:
            return True
        if not self.client.collections.exists(self.chunks_name):
            if not write:
                return False
            self._create_collections()
        desc = self.client.collections.get(self.chunks_name).config.get().description or ""
        m = _EMBEDDER_RE.search(desc)
        stored = m.group(1) if m else None
        if stored != self.embedder_name:
            raise IndexMismatch(
                f"Weaviate collection {self.chunks_name} was built with embedder {stored!r}, "
                f"but EMBEDDING_MODEL is {self.embedder_name!r}; re-index or change EMBEDDING_MODEL"
            )
        if write:
            self._create_collections()  # documents collection may be missing after a manual drop
        self._checked = True
        return True

    # --- writes -----------------------------------------------------------
    def upsert_document(
        self, doc: str, content_hash: str, chunks: list[Chunk], vectors: np.ndarray, path: str = ""
    ) -> None:
        from weaviate.util import generate_uuid5

        self._check_embedder(write=True)
        if len(chunks) and vectors.shape[0] != len(chunks):
            raise ValueError(f"{len(chunks)} chunks but {vectors.shape[0]} vectors")
        # The document row goes first and comes back last: a crash in between leaves
        # the file "not indexed", so the next run redoes it instead of skipping it.
        self._delete_where(self.docs_name, doc)
        self._delete_where(self.chunks_name, doc)
        col = self.client.collections.get(self.chunks_name)
        failed: list[Any] = []
        for start in range(0, len(chunks), BATCH_SIZE):
            part = list(zip(chunks[start : start + BATCH_SIZE], vectors[start : start + BATCH_SIZE], strict=True))
            # One full batch per context: the client waits up to 1 s for a part-filled
            # batch to fill up, which would cost a second per small document.
            with col.batch.fixed_size(batch_size=len(part), concurrent_requests=1) as batch:
                for c, v in part:
                    batch.add_object(
                        properties=self._props(c),
                        uuid=generate_uuid5(c.chunk_id),
                        vector={VECTOR: v.astype(np.float32).tolist()},
                    )
            failed += col.batch.failed_objects
        if failed:
            self._delete_where(self.chunks_name, doc)
            first = failed[0].message
            raise WeaviateWriteError(f"{len(failed)} of {len(chunks)} chunks of {doc} were rejected: {first}")
        docs = self.client.collections.get(self.docs_name)
        res = docs.data.insert_many(
            [
                _data_object(
                    {
                        "doc": doc,
                        "content_hash": content_hash,
                        "chunks": len(chunks),
                        "indexed_at": datetime.now(UTC).isoformat(),
                        "path": path,
                    },
                    generate_uuid5(f"doc::{doc}"),
                )
            ]
        )
        if res.has_errors:
            self._delete_where(self.chunks_name, doc)
            raise WeaviateWriteError(f"document row for {doc} was rejected: {next(iter(res.errors.values())).message}")

    @staticmethod
    def _props(c: Chunk) -> dict[str, Any]:
        return {
            "doc": c.doc,
            "section": c.section,
            "title": c.title,
            "text": c.text,
            "breadcrumb": json.dumps(c.breadcrumb, ensure_ascii=False),
            "ordinal": c.ordinal,
            "req_ids": [r.upper() for r in c.req_ids],
            "search_text": search_text(c.keyword_text()),
        }

    def _delete_where(self, collection: str, doc: str) -> None:
        self.client.collections.get(collection).data.delete_many(where=_doc_filter(doc))

    def delete_document(self, doc: str) -> None:
        if not self._check_embedder(write=False):
            return
        self._delete_where(self.docs_name, doc)
        self._delete_where(self.chunks_name, doc)

    def list_documents(self) -> list[DocInfo]:
        if not self._check_embedder(write=False) or not self.client.collections.exists(self.docs_name):
            return []
        docs = self.client.collections.get(self.docs_name)
        out = [
            DocInfo(
                doc=o.properties["doc"],
                content_hash=o.properties["content_hash"],
                chunks=int(o.properties["chunks"]),
                indexed_at=o.properties["indexed_at"],
                path=o.properties.get("path") or "",
            )
            for o in docs.iterator()
        ]
        return sorted(out, key=lambda d: d.doc)

    # --- reads ------------------------------------------------------------
    @staticmethod
    def _to_chunk(o: Any, score: float) -> StoredChunk:
        p = o.properties
        return StoredChunk(
            doc=p["doc"],
            section=p.get("section") or "",
            title=p.get("title") or "",
            text=p.get("text") or "",
            breadcrumb=json.loads(p.get("breadcrumb") or "[]"),
            ordinal=int(p.get("ordinal") or 0),
            req_ids=list(p.get("req_ids") or []),
            score=score,
        )

    def _chunks(self) -> Any:
        """The chunk collection, or None while nothing was ever indexed."""
        return self.client.collections.get(self.chunks_name) if self._check_embedder(write=False) else None

    def keyword_search(self, query: str, k: int, doc: str | None = None) -> list[StoredChunk]:
        from weaviate.classes.query import MetadataQuery

        q = search_text(query)
        col = self._chunks()
        if col is None or not q:
            return []
        res = col.query.bm25(
            query=q,
            query_properties=["search_text"],
            limit=k,
            filters=_doc_filter(doc),
            return_metadata=MetadataQuery(score=True),
        )
        return [self._to_chunk(o, o.metadata.score or 0.0) for o in res.objects]

    def vector_search(self, vector: np.ndarray, k: int, doc: str | None = None) -> list[StoredChunk]:
        from weaviate.classes.query import MetadataQuery

        col = self._chunks()
        if col is None:
            return []
        res = col.query.near_vector(
            near_vector=vector.astype(np.float32).tolist(),
            target_vector=VECTOR,
            limit=k,
            filters=_doc_filter(doc),
            return_metadata=MetadataQuery(distance=True),
        )
        return [self._to_chunk(o, 1.0 - (o.metadata.distance or 0.0)) for o in res.objects]

    def hybrid_search(
        self, query: str, vector: np.ndarray, k: int, doc: str | None = None, alpha: float | None = None
    ) -> list[StoredChunk]:
        """Weaviate's own fusion (relative score): alpha=1 is pure vector, 0 pure keyword."""
        from weaviate.classes.query import HybridFusion, MetadataQuery

        col = self._chunks()
        if col is None:
            return []
        res = col.query.hybrid(
            # An empty keyword query is valid: the vector side still answers.
            query=search_text(query),
            vector=vector.astype(np.float32).tolist(),
            target_vector=VECTOR,
            alpha=self.alpha if alpha is None else alpha,
            query_properties=["search_text"],
            fusion_type=HybridFusion.RELATIVE_SCORE,
            limit=k,
            filters=_doc_filter(doc),
            return_metadata=MetadataQuery(score=True),
        )
        return [self._to_chunk(o, o.metadata.score or 0.0) for o in res.objects]

    def exact_lookup(
        self, sections: list[str], req_ids: list[str], doc: str | None = None, k: int = 10
    ) -> list[StoredChunk]:
        from weaviate.classes.query import Filter

        if not (sections or req_ids):
            return []
        col = self._chunks()
        if col is None:
            return []
        conds = []
        if sections:
            conds.append(Filter.by_property("section").contains_any(sections))
        if req_ids:
            conds.append(Filter.by_property("req_ids").contains_any([r.upper() for r in req_ids]))
        where = Filter.any_of(conds) if len(conds) > 1 else conds[0]
        if doc:
            where = where & Filter.by_property("doc").equal(doc)
        # Every chunk of the named sections, so search.py can pick the heading chunk.
        res = col.query.fetch_objects(filters=where, limit=max(k, 200))
        out = [self._to_chunk(o, 1.0) for o in res.objects]
        out.sort(key=lambda c: (c.doc, c.ordinal))
        return out


def _data_object(props: dict[str, Any], uuid: str):  # type: ignore[no-untyped-def]
    from weaviate.classes.data import DataObject

    return DataObject(properties=props, uuid=uuid)
