"""Jobs with the LLM taken out of the path, for queue benchmarks."""

from __future__ import annotations

import time


def started_at(_enqueued: float) -> float:
    return time.time()
