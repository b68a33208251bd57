"""Word's automatic list numbering, evaluated the way Word displays it.

`numbering.xml` holds abstract definitions (`abstractNum`: one `lvl` per level with
`start`, `numFmt`, `lvlText` such as "%1.%2.", `lvlRestart`, `isLgl`) and instances
(`num`) that point at one and may override levels (`lvlOverride/startOverride`).
Counters advance in document order; a paragraph's label is computed when it is seen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from lxml import etree

from indexer.docx.ns import W, on_off, wval

_PLACEHOLDER_RE = re.compile(r"%([1-9])")
_GANADA = "가나다라마바사아자차카타파하"
_CHOSUNG = "ㄱㄴㄷㄹㅁㅂㅅㅇㅈㅊㅋㅌㅍㅎ"
_ROMAN = [(1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"), (50, "l"), (40, "xl"),
          (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")]  # fmt: skip


@dataclass
class Level:
    start: int = 1
    fmt: str = "decimal"
    text: str | None = None
    restart: int | None = None  # lvlRestart: 0 = never; n = after level n (1-based) or higher
    is_lgl: bool = False
    pstyle: str | None = None


def _roman(n: int) -> str:
    out = []
    for value, sym in _ROMAN:
        while n >= value:
            out.append(sym)
            n -= value
    return "".join(out)


def _letters(n: int) -> str:
    # Word repeats the letter: 27 -> "aa", 28 -> "bb".
    if n <= 0:
        return ""
    return chr(ord("a") + (n - 1) % 26) * ((n - 1) // 26 + 1)


def format_number(n: int, fmt: str) -> str:
    if fmt in ("none", "bullet"):
        return ""
    if fmt == "decimalZero":
        return f"{n:02d}"
    if fmt == "upperLetter":
        return _letters(n).upper()
    if fmt == "lowerLetter":
        return _letters(n)
    if fmt == "upperRoman":
        return _roman(n).upper()
    if fmt == "lowerRoman":
        return _roman(n)
    if fmt == "ganada" and n > 0:
        return _GANADA[(n - 1) % len(_GANADA)]
    if fmt == "chosung" and n > 0:
        return _CHOSUNG[(n - 1) % len(_CHOSUNG)]
    if fmt == "decimalEnclosedCircle" and 1 <= n <= 20:
        return chr(0x2460 + n - 1)
    if fmt == "decimalFullWidth":
        return "".join(chr(0xFF10 + int(c)) for c in str(n))
    return str(n)


def _parse_level(el: etree._Element) -> tuple[int, Level]:
    ilvl = int(el.get(W + "ilvl", "0"))
    lv = Level()
    st = wval(el.find(W + "start"))
    if st and st.lstrip("-").isdigit():
        lv.start = int(st)
    lv.fmt = wval(el.find(W + "numFmt")) or "decimal"
    txt = el.find(W + "lvlText")
    lv.text = wval(txt) if txt is not None else None
    rs = wval(el.find(W + "lvlRestart"))
    lv.restart = int(rs) if rs and rs.isdigit() else None
    lv.is_lgl = bool(on_off(el.find(W + "isLgl")))
    lv.pstyle = wval(el.find(W + "pStyle"))
    return ilvl, lv


@dataclass
class _Num:
    abstract_id: str
    overrides: dict[int, Level]
    start_overrides: dict[int, int]


class Numbering:
    def __init__(self, root: etree._Element | None, style_num: dict[str, str] | None = None) -> None:
        self.abstract: dict[str, dict[int, Level]] = {}
        self.style_link: dict[str, str] = {}  # abstractNum numStyleLink -> style id
        self.nums: dict[str, _Num] = {}
        self.style_num = style_num or {}  # numbering style id -> its numId
        # Counters per list: nums that only point at the same abstractNum continue one
        # list (Word), while a num with startOverride restarts its own.
        self.counters: dict[str, dict[int, int]] = {}
        self._started: set[tuple[str, int]] = set()
        if root is None:
            return
        for an in root.iter(W + "abstractNum"):
            aid = an.get(W + "abstractNumId", "")
            self.abstract[aid] = dict(_parse_level(lv) for lv in an.findall(W + "lvl"))
            link = wval(an.find(W + "numStyleLink"))
            if link:
                self.style_link[aid] = link
        for num in root.iter(W + "num"):
            nid = num.get(W + "numId", "")
            aid = wval(num.find(W + "abstractNumId")) or ""
            overrides: dict[int, Level] = {}
            starts: dict[int, int] = {}
            for ov in num.findall(W + "lvlOverride"):
                ilvl = int(ov.get(W + "ilvl", "0"))
                so = wval(ov.find(W + "startOverride"))
                if so and so.lstrip("-").isdigit():
                    starts[ilvl] = int(so)
                lvl_el = ov.find(W + "lvl")
                if lvl_el is not None:
                    overrides[ilvl] = _parse_level(lvl_el)[1]
            self.nums[nid] = _Num(aid, overrides, starts)

    def _abstract_for(self, num_id: str, depth: int = 0) -> str | None:
        num = self.nums.get(num_id)
        if num is None:
            return None
        aid = num.abstract_id
        # numStyleLink: the definition lives with the numbering style's own num.
        if aid in self.style_link and depth < 4:
            linked = self.style_num.get(self.style_link[aid])
            if linked and linked != num_id:
                return self._abstract_for(linked, depth + 1) or aid
        return aid

    def levels(self, num_id: str) -> dict[int, Level]:
        aid = self._abstract_for(num_id)
        if aid is None:
            return {}
        lv = dict(self.abstract.get(aid, {}))
        num = self.nums[num_id]
        for i, o in num.overrides.items():
            lv[i] = o
        for i, s in num.start_overrides.items():
            if i in lv:
                lv[i] = replace(lv[i], start=s)
        return lv

    def level_for_style(self, num_id: str, style_id: str | None) -> int | None:
        for i, lv in self.levels(num_id).items():
            if lv.pstyle and lv.pstyle == style_id:
                return i
        return None

    def advance(self, num_id: str, ilvl: int) -> str | None:
        """Count one paragraph at (num_id, ilvl) and return its label, or None for bullets/none."""
        num = self.nums.get(num_id)
        if num is None or num_id == "0":
            return None
        levels = self.levels(num_id)
        if ilvl not in levels:
            return None
        # Nums that share an abstractNum continue one list (Word). A startOverride
        # takes effect at the first paragraph of that num at the overridden level.
        counters = self.counters.setdefault(f"abs:{self._abstract_for(num_id)}", {})
        lv = levels[ilvl]
        if ilvl in num.start_overrides and (num_id, ilvl) not in self._started:
            self._started.add((num_id, ilvl))
            counters[ilvl] = num.start_overrides[ilvl]
        else:
            counters[ilvl] = counters[ilvl] + 1 if ilvl in counters else lv.start
        # Unseen parent levels show their start value and count from it afterwards.
        for i in range(ilvl):
            if i not in counters and i in levels:
                counters[i] = levels[i].start
        for deeper in [d for d in counters if d > ilvl]:
            restart = levels[deeper].restart if deeper in levels else None
            if restart is None or (restart != 0 and ilvl < restart):
                del counters[deeper]
        if lv.fmt == "bullet" or lv.text is None:
            return None

        def fill(m: re.Match[str]) -> str:
            i = int(m.group(1)) - 1
            ref = levels.get(i, Level())
            n = counters.get(i, ref.start)
            # isLgl: legal numbering shows every level in decimal ("1.1" not "I.A").
            return format_number(n, "decimal" if lv.is_lgl and ref.fmt != "none" else ref.fmt)

        return _PLACEHOLDER_RE.sub(fill, lv.text)


def clean_label(label: str) -> str:
    """A section number as reported: no trailing period or whitespace ("5.3.1." -> "5.3.1")."""
    return label.strip().rstrip(".").strip()
