"""Where an answer goes: nowhere extra (CLI reads the job result) or a Slack thread.

A delivery is created per job attempt; Slack state lives in Redis so that a
retried attempt edits the same message instead of posting a second one.
"""

from __future__ import annotations

from typing import Any, Protocol

import redis


class Delivery(Protocol):
    def update(self, partial: str) -> None: ...

    def finish(self, result: dict[str, Any]) -> str | None: ...

    def notice(self, text: str) -> None: ...

    def fail(self, text: str) -> None: ...


class NullDelivery:
    """CLI and tests: the job result is the delivery."""

    def update(self, partial: str) -> None:
        pass

    def finish(self, result: dict[str, Any]) -> str | None:
        return None

    def notice(self, text: str) -> None:
        pass

    def fail(self, text: str) -> None:
        pass


def make_delivery(payload: dict[str, Any], conn: redis.Redis, job_id: str) -> Delivery:
    if payload.get("channel"):
        from workers.slack_delivery import SlackDelivery

        return SlackDelivery(payload, conn, job_id)
    return NullDelivery()
