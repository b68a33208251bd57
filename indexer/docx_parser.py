"""First .docx parser: `Heading N` styles and typed section numbers.

Issue "Spec indexer" extends this with Word's automatic numbering, tracked
changes, content controls and bold-number headings.
"""

from __future__ import annotations

import re
from pathlib import Path

import docx
from docx.document import Document as DocxDocument
from docx.oxml.ns import qn
from docx.table import Table as DocxTable
from docx.text.paragraph import Paragraph

from indexer.models import Section, Table

NUMBER_RE = re.compile(r"^\s*(\d+(?:\.\d+)*)\.?(?:\s+|\t)(.*)$", re.S)
HEADING_STYLE_RE = re.compile(r"^(?:heading|제목)\s*(\d)$", re.I)
REQ_ID_RE = re.compile(r"\b([A-Z]{2,5}(?:-[A-Z]{2,5})?-?\d{1,5})\b")


def heading_level(p: Paragraph) -> int | None:
    name = (p.style.name if p.style is not None else "") or ""
    m = HEADING_STYLE_RE.match(name.strip())
    if m:
        return int(m.group(1))
    return None


def split_number(text: str) -> tuple[str, str]:
    m = NUMBER_RE.match(text)
    if m:
        return m.group(1), m.group(2).strip()
    return "", text.strip()


def table_rows(t: DocxTable) -> list[list[str]]:
    rows: list[list[str]] = []
    for r in t.rows:
        rows.append([c.text.strip() for c in r.cells])
    return rows


def iter_blocks(d: DocxDocument):
    body = d.element.body
    for child in body.iterchildren():
        if child.tag == qn("w:p"):
            yield Paragraph(child, d)
        elif child.tag == qn("w:tbl"):
            yield DocxTable(child, d)


def find_req_ids(text: str) -> list[str]:
    return sorted(set(REQ_ID_RE.findall(text)))


def parse_docx(path: str | Path) -> list[Section]:
    d = docx.Document(str(path))
    sections: list[Section] = [Section(number="", title="", level=0)]
    parts: list[list[str]] = [[]]
    for block in iter_blocks(d):
        if isinstance(block, Paragraph):
            text = block.text.strip()
            level = heading_level(block)
            if level is not None and text:
                number, title = split_number(text)
                sections.append(Section(number=number, title=title, level=level))
                parts.append([])
            elif text:
                parts[-1].append(text)
        else:
            t = Table(rows=table_rows(block))
            sections[-1].tables.append(t)
            parts[-1].append(t.to_markdown())
    for s, p in zip(sections, parts, strict=True):
        s.text = "\n".join(p)
        s.req_ids = find_req_ids(s.title + "\n" + s.text)
    # The preamble before the first heading is kept only when it has content.
    if not sections[0].text:
        sections = sections[1:]
    return sections
