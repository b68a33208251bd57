"""`make bench`: every benchmark, one after the other; each prints its own ratio vs its baseline.

Add a benchmark by adding a line to BENCHES (script, arguments). A failing
benchmark is reported and the rest still run; the exit code says whether all passed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES: list[tuple[str, list[str]]] = [
    ("queue_overhead.py", []),
    ("ack_latency.py", []),
    ("parse.py", []),
    ("retrieval.py", []),
    ("search_latency.py", []),
    ("embedders.py", []),
    ("export.py", []),
    ("concurrency.py", []),
    ("load.py", []),
    # 1,000 questions at 5/s with faults: ~4-5 minutes.
    ("soak.py", []),
    ("train_speed.py", []),
    ("ocr.py", []),
    ("slack_actions.py", []),
]


def main(argv: list[str]) -> int:
    only = set(argv)  # `python bench/run_all.py parse.py retrieval.py` runs just those
    failed: list[str] = []
    for script, args in BENCHES:
        if only and script not in only:
            continue
        print(f"\n=== bench/{script} {' '.join(args)}".rstrip(), flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(HERE / script), *args])
        print(f"=== bench/{script}: exit {rc} after {time.perf_counter() - t0:.0f}s", flush=True)
        if rc != 0:
            failed.append(script)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
