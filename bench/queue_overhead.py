"""Queue overhead: enqueue-to-start latency through RQ, LLM taken out of the path.

Baseline in the same run: a bare Redis list hand-off (LPUSH -> BRPOP in another
process), i.e. the floor any Redis queue pays. Reported as p50/p99 and a ratio.

    .venv/bin/python bench/queue_overhead.py [--n 300] [--redis redis://127.0.0.1:6379/12]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def _bare_consumer(url: str, n: int) -> None:
    c = redis.Redis.from_url(url)
    for _ in range(n):
        _, raw = c.brpop(["bench:bare"])
        c.rpush("bench:bare:lat", time.time() - float(raw))


def bare(url: str, n: int) -> list[float]:
    c = redis.Redis.from_url(url)
    c.delete("bench:bare", "bench:bare:lat")
    p = mp.get_context("fork").Process(target=_bare_consumer, args=(url, n))
    p.start()
    time.sleep(0.3)
    for _ in range(n):
        c.lpush("bench:bare", repr(time.time()))
        while c.llen("bench:bare"):
            time.sleep(0.001)
        time.sleep(0.002)
    p.join()
    return [float(x) for x in c.lrange("bench:bare:lat", 0, -1)]


def _rq_worker(url: str) -> None:
    from rq import Queue

    from specbot.contracts import SERIALIZER
    from workers.runner import SpecbotWorker

    c = redis.Redis.from_url(url)
    q = Queue("bench", connection=c, serializer=SERIALIZER)
    SpecbotWorker([q], connection=c, serializer=SERIALIZER).work(burst=False, logging_level="ERROR")


def rq_path(url: str, n: int) -> list[float]:
    from rq import Queue, Worker

    from specbot.contracts import SERIALIZER

    c = redis.Redis.from_url(url)
    q = Queue("bench", connection=c, serializer=SERIALIZER)
    p = mp.get_context("fork").Process(target=_rq_worker, args=(url,))
    p.start()
    while Worker.count(queue=q) == 0:
        time.sleep(0.1)
    # One job in flight at a time: this measures the per-job overhead, not a backlog.
    lat = []
    for _ in range(n):
        t = time.time()
        j = q.enqueue("bench.noop_jobs.started_at", t, result_ttl=600)
        while j.get_status(refresh=True) != "finished":
            time.sleep(0.002)
        lat.append(j.return_value() - t)
    p.terminate()
    p.join()
    return lat


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/12")
    a = ap.parse_args()
    redis.Redis.from_url(a.redis).flushdb()
    b = bare(a.redis, a.n)
    r = rq_path(a.redis, a.n)
    redis.Redis.from_url(a.redis).flushdb()
    print(f"queue overhead, enqueue-to-start, n={a.n}")
    print(f"  bare Redis list hand-off : p50 {pct(b, 50) * 1e3:7.2f} ms   p99 {pct(b, 99) * 1e3:7.2f} ms")
    print(f"  RQ (SpecbotWorker, fork) : p50 {pct(r, 50) * 1e3:7.2f} ms   p99 {pct(r, 99) * 1e3:7.2f} ms")
    mean_ratio = statistics.mean(r) / statistics.mean(b)
    print(f"  ratio RQ/bare            : p50 {pct(r, 50) / pct(b, 50):7.1f}x   mean {mean_ratio:.1f}x")


if __name__ == "__main__":
    main()
