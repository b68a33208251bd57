"""CLI handlers for `index`, `sections` and `search`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from specbot.errors import SpecbotError


def format_report(r) -> str:  # noqa: ANN001 - FileReport, imported lazily
    line = (
        f"{r.status:9} {Path(r.path).name}  sections={r.sections} tables={r.tables} chunks={r.chunks} {r.seconds:.2f}s"
    )
    if r.error:
        line += f"  error: {r.error}"
    return line


def run_index(a: argparse.Namespace) -> int:
    from indexer.pipeline import index_paths

    reports = index_paths(
        a.paths, progress=not a.json, force=getattr(a, "force", False), prune=getattr(a, "prune", False)
    )
    if a.json:
        print(json.dumps([r.to_json() for r in reports], ensure_ascii=False, indent=2))
    else:
        for r in reports:
            print(format_report(r))
    return 1 if any(r.status == "failed" for r in reports) else 0


def run_sections(a: argparse.Namespace) -> int:
    from indexer.docx_parser import parse_docx
    from indexer.errors import IndexError_

    try:
        sections = parse_docx(Path(a.file))
    except IndexError_ as e:
        raise SpecbotError(f"{a.file}: {e}") from None
    if a.json:
        print(json.dumps([s.to_json() for s in sections], ensure_ascii=False, indent=2))
    else:
        for s in sections:
            print(f"{'  ' * max(s.level - 1, 0)}{s.number} {s.title}".rstrip())
    return 0


def run_search(a: argparse.Namespace) -> int:
    from indexer.search import search

    hits = search(a.query, k=a.k, doc=a.doc, mode=a.mode)
    if a.json:
        print(json.dumps([h.to_json() for h in hits], ensure_ascii=False, indent=2))
    else:
        for h in hits:
            print(f"{h.score:.3f}  {h.doc} § {h.section} {h.title}")
    return 0


def run_eval(a: argparse.Namespace, answer_fn=None) -> int:  # noqa: ANN001 - AnswerFn from the caller
    """`specbot eval GOLDEN.jsonl`: retrieval scores per mode and language; --answers asks the bot too."""
    import sys

    from indexer.eval import GoldenError, evaluate, evaluate_answers, format_report, load_golden
    from indexer.search import MODES, search
    from indexer.store import open_index

    try:
        golden = load_golden(a.golden)
    except GoldenError as e:
        raise SpecbotError(str(e)) from None
    modes = [m.strip() for m in (a.modes or ",".join(MODES)).split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if bad:
        raise SpecbotError(f"unknown mode(s) {', '.join(bad)}; use {', '.join(MODES)}")
    idx = open_index()
    try:
        indexed = {d.doc for d in idx.list_documents()}
        skipped = sorted({q.doc for q in golden if q.doc not in indexed})
        if skipped:
            # Scoring a question whose document is not indexed would measure the index, not search.
            print(f"warning: not indexed, their questions are skipped: {', '.join(skipped)}", file=sys.stderr)
            golden = [q for q in golden if q.doc in indexed]
        if not golden:
            raise SpecbotError("none of the golden questions' documents is indexed: run `specbot index` first")
        res = evaluate(golden, lambda q, k, mode: search(q, k=k, mode=mode, index=idx), modes, k=a.k)
        res["skipped_docs"] = skipped
        if a.answers:
            if answer_fn is None:
                raise SpecbotError("--answers needs the answer workers (workers/), which are not available")
            res["answers"] = evaluate_answers(golden, answer_fn)
    finally:
        idx.close()
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(res, ensure_ascii=False, indent=2), encoding="utf-8")
    if a.json:
        print(json.dumps(res, ensure_ascii=False, indent=2))
    else:
        print(format_report(res))
    return 0
