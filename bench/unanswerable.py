"""Calibrate the "not in the documents" threshold (workers/retrieve.py).

    SPECBOT_DATA_DIR=<index with the shared specs> .venv/bin/python bench/unanswerable.py

Every golden question (bench/golden.jsonl, about the indexed documents) must count as
relevant; every off-topic question (bench/offtopic.jsonl: general knowledge, office
life, and automotive questions the shared specs do not cover) must not. For each
candidate threshold on the best vector similarity it prints the share of golden
questions wrongly declared unanswerable and the share of off-topic questions caught,
with the lexical rule and exact matches applied as in the worker.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from indexer.search import search  # noqa: E402
from indexer.store import open_index  # noqa: E402
from workers.retrieve import MIN_LEXICAL, relevance_signals, top_similarity  # noqa: E402

HERE = Path(__file__).parent


def signals(questions: list[dict], k: int) -> list[dict]:
    out = []
    for q in questions:
        hits = search(q["question"], k=k)
        exact, lexical, _, _ = relevance_signals(q["question"], hits)
        sim, _ = top_similarity(q["question"])  # always, for the table
        out.append({"id": q["id"], "lang": q.get("lang", "en"), "exact": exact, "lexical": lexical, "sim": sim})
    return out


def relevant(r: dict, t: float) -> bool:
    return r["exact"] or r["lexical"] >= MIN_LEXICAL or r["sim"] >= t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--golden", default=str(HERE / "golden.jsonl"))
    ap.add_argument("--offtopic", default=str(HERE / "offtopic.jsonl"))
    ap.add_argument("--limit", type=int, default=0, help="golden questions to use (0: all)")
    ap.add_argument("-k", type=int, default=6)
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    idx = open_index()
    docs = {d.doc for d in idx.list_documents()}
    idx.close()
    gold = [json.loads(x) for x in Path(a.golden).read_text(encoding="utf-8").splitlines() if x.strip()]
    if docs:
        gold = [q for q in gold if q["doc"] in docs]
    if a.limit:
        gold = gold[: a.limit]
    off = [json.loads(x) for x in Path(a.offtopic).read_text(encoding="utf-8").splitlines() if x.strip()]
    g, o = signals(gold, a.k), signals(off, a.k)
    rows = []
    print(f"{len(g)} golden questions (indexed docs), {len(o)} off-topic; lexical rule >= {MIN_LEXICAL}")
    print(f"{'threshold':>9} {'golden lost':>12} {'lost ko*':>9} {'off-topic caught':>17} {'caught ko':>10}")
    for t in [0.0, 0.76, 0.78, 0.79, 0.80, 0.81, 0.82, 0.83, 0.84, 0.85]:
        lost = [r for r in g if not relevant(r, t)]
        lost_ko = [r for r in lost if r["lang"].startswith("ko")]
        caught = [r for r in o if not relevant(r, t)]
        caught_ko = [r for r in caught if r["lang"] == "ko"]
        n_ko_g = sum(1 for r in g if r["lang"].startswith("ko")) or 1
        n_ko_o = sum(1 for r in o if r["lang"] == "ko") or 1
        row = {
            "threshold": t,
            "golden_lost": round(len(lost) / max(1, len(g)), 3),
            "golden_lost_ko": round(len(lost_ko) / n_ko_g, 3),
            "offtopic_caught": round(len(caught) / max(1, len(o)), 3),
            "offtopic_caught_ko": round(len(caught_ko) / n_ko_o, 3),
            "lost_ids": [r["id"] for r in lost],
        }
        rows.append(row)
        print(
            f"{t:9.2f} {row['golden_lost']:12.3f} {row['golden_lost_ko']:9.3f} {row['offtopic_caught']:17.3f} "
            f"{row['offtopic_caught_ko']:10.3f}"
        )
    sims_g = sorted(r["sim"] for r in g if not r["exact"] and r["lexical"] < MIN_LEXICAL)
    sims_o = sorted(r["sim"] for r in o if not r["exact"] and r["lexical"] < MIN_LEXICAL)
    if sims_g and sims_o:
        print(f"similarity, golden (not exact/lexical): min {sims_g[0]:.3f} p5 {sims_g[len(sims_g) // 20]:.3f}")
        print(f"similarity, off-topic: max {sims_o[-1]:.3f} median {sims_o[len(sims_o) // 2]:.3f}")
    if a.out:
        Path(a.out).write_text(json.dumps({"rows": rows, "golden": g, "offtopic": o}, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
