"""Parsing benchmark over the shared specs.

1. Numbers as Word shows them: every heading we find, as "number title", is looked
   up in LibreOffice's text rendering of the same file (soffice --convert-to txt),
   which renders Word's automatic numbering. Reported: share that match.
2. Speed: paragraphs/s of our parser against docx2python on the same files in the
   same run (best of --repeat), as a ratio. Paragraph count is ours for both.
3. The 4 MB 3GPP TS 38.331 parsed in a fresh process: seconds and peak RSS.

    .venv/bin/python bench/parse.py [--specs ../shared/specs] [--repeat 3] [--no-oracle]

Writes bench/results/parse.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.memory import HWM_SRC, hwm  # noqa: E402
from bench.oracle import heading_matches, render_txt, soffice  # noqa: E402
from indexer.docx_parser import parse_document  # noqa: E402

BIG = "3gpp_ts38331_i40.docx"


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def docx2python_parse(path: Path) -> None:
    from docx2python import docx2python

    with docx2python(path) as r:
        _ = r.document  # the full nested text, tables included


def big_in_subprocess(path: Path) -> dict:
    code = (
        "import json, sys, time\n" + HWM_SRC + "from indexer.docx_parser import parse_document\n"
        "t = time.perf_counter(); r = parse_document(sys.argv[1]); dt = time.perf_counter() - t\n"
        "print(json.dumps({'seconds': dt, 'peak_rss_mb': hwm(),"
        " 'paragraphs': r.paragraphs, 'sections': len(r.sections)}))\n"
    )
    base = subprocess.run(
        [sys.executable, "-c", HWM_SRC + "import indexer.docx_parser; print(hwm())"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True, cwd=ROOT)
    res = json.loads(out.stdout)
    res["baseline_rss_mb"] = float(base.stdout)
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--specs", type=Path, default=ROOT.parent / "shared" / "specs")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-oracle", action="store_true", help="skip the LibreOffice comparison")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "parse.json")
    a = ap.parse_args()

    files = sorted(a.specs.glob("*.docx")) + sorted((a.specs / "fixtures").glob("*.docx"))
    if not files:
        print(f"no .docx files under {a.specs}", file=sys.stderr)
        return 2
    from rich.console import Console
    from rich.progress import track
    from rich.table import Table

    console = Console(width=max(Console().width, 140))
    rows: list[dict] = []
    lo_lines: dict[Path, list[str]] = {}
    if not a.no_oracle and soffice():
        with console.status("rendering with LibreOffice …"):
            t = time.perf_counter()
            lo_lines = render_txt(files, timeout=1800)
            console.print(f"LibreOffice rendered {len(files)} files in {time.perf_counter() - t:.1f}s")
    elif not a.no_oracle:
        console.print("[yellow]LibreOffice (soffice) not installed: no number check[/]")

    big = next((f for f in files if f.name == BIG), None)
    big_res = big_in_subprocess(big) if big else None
    for f in track(files, description="parsing", console=console):
        r = parse_document(f)
        heads = [(s.number, s.title) for s in r.sections if s.level > 0]
        row = {"file": f.name, "paragraphs": r.paragraphs, "tables": r.tables, "headings": len(heads)}
        if f in lo_lines:
            hit, misses = heading_matches(heads, lo_lines[f])
            row.update(matched=hit, misses=misses[:20])
        repeat = 1 if f.name == BIG else a.repeat
        row["ours_s"] = best_of(lambda f=f: parse_document(f), repeat)
        row["docx2python_s"] = best_of(lambda f=f: docx2python_parse(f), repeat)
        rows.append(row)

    table = Table(title="Parsing: headings vs LibreOffice, speed vs docx2python (same run)")
    for col in ("file", "paras", "tables", "headings", "match LO", "ours p/s", "docx2python p/s", "ratio"):
        table.add_column(col, justify="left" if col == "file" else "right")
    for r in rows:
        ours = r["paragraphs"] / r["ours_s"]
        base = r["paragraphs"] / r["docx2python_s"]
        match = f"{r['matched']}/{r['headings']}" if "matched" in r else "-"
        table.add_row(
            r["file"], str(r["paragraphs"]), str(r["tables"]), str(r["headings"]), match,
            f"{ours:,.0f}", f"{base:,.0f}", f"{ours / base:.2f}x",
        )  # fmt: skip
    total_p = sum(r["paragraphs"] for r in rows)
    ours_total = total_p / sum(r["ours_s"] for r in rows)
    base_total = total_p / sum(r["docx2python_s"] for r in rows)
    heads = sum(r["headings"] for r in rows if "matched" in r)
    matched = sum(r["matched"] for r in rows if "matched" in r)
    share = matched / heads if heads else None
    table.add_row(
        "ALL", str(total_p), str(sum(r["tables"] for r in rows)), str(sum(r["headings"] for r in rows)),
        f"{matched}/{heads} ({share:.1%})" if share is not None else "-",
        f"{ours_total:,.0f}", f"{base_total:,.0f}", f"{ours_total / base_total:.2f}x", style="bold",
    )  # fmt: skip
    console.print(table)
    if big_res:
        console.print(
            f"{BIG}: {big_res['seconds']:.1f}s in a fresh process, {big_res['paragraphs']} paragraphs, "
            f"peak RSS {big_res['peak_rss_mb']:.0f} MB (imports alone: {big_res['baseline_rss_mb']:.0f} MB)"
        )
    for r in rows:
        if r.get("misses"):
            console.print(f"[yellow]{r['file']}[/] misses: {r['misses'][:5]}")
    summary = {
        "heading_match_share": share,
        "headings_checked": heads,
        "headings_matched": matched,
        "paras_per_s_ours": ours_total,
        "paras_per_s_docx2python": base_total,
        "speed_ratio": ours_total / base_total,
        "big": big_res,
        "files": rows,
        "bench_peak_rss_mb": hwm(),
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    console.print(f"written {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
