"""Nothing lost when the feedback database is down: an answer's record and the
votes on it wait in the real RQ "feedback" queue, and land once the database is back.

The outage is a real PostgreSQL database that does not exist yet (created by the
test mid-way, dropped afterwards): the server itself stays up for everyone else.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.orm import Session

from specbot.contracts import SERIALIZER, AnswerResult, ChatMessage, QuestionJob, VoteEvent
from tests.conftest import TEST_PG_URL

ASKER, VOTER = "U0ASKER01", "U0VOTER01"
ANSWER_TS = "1700000500.000100"
RETRIES = 30  # FEEDBACK_RETRIES' default


def _admin() -> Engine:
    return create_engine(TEST_PG_URL, isolation_level="AUTOCOMMIT")


@pytest.fixture
def missing_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Callable[[], None]]]:
    """DATABASE_URL names a database that does not exist yet; the second item creates it."""
    from feedback.store import engine_for
    from specbot.settings import reset_settings

    base, _, dbname = TEST_PG_URL.rpartition("/")
    name = f"{dbname.split('?')[0]}_outage_{uuid.uuid4().hex[:8]}"  # test_h9_outage_…: ours alone
    url = f"{base}/{name}?connect_timeout=5"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("FEEDBACK_RETRY_INTERVALS", "1")
    reset_settings()
    admin = _admin()

    def create() -> None:
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))

    try:
        yield url, create
    finally:
        engine_for.cache_clear()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def question() -> QuestionJob:
    return QuestionJob(
        question="What is the maximum pedal force?",
        source="mention",
        user=ASKER,
        team="T1",
        channel="C1",
        ts="1700000400.000100",
        thread_ts="1700000400.000100",
    )


def result() -> AnswerResult:
    return AnswerResult(
        answer="500 N (3.1).",
        message_ts=ANSWER_TS,
        model="smol",
        messages=(ChatMessage(role="system", content="Answer."), ChatMessage(role="user", content="q")),
    )


def run_until(conn: redis.Redis, done: Callable[[], bool], timeout: float = 60) -> None:
    """Run a burst worker (with the scheduler, which moves due retries back to the queue) until `done`."""
    from rq import SimpleWorker

    from specbot.contracts import feedback_queue

    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "not within the time limit"
        SimpleWorker([feedback_queue(conn)], connection=conn, serializer=SERIALIZER).work(
            burst=True, with_scheduler=True
        )
        time.sleep(0.2)


def test_answer_record_and_vote_wait_out_a_database_outage(
    redis_url: str, missing_database: tuple[str, Callable[[], None]]
) -> None:
    from rq.job import JobStatus

    from feedback.models import Answer, Vote
    from feedback.recording import record_or_queue
    from feedback.store import get_engine, hash_user
    from specbot.contracts import enqueue_vote, fetch_job

    conn = redis.Redis.from_url(redis_url)
    # The worker has delivered the answer; the database is not there.
    rec_job = record_or_queue(conn, "ans-outage-1", question(), result())
    assert rec_job is not None, "the record must be queued, not dropped"
    vote_job = enqueue_vote(
        conn,
        VoteEvent(team="T1", channel="C1", message_ts=ANSWER_TS, user=VOTER, reaction="+1", added=True, value=1,
                  event_id="EvOut1", event_ts="1700000600.000100"),
    )  # fmt: skip
    assert vote_job is not None

    def failed_once(jid: str) -> bool:
        j = fetch_job(conn, jid)
        # RQ counts down retries_left after each failed attempt.
        return j.get_status(refresh=True) == JobStatus.SCHEDULED and (j.retries_left or 0) < RETRIES

    run_until(conn, lambda: failed_once(rec_job.id) and failed_once(vote_job.id))

    _, create = missing_database
    create()  # the database is back
    run_until(
        conn,
        lambda: all(fetch_job(conn, j.id).get_status(refresh=True) == JobStatus.FINISHED for j in (rec_job, vote_job)),
    )
    with Session(get_engine()) as db:
        (ans,) = db.scalars(select(Answer)).all()
        (vote,) = db.scalars(select(Vote)).all()
    assert (ans.job_id, ans.answer, ans.message_ts) == ("ans-outage-1", "500 N (3.1).", ANSWER_TS)
    assert [m["role"] for m in ans.messages] == ["system", "user"]  # the prompt survived for training
    assert ans.asker == hash_user(ASKER)
    assert (vote.answer_id, vote.value, vote.voter) == (ans.id, 1, hash_user(VOTER))


def test_record_goes_straight_to_the_database_when_it_is_up(redis_url: str) -> None:
    from feedback.models import Answer
    from feedback.recording import record_or_queue
    from feedback.store import get_engine

    conn = redis.Redis.from_url(redis_url)
    assert record_or_queue(conn, "ans-up-1", question(), result()) is None  # nothing queued
    with Session(get_engine()) as db:
        assert [a.job_id for a in db.scalars(select(Answer))] == ["ans-up-1"]


def test_a_later_slim_record_does_not_erase_the_prompt(redis_url: str) -> None:
    """A retried answer job re-records from its slim exactly-once marker (no prompt, no hits):
    the row keeps what the first record wrote."""
    from feedback.models import Answer
    from feedback.store import get_engine, record_answer

    record_answer("ans-slim-1", question(), result())
    slim = AnswerResult(answer="500 N (3.1).", message_ts=ANSWER_TS)
    record_answer("ans-slim-1", question(), slim)
    with Session(get_engine()) as db:
        (ans,) = db.scalars(select(Answer)).all()
    assert len(ans.messages) == 2 and ans.model == "smol"
