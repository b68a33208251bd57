"""What crosses the queue: one definition per payload, versioned, read the same way everywhere."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from specbot.contracts import (
    AnswerResult,
    ContractVersionError,
    CorrectionEvent,
    QuestionJob,
    VoteEvent,
    base_emoji,
)


def test_question_round_trips_through_the_wire_format() -> None:
    q = QuestionJob(
        question="What is 5.3.1?",
        source="mention",
        asked_at=1700000000.5,
        user="U1",
        team="T1",
        channel="C1",
        ts="1700000000.500000",
        thread_ts="1700000000.500000",
        history=({"role": "user", "content": "earlier"},),  # type: ignore[arg-type]
    )
    wire = q.to_wire()
    assert wire["version"] == 3 and wire["history"] == [{"role": "user", "content": "earlier"}]
    assert QuestionJob.from_wire(wire) == q


def test_an_old_unversioned_question_is_upgraded() -> None:
    # What the bot and the CLI queued before the contracts existed.
    old = {"question": "q", "user": "cli", "doc": None, "k": None, "history": None, "ts": None}
    q = QuestionJob.from_wire(old)
    assert q.version == 3 and q.source == "cli" and q.history == () and q.asked_at is None
    # Version 2 (before response_url and lang) upgrades too.
    v2 = QuestionJob.from_wire({"version": 2, "question": "q", "source": "command", "channel": "C1"})
    assert v2.version == 3 and v2.response_url is None and v2.lang is None and v2.channel == "C1"


def test_a_newer_payload_is_refused_not_misread() -> None:
    with pytest.raises(ContractVersionError, match="newer"):
        QuestionJob.from_wire({"version": 4, "question": "q", "new_field": 1})


def test_payloads_are_frozen_and_strict() -> None:
    q = QuestionJob(question="q")
    with pytest.raises(ValidationError):
        q.question = "other"
    with pytest.raises(ValidationError):
        QuestionJob.from_wire({"version": 3, "question": "q", "typo_feild": 1})


def test_old_vote_gets_its_value_from_the_emoji_map_once() -> None:
    v = VoteEvent.from_wire(
        {"team": "T", "channel": "C", "message_ts": "1.1", "user": "U", "reaction": "+1::skin-tone-4", "added": True}
    )
    assert (v.reaction, v.value) == ("+1", 1)
    other = VoteEvent.from_wire({"channel": "C", "message_ts": "1.1", "user": "U", "reaction": "tada", "added": True})
    assert other.value is None
    assert base_emoji(":thumbsdown::skin-tone-2") == "thumbsdown"


def test_answer_result_public_part_leaves_the_training_data_out() -> None:
    r = AnswerResult.from_wire(
        {
            "answer": "500 N",
            "sources": [{"doc": "d.docx", "section": "3.1", "title": "Pedal", "text": "…", "score": 0.9}],
            "hits": [{"doc": "d.docx", "section": "3.1", "title": "Pedal", "text": "…", "score": 0.9}],
            "messages": [{"role": "system", "content": "…"}],
            "timings": {"retrieval_s": 0.01, "total_s": 3},  # v1 timings carried unknown keys
        }
    )
    pub = r.public()
    assert set(pub) == {"version", "answer", "sources", "model", "timings", "error", "fallback", "message_ts"}
    assert pub["sources"][0]["section"] == "3.1" and pub["error"] is False
    assert AnswerResult.from_wire(pub).answer == "500 N"


def test_correction_needs_an_author_and_text() -> None:
    with pytest.raises(ValidationError):
        CorrectionEvent.from_wire({"version": 2, "team": "T", "channel": "C", "text": "better"})


def test_a_worker_refuses_a_newer_question_and_answers_nothing(redis_url: str) -> None:
    """Rolling deploy: an old worker meets a payload from a newer bot. The attempt
    fails loudly (RQ retries it, maybe on a new worker); nothing is misread."""
    import redis
    from rq import SimpleWorker

    from specbot.contracts import ANSWER_JOB, SERIALIZER, answers_queue

    conn = redis.Redis.from_url(redis_url)
    q = answers_queue(conn)
    job = q.enqueue(ANSWER_JOB, {"version": 4, "question": "q", "channel": None})
    SimpleWorker([q], connection=conn, serializer=SERIALIZER).work(burst=True)
    job.refresh()
    assert job.get_status() == "failed"
    assert "ContractVersionError" in (job.latest_result().exc_string or "")
