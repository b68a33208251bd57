"""Against a real Weaviate, only when WEAVIATE_URL is set (optional WEAVIATE_API_KEY,
WEAVIATE_GRPC_PORT). The store suite (test_store_suite.py) also runs its
"weaviate-real" cases then. Collections get a unique prefix and are dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from indexer.pipeline import index_paths
from indexer.search import search
from indexer.store.weaviate_store import WeaviateIndex

URL = os.environ.get("WEAVIATE_URL")  # read at import: the autouse fixture clears it later
pytestmark = [pytest.mark.weaviate, pytest.mark.skipif(not URL, reason="WEAVIATE_URL not set: no real Weaviate")]


@pytest.fixture
def real_idx() -> Iterator[WeaviateIndex]:
    idx = WeaviateIndex(
        URL or "",
        embedder_name="hash-ngram-384",
        api_key=os.environ.get("WEAVIATE_API_KEY"),
        grpc_port=int(os.environ.get("WEAVIATE_GRPC_PORT") or 0) or None,
        prefix=f"SpecbotTest{uuid.uuid4().hex[:8]}",
    )
    yield idx
    for name in (idx.chunks_name, idx.docs_name):
        idx.client.collections.delete(name)
    idx.close()


def test_real_weaviate_indexes_and_searches_sample_spec(sample_spec, real_idx: WeaviateIndex) -> None:
    rep = index_paths([sample_spec], index=real_idx, progress=False)[0]
    assert rep.status == "indexed", rep.error
    cfg = real_idx.client.collections.get(real_idx.chunks_name).config.get()
    tok = {p.name: p.tokenization.value if p.tokenization else None for p in cfg.properties}
    assert tok["search_text"] == "whitespace" and tok["doc"] == "field"
    assert search("비밀번호는 몇 자 이상?", k=3, index=real_idx)[0].section == "4.2"
    assert search("SSR9 요구사항이 뭐야?", k=3, index=real_idx)[0].section == "4.1"
    assert search("pedal force limit", k=3, index=real_idx, doc=sample_spec.name)[0].section == "3.1"
    real_idx.delete_document(sample_spec.name)
    assert real_idx.list_documents() == []
