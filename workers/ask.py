"""`specbot ask`: through the queue (default) or in-process (`--local`)."""

from __future__ import annotations

import json
import time
from typing import Any

from rq import Worker
from rq.job import JobStatus

from specbot.errors import SpecbotError
from specbot.settings import get_settings
from workers.jobs import ERROR, error_text, reason_for
from workers.queue import connect, enqueue_answer, get_queue


def ask_local(payload: dict[str, Any]) -> dict[str, Any]:
    """The same answer code as the worker's job, run in this process."""
    from workers.answer import answer_question
    from workers.llm import LLMBadRequest, LLMUnavailable, check_model

    check_model()
    try:
        r = answer_question(payload["question"], doc=payload.get("doc"), k=payload.get("k"))
    except (LLMUnavailable, LLMBadRequest) as e:
        msg = reason_for(e) if isinstance(e, LLMUnavailable) else str(e)
        return {"answer": error_text(msg), "sources": [], "error": True}
    return {k: r[k] for k in ("answer", "sources", "model") if k in r}


def ask_queued(payload: dict[str, Any], timeout_s: float = 300.0, wait_for_worker_s: float = 3.0) -> dict[str, Any]:
    s = get_settings()
    conn = connect(s)
    q = get_queue(conn, s)
    deadline = time.monotonic() + wait_for_worker_s
    while Worker.count(queue=q) == 0:
        if time.monotonic() > deadline:
            raise SpecbotError(
                f"no worker is listening on queue '{q.name}'; start one with `specbot worker` (same REDIS_URL)"
            )
        time.sleep(0.2)
    job = enqueue_answer(conn, payload, settings=s)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = job.get_status(refresh=True)
        if status == JobStatus.FINISHED:
            return job.return_value(refresh=True) or {}
        err = conn.get(ERROR.format(job.id))
        if err:
            return json.loads(err)
        time.sleep(0.1)
    raise SpecbotError(f"no answer within {timeout_s:.0f}s (job {job.id} is {job.get_status()})")


def render_text(result: dict[str, Any]) -> str:
    lines = [result.get("answer", "")]
    if result.get("sources"):
        lines.append("")
        lines.append("Sources:")
        for h in result["sources"]:
            # A section Word did not number shows just its title.
            where = f"§ {h['section']} {h['title']}".strip() if h["section"] else h["title"]
            lines.append(f"  {h['doc']} · {where}".rstrip(" ·"))
    return "\n".join(lines)
