"""Pictures in a .docx, for OCR: where they are, and what their OCR puts back in the text.

Found: DrawingML pictures (`a:blip r:embed`, inline and floating `w:drawing`), legacy
VML (`v:imagedata r:id` in `w:pict` and `w:object`), anywhere inside a body
paragraph or table: runs, table cells, text boxes. A picture inside
`mc:AlternateContent` is counted once (Word stores it twice, as DrawingML and as VML).
Linked (not embedded) pictures are not in the file and are left out.

Headers and footers: their pictures go under one document-level entry, "Page header
and footer", placed last. A header repeats on every page of a Word section and
belongs to no heading; its first page is usually the title page, so "the section
where it first appears" would be the preamble anyway. One entry keeps such text
findable without attributing it to a heading it has nothing to do with.

Each distinct picture (by content hash) is OCR'd once and its text indexed once, at
its first place: a logo repeated in every header, or pasted again and again, does
not repeat its words in every section.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from lxml import etree

from indexer.docx.ns import REL_NS, V, W
from indexer.models import Table

A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_IMAGE_REL = "/image"
_HEADER_FOOTER_RELS = ("/header", "/footer")
HEADER_FOOTER_TITLE = "Page header and footer"


@dataclass
class ImageRef:
    part: str  # zip member, e.g. word/media/image3.png
    alt: str = ""


@dataclass
class ImageStats:
    found: int = 0  # picture placements in the document (body, headers, footers)
    distinct: int = 0  # distinct pictures (by content)
    ocr_done: int = 0  # read by Tesseract in this run
    cached: int = 0  # answered from the OCR cache
    tables: int = 0  # pictures indexed as tables
    texts: int = 0  # pictures indexed as paragraphs
    low_confidence: list[str] = field(default_factory=list)  # names
    problems: list[str] = field(default_factory=list)  # "name: reason"
    skipped_reason: str = ""  # OCR not run at all (Tesseract missing)


def rels_of(pkg, part: str) -> dict[str, tuple[str, str]]:
    """{rId: (type, target part)} of one part's internal relationships."""
    d, base = posixpath.split(part)
    name = posixpath.join(d, "_rels", base + ".rels")
    if name not in pkg.names:
        return {}
    out: dict[str, tuple[str, str]] = {}
    for rel in pkg.read_xml(name).iter(f"{{{REL_NS}}}Relationship"):
        if rel.get("TargetMode") == "External":
            continue
        target = rel.get("Target", "")
        full = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(d, target))
        out[rel.get("Id", "")] = (rel.get("Type", ""), full)
    return out


def image_rels(rels: dict[str, tuple[str, str]]) -> dict[str, str]:
    return {rid: target for rid, (typ, target) in rels.items() if typ.endswith(_IMAGE_REL)}


def _alt(el: etree._Element) -> str:
    from indexer.docx.text import alt_text

    return alt_text(el)


def refs_in(el: etree._Element, images: dict[str, str]) -> Iterator[ImageRef]:
    """Embedded pictures under `el`, in document order, each part once."""
    seen: set[str] = set()
    for node in el.iter(A + "blip", V + "imagedata"):
        rid = node.get(R + "embed") if node.tag == A + "blip" else node.get(R + "id")
        part = images.get(rid or "")
        if not part or part in seen:
            continue
        seen.add(part)
        holder = node
        while holder is not None and holder.tag not in (W + "drawing", W + "pict", W + "object"):
            holder = holder.getparent()
        yield ImageRef(part=part, alt=_alt(holder) if holder is not None else "")


def header_footer_refs(pkg) -> list[ImageRef]:
    """Pictures of every header and footer part the main document uses."""
    out: list[ImageRef] = []
    for _rid, (typ, part) in sorted(rels_of(pkg, pkg.main).items(), key=lambda kv: kv[1][1]):
        if typ.endswith(_HEADER_FOOTER_RELS) and part in pkg.names:
            imgs = image_rels(rels_of(pkg, part))
            if imgs:
                out.extend(refs_in(pkg.read_xml(part), imgs))
    return out


def ocr_table(rows: list[list[str]], caption: str = "") -> Table:
    from indexer.ocr import MARK

    # Row 1 of a picture of a table is its header, as a reader of the picture would take it.
    # Text outside the grid (a title above, a note below) goes into the note, which is
    # repeated above every piece of a split table: it names what the rows are.
    caption = " ".join(caption.split())
    return Table(rows=rows, header_rows=1, note=f"{MARK} {caption}" if caption else MARK)


def ocr_text(text: str) -> str:
    from indexer.ocr import MARK

    return f"{MARK} {text}"


def read_pictures(
    pkg,
    body_refs: list[ImageRef],
    cfg,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[dict[str, Table | str | None], list[ImageRef], ImageStats]:
    """OCR every distinct picture; returns ({part: Table | str | None}, header/footer refs, stats).

    A part maps to its table or paragraph at its first placement only; later
    placements of the same content map to None.
    """
    from indexer.ocr import run_ocr
    from indexer.ocr.runner import content_hash

    hf_refs = header_footer_refs(pkg)
    stats = ImageStats(found=len(body_refs) + len(hf_refs))
    data_of: dict[str, tuple[str, bytes]] = {}
    digest_of: dict[str, str] = {}
    for ref in [*body_refs, *hf_refs]:
        if ref.part in digest_of or ref.part not in pkg.names:
            continue
        try:
            with pkg.open_part(ref.part) as f:
                data = f.read()
        except Exception as e:
            stats.problems.append(f"{posixpath.basename(ref.part)}: cannot be read from the package ({e})")
            digest_of[ref.part] = ""
            continue
        digest = content_hash(data)
        digest_of[ref.part] = digest
        data_of.setdefault(digest, (posixpath.basename(ref.part), data))
    stats.distinct = len(data_of)
    run = run_ocr(data_of, cfg, on_progress)
    stats.ocr_done, stats.cached = run.ocr_done, run.cached
    if run.engine_problem:
        stats.skipped_reason = run.engine_problem
    out: dict[str, Table | str | None] = {}
    used: set[str] = set()
    for ref in [*body_refs, *hf_refs]:
        digest = digest_of.get(ref.part, "")
        if ref.part in out or not digest:
            continue
        r = run.results[digest]
        name = data_of[digest][0]
        if digest in used:
            out[ref.part] = None
            continue
        used.add(digest)
        if r.status == "table" and r.rows:
            out[ref.part] = ocr_table(r.rows, r.text or "")
            stats.tables += 1
        elif r.status == "text" and r.text:
            out[ref.part] = ocr_text(r.text)
            stats.texts += 1
        else:
            out[ref.part] = None
            if r.status == "low_confidence":
                stats.low_confidence.append(name)
            elif r.status in ("skipped", "bad") and not run.engine_problem:
                stats.problems.append(f"{name}: {r.message}")
    return out, hf_refs, stats
