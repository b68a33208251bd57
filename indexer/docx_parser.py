"""Parse a .docx into a numbered section tree, numbers as Word displays them.

Pipeline: `DocxPackage` (safety checks) -> styles + numbering -> stream the body of
`word/document.xml` block by block (`iterparse`, each block freed once read) ->
`Block`s (paragraphs with heading level and number, tables) -> sections.

Heading level comes from the paragraph's outline level, else its style chain
(`Heading N`, localized names, `outlineLvl` inherited through `basedOn`). The
number is the one typed in the text when there is a clear one (3GPP style), else
Word's automatic numbering label. Documents without any heading style get their
headings from bold paragraphs that start with a typed number.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from indexer.docx import images as pictures
from indexer.docx.headings import ANNEX_RE, bold_heading, split_typed, strong_typed, tidy_title
from indexer.docx.ns import W, wval
from indexer.docx.numbering import Numbering, clean_label
from indexer.docx.package import DocxPackage, Limits, too_deep
from indexer.docx.styles import Styles
from indexer.docx.tables import parse_table
from indexer.docx.text import paragraph_text, runs_bold
from indexer.errors import BrokenDocument, EmptyDocument
from indexer.models import Section, Table
from indexer.reqids import find_req_ids

__all__ = ["ParseResult", "parse_docx", "parse_document"]


@dataclass
class Block:
    text: str = ""
    level: int | None = None  # heading level, None for body text
    number: str = ""
    title: str = ""
    bold_heading: tuple[str, str, int] | None = None
    table: Table | None = None
    bold: bool = False
    image: pictures.ImageRef | None = None  # a picture to OCR (only when OCR is on)


@dataclass
class ParseResult:
    sections: list[Section]
    paragraphs: int = 0
    tables: int = 0
    warnings: list[str] = field(default_factory=list)
    images: pictures.ImageStats | None = None  # None when OCR was off


class _Context:
    def __init__(self, pkg: DocxPackage) -> None:
        styles_part = pkg.related("styles")
        numbering_part = pkg.related("numbering")
        self.styles = Styles(pkg.read_xml(styles_part) if styles_part else None)
        style_num = {sid: st.num_id for sid, st in self.styles.styles.items() if st.num_id}
        self.numbering = Numbering(pkg.read_xml(numbering_part) if numbering_part else None, style_num)
        self.paragraphs = 0
        self.tables = 0
        self.images: dict[str, str] | None = None  # rId -> media part; None: pictures are not collected
        self.image_refs: list[pictures.ImageRef] = []

    def pictures(self, el: etree._Element) -> Iterator[Block]:
        for ref in pictures.refs_in(el, self.images or {}):
            self.image_refs.append(ref)
            yield Block(image=ref)

    def paragraph(self, p: etree._Element) -> Block | None:
        self.paragraphs += 1
        ppr = p.find(W + "pPr")
        style_id = wval(ppr.find(W + "pStyle")) if ppr is not None else None
        st = self.styles.resolve(style_id)
        if st.name.lower().startswith("toc ") or st.name.lower() == "toc":
            self._count_number(ppr, style_id, st)
            return None  # table-of-contents lines repeat the headings with page numbers
        level = st.level
        if ppr is not None:
            ol = wval(ppr.find(W + "outlineLvl"))
            if ol and ol.isdigit():
                level = int(ol) + 1 if int(ol) < 9 else None
        label = self._count_number(ppr, style_id, st)
        text = paragraph_text(p)
        if not text.strip():
            return None
        if level is not None:
            return self._heading(text, level, label)
        body = f"{label}\t{text}" if label else text
        blk = Block(text=tidy_lines(body), bold=runs_bold(p, st.bold))
        blk.bold_heading = bold_heading(text.strip(), blk.bold) if not label else None
        return blk

    def _count_number(self, ppr: etree._Element | None, style_id: str | None, st) -> str:
        """Advance Word's list counter for this paragraph and return its label ("" when none)."""
        num_id, ilvl = st.num_id, st.ilvl
        npr = ppr.find(W + "numPr") if ppr is not None else None
        if npr is not None:
            pid = wval(npr.find(W + "numId"))
            pil = wval(npr.find(W + "ilvl"))
            if pid is not None:
                num_id = pid
            if pil is not None and pil.isdigit():
                ilvl = int(pil)
        if not num_id or num_id == "0":  # numId 0: numbering removed
            return ""
        if ilvl is None:
            ilvl = self.numbering.level_for_style(num_id, style_id) or 0
        label = self.numbering.advance(num_id, ilvl)
        return clean_label(label) if label else ""

    def _heading(self, text: str, level: int, label: str) -> Block:
        number, sep, rest = split_typed(text)
        if number and (strong_typed(number, sep) or not label):
            # Typed numbers win: the text says what the reader sees, and stray style
            # numbering (3GPP's Heading 6) must not double it.
            return Block(level=level, number=number, title=tidy_title(rest))
        m = ANNEX_RE.match(text) if not label else None
        if m:
            return Block(level=level, number=m.group(1), title=tidy_title(m.group(2)).lstrip(":").strip())
        return Block(level=level, number=label, title=tidy_title(text))

    def table(self, tbl: etree._Element) -> Block | None:
        self.tables += 1
        t = parse_table(tbl)
        return Block(table=t) if t.rows else None


def tidy_lines(text: str) -> str:
    return "\n".join(" ".join(line.replace("\t", " ").split()) for line in text.split("\n")).strip()


_BODY_WRAPPERS = {W + "sdt", W + "sdtContent", W + "customXml", W + "ins", W + "moveTo"}


def _blocks_of(el: etree._Element, ctx: _Context) -> Iterator[Block]:
    if el.tag == W + "p":
        b = ctx.paragraph(el)
        if b:
            yield b
    elif el.tag == W + "tbl":
        b = ctx.table(el)
        if b:
            yield b
    elif el.tag in _BODY_WRAPPERS:  # content controls around whole paragraphs or tables
        for c in el:
            yield from _blocks_of(c, ctx)
    if ctx.images and el.tag in (W + "p", W + "tbl"):  # pictures follow the text they sit in
        yield from ctx.pictures(el)


def _stream_body(pkg: DocxPackage, ctx: _Context) -> Iterator[Block]:
    """Yield blocks of the body one top-level element at a time, freeing each after use."""
    body_tag = W + "body"
    try:
        with pkg.open_part(pkg.main) as f:
            depth = 0
            in_body = False
            for event, el in etree.iterparse(
                f, events=("start", "end"), resolve_entities=False, no_network=True, huge_tree=True
            ):
                if event == "start":
                    depth += 1
                    if depth > pkg.limits.depth:  # _blocks_of and tables recurse per level
                        raise too_deep(pkg.main, pkg.limits.depth)
                    if el.tag == body_tag:
                        in_body = True
                    continue
                depth -= 1
                if in_body and depth == 2:  # a direct child of w:body just ended
                    yield from _blocks_of(el, ctx)
                    el.clear()
                    parent = el.getparent()
                    if parent is not None:
                        while el.getprevious() is not None:
                            del parent[0]
    except etree.XMLSyntaxError as e:
        raise BrokenDocument(f"part {pkg.main} is not well-formed XML ({e})") from None
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:
        raise BrokenDocument(f"part {pkg.main} cannot be read ({e})") from None


def _promote_bold_headings(blocks: list[Block]) -> None:
    """For documents without heading styles: bold paragraphs with a typed number are headings."""
    # A chapter split over two paragraphs: a bare "1" then a bold "Introduction".
    for i in range(len(blocks) - 1):
        b, nxt = blocks[i], blocks[i + 1]
        bare_number = b.table is None and b.text.isdigit() and len(b.text) <= 2
        if bare_number and nxt.table is None and nxt.bold and 0 < len(nxt.text) < 80 and not nxt.bold_heading:
            b.bold_heading = (b.text, nxt.text, 1)
            nxt.text = ""
    cands = [i for i, b in enumerate(blocks) if b.bold_heading]
    # A number seen again later was a table-of-contents line; the later one is the heading.
    last: dict[str, int] = {}
    for i in cands:
        last[blocks[i].bold_heading[0]] = i  # type: ignore[index]
    for i in cands:
        number, title, level = blocks[i].bold_heading  # type: ignore[misc]
        if last[number] == i:
            blocks[i] = Block(level=level, number=number, title=title)


def build_sections(blocks: list[Block]) -> list[Section]:
    sections: list[Section] = [Section(number="", title="", level=0)]
    for b in blocks:
        if b.level is not None:
            sections.append(Section(number=b.number, title=b.title, level=b.level))
        elif b.table is not None:
            sections[-1].tables.append(b.table)
            sections[-1].blocks.append(b.table)
        elif b.text:
            sections[-1].blocks.append(b.text)
    # Unnumbered headings (3GPP's ASN.1 "– VarMeasReportList") are cited under the
    # nearest numbered heading above them: "7.4 › VarMeasReportList".
    stack: list[Section] = []
    for s in sections:
        if s.level <= 0:
            continue
        while stack and stack[-1].level >= s.level:
            stack.pop()
        if not s.number:
            s.parent = next((p.number for p in reversed(stack) if p.number), "")
        stack.append(s)
    for s in sections:
        s.text = "\n".join(x if isinstance(x, str) else x.to_markdown() for x in s.blocks)
        s.req_ids = find_req_ids(f"{s.title}\n{s.text}")
    # The preamble before the first heading is kept only when it has content.
    if not sections[0].blocks:
        sections = sections[1:]
    return sections


def _read_pictures(pkg: DocxPackage, ctx: _Context, blocks: list[Block], ocr, on_image) -> tuple:
    """OCR the pictures; fill their blocks in place. Returns (stats, header/footer blocks)."""
    found, hf_refs, stats = pictures.read_pictures(pkg, ctx.image_refs, ocr, on_image)
    for b in blocks:
        if b.image is not None:
            got = found.pop(b.image.part, None)  # pop: a picture's text goes in at its first place only
            if isinstance(got, Table):
                b.table = got
            elif isinstance(got, str):
                b.text = got
    hf = [Block(table=v) if isinstance(v, Table) else Block(text=v) for r in hf_refs if (v := found.pop(r.part, None))]
    if hf:
        hf.insert(0, Block(level=1, number="", title=pictures.HEADER_FOOTER_TITLE))
    return stats, hf


def parse_document(
    path: str | Path,
    limits: Limits | None = None,
    ocr=None,
    on_image: Callable[[int, int], None] | None = None,
) -> ParseResult:
    stats, hf = None, []
    with DocxPackage(path, limits) as pkg:
        ctx = _Context(pkg)
        if ocr is not None:
            ctx.images = pictures.image_rels(pictures.rels_of(pkg, pkg.main))
        blocks = list(_stream_body(pkg, ctx))
        if ocr is not None:
            stats, hf = _read_pictures(pkg, ctx, blocks, ocr, on_image)
    if not any(b.level is not None for b in blocks):
        _promote_bold_headings(blocks)
    sections = build_sections(blocks + hf)
    if not sections or not any(s.title or s.text for s in sections):
        raise EmptyDocument("document has no text")
    return ParseResult(sections=sections, paragraphs=ctx.paragraphs, tables=ctx.tables, images=stats)


def parse_docx(path: str | Path) -> list[Section]:
    return parse_document(path).sections
