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

Re-indexing never hides a document. Weaviate has no multi-object transaction, so each
write is a new *generation* (`gen`): the new chunks are written beside the old ones,
then the document row is switched to the new generation, then the old chunks go.
Readers keep, per document, the hits of the generation its row names (or, when none of
those matched yet, of the older one still there), so a query sees one version, never
a mix and never nothing. Writers on one host take turns through a lock file.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from indexer.models import Chunk
from indexer.store.base import DocInfo, IndexMismatch, StoredChunk
from indexer.store.writes import write_lock
from indexer.tokenize import search_text

VECTOR = "default"
DEFAULT_ALPHA = 0.5
BATCH_SIZE = 200
_EMBEDDER_RE = re.compile(r"embedder=(\S+)")


class WeaviateWriteError(Exception):
    """A batch write lost objects; the document is left unindexed rather than half-written."""


def connect(url: str, api_key: str | None = None, grpc_port: int | None = None):
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


def _doc_filter(doc: str | None):
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
        key = hashlib.sha256(f"{url}|{prefix}".encode()).hexdigest()[:16]
        self.lock_path = Path(tempfile.gettempdir()) / f"specbot-weaviate-{key}.lock"

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
                    text("gen", Tokenization.FIELD, searchable=False),
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
                    text("gen", Tokenization.FIELD, searchable=False),
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
            self._add_gen_property()
        self._checked = True
        return True

    def _add_gen_property(self) -> None:
        """Collections made before generations existed get the property (old objects: none)."""
        from weaviate.classes.config import DataType, Property, Tokenization

        for name in (self.chunks_name, self.docs_name):
            col = self.client.collections.get(name)
            if not any(p.name == "gen" for p in col.config.get().properties):
                col.config.add_property(
                    Property(
                        name="gen",
                        data_type=DataType.TEXT,
                        tokenization=Tokenization.FIELD,
                        index_searchable=False,
                        index_filterable=True,
                    )
                )

    # --- writes -----------------------------------------------------------
    def upsert_document(
        self, doc: str, content_hash: str, chunks: list[Chunk], vectors: np.ndarray, path: str = ""
    ) -> None:
        from weaviate.util import generate_uuid5

        if len(chunks) and vectors.shape[0] != len(chunks):
            raise ValueError(f"{len(chunks)} chunks but {vectors.shape[0]} vectors")
        with write_lock(self.lock_path):
            self._check_embedder(write=True)
            # Zero-padded nanoseconds: generations compare in time order as strings.
            gen = f"{time.time_ns():020d}"
            self._write_generation(doc, gen, chunks, vectors)
            # Switch the row to the new generation (a batch write with the same uuid
            # replaces the object: one object, one step), then drop the old chunks.
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
                            "gen": gen,
                        },
                        generate_uuid5(f"doc::{doc}"),
                    )
                ]
            )
            if res.has_errors:
                self._delete_gen(doc, gen)
                first = next(iter(res.errors.values())).message
                raise WeaviateWriteError(f"document row for {doc} was rejected: {first}")
            self._delete_other_gens(doc, gen)

    def _write_generation(self, doc: str, gen: str, chunks: list[Chunk], vectors: np.ndarray) -> None:
        from weaviate.util import generate_uuid5

        col = self.client.collections.get(self.chunks_name)
        failed: list[Any] = []
        for start in range(0, len(chunks), BATCH_SIZE):
            part = list(zip(chunks[start : start + BATCH_SIZE], vectors[start : start + BATCH_SIZE], strict=True))
            # One full batch per context: the client waits up to 1 s for a part-filled
            # batch to fill up, which would cost a second per small document.
            with col.batch.fixed_size(batch_size=len(part), concurrent_requests=1) as batch:
                for c, v in part:
                    batch.add_object(
                        properties={**self._props(c), "gen": gen},
                        uuid=generate_uuid5(f"{c.chunk_id}@{gen}"),
                        vector={VECTOR: v.astype(np.float32).tolist()},
                    )
            failed += col.batch.failed_objects
        if failed:
            self._delete_gen(doc, gen)  # the old version stays, as it was
            first = failed[0].message
            raise WeaviateWriteError(f"{len(failed)} of {len(chunks)} chunks of {doc} were rejected: {first}")

    def _delete_gen(self, doc: str, gen: str) -> None:
        from weaviate.classes.query import Filter

        where = Filter.by_property("doc").equal(doc) & Filter.by_property("gen").equal(gen)
        self.client.collections.get(self.chunks_name).data.delete_many(where=where)

    def _delete_other_gens(self, doc: str, gen: str) -> None:
        from weaviate.classes.query import Filter

        # not_equal also matches objects written before generations existed (no gen).
        where = Filter.by_property("doc").equal(doc) & Filter.by_property("gen").not_equal(gen)
        self.client.collections.get(self.chunks_name).data.delete_many(where=where)

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
        with write_lock(self.lock_path):
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
            extra={"gen": p.get("gen") or ""},
        )

    def _one_version(self, hits: list[StoredChunk], k: int) -> list[StoredChunk]:
        """Per document, the hits of one generation: the one its row names if any of those
        matched, else the oldest one present (the new one was not visible yet)."""
        from weaviate.classes.query import Filter

        gens: dict[str, set[str]] = {}
        for h in hits:
            gens.setdefault(h.doc, set()).add(h.extra.get("gen", ""))
        mixed = [d for d, g in gens.items() if len(g) > 1]
        if not mixed:
            return hits[:k]
        rows = self.client.collections.get(self.docs_name).query.fetch_objects(
            filters=Filter.by_property("doc").contains_any(mixed), limit=len(mixed)
        )
        current = {o.properties["doc"]: o.properties.get("gen") or "" for o in rows.objects}
        keep = {d: (current[d] if current.get(d) in g else min(g)) for d, g in gens.items() if len(g) > 1}
        return [h for h in hits if h.doc not in keep or h.extra.get("gen", "") == keep[h.doc]][:k]

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
            limit=2 * k,  # room for a second version during a re-index (_one_version)
            filters=_doc_filter(doc),
            return_metadata=MetadataQuery(score=True),
        )
        return self._one_version([self._to_chunk(o, o.metadata.score or 0.0) for o in res.objects], k)

    def vector_search(self, vector: np.ndarray, k: int, doc: str | None = None) -> list[StoredChunk]:
        from weaviate.classes.query import MetadataQuery

        col = self._chunks()
        if col is None:
            return []
        res = col.query.near_vector(
            near_vector=vector.astype(np.float32).tolist(),
            target_vector=VECTOR,
            limit=2 * k,
            filters=_doc_filter(doc),
            return_metadata=MetadataQuery(distance=True),
        )
        return self._one_version([self._to_chunk(o, 1.0 - (o.metadata.distance or 0.0)) for o in res.objects], k)

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
            limit=2 * k,
            filters=_doc_filter(doc),
            return_metadata=MetadataQuery(score=True),
        )
        return self._one_version([self._to_chunk(o, o.metadata.score or 0.0) for o in res.objects], k)

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
        res = col.query.fetch_objects(filters=where, limit=2 * max(k, 200))
        out = self._one_version([self._to_chunk(o, 1.0) for o in res.objects], 2 * max(k, 200))
        out.sort(key=lambda c: (c.doc, c.ordinal))
        return out


def _data_object(props: dict[str, Any], uuid: str):
    from weaviate.classes.data import DataObject

    return DataObject(properties=props, uuid=uuid)
