"""The real weaviate-client, driven by WeaviateIndex, against FakeWeaviate (a loopback fake).

These assert on what the client actually sent over gRPC/REST: the schema's
tokenization, the vectors we computed, hybrid alpha, filters and the API key.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from weaviate.proto.v1 import base_pb2, base_search_pb2

from indexer.embedder import get_embedder
from indexer.models import Chunk
from indexer.pipeline import index_paths
from indexer.search import search
from indexer.store import IndexMismatch
from indexer.store.weaviate_store import WeaviateIndex, WeaviateWriteError
from indexer.tokenize import search_text
from tests.fakes.weaviate_fake import FakeWeaviate, query_vector
from tests.indexer.readers import rewrite_while_reading

EMB = get_embedder("hash-ngram-384")
CHUNKS = [
    Chunk(doc="a.docx", section="4.2", title="비밀번호 보호", text="비밀번호를 요구해야 한다.", req_ids=["SSR9"]),
    Chunk(doc="a.docx", section="5.3.7", title="Timer", text="T3410 expiry aborts attach.", ordinal=1),
]


@pytest.fixture
def fake() -> Iterator[FakeWeaviate]:
    with FakeWeaviate() as fw:
        yield fw


@pytest.fixture
def idx(fake: FakeWeaviate) -> Iterator[WeaviateIndex]:
    i = WeaviateIndex(fake.url, embedder_name="hash-ngram-384", grpc_port=fake.grpc_port, api_key="sekret-key")
    yield i
    i.close()


def test_fake_receives_schema_with_korean_capable_tokenization(idx: WeaviateIndex, fake: FakeWeaviate) -> None:
    idx.upsert_document("a.docx", "h1", CHUNKS, EMB.embed([c.embed_text() for c in CHUNKS]))
    schema = fake.schema("SpecbotChunk")
    props = {p["name"]: p for p in schema["properties"]}
    assert props["search_text"]["tokenization"] == "whitespace" and props["search_text"]["indexSearchable"]
    for key in ("doc", "section", "req_ids"):
        assert props[key]["tokenization"] == "field"
    assert "embedder=hash-ngram-384" in schema["description"]
    vec = schema["vectorConfig"]["default"]
    assert "none" in vec["vectorizer"]  # self-provided vectors: the server embeds nothing
    assert vec["vectorIndexConfig"]["distance"] == "cosine"


def test_fake_receives_our_vectors_and_bigram_terms_in_batch(idx: WeaviateIndex, fake: FakeWeaviate) -> None:
    vecs = EMB.embed([c.embed_text() for c in CHUNKS])
    idx.upsert_document("a.docx", "h1", CHUNKS, vecs)
    sent = [o for req in fake.calls("BatchObjects") for o in req.objects if o.collection == "SpecbotChunk"]
    assert len(sent) == 2
    got = {o.properties.non_ref_properties["section"]: o for o in sent}
    np.testing.assert_allclose(np.frombuffer(got["4.2"].vectors[0].vector_bytes, "<f4"), vecs[0], rtol=1e-6)
    assert got["4.2"].vectors[0].name == "default"
    terms = got["4.2"].properties.non_ref_properties["search_text"].split()
    assert "비밀번호를" in terms and "비밀" in terms and "번호" in terms
    stored = {o.props["section"]: o for o in fake.objects("SpecbotChunk")}
    assert stored["4.2"].props["req_ids"] == ["SSR9"]
    # Re-indexing the same document upserts the same deterministic IDs: no duplicates.
    idx.upsert_document("a.docx", "h2", CHUNKS, vecs)
    assert len(fake.objects("SpecbotChunk")) == 2


def test_fake_receives_hybrid_with_alpha_vector_and_doc_filter(idx: WeaviateIndex, fake: FakeWeaviate) -> None:
    idx.upsert_document("a.docx", "h1", CHUNKS, EMB.embed([c.embed_text() for c in CHUNKS]))
    hits = search("비밀번호 규칙은?", k=2, doc="a.docx", index=idx, alpha=0.3)
    assert hits[0].section == "4.2"
    req = [r for r in fake.calls("Search") if r.HasField("hybrid_search")][-1]
    h = req.hybrid_search
    assert h.alpha == pytest.approx(0.3) or h.alpha_param == pytest.approx(0.3)
    assert h.query == search_text("비밀번호 규칙은?") and list(h.properties) == ["search_text"]
    assert h.fusion_type == base_search_pb2.Hybrid.FUSION_TYPE_RELATIVE_SCORE
    np.testing.assert_allclose(query_vector(h), EMB.embed(["비밀번호 규칙은?"])[0], rtol=1e-6)
    f = req.filters
    assert f.operator == base_pb2.Filters.OPERATOR_EQUAL and f.value_text == "a.docx"
    assert (list(f.on) or [f.target.property]) == ["doc"]


def test_fake_receives_exact_lookup_as_contains_any_filters(idx: WeaviateIndex, fake: FakeWeaviate) -> None:
    idx.upsert_document("a.docx", "h1", CHUNKS, EMB.embed([c.embed_text() for c in CHUNKS]))
    hits = search("ssr9 요구사항이 뭐야?", k=2, index=idx)
    assert (hits[0].section, hits[0].score) == ("4.2", 1.0)
    req = [r for r in fake.calls("Search") if r.HasField("filters") and not r.HasField("hybrid_search")][-1]
    assert req.filters.operator == base_pb2.Filters.OPERATOR_CONTAINS_ANY
    assert list(req.filters.value_text_array.values) == ["SSR9"]


def test_rejected_batch_leaves_document_unindexed(idx: WeaviateIndex, fake: FakeWeaviate) -> None:
    vecs = EMB.embed([c.embed_text() for c in CHUNKS])
    idx.upsert_document("b.docx", "hb", [Chunk(doc="b.docx", section="1", title="B", text="other")], vecs[:1])
    fake.state.reject_next_batch = "vector lengths don't match"
    with pytest.raises(WeaviateWriteError, match="2 of 2 chunks of a.docx were rejected: .*vector lengths"):
        idx.upsert_document("a.docx", "h1", CHUNKS, vecs)
    assert [d.doc for d in idx.list_documents()] == ["b.docx"]
    assert {o.props["doc"] for o in fake.objects("SpecbotChunk")} == {"b.docx"}


def test_api_key_is_sent_as_bearer_token(idx: WeaviateIndex, fake: FakeWeaviate) -> None:
    idx.list_documents()
    auth = [h.get("Authorization") or h.get("authorization") for _, _, _, h in fake.state.rest_calls]
    assert "Bearer sekret-key" in auth


def test_open_index_uses_weaviate_when_url_is_set(fake: FakeWeaviate, monkeypatch: pytest.MonkeyPatch) -> None:
    from indexer.store import open_index
    from specbot.settings import reset_settings

    monkeypatch.setenv("WEAVIATE_URL", fake.url)
    monkeypatch.setenv("WEAVIATE_GRPC_PORT", str(fake.grpc_port))
    monkeypatch.setenv("SEARCH_ALPHA", "0.7")
    reset_settings()
    idx = open_index()
    try:
        assert isinstance(idx, WeaviateIndex) and idx.alpha == 0.7
    finally:
        idx.close()


def test_pipeline_indexes_sample_spec_into_fake_and_search_finds_korean(
    sample_spec, idx: WeaviateIndex, fake: FakeWeaviate
) -> None:
    reports = index_paths([sample_spec], index=idx, progress=False)
    assert reports[0].status == "indexed", reports[0].error
    assert [d.doc for d in idx.list_documents()] == [sample_spec.name]
    hits = search("비밀번호는 몇 자 이상?", k=3, index=idx)
    assert hits[0].section == "4.2"
    hits = search("What does 3.1.1 say?", k=3, index=idx)
    assert (hits[0].section, hits[0].title) == ("3.1.1", "Pedal Travel Sensor Fault")
    # Unchanged file: skipped, nothing re-sent.
    before = len(fake.calls("BatchObjects"))
    assert index_paths([sample_spec], index=idx, progress=False)[0].status == "unchanged"
    assert len(fake.calls("BatchObjects")) == before


def test_worker_path_searches_weaviate_from_settings(
    idx: WeaviateIndex, fake: FakeWeaviate, monkeypatch: pytest.MonkeyPatch
) -> None:
    from specbot.settings import reset_settings

    idx.upsert_document("a.docx", "h1", CHUNKS, EMB.embed([c.embed_text() for c in CHUNKS]))
    monkeypatch.setenv("WEAVIATE_URL", fake.url)
    monkeypatch.setenv("WEAVIATE_GRPC_PORT", str(fake.grpc_port))
    monkeypatch.setenv("EMBEDDING_MODEL", "hash-ngram-384")
    reset_settings()
    # As workers call it: no index passed; each call opens (and closes) its own client.
    for _ in range(2):
        assert search("비밀번호", k=2)[0].section == "4.2"
    monkeypatch.setenv("EMBEDDING_MODEL", "hash-ngram-768")
    reset_settings()
    with pytest.raises(IndexMismatch, match="hash-ngram-384"):
        search("비밀번호", k=2)


WV_READER = """
import json, re, sys
from pathlib import Path
from indexer.embedder import get_embedder
from indexer.store.weaviate_store import WeaviateIndex

url, grpc_port, flag, progress = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
idx = WeaviateIndex(url, embedder_name="hash-ngram-384", grpc_port=grpc_port)
qv = get_embedder("hash-ngram-384").embed(["T3410 attach timer"])[0]
n = errors = 0
empty, mixed = [], []
while not flag.exists():
    try:
        for kind, hits in (
            ("hybrid", idx.hybrid_search("T3410 attach timer", qv, 40, doc="nas.docx")),
            ("keyword", idx.keyword_search("T3410 attach timer", 40, doc="nas.docx")),
            ("vector", idx.vector_search(qv, 40, doc="nas.docx")),
            ("exact", idx.exact_lookup(["5.3.1"], [], doc="nas.docx")),
        ):
            if not hits:
                empty.append(kind)
            revs = {re.search(r"revision (\\d+)", h.text).group(1) for h in hits}
            if len(revs) > 1 or len(hits) != (1 if kind == "exact" else 20):
                mixed.append((kind, sorted(revs), len(hits)))
        if "nas.docx" not in {d.doc for d in idx.list_documents()}:
            empty.append("list_documents")
    except Exception as e:
        errors += 1
        print(repr(e), file=sys.stderr)
    n += 1
    progress.write_text(str(n))
idx.close()
print(json.dumps({"n": n, "errors": errors, "empty": empty[:20], "mixed": mixed[:20]}))
"""


def test_readers_never_miss_the_document_being_reindexed(idx: WeaviateIndex, fake: FakeWeaviate, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Reader processes ask about the very document being re-indexed: it is always found,
    in one version, whole (the old code deleted it first and wrote it again after)."""
    import subprocess
    import sys
    from pathlib import Path

    def revision(i: int) -> None:
        new = [
            Chunk(doc="nas.docx", section=f"5.3.{j}", title="T3410", text=f"T3410 attach timer, revision {i}",
                  ordinal=j)
            for j in range(20)
        ]  # fmt: skip
        idx.upsert_document("nas.docx", f"h{i}", new, EMB.embed([c.embed_text() for c in new]))

    idx.upsert_document("a.docx", "h-a", CHUNKS, EMB.embed([c.embed_text() for c in CHUNKS]))
    revision(0)
    flag = tmp_path / "stop"
    progress = [tmp_path / f"progress{i}" for i in range(2)]
    root = Path(__file__).resolve().parents[2]
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", WV_READER, fake.url, str(fake.grpc_port), str(flag), str(p)],
            cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for p in progress
    ]  # fmt: skip
    i, results = rewrite_while_reading(readers, progress, flag, revision, more=15)
    for r, err in results:
        assert r["n"] > 15 and r["errors"] == 0, (r, err[-2000:])
        assert r["empty"] == [] and r["mixed"] == [], r
    # One copy of the latest version is left, and its row names it.
    left = [o for o in fake.objects("SpecbotChunk") if o.props["doc"] == "nas.docx"]
    assert len(left) == 20 and {o.props["text"] for o in left} == {f"T3410 attach timer, revision {i}"}
    assert {d.doc: d.content_hash for d in idx.list_documents()}["nas.docx"] == f"h{i}"


def test_collections_from_before_generations_are_upgraded_and_old_chunks_replaced(
    idx: WeaviateIndex, fake: FakeWeaviate
) -> None:
    idx.upsert_document("a.docx", "h1", CHUNKS, EMB.embed([c.embed_text() for c in CHUNKS]))
    # As an older specbot left it: no `gen` property in either schema or on any object.
    for name in ("SpecbotChunk", "SpecbotDocument"):
        schema = fake.schema(name)
        schema["properties"] = [p for p in schema["properties"] if p["name"] != "gen"]
        for o in fake.objects(name):
            o.props.pop("gen", None)
    again = WeaviateIndex(fake.url, embedder_name="hash-ngram-384", grpc_port=fake.grpc_port)
    try:
        new = [Chunk(doc="a.docx", section="4.2", title="비밀번호 보호", text="새 버전 revision 2")]
        again.upsert_document("a.docx", "h2", new, EMB.embed([c.embed_text() for c in new]))
        assert "gen" in {p["name"] for p in fake.schema("SpecbotChunk")["properties"]}
        assert [o.props["text"] for o in fake.objects("SpecbotChunk")] == ["새 버전 revision 2"]
        assert [d.content_hash for d in again.list_documents()] == ["h2"]
    finally:
        again.close()


def test_a_write_in_flight_is_not_mixed_into_results(idx: WeaviateIndex, fake: FakeWeaviate) -> None:
    """Mid re-index both generations are stored: readers get the one the row names."""
    import copy

    idx.upsert_document("a.docx", "h1", CHUNKS, EMB.embed([c.embed_text() for c in CHUNKS]))
    (old,) = [o for o in fake.objects("SpecbotChunk") if o.props["section"] == "5.3.7"]
    gen_old = old.props["gen"]
    partial = copy.deepcopy(old)  # the first chunk of a newer generation has landed
    partial.uuid, partial.props["gen"], partial.props["text"] = "00000000-0000-0000-0000-00000000beef", "9" * 20, "NEW"
    fake.state.objects["SpecbotChunk"][partial.uuid] = partial
    q = EMB.embed(["T3410 expiry"])[0]
    for hits in (
        idx.keyword_search("T3410 expiry", 5),
        idx.hybrid_search("T3410 expiry", q, 5),
        idx.vector_search(q, 5),
    ):
        assert hits and {h.extra["gen"] for h in hits} == {gen_old}, hits
        assert "NEW" not in [h.text for h in hits]
    # The row switches to the new generation: from then on only it is served.
    (row,) = fake.objects("SpecbotDocument")
    row.props["gen"] = "9" * 20
    hits = idx.keyword_search("T3410 expiry", 5)
    assert [h.text for h in hits] == ["NEW"]
