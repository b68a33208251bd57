"""XML namespaces and a hardened lxml parser shared by the docx modules."""

from __future__ import annotations

from lxml import etree

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W = "{" + W_NS + "}"
MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
WP = "{http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing}"
M = "{http://schemas.openxmlformats.org/officeDocument/2006/math}"
V = "{urn:schemas-microsoft-com:vml}"
O = "{urn:schemas-microsoft-com:office:office}"  # noqa: E741 - mirrors the o: prefix
REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
OFFICE_DOC_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
STRICT_OFFICE_DOC_REL = "http://purl.oclc.org/ooxml/officeDocument/relationships/officeDocument"


def w(name: str) -> str:
    return W + name


# No entity expansion and no network: a .docx is untrusted input (XXE, billion laughs).
SAFE_PARSE = {"resolve_entities": False, "no_network": True, "huge_tree": True, "remove_comments": True}


def safe_parser() -> etree.XMLParser:
    return etree.XMLParser(**SAFE_PARSE)


def wval(el: etree._Element | None, attr: str = "val") -> str | None:
    if el is None:
        return None
    return el.get(W + attr)


def on_off(el: etree._Element | None) -> bool | None:
    """ST_OnOff: present without val means on; "0"/"false"/"off" mean off."""
    if el is None:
        return None
    v = el.get(W + "val")
    return v is None or v.lower() not in ("0", "false", "off")
