"""What the listeners share, one per bot process: settings, Redis, limits, the thread pool.

Bolt hands it to every listener and middleware as `context["deps"]` (see
bot/listeners.py), so listeners are plain top-level functions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from threading import Condition
from typing import Any

import redis
from slack_bolt import BoltContext

from bot.dedupe import EventDeduper
from bot.ratelimit import RateLimiter
from specbot.settings import Settings

log = logging.getLogger("specbot.bot")


@dataclass
class Deps:
    settings: Settings
    get_conn: Callable[[], redis.Redis]
    # Event dedupe runs before the ack: a client with short timeouts keeps a hung
    # Redis from delaying Slack's HTTP 200 (default: get_conn).
    dedupe_conn: Callable[[], redis.Redis] | None = None
    limiter: RateLimiter = field(init=False)
    deduper: EventDeduper = field(init=False)
    emoji: dict[str, int] = field(init=False)
    # Threads doing the work after the ack (Web API calls, Redis); Slack's own
    # rate limits keep this small pool ahead of real traffic.
    pool_size: int = 16
    pool: ThreadPoolExecutor = field(init=False)
    # Work handed to the pool and not finished yet (wait_idle).
    _pending: int = field(init=False, default=0)
    _idle: Condition = field(init=False, default_factory=Condition)

    def __post_init__(self) -> None:
        s = self.settings
        self.limiter = RateLimiter(s.slack_rate_limit, s.slack_rate_window_s)
        self.deduper = EventDeduper(self.dedupe_conn or self.get_conn, s.slack_event_ttl_s)
        self.emoji = s.emoji_values  # parsed once: a bad FEEDBACK_EMOJI stops the bot at start
        self.pool = ThreadPoolExecutor(max_workers=self.pool_size, thread_name_prefix="specbot-listener")

    def later(self, fn: Callable[..., None], *args: Any) -> None:
        """Run fn after the ack. Cheaper than Bolt's lazy listeners (no deep copy of the request)."""

        def run() -> None:
            try:
                fn(*args)
            except Exception:  # the listener survives anything one event does
                log.exception("listener %s failed", getattr(fn, "__name__", fn))
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

        with self._idle:
            self._pending += 1
        self.pool.submit(run)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once every piece of acked work has finished (its reply posted, its job
        queued or refused). Requests already answered cannot add work after their ack,
        so this is the point after which nothing more happens for them."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def drain(self) -> None:
        """On shutdown: finish what was acked (queue it, or tell the user), take nothing new."""
        self.pool.shutdown(wait=True, cancel_futures=False)

    def allowed(self, team: str | None, channel: str | None) -> bool:
        teams, channels = self.settings.allowed_teams, self.settings.allowed_channels
        return (not teams or team in teams) and (not channels or channel in channels)

    def is_correction(self, text: str) -> bool:
        prefix = self.settings.slack_correction_prefix.strip().lower()
        return bool(prefix) and text.lower().startswith(prefix)

    def correction_body(self, text: str) -> str:
        return text[len(self.settings.slack_correction_prefix.strip()) :].strip()


def deps_of(context: BoltContext) -> Deps:
    deps = context["deps"]
    assert isinstance(deps, Deps), "bot.listeners.register() installs the deps middleware"
    return deps
