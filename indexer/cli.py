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
    return "\n".join([line, *image_lines(r)])


def _n(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _names(names: list[str], most: int = 5) -> str:
    more = f", … (+{len(names) - most} more)" if len(names) > most else ""
    return ", ".join(names[:most]) + more


def image_lines(r) -> list[str]:  # noqa: ANN001 - FileReport
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
