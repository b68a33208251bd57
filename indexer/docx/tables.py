"""Tables as a plain grid: merged cells expanded so every row reads on its own.

`gridSpan` repeats a cell's text across the columns it spans; `vMerge="continue"`
cells take the text of the cell that started the merge above them; `gridBefore`
shifts a row right. Nested tables are flattened into their cell's text.
"""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from indexer.docx.ns import W, on_off, wval
from indexer.docx.text import paragraph_text
from indexer.models import Table

_WRAPPERS = {W + "sdt", W + "sdtContent", W + "customXml", W + "ins", W + "moveTo"}


def _children(el: etree._Element, tag: str) -> Iterator[etree._Element]:
    """Direct children with `tag`, looking through content controls and custom XML."""
    for c in el:
        if c.tag == tag:
            yield c
        elif c.tag in _WRAPPERS:
            yield from _children(c, tag)


def _int(v: str | None, default: int) -> int:
    return int(v) if v and v.isdigit() else default


def _deleted_row(tr: etree._Element) -> bool:
    trpr = tr.find(W + "trPr")
    return trpr is not None and trpr.find(W + "del") is not None


def cell_text(tc: etree._Element) -> str:
    lines: list[str] = []
    for block in _children_blocks(tc):
        if block.tag == W + "p":
            t = paragraph_text(block).strip()
            if t:
                lines.append(t)
        else:  # nested table: one line per row
            for row in parse_table(block).rows:
                cells = [c for c in row if c]
                if cells:
                    lines.append(" | ".join(dict.fromkeys(cells)))
    return "\n".join(lines)


def _children_blocks(el: etree._Element) -> Iterator[etree._Element]:
    for c in el:
        if c.tag in (W + "p", W + "tbl"):
            yield c
        elif c.tag in _WRAPPERS:
            yield from _children_blocks(c)


def parse_table(tbl: etree._Element) -> Table:
    rows: list[list[str]] = []
    header_rows = 0
    in_header = True
    for tr in _children(tbl, W + "tr"):
        if _deleted_row(tr):
            continue
        trpr = tr.find(W + "trPr")
        col = _int(wval(trpr.find(W + "gridBefore")) if trpr is not None else None, 0)
        row: list[str] = [""] * col
        for tc in _children(tr, W + "tc"):
            tcpr = tc.find(W + "tcPr")
            span = _int(wval(tcpr.find(W + "gridSpan")) if tcpr is not None else None, 1)
            vm = tcpr.find(W + "vMerge") if tcpr is not None else None
            if vm is not None and vm.get(W + "val") in (None, "continue") and rows:
                above = rows[-1]
                text = above[col] if col < len(above) else ""
            else:
                text = cell_text(tc)
            row.extend([text] * span)
            col += span
        is_header = trpr is not None and bool(on_off(trpr.find(W + "tblHeader")))
        if in_header and is_header:
            header_rows += 1
        else:
            in_header = False
        rows.append(row)
    width = max((len(r) for r in rows), default=0)
    rows = [r + [""] * (width - len(r)) for r in rows]
    # Rows with no text at all carry nothing for a reader.
    rows = [r for r in rows if any(c.strip() for c in r)]
    return Table(rows=rows, header_rows=max(1, min(header_rows, len(rows) - 1)) if len(rows) > 1 else len(rows))
