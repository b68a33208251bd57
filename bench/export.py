"""Feedback export throughput for 100k votes, against a raw-SQL baseline.

    .venv/bin/python bench/export.py [--votes 100000] [--db URL]

Fills a fresh database (SQLite in a temp dir by default; --db for PostgreSQL,
tables live in a throw-away schema) with 20k answers, 5 votes each (some
retracted, some changed, some non-vote emoji) and a correction on every tenth
answer, created through the Alembic migration like production. Then times:

- baseline: a raw DBAPI SELECT of the same answer/vote/correction rows, fetched
  into Python (no net-vote logic, no JSON) — the floor for any export;
- `feedback.export.export()` for KTO, DPO and SFT (votes/s and rows/s).

Reported as votes/s and as the ratio export time / baseline time, same run.
Writes bench/results/export.json.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert, text  # noqa: E402

from feedback.export import export  # noqa: E402
from feedback.models import Answer, Correction, Vote  # noqa: E402
from feedback.store import migrate  # noqa: E402

RESULTS = Path(__file__).with_name("results")
VOTES_PER_ANSWER = 5
EMOJI = ["+1", "-1", "thumbsup", "thumbsdown", "white_check_mark", "x", "eyes"]
VALUE = {"+1": 1, "thumbsup": 1, "white_check_mark": 1, "-1": -1, "thumbsdown": -1, "x": -1}


def fill(eng, n_votes: int, seed: int = 0) -> dict[str, int]:
    rnd = random.Random(seed)
    n_answers = n_votes // VOTES_PER_ANSWER
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    system = {"role": "system", "content": "You answer questions about specification documents. Cite sections. " * 4}
    answers, votes, corrections = [], [], []
    for i in range(n_answers):
        qid = i % 4000  # ~5 answers per question: DPO pairs answers with opposite votes
        q = f"What does section {qid}.{qid % 7}.{qid % 3} require for signal S{qid}?"
        ctx = f"[{qid}.{qid % 7}] Requirement REQ-{qid:05d}: the ECU shall ... " * 6
        answers.append({
            "id": i + 1, "job_id": f"job-{i}", "team": "T1", "channel": "C1", "message_ts": f"{1.7e9 + i:.6f}",
            "question": q, "messages": [system, {"role": "user", "content": f"Context:\n{ctx}\n\nQuestion: {q}"}],
            "answer": f"Section {i % 4000}.{i % 7} requires the signal within {rnd.randint(1, 100)} ms.",
            "hits": [{"doc": f"spec{qid % 20}.docx", "section": f"{qid}.{qid % 7}"}], "model": "smol",
            "timings": {}, "created_at": t0 + timedelta(minutes=i),
        })  # fmt: skip
        for v in range(VOTES_PER_ANSWER):
            e = rnd.choice(EMOJI)
            added = t0 + timedelta(minutes=i, seconds=v)
            votes.append({
                "answer_id": i + 1, "voter": f"u_{rnd.randrange(300):04d}_{v}", "emoji": e, "value": VALUE.get(e),
                "added_at": added, "removed_at": added + timedelta(seconds=30) if rnd.random() < 0.1 else None,
            })  # fmt: skip
        if i % 10 == 0:
            corrections.append({
                "answer_id": i + 1, "author": "u_fix", "text": f"Corrected: {rnd.randint(1, 100)} ms (REQ-{i:05d}).",
                "created_at": t0 + timedelta(minutes=i, seconds=50), "event_id": f"ev-{i}",
            })  # fmt: skip
    with eng.begin() as c:
        for table, rows in ((Answer.__table__, answers), (Vote.__table__, votes), (Correction.__table__, corrections)):
            for k in range(0, len(rows), 5000):
                c.execute(insert(table), rows[k : k + 5000])
    return {"answers": len(answers), "votes": len(votes), "corrections": len(corrections)}


# The rows export() reads, fetched raw (strings, no JSON or datetime decoding, no logic).
BASELINE_SQL = [
    "SELECT id, question, messages, answer, model, created_at FROM answers ORDER BY id",
    "SELECT answer_id, voter, value, added_at, removed_at FROM votes WHERE removed_at IS NULL AND value IS NOT NULL",
    "SELECT answer_id, text FROM corrections ORDER BY created_at, id",
]


def baseline(eng) -> float:
    t = time.perf_counter()
    with eng.connect() as c:
        cur = c.connection.cursor()
        for sql in BASELINE_SQL:
            cur.execute(sql)
            cur.fetchall()
        cur.close()
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--votes", type=int, default=100_000)
    ap.add_argument("--db", help="database URL (default: SQLite in a temp dir)")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="specbot-bench-export-"))
    schema = None
    if a.db:
        schema = "bench_export_" + uuid.uuid4().hex[:8]
        admin = create_engine(a.db)
        with admin.begin() as c:
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{a.db}{'&' if '?' in a.db else '?'}options=-csearch_path%3D{schema}"
    else:
        url = f"sqlite:///{tmp / 'bench.db'}"
    eng = create_engine(url)
    try:
        migrate(eng)
        t = time.perf_counter()
        counts = fill(eng, a.votes)
        fill_s = time.perf_counter() - t
        print(f"filled {counts} in {fill_s:.1f}s ({eng.dialect.name})", file=sys.stderr)
        base = min(baseline(eng) for _ in range(a.repeat))
        res: dict[str, object] = {
            "db": eng.dialect.name, **counts,
            "baseline_raw_select_s": round(base, 3),
            "baseline_votes_per_s": round(counts["votes"] / base),
            "formats": {},
        }  # fmt: skip
        for fmt in ("kto", "dpo", "sft"):
            best, rep = float("inf"), None
            for _ in range(a.repeat):
                t = time.perf_counter()
                rep = export(fmt, tmp / f"{fmt}.jsonl", eng)
                best = min(best, time.perf_counter() - t)
            assert rep is not None
            res["formats"][fmt] = {  # type: ignore[index]
                "seconds": round(best, 3),
                "rows_written": rep.rows,
                "votes_per_s": round(counts["votes"] / best),
                "rows_per_s": round(rep.rows / best),
                "time_ratio_to_baseline": round(best / base, 2),
                "mb_written": round((tmp / f"{fmt}.jsonl").stat().st_size / 1e6, 1),
            }
            print(f"{fmt}: {res['formats'][fmt]}", file=sys.stderr)  # type: ignore[index]
        RESULTS.mkdir(exist_ok=True)
        name = "export.json" if not a.db else f"export_{eng.dialect.name}.json"
        (RESULTS / name).write_text(json.dumps(res, indent=2) + "\n")
        print(json.dumps(res, indent=2))
    finally:
        eng.dispose()
        if schema:
            with admin.begin() as c:
                c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
