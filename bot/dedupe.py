"""Exactly once for Slack events: each event_id is handled once.

Slack retries an event it thinks we missed (HTTP: X-Slack-Retry-Num; Socket
Mode: retry_attempt, which Bolt mirrors into the same header). The claim is a
Redis SET NX with a TTL, so it holds across bot restarts and several bot
processes; a small in-process memory still catches retries while Redis is down.

A claim starts short (`PENDING_S`): if the bot dies before the question is queued
(and so before its ack), Slack's next retry (about 1 minute, then 5) finds the claim
gone and the question is handled. Once the job is queued the claim is confirmed for
the full TTL; when queueing fails the claim is released at once.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from threading import Lock

import redis

log = logging.getLogger("specbot.bot")
KEY = "specbot:event:{}"
# Shorter than Slack's first timed retry (~1 min after a missed ack), longer than any ack.
PENDING_S = 30


class EventDeduper:
    def __init__(self, get_conn: Callable[[], redis.Redis], ttl_s: int, memory: int = 10_000) -> None:
        self._get_conn = get_conn
        self.ttl_s = ttl_s
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._memory = memory
        self._lock = Lock()

    def first_time(self, event_id: str) -> bool:
        """True the first time an event_id is seen (this caller handles it)."""
        with self._lock:
            if event_id in self._seen:
                return False
            self._seen[event_id] = None
            if len(self._seen) > self._memory:
                self._seen.popitem(last=False)
        try:
            return bool(self._get_conn().set(KEY.format(event_id), "1", nx=True, ex=min(PENDING_S, self.ttl_s)))
        except Exception as e:  # Redis errors and anything else alike
            # Fail open: the listener reports the outage to the user; the derived
            # job ID still prevents a second answer once Redis is back.
            log.warning("event dedupe without Redis (%s)", type(e).__name__)
            return True

    def confirm(self, event_id: str) -> None:
        """The event's work is done (its job is queued): hold the claim for the full TTL."""
        try:
            self._get_conn().expire(KEY.format(event_id), self.ttl_s)
        except Exception as e:  # the short claim and the derived job ID still hold
            log.warning("event claim not extended (%s)", type(e).__name__)

    def release(self, event_id: str) -> None:
        """Queueing failed: forget the event, so that a redelivery of it is handled."""
        with self._lock:
            self._seen.pop(event_id, None)
        try:
            self._get_conn().delete(KEY.format(event_id))
        except Exception as e:  # then the short pending TTL releases it
            log.warning("event claim not released (%s)", type(e).__name__)
