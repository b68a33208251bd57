"""Prometheus metrics of worker and bot, scraped over HTTP after real questions.

Real parts: Redis, `deploy/entrypoint.sh worker` (N RQ worker processes), vLLM on
CPU, the real Bolt app. Slack itself is the FAKE Web API server from tests/fakes/slack_fake.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from specbot.process import stop_group
from tests.conftest import ROOT, free_port, run_cli

ENTRYPOINT = ROOT / "deploy" / "entrypoint.sh"
HISTOGRAMS = (
    "specbot_queue_wait_seconds",
    "specbot_retrieval_seconds",
    "specbot_generation_seconds",
    "specbot_end_to_end_seconds",
)


def app_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    bindir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": f"{bindir}:{os.environ.get('PATH', '')}", **(extra or {})}


@contextmanager
def role_process(role: str, env: dict[str, str], log: Path, *args: str) -> Iterator[subprocess.Popen]:
    """`deploy/entrypoint.sh ROLE ...` as the container would run it, stopped afterwards."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            ["sh", str(ENTRYPOINT), role, *args],
            env=app_env(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        stop_group(proc, timeout_s=30)


def wait_for(pred, timeout: float = 60.0, what: str = "condition", proc: subprocess.Popen | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: process exited with {proc.returncode}")
        with suppress(httpx.HTTPError):
            v = pred()
            if v:
                return v
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout:.0f}s")


def scrape(url: str) -> dict[str, float]:
    """{'name{label="v",...}': value} for every sample on a /metrics page."""
    r = httpx.get(url, timeout=5)
    r.raise_for_status()
    out: dict[str, float] = {}
    for fam in text_string_to_metric_families(r.text):
        for s in fam.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
    return out


@contextmanager
def worker(env: dict[str, str], log: Path, processes: int = 2) -> Iterator[str]:
    """A worker container's process tree; yields its /metrics URL once all processes listen."""
    port = free_port()
    env = {**env, "METRICS_PORT": str(port), "WORKER_PROCESSES": str(processes)}
    with role_process("worker", env, log) as proc:
        url = f"http://127.0.0.1:{port}/metrics"
        wait_for(lambda: scrape(url).get("specbot_workers") == processes, 90, "worker metrics", proc)
        yield url


@pytest.fixture
def stack_env(redis_url: str, llm_env: str, indexed_sample: Path, isolated_settings: Path) -> dict[str, str]:
    return {
        "REDIS_URL": redis_url,
        "LLM_BASE_URL": llm_env,
        "SPECBOT_DATA_DIR": str(isolated_settings),
        "LLM_MAX_TOKENS": "48",
        "LOG_FORMAT": "json",
    }


# --- worker: `specbot ask` -> Redis -> N worker processes -> vLLM --------------------
@pytest.mark.slow
def test_worker_metrics_after_real_questions(stack_env: dict[str, str], tmp_path: Path) -> None:
    mp = tmp_path / "prom"
    env = {**stack_env, "PROMETHEUS_MULTIPROC_DIR": str(mp)}
    with worker(env, tmp_path / "worker.log", processes=2) as url:
        before = scrape(url)
        assert before['specbot_queue_length{queue="answers"}'] == 0
        assert before["specbot_redis_up"] == 1
        assert 'specbot_questions_total{outcome="answered"}' not in before

        for q in ("What must the EBC do when the pedal travel sensor fails?", "What is the scope?"):
            r = run_cli("ask", q, "--json", env=env, timeout=240)
            assert r.returncode == 0, r.stderr
            assert json.loads(r.stdout)["sources"]
        # A question about a document that is not indexed: answered "not found", no sources.
        r = run_cli("ask", "pedal travel", "--doc", "missing.docx", "--json", env=env, timeout=120)
        assert r.returncode == 0 and json.loads(r.stdout)["sources"] == []

        m = wait_for(lambda: (s := scrape(url)).get('specbot_questions_total{outcome="no_answer"}') and s, 20)
        assert m['specbot_questions_total{outcome="answered"}'] == 2
        assert m['specbot_questions_total{outcome="no_answer"}'] == 1
        assert m.get('specbot_questions_total{outcome="error"}', 0) == 0
        for h in HISTOGRAMS:
            assert m[f"{h}_count"] >= 2, h
            assert m[f'{h}_bucket{{le="+Inf"}}'] == m[f"{h}_count"]
        assert m["specbot_end_to_end_seconds_count"] == 3
        # End to end contains generation: the sums must say so.
        assert m["specbot_end_to_end_seconds_sum"] > m["specbot_generation_seconds_sum"] > 0

    # Multiprocess mode: one set of sample files per worker process, not one per job
    # (RQ forks a work horse per job; the horses record nothing).
    pids = {p.stem.rsplit("_", 1)[1] for p in mp.glob("*.db")}
    assert 1 <= len(pids) <= 2, sorted(p.name for p in mp.glob("*.db"))


@pytest.mark.slow
def test_failed_questions_count_as_errors(stack_env: dict[str, str], tmp_path: Path) -> None:
    # The LLM is unreachable: one retry, then the asker gets the labelled quote of the top
    # section, and the question is counted once, as model_down (the failed attempt as a retry).
    env = {
        **stack_env,
        "LLM_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",
        "JOB_RETRIES": "1",
        "JOB_RETRY_INTERVALS": "1",
    }
    with worker(env, tmp_path / "worker.log", processes=1) as url:
        r = run_cli("ask", "What is the scope?", "--json", env=env, timeout=120)
        assert r.stdout, r.stderr
        out = json.loads(r.stdout)
        assert out["fallback"] == "model_down" and out["error"] is False, out
        m = wait_for(lambda: (s := scrape(url)).get('specbot_questions_total{outcome="model_down"}') and s, 20)
        assert m['specbot_questions_total{outcome="model_down"}'] == 1
        assert m.get('specbot_questions_total{outcome="error"}', 0) == 0
        assert m["specbot_job_retries_total"] == 1
        assert m.get('specbot_questions_total{outcome="answered"}', 0) == 0


def test_queue_length_is_read_from_redis_at_scrape_time(redis_url: str) -> None:
    import redis
    from prometheus_client import CollectorRegistry, generate_latest

    from specbot.contracts import QuestionJob, enqueue_question
    from specbot.metrics import QueueCollector

    reg = CollectorRegistry()
    reg.register(QueueCollector(redis_url))

    def length() -> float:
        fams = {f.name: f for f in text_string_to_metric_families(generate_latest(reg).decode())}
        return next(s.value for s in fams["specbot_queue_length"].samples if s.labels["queue"] == "answers")

    assert length() == 0
    conn = redis.Redis.from_url(redis_url)
    for i in range(3):
        enqueue_question(conn, QuestionJob(question=f"q{i}", user="t"))
    assert length() == 3


def test_scrape_answers_when_redis_is_down() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from specbot.metrics import QueueCollector

    reg = CollectorRegistry()
    reg.register(QueueCollector(f"redis://127.0.0.1:{free_port()}/0"))
    text = generate_latest(reg).decode()
    assert "specbot_redis_up 0.0" in text
    assert "specbot_queue_length{" not in text  # no made-up zero while Redis is unreachable


def test_outcomes_are_classified_as_users_see_them() -> None:
    from specbot.metrics import classify

    assert classify({"answer": "x", "sources": [{"doc": "a"}]}) == "answered"
    assert classify({"answer": "not in the documents", "sources": []}) == "no_answer"
    assert classify({"answer": "I could not answer", "sources": [], "error": True}) == "error"
    assert classify(None) == "error"


def test_end_to_end_time_starts_when_the_user_asked(redis_url: str) -> None:
    """`asked_at` (Slack's event time) is the start, not the job's creation: a question
    asked 30 s before the bot queued it and answered 10 s later took 40 s."""
    from datetime import UTC, datetime, timedelta

    import redis
    from prometheus_client import REGISTRY

    from specbot import metrics
    from specbot.contracts import QuestionJob, enqueue_question

    conn = redis.Redis.from_url(redis_url)
    created = datetime.now(UTC)
    asked = (created - timedelta(seconds=30)).timestamp()
    job = enqueue_question(conn, QuestionJob(question="q", source="mention", asked_at=asked))
    job.created_at, job.ended_at = created, created + timedelta(seconds=10)

    def total() -> float:
        return REGISTRY.get_sample_value("specbot_end_to_end_seconds_sum") or 0.0

    before = total()
    metrics.observe_answer({"answer": "a", "sources": [{"doc": "d"}]}, job)
    assert total() - before == pytest.approx(40.0, abs=0.01)
    # A question from before `asked_at` existed: the job's creation time stands in.
    old = enqueue_question(conn, QuestionJob(question="q"))
    old.created_at, old.ended_at = created, created + timedelta(seconds=10)
    before = total()
    metrics.observe_answer({"answer": "a", "sources": [{"doc": "d"}]}, old)
    assert total() - before == pytest.approx(10.0, abs=0.01)


def test_worker_serves_healthz_and_metrics_on_metrics_port(redis_url: str, tmp_path: Path) -> None:
    """deploy/ probes the worker with GET /healthz on METRICS_PORT: a real answer, not
    the metrics page under another name; other paths are 404."""
    from tests.workers_helpers import worker_process

    port = free_port()
    base = f"http://127.0.0.1:{port}"

    def health() -> dict | None:
        try:
            return httpx.get(base + "/healthz", timeout=2).json()
        except (httpx.HTTPError, ValueError):
            return None

    with worker_process({"REDIS_URL": redis_url, "METRICS_PORT": str(port)}, log=tmp_path / "worker.log") as proc:
        assert wait_for(health, 60, "worker /healthz", proc) == {"ok": True, "redis": True}
        assert "specbot_queue_length" in httpx.get(base + "/metrics").text
        assert httpx.get(base + "/nope").status_code == 404
