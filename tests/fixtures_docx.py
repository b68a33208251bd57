"""Small .docx fixtures built with python-docx, plus raw WordprocessingML via lxml
where python-docx has no API (numbering definitions, tracked changes, content
controls, outline levels). Also small bad inputs. Nothing binary is committed.
"""

from __future__ import annotations

import base64
import io
import struct
import zipfile
from pathlib import Path

import docx
from docx.enum.style import WD_STYLE_TYPE
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn

from bench.memory import HWM_SRC

W_NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'

# A 1x1 PNG, for a picture with alt text.
PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def _lvl(ilvl: int, fmt: str, text: str, start: int = 1, pstyle: str | None = None, extra: str = "") -> str:
    ps = f'<w:pStyle w:val="{pstyle}"/>' if pstyle else ""
    return (
        f'<w:lvl w:ilvl="{ilvl}"><w:start w:val="{start}"/><w:numFmt w:val="{fmt}"/>{ps}{extra}'
        f'<w:lvlText w:val="{text}"/><w:lvlJc w:val="left"/></w:lvl>'
    )


def set_numbering(d: docx.document.Document, abstracts: dict[int, list[str]], nums: dict[int, str]) -> None:
    """Replace numbering.xml: abstracts {id: [lvl xml...]}, nums {numId: inner xml of w:num}."""
    body = "".join(
        f'<w:abstractNum w:abstractNumId="{aid}"><w:multiLevelType w:val="multilevel"/>{"".join(lvls)}</w:abstractNum>'
        for aid, lvls in abstracts.items()
    )
    body += "".join(f'<w:num w:numId="{nid}">{inner}</w:num>' for nid, inner in nums.items())
    part = d.part.numbering_part
    part._element = parse_xml(f"<w:numbering {W_NS}>{body}</w:numbering>")


def style_numbering(d: docx.document.Document, style_name: str, num_id: int, ilvl: int | None = None) -> None:
    ppr = d.styles[style_name].element.get_or_add_pPr()
    il = f'<w:ilvl w:val="{ilvl}"/>' if ilvl is not None else ""
    ppr.append(parse_xml(f'<w:numPr {W_NS}>{il}<w:numId w:val="{num_id}"/></w:numPr>'))


def para_numbering(p, num_id: int, ilvl: int = 0) -> None:  # python-docx Paragraph
    ppr = p._p.get_or_add_pPr()
    ppr.append(parse_xml(f'<w:numPr {W_NS}><w:ilvl w:val="{ilvl}"/><w:numId w:val="{num_id}"/></w:numPr>'))


def make_numbered(path: Path) -> Path:
    """Automatic heading numbering: styles, paragraphs, restarts, numId 0, empty headings.

    Expected numbers (as Word and LibreOffice show them) are in NUMBERED_EXPECTED.
    """
    d = docx.Document()
    decimal = [
        _lvl(0, "decimal", "%1.", pstyle="Heading1"),
        _lvl(1, "decimal", "%1.%2.", pstyle="Heading2"),
        _lvl(2, "decimal", "%1.%2.%3", pstyle="Heading3"),
    ]
    fancy = [
        _lvl(0, "upperRoman", "%1."),
        _lvl(1, "upperLetter", "%1.%2"),
        _lvl(2, "lowerLetter", "(%3)"),
        _lvl(3, "decimal", "%1.%2.%3.%4", extra="<w:isLgl/>"),
        _lvl(4, "none", "Part%5"),
    ]
    set_numbering(
        d,
        {1: decimal, 2: fancy},
        {
            1: '<w:abstractNumId w:val="1"/>',
            2: '<w:abstractNumId w:val="2"/>',
            3: '<w:abstractNumId w:val="1"/><w:lvlOverride w:ilvl="1"><w:startOverride w:val="5"/></w:lvlOverride>',
        },
    )
    style_numbering(d, "Heading 1", 1)  # ilvl from the level's pStyle
    style_numbering(d, "Heading 2", 1, ilvl=1)
    style_numbering(d, "Heading 3", 1, ilvl=2)
    d.add_heading("Introduction", 1)  # 1
    d.add_paragraph("Intro text.")
    d.add_heading("Purpose", 2)  # 1.1
    d.add_heading("Scope", 2)  # 1.2
    d.add_heading("Details", 3)  # 1.2.1
    d.add_heading("", 1)  # empty heading: counts (2) but is no section
    d.add_heading("Requirements", 1)  # 3
    d.add_heading("Restarted", 2)  # num 3 overrides level 2 start -> 3.5
    para_numbering(d.paragraphs[-1], 3, 1)
    d.add_heading("Continued", 2)  # 3.6 (same num continues)
    para_numbering(d.paragraphs[-1], 3, 1)
    d.add_heading("Unnumbered", 1)  # numId 0 removes the style's numbering
    para_numbering(d.paragraphs[-1], 0, 0)
    d.add_heading("Annexes", 1)  # 4
    d.add_heading("Roman chapter", 1)  # paragraph numbering with another list: I
    para_numbering(d.paragraphs[-1], 2, 0)
    d.add_heading("Lettered", 2)  # I.A
    para_numbering(d.paragraphs[-1], 2, 1)
    d.add_heading("Letter item", 3)  # (a)
    para_numbering(d.paragraphs[-1], 2, 2)
    d.add_heading("Legal", 4)  # isLgl: 1.1.1.1
    para_numbering(d.paragraphs[-1], 2, 3)
    d.add_heading("Nothing shown", 5)  # numFmt none: "Part"
    para_numbering(d.paragraphs[-1], 2, 4)
    d.add_paragraph("Closing text.")
    d.save(path)
    return path


NUMBERED_EXPECTED = [
    ("1", "Introduction"),
    ("1.1", "Purpose"),
    ("1.2", "Scope"),
    ("1.2.1", "Details"),
    ("3", "Requirements"),
    ("3.5", "Restarted"),
    ("3.6", "Continued"),
    ("", "Unnumbered"),
    ("4", "Annexes"),
    ("I", "Roman chapter"),
    ("I.A", "Lettered"),
    ("(a)", "Letter item"),
    ("1.1.1.1", "Legal"),
    ("Part", "Nothing shown"),
]


def make_styles_doc(path: Path) -> Path:
    """Heading detection without `Heading N` names, and typed numbers with stray numbering."""
    d = docx.Document()
    ko = d.styles.add_style("제목 1", WD_STYLE_TYPE.PARAGRAPH)  # localized built-in name
    ko.element.get_or_add_pPr()
    base = d.styles.add_style("OutlineBase", WD_STYLE_TYPE.PARAGRAPH)
    base.element.get_or_add_pPr().append(parse_xml(f'<w:outlineLvl {W_NS} w:val="1"/>'))
    child = d.styles.add_style("InheritsOutline", WD_STYLE_TYPE.PARAGRAPH)
    child.base_style = base
    set_numbering(
        d, {1: [_lvl(i, "decimal", "%" + str(i + 1) + ".") for i in range(9)]}, {1: '<w:abstractNumId w:val="1"/>'}
    )
    style_numbering(d, "Heading 6", 1, ilvl=5)  # stray style numbering, as in 3GPP's Heading 6
    d.add_paragraph("개요", style="제목 1")
    d.add_paragraph("본문입니다.")
    d.add_paragraph("Inherited outline", style="InheritsOutline")
    d.add_paragraph("Body under inherited.")
    p = d.add_paragraph("Paragraph outline")
    p._p.get_or_add_pPr().append(parse_xml(f'<w:outlineLvl {W_NS} w:val="2"/>'))
    d.add_paragraph("Body under paragraph outline.")
    d.add_heading("5.1.3.2.2.1\tEMM-NULL", 6)
    d.add_paragraph("The EPS mobility management is not active.")
    d.add_heading("4.2A\tEquivalent PLMNs list", 2)
    d.save(path)
    return path


def _run(text: str) -> str:
    return f'<w:r><w:t xml:space="preserve">{text}</w:t></w:r>'


def make_text_doc(path: Path) -> Path:
    """Tracked changes, content controls, a picture with alt text and a caption, a list."""
    d = docx.Document()
    d.add_heading("Tracked", 1)
    p = d.add_paragraph()
    p._p.append(parse_xml(f'<w:r {W_NS}><w:t xml:space="preserve">The UE shall </w:t></w:r>'))
    rev = 'w:author="a" w:date="2022-01-01T00:00:00Z"'
    p._p.append(parse_xml(f'<w:del {W_NS} w:id="1" {rev}><w:r><w:delText>never </w:delText></w:r></w:del>'))
    p._p.append(parse_xml(f'<w:ins {W_NS} w:id="2" {rev}>{_run("always ")}</w:ins>'))
    p._p.append(parse_xml(f"<w:r {W_NS}><w:t>start timer T3410.</w:t></w:r>"))
    d.add_heading("Controls", 1)
    p = d.add_paragraph("Owner: ")
    sdt = f'<w:sdtPr><w:alias w:val="Owner"/></w:sdtPr><w:sdtContent>{_run("Brake Team")}</w:sdtContent>'
    p._p.append(parse_xml(f"<w:sdt {W_NS}>{sdt}</w:sdt>"))
    body = d.element.body
    block_sdt = parse_xml(
        f"<w:sdt {W_NS}><w:sdtPr/><w:sdtContent><w:p>{_run('Block control text')}</w:p></w:sdtContent></w:sdt>"
    )
    body.insert(len(body) - 1, block_sdt)
    d.add_heading("Figures", 1)
    d.add_picture(io.BytesIO(PNG_1X1))
    docpr = d.paragraphs[-1]._p.xpath(".//wp:docPr")[0]
    docpr.set("descr", "Brake pedal sensor wiring diagram")
    d.add_paragraph("Figure 1: Sensor wiring", style="Caption")
    d.add_paragraph("first bullet item", style="List Bullet")
    d.add_paragraph("second numbered item", style="List Number")
    d.save(path)
    return path


def make_tables_doc(path: Path, long_rows: int = 60) -> Path:
    """Merged cells (gridSpan, vMerge), a nested table, a repeating header row, a long table."""
    d = docx.Document()
    d.add_heading("Pins", 1)
    t = d.add_table(rows=4, cols=3)
    for i, h in enumerate(["Pin", "Signal", "Note"]):
        t.cell(0, i).text = h
    t.cell(1, 0).text = "1"
    t.cell(1, 1).text = "VCC"
    t.cell(2, 0).text = "2"
    t.cell(2, 1).text = "GND"
    a = t.cell(1, 2).merge(t.cell(3, 2))  # vertical merge
    a.text = "Power group"
    b = t.cell(3, 0).merge(t.cell(3, 1))  # horizontal merge (gridSpan)
    b.text = "Reserved"
    d.add_heading("Nested", 1)
    outer = d.add_table(rows=2, cols=2)
    outer.cell(0, 0).text = "Name"
    outer.cell(0, 1).text = "Detail"
    outer.cell(1, 0).text = "Connector"
    inner = outer.cell(1, 1).add_table(rows=1, cols=2)
    inner.cell(0, 0).text = "inner A"
    inner.cell(0, 1).text = "inner B"
    d.add_heading("Requirements table", 1)
    rt = d.add_table(rows=long_rows + 1, cols=3)
    rt.rows[0]._tr.get_or_add_trPr().append(parse_xml(f"<w:tblHeader {W_NS}/>"))
    for i, h in enumerate(["ID", "Requirement", "Priority"]):
        rt.cell(0, i).text = h
    for r in range(1, long_rows + 1):
        rt.cell(r, 0).text = f"REQ-BRK-{r:04d}"
        rt.cell(r, 1).text = f"The brake controller shall report fault code {r} within 20 ms over UTF-8 encoded logs."
        rt.cell(r, 2).text = "High" if r % 2 else "Low"
    d.save(path)
    return path


def make_bold_numbers(path: Path) -> Path:
    """No heading styles: bold typed numbers, a TOC before them, a split chapter heading."""
    d = docx.Document()
    d.add_paragraph("요구사항 명세서")
    for line in ("1   Overview", "1.1  Purpose \t 1", "2   System"):
        d.add_paragraph().add_run(line).bold = "\t" not in line
    d.add_paragraph("1")
    d.add_paragraph().add_run("Overview").bold = True
    d.add_paragraph().add_run("1.1  Purpose").bold = True
    d.add_paragraph("이 문서는 FR-001 요구사항을 설명한다.")
    d.add_paragraph().add_run("1.2 Not a heading because it is not bold")
    p = d.add_paragraph()
    p.add_run("2").bold = True
    p.add_run("   System").bold = True
    d.add_paragraph().add_run("2.1 시스템 개요").bold = True
    d.add_paragraph("시스템은 QR-002 를 만족해야 한다.")
    d.save(path)
    return path


# --- bad inputs ------------------------------------------------------------------
def make_plain_docx(path: Path, text: str = "Hello") -> Path:
    d = docx.Document()
    d.add_heading("Only", 1)
    d.add_paragraph(text)
    d.save(path)
    return path


def rewrite_part(src: Path, dst: Path, name: str, data: bytes, compress: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename != name:
                zout.writestr(info, zin.read(info.filename))
        zout.writestr(name, data, compress_type=compress)
    return dst


def make_broken_xml(path: Path) -> Path:
    tmp = make_plain_docx(path.with_suffix(".tmp.docx"))
    with zipfile.ZipFile(tmp) as z:
        xml = z.read("word/document.xml")
    rewrite_part(tmp, path, "word/document.xml", xml[: len(xml) // 2])  # cut mid-element
    tmp.unlink()
    return path


def make_zip_bomb(path: Path, mb: int = 8) -> Path:
    """A valid document whose body is padded with megabytes of whitespace (ratio ~1000:1)."""
    tmp = make_plain_docx(path.with_suffix(".tmp.docx"))
    with zipfile.ZipFile(tmp) as z:
        xml = z.read("word/document.xml")
    pad = b" " * (mb * 1024 * 1024)
    i = xml.index(b"<w:body>")
    rewrite_part(tmp, path, "word/document.xml", xml[:i] + pad + xml[i:])
    tmp.unlink()
    return path


def make_lying_zip(path: Path, real_mb: int = 60, declared_bytes: int = 600_000) -> Path:
    """A real .docx whose zip headers understate the uncompressed size of word/document.xml.

    The part really expands to `real_mb` MB (whitespace padding, so it compresses well),
    but both the local header and the central directory claim `declared_bytes`: a bomb
    that a check of declared sizes alone lets through."""
    tmp = make_zip_bomb(path.with_suffix(".tmp.docx"), mb=real_mb)
    raw = bytearray(tmp.read_bytes())
    tmp.unlink()
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as z:
        info = z.getinfo("word/document.xml")
    # Local file header: uncompressed size at offset 22.
    assert raw[info.header_offset : info.header_offset + 4] == b"PK\x03\x04"
    struct.pack_into("<I", raw, info.header_offset + 22, declared_bytes)
    # Central directory entry: uncompressed size at offset 24.
    name = info.filename.encode()
    pos = raw.find(b"PK\x01\x02")
    while pos != -1:
        n_len = struct.unpack_from("<H", raw, pos + 28)[0]
        if bytes(raw[pos + 46 : pos + 46 + n_len]) == name:
            struct.pack_into("<I", raw, pos + 24, declared_bytes)
            break
        pos = raw.find(b"PK\x01\x02", pos + 4)
    else:
        raise AssertionError("central directory entry not found")
    path.write_bytes(bytes(raw))
    return path


def make_encrypted(path: Path, password: str = "secret") -> Path:
    """A real password-protected .docx (ECMA-376 agile encryption in an OLE container)."""
    from msoffcrypto.format.ooxml import OOXMLFile

    src = make_plain_docx(path.with_suffix(".plain.docx"))
    with src.open("rb") as f, path.open("wb") as out:
        OOXMLFile(f).encrypt(password, out)
    src.unlink()
    return path


def make_legacy_doc(path: Path) -> Path:
    """A minimal compound file (CFB v3) holding a `WordDocument` stream, like a Word 97 .doc."""
    sector = 512
    end, free, fat_sect, nostream = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF
    stream = b"\xec\xa5" + b"\x00" * 4094  # FIB magic of a Word 97 document, 4096 bytes
    n_stream = len(stream) // sector
    header = bytearray(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 16)
    header += struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\x00" * 6
    header += struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, end, 0, end, 0)
    header += struct.pack("<I", 0) + struct.pack("<I", free) * 108  # DIFAT: FAT lives in sector 0
    fat = [fat_sect, end] + [2 + i + 1 for i in range(n_stream - 1)] + [end]
    fat += [free] * (sector // 4 - len(fat))

    def entry(name: str, typ: int, child: int, start: int, size: int) -> bytes:
        raw = (name.encode("utf-16-le") + b"\x00\x00") if name else b""
        return (
            raw.ljust(64, b"\x00") + struct.pack("<HBB", len(raw), typ, 1)
            + struct.pack("<III", nostream, nostream, child) + b"\x00" * 16 + b"\x00" * 4 + b"\x00" * 16
            + struct.pack("<IQ", start, size)
        )  # fmt: skip

    directory = entry("Root Entry", 5, 1, end, 0) + entry("WordDocument", 2, nostream, 2, len(stream))
    directory += entry("", 0, nostream, 0, 0) * 2
    path.write_bytes(bytes(header) + struct.pack(f"<{sector // 4}I", *fat) + directory + stream)
    return path


def make_empty_docx(path: Path) -> Path:
    docx.Document().save(path)
    return path


__all__ = [name for name in dir() if name.startswith(("make_", "NUMBERED"))] + ["nsdecls", "qn"]


# --- shared parse results for the real specs (parsed once per session) ----------


def parse_big_in_subprocess(path: Path, out: Path) -> dict:
    """Parse a large spec in a fresh process: its peak RSS is the parser's memory bound."""
    import json
    import subprocess
    import sys

    code = (
        "import json, sys, time\n" + HWM_SRC + "from indexer.docx_parser import parse_document\n"
        "t = time.perf_counter(); r = parse_document(sys.argv[1]); dt = time.perf_counter() - t\n"
        "json.dump({'seconds': dt, 'peak_rss_mb': hwm(),\n"
        "  'paragraphs': r.paragraphs, 'tables': r.tables, 'sections': [s.to_json() | {'req_ids': s.req_ids,\n"
        "  'n_tables': len(s.tables)} for s in r.sections]}, open(sys.argv[2], 'w'), ensure_ascii=False)\n"
    )
    subprocess.run([sys.executable, "-c", code, str(path), str(out)], check=True, timeout=600)
    return json.loads(out.read_text(encoding="utf-8"))
