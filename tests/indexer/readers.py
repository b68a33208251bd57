"""Re-indexing under concurrent readers: the driver both stores' tests share.

Reader processes query in a loop, write how many queries they have made to their
progress file, stop when the flag file appears, and print a JSON summary last.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def queries_made(p: Path) -> int:
    try:
        return int(p.read_text() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def rewrite_while_reading(
    readers: list[subprocess.Popen[str]],
    progress: list[Path],
    flag: Path,
    revision: Callable[[int], None],
    more: int,
) -> tuple[int, list[tuple[dict[str, Any], str]]]:
    """Write revision 1, 2, … until every reader has made `more` queries meanwhile.

    Positive signals only: every reader has answered once before the writes start, and
    the writes go on until each reader has asked `more` times again. Returns the last
    revision written and each reader's (summary, stderr)."""
    try:
        while min(map(queries_made, progress)) < 1:
            assert all(p.poll() is None for p in readers), [p.communicate() for p in readers]
            time.sleep(0.05)
        goal = [queries_made(p) + more for p in progress]
        i = 0
        while any(queries_made(p) < g for p, g in zip(progress, goal, strict=True)):
            assert all(p.poll() is None for p in readers), [p.communicate() for p in readers]
            i += 1
            revision(i)
    finally:
        flag.touch()
    results = []
    for p in readers:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        results.append((json.loads(out.strip().splitlines()[-1]), err))
    return i, results
