"""The answer pipeline itself: retrieve -> prompt -> generate. No queue here."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from indexer.search import search
from specbot.settings import get_settings
from workers.llm import LLMClient
from workers.prompt import NOT_FOUND_EN, NOT_FOUND_KO, build_messages, is_korean


def answer_question(
    question: str,
    history: list[dict[str, str]] | None = None,
    doc: str | None = None,
    k: int | None = None,
    llm: LLMClient | None = None,
    on_delta: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    s = get_settings()
    t0 = time.perf_counter()
    hits = search(question, k=k or s.search_k, doc=doc)
    t_retrieval = time.perf_counter() - t0
    messages, used = build_messages(
        question, hits, history=history, context_tokens=s.llm_context_tokens, reserve_tokens=s.llm_max_tokens + 64
    )
    if not used:
        # Nothing retrieved: say so plainly rather than let the model improvise.
        text = NOT_FOUND_KO if is_korean(question) else NOT_FOUND_EN
        return {
            "answer": text,
            "sources": [],
            "model": None,
            "messages": messages,
            "timings": {"retrieval_s": round(t_retrieval, 4), "generation_s": 0.0},
        }
    client = llm or LLMClient(s)
    comp = client.chat(messages, on_delta=on_delta)
    return {
        "answer": comp.text or (NOT_FOUND_KO if is_korean(question) else NOT_FOUND_EN),
        # Sources come from retrieval: the small model cannot cite reliably.
        "sources": [h.to_json() for h in used],
        "model": comp.model,
        "messages": messages,
        "timings": {
            "retrieval_s": round(t_retrieval, 4),
            "generation_s": round(comp.seconds, 4),
            "first_token_s": round(comp.first_token_s, 4) if comp.first_token_s else None,
            "prompt_tokens": comp.prompt_tokens,
            "completion_tokens": comp.completion_tokens,
        },
    }
