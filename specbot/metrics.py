"""Prometheus metrics for bot and worker.

Metrics (all prefixed `specbot_`):
- `questions_received_total{source}`   bot: questions accepted from Slack (mention/command/dm) or the CLI.
- `questions_total{outcome}`           worker: answered | model_down | no_answer | error (final, after retries).
- `job_retries_total`                  worker: failed attempts that RQ will retry.
- `queue_wait_seconds`                 worker: enqueued -> picked up by a worker (last attempt).
- `retrieval_seconds`, `generation_seconds`: worker, from the answer's timings.
- `end_to_end_seconds`                 worker: QuestionJob.asked_at (Slack's event time) -> answer stored.
- `queue_length{queue}`                both: LLEN of the RQ list, read from Redis at scrape time.
- `workers`                            both: RQ workers registered on the answers queue, at scrape time.
- `votes_total{value,action}`          bot: reactions on answers: value up/down, action added/removed.

Several worker processes (`specbot worker -n N`) share one port through
prometheus_client's multiprocess mode: each process writes its samples to mmap
files in PROMETHEUS_MULTIPROC_DIR and the parent's HTTP server (METRICS_PORT)
merges them at scrape time. One port per process was the alternative; it makes
every scrape config (compose, k8s, KEDA) depend on N, so one port it is.

RQ forks a short-lived "work horse" per job. Recording inside the horse would
leave one set of mmap files per job (files are per PID and must outlive the
process to keep counters), so the long-lived worker process records instead,
right after the horse exits, from the job's stored result (`observe_job`).

The queue length is not a stored metric: a custom collector asks Redis on each
scrape, so it is right even when no worker is running (KEDA and alerts need that).
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

from specbot.contracts import ANSWER_JOB, ANSWERS_QUEUE, FEEDBACK_QUEUE, SERIALIZER, QuestionJob

log = logging.getLogger("specbot.metrics")
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
OUTCOMES = ("answered", "no_answer", "error")
# Seconds. Queue wait is usually ~0 but grows to minutes under backlog; generation
# with an 8B model is 1-30 s; end-to-end adds both.
_WAIT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
_FAST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_SLOW_BUCKETS = (0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300)

_lock = threading.Lock()
_metrics: dict[str, Any] = {}
_queue_collector_registered: set[int] = set()


# --- mode ---------------------------------------------------------------------
def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def enable_multiprocess(path: str | os.PathLike[str], wipe: bool = True) -> Path:
    """Switch this process (and the processes it forks) to multiprocess mode.

    Must run before the first metric is created. `wipe` removes samples of an
    earlier run (the directory belongs to one `specbot worker` group).
    """
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    if wipe:
        for f in glob.glob(str(p / "*.db")):
            with contextlib.suppress(FileNotFoundError):
                os.remove(f)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(p)
    # prometheus_client picks its value class at import time; it may have been
    # imported before the variable was set.
    values.ValueClass = values.MultiProcessValue()
    with _lock:
        _metrics.clear()
    return p


def process_dead(pid: int | None) -> None:
    """A worker of the pool exited: drop its live-only samples (multiprocess mode)."""
    if pid and multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def _m() -> dict[str, Any]:
    """The metric objects, created on first use (after the mode is chosen)."""
    with _lock:
        if not _metrics:
            # In multiprocess mode the files are scraped, not a registry.
            kw: dict[str, Any] = {"registry": None if multiprocess_dir() else REGISTRY}
            _metrics.update(
                received=Counter("specbot_questions_received", "Questions accepted", ["source"], **kw),
                refused=Counter("specbot_questions_refused", "Questions not queued, by reason", ["reason"], **kw),
                outcome=Counter("specbot_questions", "Questions finished, by outcome", ["outcome"], **kw),
                retries=Counter("specbot_job_retries", "Failed answer attempts that will be retried", **kw),
                queue_wait=Histogram(
                    "specbot_queue_wait_seconds", "Enqueued to picked up", buckets=_WAIT_BUCKETS, **kw
                ),
                retrieval=Histogram("specbot_retrieval_seconds", "Index search time", buckets=_FAST_BUCKETS, **kw),
                generation=Histogram("specbot_generation_seconds", "LLM generation time", buckets=_SLOW_BUCKETS, **kw),
                e2e=Histogram(
                    "specbot_end_to_end_seconds", "Question asked to answer stored", buckets=_WAIT_BUCKETS, **kw
                ),
                votes=Counter("specbot_votes", "Reactions on answers, by value", ["value", "action"], **kw),
            )
        return _metrics


# --- what bot and worker call -------------------------------------------------------
def question_received(source: str = "slack") -> None:
    """Bot: a question was accepted and queued."""
    _m()["received"].labels(source=source).inc()


def question_refused(reason: str) -> None:
    """Bot: a question was answered with a refusal instead of queued (e.g. "busy")."""
    _m()["refused"].labels(reason=reason).inc()


def vote(value: int | str | None, added: bool = True) -> None:
    """Bot: a reaction on an answer. `value` is the vote (+1/-1) or a name; removals count apart."""
    if isinstance(value, int | float):
        label = "up" if value > 0 else "down" if value < 0 else "neutral"
    else:
        label = str(value)[:32] if value else "none"
    _m()["votes"].labels(value=label, action="added" if added else "removed").inc()


def classify(result: dict[str, Any] | None) -> str:
    if not result or result.get("error"):
        return "error"
    if not result.get("sources"):
        return "no_answer"
    if result.get("fallback") == "model_down":
        # The model stayed down and a labelled quote answered: the asker was helped, but
        # an outage must show in the metrics. (A guard quote is an answer like any other.)
        return "model_down"
    return "answered"


def _epoch(dt: datetime | float | str | None) -> float | None:
    """RQ stores aware UTC datetimes; older jobs may carry naive ones (also UTC)."""
    if dt is None or dt == "":
        return None
    if isinstance(dt, int | float | str):
        return float(dt)
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


def _between(a: Any, b: Any) -> float | None:
    ta, tb = _epoch(a), _epoch(b)
    if ta is None or tb is None or tb < ta:
        return None
    return tb - ta


def observe_answer(result: dict[str, Any] | None, job: Any = None, outcome: str | None = None) -> str:
    """Record one finished question. `job` is the RQ job (for queue wait and end-to-end time)."""
    m = _m()
    outcome = outcome or classify(result)
    m["outcome"].labels(outcome=outcome).inc()
    timings = (result or {}).get("timings") or {}
    if timings.get("retrieval_s") is not None:
        m["retrieval"].observe(float(timings["retrieval_s"]))
    if timings.get("generation_s"):
        m["generation"].observe(float(timings["generation_s"]))
    if job is not None:
        wait = _between(getattr(job, "enqueued_at", None), getattr(job, "started_at", None))
        if wait is not None:
            m["queue_wait"].observe(wait)
        end = getattr(job, "ended_at", None) or datetime.now(UTC)
        e2e = _between(asked_at(job) or getattr(job, "created_at", None), end)
        if e2e is not None:
            m["e2e"].observe(e2e)
    return outcome


def asked_at(job: Any) -> float | None:
    """When the user asked (QuestionJob.asked_at: Slack's event time, or the CLI's clock).

    A payload from before the field existed has none; the job's creation time stands in.
    """
    try:
        return QuestionJob.from_wire(job.args[0]).asked_at
    except Exception:  # not a question, or unreadable: no start time
        return None


def observe_job(job: Any) -> str | None:
    """Worker process, after the work horse exited: record the job's outcome once.

    Returns the outcome recorded, "retry" for an attempt RQ will retry, or None
    for jobs that are not answers.
    """
    if getattr(job, "func_name", None) != ANSWER_JOB:
        return None
    from rq.job import JobStatus

    try:
        job.refresh()
        status = job.get_status(refresh=False)
    except Exception:  # result expired or Redis hiccup: nothing to record
        log.warning("could not read job %s for metrics", getattr(job, "id", "?"))
        return None
    result: dict[str, Any] = {}
    if status == JobStatus.FINISHED:
        result = job.return_value(refresh=True) or {}
        outcome = observe_answer(result, job)
    elif status == JobStatus.FAILED:
        outcome = observe_answer({"error": True}, job, outcome="error")
    else:
        # Scheduled or queued again: this attempt failed and RQ retries it.
        _m()["retries"].inc()
        outcome = "retry"
    # One line per attempt: the bench counts these per question_id to find double answers.
    timings = result.get("timings") or {}
    log.info(
        "question finished",
        extra={
            "event": "question_finished",
            "outcome": outcome,
            "retrieval_s": timings.get("retrieval_s"),
            "generation_s": timings.get("generation_s"),
        },
    )
    return outcome


# --- scrape-time collector ----------------------------------------------------------
class QueueCollector(Collector):
    """Queue length and worker count, read from Redis on every scrape."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url
        self._conn: Any = None

    def _connection(self) -> Any:
        if self._conn is None:
            import redis

            from specbot.redisconn import redis_url

            self._conn = redis.Redis.from_url(self.url or redis_url(), socket_connect_timeout=2, socket_timeout=5)
        return self._conn

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from rq import Queue, Worker

        length = GaugeMetricFamily("specbot_queue_length", "Jobs waiting in the RQ queue", labels=["queue"])
        workers = GaugeMetricFamily("specbot_workers", "RQ workers listening on the answers queue")
        up = GaugeMetricFamily("specbot_redis_up", "1 when Redis answered this scrape")
        try:
            conn = self._connection()
            for name in (ANSWERS_QUEUE, FEEDBACK_QUEUE):
                length.add_metric([name], Queue(name, connection=conn, serializer=SERIALIZER).count)
            answers = Queue(ANSWERS_QUEUE, connection=conn, serializer=SERIALIZER)
            workers.add_metric([], Worker.count(queue=answers))
            up.add_metric([], 1)
        except Exception as e:  # a scrape must still answer when Redis is down
            log.warning("queue length unavailable: %s", type(e).__name__)
            self._conn = None
            up.add_metric([], 0)
            yield up
            return
        yield length
        yield workers
        yield up


def registry(redis_url: str | None = None) -> CollectorRegistry:
    """The registry to expose: merged files in multiprocess mode, else the default one."""
    if multiprocess_dir():
        from prometheus_client import multiprocess

        reg = CollectorRegistry()
        multiprocess.MultiProcessCollector(reg)
        reg.register(QueueCollector(redis_url))
        return reg
    _m()
    with _lock:
        if id(REGISTRY) not in _queue_collector_registered:
            REGISTRY.register(QueueCollector(redis_url))
            _queue_collector_registered.add(id(REGISTRY))
    return REGISTRY


def render(reg: CollectorRegistry | None = None) -> tuple[bytes, str]:
    """Body and content type for a GET /metrics route (the bot's HTTP mode)."""
    return generate_latest(reg or registry()), CONTENT_TYPE


Health = Callable[[], dict[str, Any]]


def redis_health(redis_url: str | None = None) -> Health:
    """`/healthz` body of bot and worker: up (200) even while Redis is down, which the
    body reports (a restart would not bring Redis back; users get the outage reply)."""
    import redis

    from specbot.redisconn import redis_url as configured_url

    conn: list[redis.Redis] = []

    def health() -> dict[str, Any]:
        try:
            if not conn:
                conn.append(redis.Redis.from_url(redis_url or configured_url(), socket_connect_timeout=1,
                                                 socket_timeout=1))  # fmt: skip
            ok = bool(conn[0].ping())
        except Exception:  # any failure to reach Redis is "redis": false
            ok = False
        return {"ok": True, "redis": ok}

    return health


def ops_app(reg: CollectorRegistry, health: Health) -> Callable[..., Iterable[bytes]]:
    """The operations port (METRICS_PORT): `GET /metrics` and `GET /healthz`, 404 for the rest."""
    import json

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO"), environ.get("REQUEST_METHOD")
        if method in ("GET", "HEAD") and path == "/metrics":
            body, ctype = generate_latest(reg), CONTENT_TYPE
        elif method in ("GET", "HEAD") and path == "/healthz":
            body, ctype = json.dumps(health()).encode(), "application/json"
        else:
            start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "10")])
            return [b"not found\n"]
        start_response("200 OK", [("Content-Type", ctype), ("Content-Length", str(len(body)))])
        return [b"" if method == "HEAD" else body]

    return app


def start_worker_server(port: int | None = None, health: Health | None = None) -> int | None:
    """`specbot worker`: multiprocess mode plus one /metrics and /healthz server, before
    the processes fork.

    METRICS_PORT=0 picks a free port (logged); a negative port disables the server.
    """
    import atexit
    import shutil
    import tempfile

    from specbot.settings import get_settings

    port = get_settings().metrics_port if port is None else port
    path = multiprocess_dir()
    if path is None:
        path = tempfile.mkdtemp(prefix="specbot-metrics-")
        atexit.register(shutil.rmtree, path, True)
    enable_multiprocess(path, wipe=True)
    return _serve_or_log(port, "worker", health)


def start_bot_server(port: int | None = None, health: Health | None = None) -> int | None:
    """The bot's /metrics and /healthz on METRICS_PORT, in HTTP mode and in Socket Mode
    (never on the public Slack port). A taken port is logged, not fatal: the bot must
    keep answering.
    """
    from specbot.settings import get_settings

    port = get_settings().metrics_port if port is None else port
    return _serve_or_log(port, "bot", health)


def _serve_or_log(port: int, role: str, health: Health | None = None) -> int | None:
    """Serve /metrics and /healthz on `port` (negative: don't). A taken port is logged,
    not fatal: answering matters more than metrics, and on a dev host a second worker
    group often finds the port taken."""
    if port < 0:
        return None
    try:
        bound = serve(port, health=health)
    except OSError as e:
        log.error("cannot serve metrics on port %d (%s); set METRICS_PORT. Running without /metrics", port, e.strerror)
        return None
    log.warning("%s /metrics and /healthz on http://0.0.0.0:%d", role, bound)
    return bound


def serve(port: int, addr: str = "0.0.0.0", redis_url: str | None = None, health: Health | None = None) -> int:
    """Start the operations HTTP server in a daemon thread; returns the bound port.

    The standard library's threaded server, as prometheus_client's own: a scrape and a
    probe every few seconds from inside the network, not the public Slack traffic."""
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from prometheus_client.exposition import ThreadingWSGIServer

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    app = ops_app(registry(redis_url), health or redis_health(redis_url))
    server = make_server(addr, port, app, ThreadingWSGIServer, handler_class=Quiet)
    threading.Thread(target=server.serve_forever, name="specbot-ops", daemon=True).start()
    return int(server.server_address[1])
