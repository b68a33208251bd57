"""Retrieval quality on the golden set: recall@1, recall@5 and MRR per search mode.

    .venv/bin/python bench/retrieval.py [--specs ../shared/specs] [--embedder hash-ngram-384]

Indexes the shared specs into an embedded LanceDB under bench/results/ (unchanged
files are skipped on a rerun), asks every golden question in keyword, vector and
hybrid mode, and writes bench/results/retrieval.json. A hit counts when its doc and
section (as Word displays it) equal the expected ones.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from indexer.search import MODES, search  # noqa: E402
from indexer.store.lance import LanceIndex  # noqa: E402

GOLDEN = Path(__file__).with_name("golden.jsonl")
RESULTS = Path(__file__).with_name("results")
K = 5


def load_golden(path: Path = GOLDEN) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def build_index(specs: Path, data_dir: Path, embedder: str) -> LanceIndex:
    from indexer.pipeline import index_paths

    idx = LanceIndex(data_dir / "lancedb", embedder_name=embedder)
    reports = index_paths(sorted(specs.glob("*.docx")), index=idx, progress=True)
    for r in reports:
        print(f"  {r.status:9} {Path(r.path).name} chunks={r.chunks} {r.seconds:.1f}s", file=sys.stderr)
        if r.status == "failed":
            raise SystemExit(f"indexing failed: {r.path}: {r.error}")
    return idx


def rank_of(hits: list, q: dict) -> int | None:
    """1-based rank of the first hit in the expected doc and section."""
    want = {q["section"]} | set(q.get("also", []))
    for i, h in enumerate(hits, 1):
        if h.doc == q["doc"] and h.section in want:
            return i
    return None


def score(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks) or 1
    return {
        "recall@1": round(sum(1 for r in ranks if r == 1) / n, 3),
        "recall@5": round(sum(1 for r in ranks if r and r <= 5) / n, 3),
        "mrr": round(sum(1 / r for r in ranks if r) / n, 3),
        "n": len(ranks),
    }


def evaluate(idx, golden: list[dict], modes: tuple[str, ...] = MODES) -> dict:
    out: dict = {"modes": {}, "by_kind": {}, "misses": {}}
    for mode in modes:
        ranks: list[int | None] = []
        groups: dict[str, list[int | None]] = defaultdict(list)
        misses = []
        t0 = time.perf_counter()
        for q in golden:
            r = rank_of(search(q["question"], k=K, mode=mode, index=idx), q)
            ranks.append(r)
            groups[f"{q['kind']}/{q['lang']}"].append(r)
            if r != 1:
                misses.append({"id": q["id"], "rank": r})
        out["modes"][mode] = {**score(ranks), "ms_per_query": round(1000 * (time.perf_counter() - t0) / len(golden), 1)}
        out["by_kind"][mode] = {g: score(v) for g, v in sorted(groups.items())}
        out["misses"][mode] = misses
    return out


def missing_sections(idx, golden: list[dict]) -> list[str]:
    """Golden answers the index does not hold: a parser change renumbered or lost them."""
    out = []
    for q in golden:
        found = idx.exact_lookup([q["section"]], [], doc=q["doc"], k=1)
        if not found:
            out.append(f"{q['id']}: {q['doc']} § {q['section']}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--specs", type=Path, default=ROOT.parent / "shared" / "specs")
    ap.add_argument("--embedder", default="hash-ngram-768")
    ap.add_argument("--data", type=Path, default=None, help="index folder (default bench/results/index-<embedder>)")
    a = ap.parse_args()
    data = a.data or RESULTS / f"index-{a.embedder.replace(':', '_').replace('/', '_')}"
    idx = build_index(a.specs, data, a.embedder)
    golden = load_golden()
    missing = missing_sections(idx, golden)
    for m in missing:
        print(f"warning: golden section not in the index: {m}", file=sys.stderr)
    res = evaluate(idx, golden)
    res["missing_sections"] = missing
    res["embedder"] = a.embedder
    res["questions"] = len(golden)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "retrieval.json").write_text(json.dumps(res, indent=2, ensure_ascii=False))
    print(f"golden set: {len(golden)} questions, embedder {a.embedder}")
    print(f"{'mode':8} {'recall@1':>9} {'recall@5':>9} {'MRR':>6} {'ms/q':>6}")
    for mode, m in res["modes"].items():
        print(f"{mode:8} {m['recall@1']:9.3f} {m['recall@5']:9.3f} {m['mrr']:6.3f} {m['ms_per_query']:6.1f}")
    print("hybrid by kind/lang:")
    for g, m in res["by_kind"]["hybrid"].items():
        print(f"  {g:18} R@1 {m['recall@1']:.2f}  R@5 {m['recall@5']:.2f}  MRR {m['mrr']:.2f}  (n={m['n']})")


if __name__ == "__main__":
    main()
