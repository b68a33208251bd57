"""LLM re-ranking and multi-query rewriting: their mechanics, with the real local vLLM
(SmolLM2-135M on CPU). The tiny model's judgements are not good; these tests check the
plumbing (log-probabilities read, order and scores, fusion, failures), not quality."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.models import Hit
from specbot.settings import get_settings
from workers.llm import LLMClient
from workers.retrieve import fuse_hits, parse_queries, rerank, retrieve, yes_probability

PEDAL = Hit("s.docx", "3.1", "Brake Pedal", "The maximum brake pedal force shall not exceed 500 N.", 0.99)
PASSWORD = Hit("s.docx", "4.2", "Password", "The diagnostic password shall have at least 8 characters.", 0.7)
LAMP = Hit("s.docx", "3.2", "Warning Lamp", "The brake warning lamp shall turn on within 100 ms.", 0.6)
EXACT = Hit("s.docx", "2.1", "Supply Voltage", "The EBC shall operate from 9 V to 16 V.", 1.0)


def test_yes_probability_reads_yes_and_no_in_any_case() -> None:
    import math

    alts = [{"Yes": math.log(0.6), " no": math.log(0.2), "The": math.log(0.2)}]
    assert yes_probability(alts) == pytest.approx(0.75)
    assert yes_probability([{"Maybe": -0.1}]) == 0.5
    assert yes_probability([]) == 0.5


def test_first_token_logprobs_from_the_real_server(llm_env: str) -> None:
    from workers.retrieve import rerank_prompt

    alts = LLMClient().first_token_logprobs(rerank_prompt("What is the maximum brake pedal force?", PEDAL))
    assert len(alts) == 1 and len(alts[0]) >= 5
    assert all(isinstance(tok, str) and lp <= 0.0 for tok, lp in alts[0].items())


def test_rerank_with_the_real_model_reorders_and_scores(llm_env: str) -> None:
    hits = [EXACT, PASSWORD, LAMP, PEDAL]
    out = rerank("What is the maximum brake pedal force?", hits, LLMClient(), keep=3)
    assert len(out) == 3
    assert out[0] == EXACT  # a named section stays first
    assert {(h.section) for h in out[1:]} <= {"4.2", "3.2", "3.1"}
    assert all(0.0 <= h.score <= 1.0 for h in out[1:])
    assert [h.score for h in out[1:]] == sorted((h.score for h in out[1:]), reverse=True)


def test_rerank_keeps_the_search_order_when_the_model_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import free_port

    monkeypatch.setenv("LLM_BASE_URL", f"http://127.0.0.1:{free_port()}/v1")
    from specbot.settings import reset_settings

    reset_settings()
    hits = [PASSWORD, LAMP, PEDAL]
    assert rerank("q?", hits, LLMClient(), keep=2) == hits[:2]


def test_parse_queries_keeps_english_lines_only() -> None:
    reply = '1. "fault code storage non-volatile memory"\n- DTC retention ignition cycles\n고장 코드\n\nok'
    assert parse_queries(reply, 3) == ["fault code storage non-volatile memory", "DTC retention ignition cycles"]


def test_fuse_hits_keeps_exact_first_and_rewards_agreement() -> None:
    own = [EXACT, PASSWORD, LAMP]
    rewritten = [PEDAL, LAMP]
    fused = fuse_hits([own, rewritten, [LAMP]], k=4)
    assert fused[0] == EXACT
    assert fused[1] == LAMP  # found by all three lists
    assert {h.section for h in fused} == {"2.1", "4.2", "3.2", "3.1"}


def test_multi_query_and_rerank_run_through_retrieve(
    llm_env: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With both settings on, a Korean question goes: rewrite (real model) -> one search
    per query -> fusion -> re-rank (real model). The search is a recording stand-in."""
    monkeypatch.setenv("MULTI_QUERY", "true")
    monkeypatch.setenv("RERANK", "true")
    monkeypatch.setenv("RERANK_DEPTH", "3")
    from specbot.settings import reset_settings

    reset_settings()
    asked: list[tuple[str, int]] = []

    def search_fn(q: str, k: int, doc: str | None) -> list[Hit]:
        asked.append((q, k))
        return [PASSWORD, LAMP, PEDAL][:k]

    out = retrieve("브레이크 페달의 최대 힘은 얼마인가요?", k=2, settings=get_settings(), search_fn=search_fn)
    assert asked[0] == ("브레이크 페달의 최대 힘은 얼마인가요?", 3)  # the question itself, at rerank depth
    assert all(k == 3 for _, k in asked)
    assert all(q.isascii() for q, _ in asked[1:])  # rewritten queries are English, if the model wrote any
    assert len(out) == 2 and {h.section for h in out} <= {"4.2", "3.2", "3.1"}
