"""Questions answered per minute against the real local vLLM: 1 worker vs N workers.

Same run, same questions, same server; the ratio shows what continuous batching
in vLLM buys when one host keeps many questions in flight.

    .venv/bin/python bench/concurrency.py [--llm http://127.0.0.1:8000/v1] [--workers 4] [--questions 24]
Without --llm a local vLLM is started (about a minute).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

QUESTIONS = [
    "What is the maximum brake pedal force?",
    "What is the supply voltage range?",
    "What is the quiescent current limit?",
    "When must the warning lamp turn on?",
    "What happens if the pedal travel sensor fails?",
    "How often is the pedal travel sensor sampled?",
    "고장 코드는 어디에 저장해야 하나요?",
    "비밀번호는 몇 자 이상이어야 하나요?",
]


def run_round(n_workers: int, n_questions: int, env: dict[str, str]) -> tuple[float, int]:
    from specbot.contracts import QuestionJob, enqueue_question
    from specbot.process import stop_group
    from workers.runner import spawn_workers

    conn = redis.Redis.from_url(env["REDIS_URL"])
    conn.flushdb()
    proc = spawn_workers(env, processes=n_workers)
    try:
        t0 = time.perf_counter()
        jobs = [
            enqueue_question(conn, QuestionJob(question=QUESTIONS[i % len(QUESTIONS)], user="bench"))
            for i in range(n_questions)
        ]
        while not all(j.get_status(refresh=True) in ("finished", "failed") for j in jobs):
            time.sleep(0.1)
        elapsed = time.perf_counter() - t0
        ok = sum(1 for j in jobs if j.get_status() == "finished")
    finally:
        stop_group(proc, timeout_s=30)
    return elapsed, ok


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--llm", default=os.environ.get("LLM_BASE_URL"))
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/10")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--questions", type=int, default=24)
    a = ap.parse_args()
    data = Path(tempfile.mkdtemp(prefix="specbot-bench-"))
    os.environ.update(SPECBOT_DATA_DIR=str(data), REDIS_URL=a.redis)
    from specbot.sample_spec import make_sample_spec

    llm_proc = None
    if not a.llm:
        from workers.local_llm import start_server

        os.environ["SPECBOT_DATA_DIR"] = str(ROOT / ".data")  # reuse the converted model
        llm_proc = start_server(port=8077)
        os.environ["SPECBOT_DATA_DIR"] = str(data)
        a.llm = "http://127.0.0.1:8077/v1"
    os.environ["LLM_BASE_URL"] = a.llm
    from indexer.pipeline import index_paths

    index_paths([make_sample_spec(data / "spec.docx")], progress=False)
    env = dict(os.environ)
    try:
        t1, ok1 = run_round(1, a.questions, env)
        tn, okn = run_round(a.workers, a.questions, env)
    finally:
        if llm_proc is not None:
            from workers.local_llm import stop_server

            stop_server(llm_proc)
    q1, qn = ok1 / t1 * 60, okn / tn * 60
    print(f"concurrency, {a.questions} questions, real vLLM at {a.llm}")
    print(f"  1 worker  : {q1:6.1f} questions/min ({ok1} answered in {t1:.1f}s)")
    print(f"  {a.workers} workers : {qn:6.1f} questions/min ({okn} answered in {tn:.1f}s)")
    print(f"  ratio     : {qn / q1:.2f}x")


if __name__ == "__main__":
    main()
