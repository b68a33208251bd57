"""Per-user rate limit on questions: a sliding window in a Redis sorted set.

Check and count happen in one Lua script, so questions arriving at the same
moment (listeners run in parallel threads, or several bot processes) cannot
all slip through.
"""

from __future__ import annotations

import time
import uuid

import redis

KEY = "specbot:rate:{team}:{user}"
# KEYS[1] = window set; ARGV = now, window_s, limit, member. Returns 0 (allowed)
# or the oldest counted question's time (refused; the caller computes the wait).
_SCRIPT = """
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, now - window)
if redis.call('ZCARD', KEYS[1]) >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return oldest[2]
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('EXPIRE', KEYS[1], math.ceil(window) + 5)
return 0
"""


class RateLimiter:
    def __init__(self, limit: int, window_s: int) -> None:
        self.limit = limit
        self.window_s = window_s

    def hit(self, conn: redis.Redis, team: str, user: str) -> float:
        """Count one question. Returns 0 when allowed, else seconds until the next one is.

        A refused question is not counted, so waiting always helps. Raises
        redis.RedisError when Redis is down (the caller tells the user).
        """
        if self.limit <= 0:
            return 0.0
        now = time.time()
        oldest = conn.eval(
            _SCRIPT, 1, KEY.format(team=team, user=user), repr(now), self.window_s, self.limit, uuid.uuid4().hex
        )
        if not oldest or oldest == b"0" or oldest == 0:
            return 0.0
        # Clamped: another thread may have counted a question stamped a moment after `now`.
        return min(float(self.window_s), max(0.5, float(oldest) + self.window_s - now))


def wait_text(seconds: float, lang: str | None = None) -> str:
    from specbot.i18n import t, wait_phrase

    return t("rate_wait", lang, when=wait_phrase(seconds, lang))
