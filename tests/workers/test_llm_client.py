"""The LLM client: one attempt per call (RQ is the one retry layer) and a total deadline.

The model server here is the STUB in tests/fakes/openai_stub.py: a real vLLM cannot
be made to fail or trickle tokens on cue. Answers from the real vLLM are tested in
tests/workers/test_answer_path.py and the scenarios.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.openai_stub import OpenAIStub
from workers.llm import LLMClient, LLMTimeout, LLMUnavailable

MESSAGES = [{"role": "user", "content": "What is the maximum brake pedal force?"}]


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIStub]:
    from specbot.settings import reset_settings

    s = OpenAIStub().start()
    monkeypatch.setenv("LLM_BASE_URL", s.url)
    reset_settings()
    yield s
    s.stop()


def test_a_failing_server_is_asked_once_per_call(stub: OpenAIStub) -> None:
    """Retries belong to RQ alone: client attempts x job attempts would multiply generations."""
    stub.status = 503
    with pytest.raises(LLMUnavailable):
        LLMClient().chat(MESSAGES)
    assert stub.requests == 1


def test_the_deadline_bounds_the_whole_call_not_each_read(stub: OpenAIStub) -> None:
    # Tokens keep coming (each read is quick), but the whole answer takes ~6 s.
    stub.answer = " ".join(f"w{i}" for i in range(20))
    stub.token_interval_s = 0.3
    seen: list[str] = []
    with pytest.raises(LLMTimeout):
        LLMClient(deadline_s=1.0).chat(MESSAGES, on_delta=seen.append)
    assert seen and len(seen[-1].split()) < 20  # it stopped reading mid-answer


def test_an_answer_within_the_deadline_streams_whole(stub: OpenAIStub) -> None:
    seen: list[str] = []
    comp = LLMClient(deadline_s=30).chat(MESSAGES, on_delta=seen.append)
    assert comp.text == stub.answer and seen[-1] == stub.answer
    assert comp.model == stub.model and comp.completion_tokens == len(stub.answer.split())
