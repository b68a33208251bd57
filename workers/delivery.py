"""Where an answer goes: nowhere extra (CLI reads the job result) or a Slack thread.

A delivery is created per job attempt; Slack state lives in Redis so that a
retried attempt edits the same message instead of posting a second one.
"""

from __future__ import annotations

from typing import Protocol

import redis

from specbot.contracts import AnswerResult, QuestionJob


class Delivery(Protocol):
    def update(self, partial: str) -> None: ...

    def finish(self, result: AnswerResult) -> str | None: ...

    def notice(self, text: str) -> None: ...

    def fail(self, text: str) -> None: ...


class NullDelivery:
    """CLI and tests: the job result is the delivery."""

    def update(self, partial: str) -> None:
        pass

    def finish(self, result: AnswerResult) -> str | None:
        return None

    def notice(self, text: str) -> None:
        pass

    def fail(self, text: str) -> None:
        pass


def make_delivery(question: QuestionJob, conn: redis.Redis, job_id: str) -> Delivery:
    if question.to_slack:
        from workers.slack_delivery import SlackDelivery

        return SlackDelivery(question, conn, job_id)
    return NullDelivery()
