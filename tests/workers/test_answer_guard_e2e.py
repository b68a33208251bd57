"""The answer guard through the real parts: a worker process, Redis/RQ, the local vLLM
(SmolLM2-135M on CPU), LanceDB with the default embedder."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.conftest import run_cli
from tests.workers_helpers import worker_process
from workers.guard import is_quote, language_of
from workers.prompt import SYSTEM_KO

INSTRUCTION_KO = SYSTEM_KO.rsplit(" ", 3)[-3:]  # "질문이 한국어이면 한국어로 답하십시오."


def _env(llm: str, redis: str) -> dict[str, str]:
    return {"LLM_BASE_URL": llm, "REDIS_URL": redis, "SPECBOT_DATA_DIR": os.environ["SPECBOT_DATA_DIR"]}


def test_korean_demo_question_gets_korean_or_a_labelled_quote_never_the_echo(
    indexed_sample: Path, llm_env: str, redis_url: str, tmp_path: Path
) -> None:
    with worker_process(_env(llm_env, redis_url), log=tmp_path / "worker.log"):
        r = run_cli("ask", "고장 코드는 어디에 저장해야 하나요?", "--json", timeout=240)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    answer = out["answer"]
    assert "한국어로 답하십시오" not in answer and " ".join(INSTRUCTION_KO) not in answer
    assert language_of(answer) == "ko", answer
    if is_quote(answer):
        assert answer.startswith("생성된 답변 대신 문서 원문을 인용합니다")
        assert "§ 4.1 고장 코드 저장" in answer and "비휘발성 메모리" in answer
    assert out["sources"][0]["section"] == "4.1"


def test_off_topic_question_is_declined_without_the_model(indexed_sample: Path, redis_url: str, tmp_path: Path) -> None:
    """The calibrated threshold: nothing indexed is about it, so no model is called.
    The LLM URL points nowhere: a model call would end in retries and an error."""
    from tests.conftest import free_port

    dead = f"http://127.0.0.1:{free_port()}/v1"
    with worker_process(_env(dead, redis_url), log=tmp_path / "worker.log"):
        en = run_cli("ask", "What is the capital of France?", "--json", timeout=120, env={"LLM_BASE_URL": dead})
        ko = run_cli("ask", "김치찌개는 어떻게 끓이나요?", "--json", timeout=120, env={"LLM_BASE_URL": dead})
    assert en.returncode == 0 and ko.returncode == 0, en.stderr + ko.stderr
    a, b = json.loads(en.stdout), json.loads(ko.stdout)
    assert a["answer"] == "The indexed documents do not contain an answer to this question."
    assert b["answer"] == "색인된 문서에는 이 질문에 대한 답이 없습니다."
    assert a["sources"] == [] == b["sources"] and a["model"] is None and not a["error"]
