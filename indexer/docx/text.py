"""Visible text of a paragraph, as Word shows it with all tracked changes accepted.

Tracked insertions (`w:ins`, `w:moveTo`) are ordinary runs underneath and are kept;
deletions (`w:del`, `w:moveFrom`, `w:delText`) and field codes (`w:instrText`) are
skipped. Content controls, hyperlinks, smart tags and simple fields are walked
through. Images contribute their alt text (`wp:docPr` descr/title, VML `o:title`).

Hidden text (`w:vanish`) is kept on purpose: the cFE requirements hide their
requirement IDs ("SSR9 ") that way, and those IDs are what engineers search for.
"""

from __future__ import annotations

from lxml import etree

from indexer.docx.ns import MC, WP, M, O, V, W

_SKIP = {
    W + "del", W + "moveFrom", W + "delText", W + "instrText", W + "delInstrText", W + "pPr", W + "rPr",
    W + "sdtPr", W + "sdtEndPr", W + "fldData", W + "footnoteReference", W + "endnoteReference",
    W + "commentReference", W + "annotationRef", W + "tblPr", W + "tcPr", W + "trPr", W + "sectPr",
    MC + "Fallback",
}  # fmt: skip
_BREAKS = {W + "br", W + "cr"}


def alt_text(el: etree._Element) -> str:
    """Alt text of a drawing: description, else title."""
    for pr in el.iter(WP + "docPr"):
        alt = (pr.get("descr") or pr.get("title") or "").strip()
        if alt:
            return alt
    for im in el.iter(V + "imagedata", V + "shape"):
        alt = (im.get(O + "title") or im.get("alt") or "").strip()
        if alt:
            return alt
    return ""


def _walk(el: etree._Element, out: list[str]) -> None:
    for child in el:
        tag = child.tag
        if not isinstance(tag, str) or tag in _SKIP:
            continue
        if tag == W + "t" or tag == M + "t":
            if child.text:
                out.append(child.text)
        elif tag == W + "tab" or tag == W + "ptab":
            out.append("\t")
        elif tag in _BREAKS:
            if child.get(W + "type") in (None, "textWrapping"):
                out.append("\n")
        elif tag == W + "noBreakHyphen":
            out.append("-")
        elif tag == W + "p":  # a paragraph inside a text box
            out.append("\n")
            _walk(child, out)
        elif tag == MC + "AlternateContent":
            # Choice and Fallback hold the same content twice; take the first choice.
            choice = child.find(MC + "Choice")
            if choice is not None:
                _walk(choice, out)
        elif tag == W + "drawing" or tag == W + "pict" or tag == W + "object":
            alt = alt_text(child)
            if alt:
                out.append(f" [image: {alt}] ")
            _walk(child, out)  # text boxes inside the drawing
        else:
            _walk(child, out)


def paragraph_text(p: etree._Element) -> str:
    out: list[str] = []
    _walk(p, out)
    return "".join(out)


def runs_bold(p: etree._Element, style_bold: bool) -> bool:
    """True when every run that shows text is bold (directly or through the paragraph style)."""
    seen = False
    for r in p.iter(W + "r"):
        if r.getparent() is not None and r.getparent().tag in (W + "del", W + "moveFrom"):
            continue
        text = "".join(t.text or "" for t in r.iter(W + "t"))
        if not text.strip():
            continue
        seen = True
        b = r.find(W + "rPr/" + W + "b")
        if b is None:
            if not style_bold:
                return False
        elif b.get(W + "val", "1").lower() in ("0", "false", "off"):
            return False
    return seen
