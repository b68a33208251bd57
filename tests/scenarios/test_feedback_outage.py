"""Feedback database down while a question is answered: a real `specbot worker`
process answers into the (FAKE) Slack thread with the real model, the record
waits in the real RQ "feedback" queue, a 👍 on the answer arrives before the
record, the database comes back, and both land. Nothing is lost.

The outage is a PostgreSQL database that does not exist yet (tests/feedback/test_outage.py
`missing_database`), so the shared server stays up for everyone else.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.fakes.slack_fake import FakeSlack
from tests.feedback.test_outage import missing_database  # noqa: F401 - the fixture
from tests.workers_helpers import worker_process

pytestmark = pytest.mark.slow
ASKER, VOTER = "U0ASKER01", "U0VOTER01"


def wait(pred: Callable[[], object], timeout: float, what: str, log: Path) -> object:
    deadline = time.monotonic() + timeout
    while not (v := pred()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f}s\n{log.read_text()[-3000:]}"
        time.sleep(0.2)
    return v


def test_answer_during_database_outage_then_vote_both_land(
    indexed_sample: Path,
    llm_env: str,
    redis_url: str,
    missing_database: tuple[str, Callable[[], None]],  # noqa: F811
    tmp_path: Path,
) -> None:
    from rq.job import JobStatus

    from feedback.models import Answer, Vote
    from feedback.store import get_engine, hash_user
    from specbot.contracts import QuestionJob, VoteEvent, enqueue_question, enqueue_vote, fetch_job
    from workers.jobs import ANSWERED

    db_url, create_database = missing_database
    fake = FakeSlack().start()
    conn = redis.Redis.from_url(redis_url)
    log = tmp_path / "worker.log"
    env = {
        "LLM_BASE_URL": llm_env,
        "LLM_MAX_TOKENS": "48",
        "REDIS_URL": redis_url,
        "DATABASE_URL": db_url,
        "FEEDBACK_RETRY_INTERVALS": "1",
        "SPECBOT_DATA_DIR": os.environ["SPECBOT_DATA_DIR"],
        "SLACK_BOT_TOKEN": "xoxb-outage-test",
        "SLACK_API_URL": fake.url,
    }
    try:
        with worker_process(env, log=log):
            thread = "1700000400.000100"
            q = QuestionJob(question="What is the maximum brake pedal force?", source="mention", user=ASKER,
                            team="T1", channel="C0CHAN01", ts=thread, thread_ts=thread)  # fmt: skip
            job = enqueue_question(conn, q)
            wait(lambda: conn.get(ANSWERED.format(job.id)), 240, "answer", log)
            (post,) = [c for c in fake.of("chat.postMessage") if c.params.get("thread_ts") == thread]
            answer_ts = post.response["ts"]
            assert fake.messages[("C0CHAN01", answer_ts)]["text"], "the asker got the answer despite the outage"

            # The 👍 comes while the database is still missing: it fails and waits.
            vote = enqueue_vote(
                conn,
                VoteEvent(team="T1", channel="C0CHAN01", message_ts=answer_ts, user=VOTER, reaction="+1",
                          added=True, value=1, event_id="EvOutE2E", event_ts="1700000900.000100"),
            )  # fmt: skip
            assert vote is not None
            # RQ counts down retries_left (30 by default) after each failed attempt.
            wait(lambda: (fetch_job(conn, vote.id).retries_left or 0) < 30, 60, "vote attempt failed", log)

            create_database()  # the database is back

            def landed() -> bool:
                try:
                    with Session(get_engine()) as db:
                        return bool(db.scalars(select(Vote)).all())
                except Exception:  # the schema is being created by the worker right now
                    return False

            wait(landed, 90, "vote landed", log)
            assert fetch_job(conn, vote.id).get_status(refresh=True) == JobStatus.FINISHED
        with Session(get_engine()) as db:
            (ans,) = db.scalars(select(Answer)).all()
            (v,) = db.scalars(select(Vote)).all()
        assert (ans.job_id, ans.channel, ans.message_ts) == (job.id, "C0CHAN01", answer_ts)
        assert ans.messages and ans.messages[-1]["role"] == "user"  # the prompt, for training
        assert ans.asker == hash_user(ASKER)
        assert (v.answer_id, v.value, v.voter) == (ans.id, 1, hash_user(VOTER))
    finally:
        fake.stop()
