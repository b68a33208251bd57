"""`specbot ask`: through the queue (default) or in-process (`--local`)."""

from __future__ import annotations

import json
import time

from rq import Worker
from rq.job import JobStatus

from specbot.contracts import AnswerResult, QuestionJob, answers_queue, enqueue_question
from specbot.errors import SpecbotError
from specbot.redisconn import connect
from specbot.settings import get_settings
from specbot.slack.formatting import where
from workers.jobs import ERROR, error_text, reason_for


def ask_local(question: QuestionJob) -> AnswerResult:
    """The same answer code as the worker's job, run in this process."""
    from workers.answer import answer_question
    from workers.llm import LLMBadRequest, LLMUnavailable, check_model

    check_model()
    try:
        return answer_question(question.question, doc=question.doc, k=question.k)
    except (LLMUnavailable, LLMBadRequest) as e:
        msg = reason_for(e) if isinstance(e, LLMUnavailable) else str(e)
        return AnswerResult.failure(error_text(msg))


def ask_queued(question: QuestionJob, timeout_s: float = 300.0, wait_for_worker_s: float = 3.0) -> AnswerResult:
    s = get_settings()
    conn = connect(s)
    q = answers_queue(conn, s)
    deadline = time.monotonic() + wait_for_worker_s
    while Worker.count(queue=q) == 0:
        if time.monotonic() > deadline:
            raise SpecbotError(
                f"no worker is listening on queue '{q.name}'; start one with `specbot worker` (same REDIS_URL)"
            )
        time.sleep(0.2)
    job = enqueue_question(conn, question, settings=s)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = job.get_status(refresh=True)
        if status == JobStatus.FINISHED:
            return AnswerResult.from_wire(job.return_value(refresh=True) or {"answer": ""})
        err = conn.get(ERROR.format(job.id))
        if err:
            return AnswerResult.from_wire(json.loads(err))
        time.sleep(0.1)
    raise SpecbotError(f"no answer within {timeout_s:.0f}s (job {job.id} is {job.get_status()})")


def render_text(result: AnswerResult) -> str:
    lines = [result.answer]
    if result.sources:
        lines.append("")
        lines.append("Sources:")
        lines += [f"  {where(h)}" for h in result.sources]
    return "\n".join(lines)
