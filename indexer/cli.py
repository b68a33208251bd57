"""CLI handlers for `index`, `sections` and `search`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from specbot.errors import SpecbotError


def format_report(r) -> str:  # FileReport, imported lazily
    line = (
        f"{r.status:9} {Path(r.path).name}  sections={r.sections} tables={r.tables} chunks={r.chunks} {r.seconds:.2f}s"
    )
    if r.error:
        line += f"  error: {r.error}"
    return "\n".join([line, *image_lines(r)])


def _n(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _names(names: list[str], most: int = 5) -> str:
    more = f", … (+{len(names) - most} more)" if len(names) > most else ""
    return ", ".join(names[:most]) + more


def image_lines(r) -> list[str]:
    """What OCR did and what went wrong with pictures, grouped by reason, names listed."""
    out: list[str] = []
    if getattr(r, "images", 0):
        done = f"  {_n(r.images, 'image')}: {_n(r.ocr_tables, 'table')} and {_n(r.ocr_texts, 'text')} read by OCR"
        out.append(done + (f" ({r.ocr_cached} from cache)" if r.ocr_cached else ""))
    if getattr(r, "ocr_skipped", ""):
        out.append(f"  warning: OCR skipped: {r.ocr_skipped}")
    low = getattr(r, "ocr_low_confidence", [])
    if low:
        out.append(f"  {_n(len(low), 'image')}: OCR confidence too low ({_names(low)})")
    groups: dict[str, list[str]] = {}
    for p in getattr(r, "image_problems", []):
        name, _, why = p.partition(": ")
        groups.setdefault(why, []).append(name)
    for why, names in groups.items():
        out.append(f"  {_n(len(names), 'image')}: {why} ({_names(names)})")
    return out


def run_index(a: argparse.Namespace, on_report: Callable[[Any], None] | None = None) -> int:
    """`on_report` sees each file's FileReport as it is done (the CLI records them for the Home tab)."""
    from indexer.pipeline import index_paths

    reports = index_paths(
        a.paths,
        progress=not a.json,
        force=getattr(a, "force", False),
        prune=getattr(a, "prune", False),
        on_report=on_report,
    )
    if a.json:
        print(json.dumps([r.to_json() for r in reports], ensure_ascii=False, indent=2))
    else:
        for r in reports:
            print(format_report(r))
    return index_exit_status(reports, keep_going=getattr(a, "keep_going", False))


# Exit statuses of `specbot index` (README, "Commands").
EXIT_FAILED = 1  # some file failed (without --keep-going)
EXIT_NOTHING_INDEXED = 3  # --keep-going, and not one file could be indexed


def index_exit_status(reports: list, keep_going: bool) -> int:  # list[FileReport]
    """0 when all is well. Without --keep-going any failed file makes it 1. With it, failed
    files are reported on stderr and the run still succeeds, so a one-shot indexer in a
    deployment does not hold the service back; 3 only when files were given and none of
    them is in the index (indexed now or unchanged)."""
    failed = [r for r in reports if r.status == "failed"]
    if not failed:
        return 0
    if not keep_going:
        return EXIT_FAILED
    files = [r for r in reports if r.status != "pruned"]
    names = ", ".join(Path(r.path).name for r in failed)
    if all(r.status == "failed" for r in files):
        noun = "file" if len(files) == 1 else "files"
        print(f"error: none of {len(files)} {noun} could be indexed: {names}", file=sys.stderr)
        return EXIT_NOTHING_INDEXED
    print(f"warning: {len(failed)} of {len(files)} files could not be indexed: {names}", file=sys.stderr)
    return 0


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


def run_eval(a: argparse.Namespace, answer_fn=None, guard=None) -> int:
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
            res["answers"] = evaluate_answers(golden, answer_fn, guard=guard)
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
