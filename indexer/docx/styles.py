"""Paragraph styles resolved through `basedOn`: heading level, numbering, bold."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from indexer.docx.ns import W, on_off, wval

# Word stores built-in names in English ("heading 1") but documents made with a
# localized Word, or converted by other tools, carry the local name.
HEADING_NAME_RE = re.compile(
    r"^(?:heading|제목|titre|überschrift|título|titolo|kop|rubrik|overskrift|otsikko|заголовок|标题|標題|見出し)\s*(\d)$",
    re.I,
)


@dataclass
class Style:
    style_id: str
    name: str
    based_on: str | None = None
    outline: int | None = None  # 0-based outline level; 9 = body text
    num_id: str | None = None
    ilvl: int | None = None
    bold: bool | None = None


@dataclass
class ResolvedStyle:
    name: str
    level: int | None  # heading level 1..9, or None
    num_id: str | None
    ilvl: int | None
    bold: bool


class Styles:
    def __init__(self, root: etree._Element | None) -> None:
        self.styles: dict[str, Style] = {}
        self.default_para: str | None = None
        self._cache: dict[str | None, ResolvedStyle] = {}
        if root is None:
            return
        for el in root.iter(W + "style"):
            if el.get(W + "type", "paragraph") != "paragraph":
                continue
            sid = el.get(W + "styleId") or ""
            # A few real documents define a styleId twice; Word keeps the first.
            if sid in self.styles:
                continue
            ppr = el.find(W + "pPr")
            rpr = el.find(W + "rPr")
            st = Style(
                style_id=sid,
                name=wval(el.find(W + "name")) or sid,
                based_on=wval(el.find(W + "basedOn")),
                bold=on_off(rpr.find(W + "b")) if rpr is not None else None,
            )
            if ppr is not None:
                ol = wval(ppr.find(W + "outlineLvl"))
                st.outline = int(ol) if ol and ol.isdigit() else None
                npr = ppr.find(W + "numPr")
                if npr is not None:
                    st.num_id = wval(npr.find(W + "numId"))
                    il = wval(npr.find(W + "ilvl"))
                    st.ilvl = int(il) if il and il.isdigit() else None
            self.styles[sid] = st
            if el.get(W + "default") in ("1", "true", "on") and self.default_para is None:
                self.default_para = sid

    def chain(self, style_id: str | None) -> list[Style]:
        out: list[Style] = []
        seen: set[str] = set()
        sid = style_id if style_id in self.styles else self.default_para
        while sid and sid in self.styles and sid not in seen:
            seen.add(sid)
            out.append(self.styles[sid])
            sid = self.styles[sid].based_on
        return out

    def resolve(self, style_id: str | None) -> ResolvedStyle:
        if style_id in self._cache:
            return self._cache[style_id]
        chain = self.chain(style_id)
        level: int | None = None
        for st in chain:
            # The nearest style that says anything about the outline decides.
            if st.outline is not None:
                level = st.outline + 1 if st.outline < 9 else None
                break
            m = HEADING_NAME_RE.match(st.name.strip())
            if m:
                level = int(m.group(1))
                break
        num_id = next((st.num_id for st in chain if st.num_id is not None), None)
        ilvl = next((st.ilvl for st in chain if st.ilvl is not None), None)
        bold = next((st.bold for st in chain if st.bold is not None), False)
        res = ResolvedStyle(name=chain[0].name if chain else "", level=level, num_id=num_id, ilvl=ilvl, bold=bold)
        self._cache[style_id] = res
        return res
