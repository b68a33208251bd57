"""One behaviour suite for every `Index` backend.

- "lance": the real embedded LanceDB (the default backend).
- "weaviate-fake": the real weaviate-client against FakeWeaviate (tests/fakes/weaviate_fake.py),
  a loopback fake, because Weaviate cannot run here. Ranking details are the fake's, so
  assertions stay on what both must do (filters, replacement, Korean terms, fusion ends).
- "weaviate-real": a real server, only when WEAVIATE_URL is set for the test run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import numpy as np
import pytest

from indexer.embedder import get_embedder
from indexer.models import Chunk
from indexer.search import search
from indexer.store import IndexMismatch
from tests.fakes.weaviate_fake import FakeWeaviate

EMBEDDER = "hash-ngram-384"
REAL_WEAVIATE_URL = os.environ.get("WEAVIATE_URL")  # read before the autouse fixture clears it
BACKENDS = ["lance", "weaviate-fake"] + (["weaviate-real"] if REAL_WEAVIATE_URL else [])


def chunk(doc: str, ordinal: int, section: str, title: str, text: str, req_ids: list[str] | None = None) -> Chunk:
    return Chunk(doc=doc, section=section, title=title, text=text, ordinal=ordinal, req_ids=req_ids or [])


BRAKE = [
    chunk("brake.docx", 0, "2.1", "Supply Voltage", "The EBC shall operate from 9 V to 16 V.", ["REQ-BRK-0010"]),
    chunk("brake.docx", 1, "3.1", "Brake Pedal", "REQ-BRK-0042: pedal force shall not exceed 500 N.", ["REQ-BRK-0042"]),
    chunk("brake.docx", 2, "4.2", "비밀번호 보호", "진단 세션 진입 시 비밀번호를 요구해야 한다."),
    chunk("brake.docx", 3, "5.3.7", "Timer T3410", "T3410 is started when the UE sends ATTACH REQUEST."),
    chunk("brake.docx", 4, "5.3.7", "Timer T3410", "On expiry of T3410 the UE shall abort the attach procedure."),
]
NAS = [
    chunk("nas.docx", 0, "5.3.7", "Handling of the T3410", "NAS timer T3410 guards the attach; 보안 모드."),
    chunk("nas.docx", 1, "8.2.2.1", "Message type", "Attach accept message identity."),
]


def vectors(chunks: list[Chunk]) -> np.ndarray:
    return get_embedder(EMBEDDER).embed([c.embed_text() for c in chunks])


def make_index(backend: str, tmp_path, fake: FakeWeaviate | None, embedder: str = EMBEDDER, prefix: str = ""):
    if backend == "lance":
        from indexer.store.lance import LanceIndex

        return LanceIndex(tmp_path / "lancedb", embedder_name=embedder)
    from indexer.store.weaviate_store import WeaviateIndex

    if backend == "weaviate-fake":
        assert fake is not None
        return WeaviateIndex(fake.url, embedder_name=embedder, grpc_port=fake.grpc_port, prefix=prefix or "Specbot")
    return WeaviateIndex(
        REAL_WEAVIATE_URL or "",
        embedder_name=embedder,
        api_key=os.environ.get("WEAVIATE_API_KEY"),
        grpc_port=int(os.environ.get("WEAVIATE_GRPC_PORT") or 0) or None,
        prefix=prefix,
    )


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path) -> Iterator[tuple[str, FakeWeaviate | None, str]]:
    name = request.param
    # A fresh collection prefix per test keeps real-server runs independent.
    prefix = f"SpecbotTest{uuid.uuid4().hex[:8]}" if name == "weaviate-real" else ""
    if name == "weaviate-fake":
        with FakeWeaviate() as fake:
            yield name, fake, prefix
        return
    yield name, None, prefix
    if name == "weaviate-real":
        idx = make_index(name, tmp_path, None, prefix=prefix)
        for col in (idx.chunks_name, idx.docs_name):
            idx.client.collections.delete(col)
        idx.close()


@pytest.fixture
def store(backend, tmp_path):
    name, fake, prefix = backend
    idx = make_index(name, tmp_path, fake, prefix=prefix)
    idx.upsert_document("brake.docx", "h-brake-1", BRAKE, vectors(BRAKE), path="/specs/brake.docx")
    idx.upsert_document("nas.docx", "h-nas-1", NAS, vectors(NAS))
    yield idx
    idx.close()


def keys(chunks) -> list[tuple[str, int]]:
    return [(c.doc, c.ordinal) for c in chunks]


def test_list_documents_reports_hash_and_chunk_count(store) -> None:
    docs = {d.doc: d for d in store.list_documents()}
    assert set(docs) == {"brake.docx", "nas.docx"}
    assert docs["brake.docx"].content_hash == "h-brake-1"
    assert docs["brake.docx"].chunks == len(BRAKE)
    assert docs["brake.docx"].path == "/specs/brake.docx"


def test_korean_keyword_search_finds_word_with_particle(store) -> None:
    hits = store.keyword_search("비밀번호", 5)
    assert hits and (hits[0].doc, hits[0].section) == ("brake.docx", "4.2")
    # Two-syllable words work too (a trigram tokenizer would miss these).
    assert ("nas.docx", 0) in keys(store.keyword_search("보안", 5))


def test_reupsert_replaces_chunks_without_duplicates(store) -> None:
    new = [chunk("brake.docx", 0, "2.1", "Supply Voltage", "The EBC shall operate from 10 V to 15 V.")]
    store.upsert_document("brake.docx", "h-brake-2", new, vectors(new))
    docs = {d.doc: d for d in store.list_documents()}
    assert docs["brake.docx"].content_hash == "h-brake-2" and docs["brake.docx"].chunks == 1
    assert store.keyword_search("비밀번호", 5) == []  # the old 4.2 chunk is gone
    assert keys(store.keyword_search("EBC operate", 10)) == [("brake.docx", 0)]
    assert keys(store.keyword_search("T3410", 10)) == [("nas.docx", 0)]


def test_delete_document_leaves_other_documents(store) -> None:
    store.delete_document("brake.docx")
    assert [d.doc for d in store.list_documents()] == ["nas.docx"]
    assert {c.doc for c in store.keyword_search("T3410", 10)} == {"nas.docx"}
    assert {c.doc for c in store.vector_search(vectors(BRAKE)[0], 10)} == {"nas.docx"}


def test_doc_filter_applies_to_every_search_kind(store) -> None:
    q = vectors(NAS)[0]
    assert {c.doc for c in store.keyword_search("T3410", 10, doc="brake.docx")} == {"brake.docx"}
    assert {c.doc for c in store.vector_search(q, 10, doc="brake.docx")} == {"brake.docx"}
    assert {c.doc for c in store.hybrid_search("T3410", q, 10, doc="brake.docx")} == {"brake.docx"}
    assert {c.doc for c in store.exact_lookup(["5.3.7"], [], doc="nas.docx")} == {"nas.docx"}


def test_vector_search_ranks_the_identical_vector_first(store) -> None:
    v = vectors(BRAKE)
    assert keys(store.vector_search(v[1], 3))[0] == ("brake.docx", 1)


def test_hybrid_alpha_moves_between_keyword_and_vector(store) -> None:
    # Keyword side points at the Korean chunk, vector side at the pedal chunk.
    q_vec = vectors(BRAKE)[1]
    assert keys(store.hybrid_search("비밀번호", q_vec, 3, alpha=0.0))[0] == ("brake.docx", 2)
    assert keys(store.hybrid_search("비밀번호", q_vec, 3, alpha=1.0))[0] == ("brake.docx", 1)


def test_exact_lookup_by_section_and_requirement_id(store) -> None:
    got = store.exact_lookup(["5.3.7"], [])
    assert keys(got) == [("brake.docx", 3), ("brake.docx", 4), ("nas.docx", 0)]
    # Requirement IDs match whatever case the user typed.
    assert keys(store.exact_lookup([], ["req-brk-0042"])) == [("brake.docx", 1)]


def test_search_puts_named_section_heading_first(store) -> None:
    hits = search("5.3.7절에서 T3410 만료 시 동작은?", k=4, index=store, doc="brake.docx")
    assert (hits[0].doc, hits[0].section, hits[0].score) == ("brake.docx", "5.3.7", 1.0)
    assert "is started" in hits[0].text  # the first chunk of the section, not its tail
    assert {h.doc for h in hits} == {"brake.docx"}
    hits = search("What does REQ-BRK-0042 require?", k=3, index=store)
    assert (hits[0].section, hits[0].score) == ("3.1", 1.0)


def test_search_with_section_in_two_documents_prefers_the_one_the_question_is_about(store) -> None:
    hits = search("§5.3.7 NAS timer guards the attach", k=4, index=store)
    assert (hits[0].doc, hits[0].section) == ("nas.docx", "5.3.7")
    assert ("brake.docx", "5.3.7") in [(h.doc, h.section) for h in hits]


def test_other_embedder_is_refused_for_reads_and_writes(backend, tmp_path, store) -> None:
    name, fake, prefix = backend
    other = make_index(name, tmp_path, fake, embedder="hash-ngram-256", prefix=prefix)
    try:
        with pytest.raises(IndexMismatch, match="hash-ngram-384"):
            other.vector_search(np.zeros(256, dtype=np.float32), 3)
        with pytest.raises(IndexMismatch):
            other.upsert_document("x.docx", "h", NAS, np.zeros((len(NAS), 256), dtype=np.float32))
    finally:
        other.close()
    assert "x.docx" not in [d.doc for d in store.list_documents()]


def test_empty_index_answers_with_nothing(backend, tmp_path) -> None:
    name, fake, prefix = backend
    idx = make_index(name, tmp_path, fake, prefix=prefix)
    try:
        assert idx.list_documents() == []
        assert idx.keyword_search("비밀번호", 5) == []
        assert search("5.3.7 T3410", k=3, index=idx) == []
    finally:
        idx.close()
