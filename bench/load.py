"""Sustained load on one host with all real parts: Redis, `specbot worker -n N`, vLLM.

    .venv/bin/python bench/load.py                       # LLM_BASE_URL or the dev vLLM at :8011
    .venv/bin/python bench/load.py --askers 1,4,16 --workers 4 --scale 2,4 --duration 45

For each level, A asker threads keep one question each in flight (enqueue, wait for
the answer, ask the next) for --duration seconds against a fresh worker group of W
processes; then the queue drains. Reported per level: questions per minute, p50/p95
end-to-end latency (enqueue -> answer stored, seen by the asker), and server-side
queue wait / retrieval / generation medians.

Scaling: the top asker level is run with each --scale worker count; the ratio of
questions per minute (more workers / fewer) is the scaling figure. On one CPU host
vLLM is the shared bottleneck, so expect well under 2x; on a GPU the same workers
feed vLLM's batcher and scale further (see deploy/README.md, Sizing).

Integrity: every asked job must be answered exactly once. Checked three ways:
the job's stored result, one row per job ID in the feedback database, and the
workers' JSON log lines (`question_finished` per question_id: more than one final
line for one job would be a double answer).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

QUESTIONS = [
    "What must the EBC do when the pedal travel sensor fails?",
    "What is the scope of the specification?",
    "Which diagnostic trouble code is set for a pedal travel sensor fault?",
    "How fast must the controller switch to the redundant sensor?",
    "What does section 2.1 require?",
    "페달 센서가 고장 나면 EBC는 무엇을 해야 합니까?",
    "List the requirements for the bottom view.",
    "What are the operating voltage limits?",
]


@dataclass
class Level:
    askers: int
    workers: int
    duration_s: float
    latencies: list[float] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)
    errors: int = 0
    no_answer: int = 0
    timings: list[dict[str, Any]] = field(default_factory=list)
    wall_s: float = 0.0
    dropped: int = 0
    duplicates: int = 0
    db_rows: int = 0

    @property
    def answered(self) -> int:
        return len(self.latencies)

    def pct(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, max(0, round(p / 100 * len(xs) + 0.5) - 1))]

    def qpm(self) -> float:
        return 60.0 * self.answered / self.wall_s if self.wall_s else 0.0

    def med(self, key: str) -> float | None:
        xs = [t[key] for t in self.timings if t.get(key) is not None]
        return round(statistics.median(xs), 3) if xs else None

    def summary(self) -> dict[str, Any]:
        return {
            "askers": self.askers,
            "workers": self.workers,
            "asked": len(self.jobs),
            "answered": self.answered,
            "errors": self.errors,
            "no_answer": self.no_answer,
            "wall_s": round(self.wall_s, 1),
            "qpm": round(self.qpm(), 1),
            "p50_s": round(self.pct(50), 2),
            "p95_s": round(self.pct(95), 2),
            "median_retrieval_s": self.med("retrieval_s"),
            "median_generation_s": self.med("generation_s"),
            "median_prompt_tokens": self.med("prompt_tokens"),
            "median_completion_tokens": self.med("completion_tokens"),
            "dropped": self.dropped,
            "duplicates": self.duplicates,
            "feedback_rows": self.db_rows,
        }


def start_workers(env: dict[str, str], n: int, log: Path) -> subprocess.Popen:
    from workers.runner import spawn_workers

    return spawn_workers(env, processes=n, log=log, timeout_s=120)


def stop_workers(proc: subprocess.Popen) -> None:
    from specbot.process import stop_group

    stop_group(proc, timeout_s=60)


def asker(level: Level, conn: Any, stop_at: float, lock: threading.Lock, idx: int, timeout_s: float) -> None:
    from rq.job import JobStatus

    from specbot.contracts import QuestionJob, enqueue_question, fetch_job

    i = idx
    while time.monotonic() < stop_at:
        q = QUESTIONS[i % len(QUESTIONS)]
        i += 1
        t0 = time.monotonic()
        job = enqueue_question(conn, QuestionJob(question=q, user=f"bench-{idx}"))
        with lock:
            level.jobs.append(job.id)
        deadline = t0 + timeout_s
        while time.monotonic() < deadline:
            status = job.get_status(refresh=True)
            if status == JobStatus.FINISHED:
                dt = time.monotonic() - t0
                result = fetch_job(conn, job.id).return_value() or {}
                with lock:
                    if result.get("error"):
                        level.errors += 1
                    else:
                        level.latencies.append(dt)
                        level.timings.append(result.get("timings") or {})
                        if not result.get("sources"):
                            level.no_answer += 1
                break
            if status == JobStatus.FAILED:
                with lock:
                    level.errors += 1
                break
            time.sleep(0.05)
        else:
            with lock:
                level.errors += 1


def check_integrity(level: Level, conn: Any, log: Path, db_url: str) -> None:
    """Dropped: asked but no stored answer. Duplicates: more than one final execution per job."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from feedback.models import Answer
    from feedback.store import get_engine
    from workers.jobs import ANSWERED

    asked = set(level.jobs)
    level.dropped = sum(1 for j in asked if not conn.exists(ANSWERED.format(j)))
    finals: Counter[str] = Counter()
    for line in log.read_text(errors="replace").splitlines():
        if '"question_finished"' not in line:
            continue
        with suppress(json.JSONDecodeError):
            rec = json.loads(line)
            if rec.get("outcome") != "retry" and rec.get("question_id") in asked:
                finals[rec["question_id"]] += 1
    level.duplicates = sum(1 for n in finals.values() if n > 1)
    level.dropped = max(level.dropped, len(asked - set(finals)))
    with Session(get_engine(db_url)) as db:
        rows = db.execute(
            select(Answer.job_id, func.count()).where(Answer.job_id.in_(asked)).group_by(Answer.job_id)
        ).all()
    level.db_rows = sum(n for _, n in rows)
    level.duplicates = max(level.duplicates, sum(1 for _, n in rows if n > 1))


def run_level(env: dict[str, str], askers: int, workers: int, duration: float, tmp: Path, progress: Any) -> Level:
    import redis

    from specbot.settings import reset_settings

    level = Level(askers, workers, duration)
    log = tmp / f"workers-{workers}w-{askers}a.log"
    conn = redis.Redis.from_url(env["REDIS_URL"])
    proc = start_workers(env, workers, log)
    reset_settings()
    task = progress.add_task(f"{askers:>2} askers, {workers} workers", total=duration)
    lock = threading.Lock()
    t0 = time.monotonic()
    stop_at = t0 + duration
    threads = [
        threading.Thread(target=asker, args=(level, conn, stop_at, lock, i, 600.0), daemon=True) for i in range(askers)
    ]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        progress.update(task, completed=min(duration, time.monotonic() - t0), description=_desc(level))
        time.sleep(0.5)
    level.wall_s = time.monotonic() - t0
    progress.update(task, completed=duration, description=_desc(level))
    stop_workers(proc)
    check_integrity(level, conn, log, env["DATABASE_URL"])
    return level


def _desc(level: Level) -> str:
    return f"{level.askers:>2} askers, {level.workers} workers: {level.answered} answered"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--askers", default="1,4,16", help="concurrent askers per level (comma separated)")
    p.add_argument("--workers", type=int, default=4, help="worker processes for the latency levels")
    p.add_argument("--scale", default="2,4", help="worker counts compared at the top asker level")
    p.add_argument("--duration", type=float, default=45.0, help="seconds of asking per level")
    p.add_argument("--max-tokens", type=int, default=64, help="LLM_MAX_TOKENS for the answers")
    p.add_argument("--llm-url", default=os.environ.get("LLM_BASE_URL") or "http://127.0.0.1:8011/v1")
    p.add_argument("--redis-db", type=int, default=int(os.environ.get("SPECBOT_BENCH_REDIS_DB", "6")))
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    a = p.parse_args(argv)

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    console = Console(stderr=True)
    tmp = Path(tempfile.mkdtemp(prefix="specbot-load-"))
    data = tmp / "data"
    env = {
        **os.environ,
        "REDIS_URL": f"redis://127.0.0.1:6379/{a.redis_db}",
        "SPECBOT_DATA_DIR": str(data),
        "DATABASE_URL": f"sqlite:///{data / 'feedback.db'}",
        "LLM_BASE_URL": a.llm_url,
        "LLM_MAX_TOKENS": str(a.max_tokens),
        "METRICS_PORT": "0",  # any free port: several groups may share this host
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
    }
    os.environ.update({k: env[k] for k in ("REDIS_URL", "SPECBOT_DATA_DIR", "DATABASE_URL", "LLM_BASE_URL")})

    import redis

    from indexer.pipeline import index_paths
    from specbot.sample_spec import SAMPLE_NAME, make_sample_spec
    from specbot.settings import reset_settings

    reset_settings()
    conn = redis.Redis.from_url(env["REDIS_URL"])
    conn.flushdb()
    spec = make_sample_spec(tmp / "specs" / SAMPLE_NAME)
    index_paths([spec], progress=False)

    askers = [int(x) for x in a.askers.split(",") if x]
    scale = sorted({int(x) for x in a.scale.split(",") if x})
    plan = [(n, a.workers) for n in askers]
    top = max(askers)
    plan += [(top, w) for w in scale if (top, w) not in plan]
    console.print(f"[bold]load[/]: {len(plan)} levels x {a.duration:.0f}s against {a.llm_url}, data in {tmp}")

    results: dict[tuple[int, int], Level] = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console) as progress:
        for n, w in plan:
            conn.flushdb()
            results[(n, w)] = run_level(env, n, w, a.duration, tmp, progress)

    table = Table(title="specbot load (one host)")
    for col in ("askers", "workers", "asked", "answered", "qpm", "p50 s", "p95 s", "gen p50 s", "dropped", "dupes"):
        table.add_column(col, justify="right")
    for lv in results.values():
        s = lv.summary()
        keys = ("askers", "workers", "asked", "answered", "qpm", "p50_s", "p95_s", "median_generation_s")
        table.add_row(*(str(s[k]) for k in (*keys, "dropped", "duplicates")))
    console.print(table)
    report: dict[str, Any] = {"llm_url": a.llm_url, "duration_s": a.duration, "max_tokens": a.max_tokens}
    report["levels"] = [lv.summary() for lv in results.values()]
    if len(scale) >= 2:
        lo, hi = results[(top, scale[0])], results[(top, scale[-1])]
        ratio = hi.qpm() / lo.qpm() if lo.qpm() else float("nan")
        report["scaling"] = {"askers": top, "workers": [scale[0], scale[-1]], "qpm_ratio": round(ratio, 2)}
        console.print(f"scaling at {top} askers: {scale[0]} -> {scale[-1]} workers = x{ratio:.2f} questions/min")
    bad = sum(lv.dropped + lv.duplicates for lv in results.values())
    report["dropped_total"] = sum(lv.dropped for lv in results.values())
    report["duplicates_total"] = sum(lv.duplicates for lv in results.values())
    a.out.mkdir(parents=True, exist_ok=True)
    out = a.out / f"load-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(json.dumps(report, indent=2, ensure_ascii=False))
    console.print(f"report: {out}")
    conn.flushdb()
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
