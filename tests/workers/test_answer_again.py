""" "Try another answer": the same prompt, other sampling or the other served model, a bounded length."""

from __future__ import annotations

from typing import Any

import pytest

from workers.answer import answer_again
from workers.llm import Completion

PROMPT = [{"role": "system", "content": "Answer from the context."}, {"role": "user", "content": "Q?"}]
HITS = [{"doc": "a.docx", "section": "5.3.1", "title": "Supply", "text": "The supply is 9 to 16 V.", "score": 1.0}]


class StubLLM:
    """Stands in for the LLM client (the real one is tested against vLLM elsewhere): records the call."""

    def __init__(self, served: list[str]) -> None:
        self.model = served[0]
        self.served = served
        self.calls: list[dict[str, Any]] = []

    def models(self) -> list[str]:
        return self.served

    def chat(self, messages: list[dict[str, str]], **kw: Any) -> Completion:
        self.calls.append({"messages": messages, **kw})
        return Completion("Between 9 and 16 V (5.3.1).", kw.get("model") or self.model, 50, 12, 0.1, 0.05)


@pytest.mark.parametrize(
    ("served", "model", "temperature"),
    [(["smol"], None, 0.9), (["smol", "specbot-fb-2026-11"], "specbot-fb-2026-11", 0.1)],
)
def test_same_prompt_other_sampling_or_other_model(served: list[str], model: str | None, temperature: float) -> None:
    llm = StubLLM(served)
    r = answer_again("Q?", PROMPT, HITS, "smol", llm=llm, first_tokens=40)  # type: ignore[arg-type]
    (call,) = llm.calls
    assert call["messages"] == PROMPT  # the very same prompt: one DPO prompt for both answers
    assert (call["model"], call["temperature"], call["max_tokens"]) == (model, temperature, 128)
    assert [m.model_dump() for m in r.messages] == PROMPT and r.sources[0].section == "5.3.1"
    long = StubLLM(["smol"])
    answer_again("Q?", PROMPT, HITS, "smol", llm=long, first_tokens=150)  # type: ignore[arg-type]
    assert long.calls[0]["max_tokens"] == 300  # twice the first answer, within LLM_MAX_TOKENS
