"""What LLM re-ranking (RERANK) and multi-query (MULTI_QUERY) gain on the golden set.

    SPECBOT_DATA_DIR=<index> LLM_BASE_URL=<server> .venv/bin/python bench/llm_stages.py [--limit N]

Hybrid search alone vs the same with each stage, on the Korean questions about English
documents (lang "ko-en", the ones multi-query is for) and, for re-ranking, on all
languages; recall@1, recall@5 and MRR with indexer.eval. Meant for the production model:
with the local SmolLM2-135M on CPU it measures the plumbing's cost more than any gain.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from indexer.eval import load_golden, rank_of, score  # noqa: E402
from indexer.search import search  # noqa: E402
from indexer.store import open_index  # noqa: E402
from specbot.settings import get_settings  # noqa: E402
from workers.llm import LLMClient  # noqa: E402
from workers.retrieve import retrieve  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--golden", default=str(Path(__file__).with_name("golden.jsonl")))
    ap.add_argument("--limit", type=int, default=10)
    ap.add_argument("--depth", type=int, default=10)
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    idx = open_index()
    docs = {d.doc for d in idx.list_documents()}
    gold = [q for q in load_golden(a.golden) if q.doc in docs]
    koen = [q for q in gold if q.lang == "ko-en"][: a.limit]
    mixed = gold[:: max(1, len(gold) // a.limit)][: a.limit]
    s = get_settings()
    client = LLMClient(s)

    def fn(q: str, k: int, doc: str | None) -> list:
        return search(q, k=k, doc=doc, index=idx)

    def run(qs: list, **flags: object) -> dict:
        st = s.model_copy(update={"multi_query": False, "rerank": False, "rerank_depth": a.depth, **flags})
        t0 = time.perf_counter()
        ranks = [rank_of(retrieve(q.question, k=10, settings=st, client=client, search_fn=fn), q) for q in qs]
        return {**score(ranks), "s_per_q": round((time.perf_counter() - t0) / max(1, len(qs)), 2)}

    res = {
        "model": s.llm_model,
        "ko-en": {"hybrid": run(koen), "multi_query": run(koen, multi_query=True)},
        "mixed": {"hybrid": run(mixed), "rerank": run(mixed, rerank=True)},
    }
    print(json.dumps(res, indent=1))
    if a.out:
        Path(a.out).write_text(json.dumps(res, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
