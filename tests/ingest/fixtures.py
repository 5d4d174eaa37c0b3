"""Small fixture PDFs drawn with PyMuPDF, for the ingestion tests.

Forms are drawn as stacked table sections (each with its own column widths, like the real
forms' funding / goal / indicator blocks), rows flowing onto the next page when they do not fit.
Merged cells are drawn as one rectangle, so they have no inner line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pymupdf

# The built-in CJK font, embedded (subset when saved, so fixtures stay small and quick to read).
FONT = pymupdf.Font("cjk")
FONT_NAME = "F0"
PAGE_W, PAGE_H = 595.0, 842.0
LEFT, TOP, BOTTOM = 40.0, 50.0, 800.0
SIZE = 9.0
LEADING = 1.35
PAD = 3.0
PAD_BORDERLESS = 6.0  # no lines: columns are told apart by whitespace alone


@dataclass
class C:
    """A cell: column index, text, spans."""

    col: int
    text: str
    colspan: int = 1
    rowspan: int = 1


@dataclass
class Section:
    widths: list[float]
    rows: list[list[C]]
    header_rows: int = 0  # rows repeated at the top of a continuation page (if asked)


@dataclass
class FormSpec:
    title: str | None = "财政项目支出绩效自评表"
    year_line: str | None = "（2023年度）"
    sections: list[Section] = field(default_factory=list)


_WIDTHS: dict[str, float] = {}


def char_width(ch: str, size: float = SIZE) -> float:
    if ch not in _WIDTHS:
        _WIDTHS[ch] = FONT.text_length(ch, fontsize=1.0)
    return _WIDTHS[ch] * size


def wrap(text: str, width: float, size: float = SIZE) -> list[str]:
    """Greedy wrap by glyph widths (CJK has no spaces to break at)."""
    lines: list[str] = []
    current = ""
    used = 0.0
    for ch in text:
        w = char_width(ch, size)
        if current and used + w > width:
            lines.append(current)
            current, used = ch, w
        else:
            current += ch
            used += w
    if current:
        lines.append(current)
    return lines or [""]


def standard_form(
    name: str = "“一网通办”运营服务",
    *,
    indicators: int = 6,
    long_deviation: bool = True,
) -> FormSpec:
    """A form shaped like the seed: header, funding block, goals, indicators, total."""
    head = Section(
        [100, 157.5, 100, 157.5],
        [
            [C(0, "项目名称"), C(1, name, colspan=3)],
            [
                C(0, "主管部门"),
                C(1, "上海市大数据中心"),
                C(2, "实施单位"),
                C(3, "上海市大数据中心"),
            ],
        ],
    )
    money = ["16,124.45", "9,838.67", "9,702.07"]
    funding = Section(
        [80, 95, 60, 60, 60, 50, 55, 55],
        [
            [
                C(0, "项目资金（万元）", rowspan=5),
                C(1, ""),
                C(2, "年初预算数"),
                C(3, "全年预算数"),
                C(4, "全年执行数"),
                C(5, "分值"),
                C(6, "执行率(%)"),
                C(7, "得分"),
            ],
            [
                C(1, "年度资金总额"),
                *[C(i + 2, v) for i, v in enumerate(money)],
                C(5, "10.00"),
                C(6, "98.61"),
                C(7, "9.86"),
            ],
            [
                C(1, "其中：当年财政拨款"),
                *[C(i + 2, v) for i, v in enumerate(money)],
                C(5, "-"),
                C(6, "98.61"),
                C(7, "-"),
            ],
            [
                C(1, "上年结转资金"),
                *[C(i + 2, "0.00") for i in range(3)],
                C(5, "-"),
                C(6, "0.00"),
                C(7, "-"),
            ],
            [
                C(1, "其他资金"),
                *[C(i + 2, "0.00") for i in range(3)],
                C(5, "-"),
                C(6, "0.00"),
                C(7, "-"),
            ],
        ],
    )
    goals = Section(
        [80, 217.5, 217.5],
        [
            [C(0, "年度总体目标", rowspan=2), C(1, "预期目标"), C(2, "实际完成情况")],
            [
                C(
                    1,
                    "打造“智慧好办”2.0版，推出企业和个人“双100”高频依申请政务服务事项，"
                    "实现智能预填比例不低于70%",
                ),
                C(2, "持续拓展“一网通办”总门户接入事项覆盖度，累计接入事项3705项"),
            ],
        ],
    )
    ind_rows: list[list[C]] = [
        [
            C(0, "一级指标"),
            C(1, "二级指标"),
            C(2, "三级指标"),
            C(3, "年度指标值"),
            C(4, "实际完成值"),
            C(5, "分值"),
            C(6, "得分"),
            C(7, "偏差原因分析及改进措施"),
        ],
    ]
    for i in range(indicators):
        row: list[C] = []
        if i == 0:
            row.append(C(0, "产出指标", rowspan=indicators))
        if i % 3 == 0:
            row.append(
                C(
                    1,
                    ["数量指标", "质量指标", "时效指标", "成本指标"][(i // 3) % 4],
                    rowspan=min(3, indicators - i),
                )
            )
        row += [
            C(2, f"完成运营服务事项产出数量第{i + 1}项"),
            C(3, "≥25.00(项)"),
            C(4, f"{100 + i}.00(项)"),
            C(5, "8.00"),
            C(6, "8.00" if i else "5.50"),
            C(
                7,
                (
                    "部分高频办事服务由于国家部委将服务入口回收，导致该部分服务缺失"
                    if (i == 0 and long_deviation)
                    else ""
                ),
            ),
        ]
        ind_rows.append(row)
    ind_rows.append([C(0, "总分", colspan=5), C(5, "100.00"), C(6, "95.50"), C(7, "")])
    indicators_section = Section([50, 50, 110, 60, 60, 40, 40, 105], ind_rows, header_rows=1)
    return FormSpec(sections=[head, funding, goals, indicators_section])


class Drawer:
    """Draws forms onto a document, flowing to new pages."""

    def __init__(
        self,
        doc: pymupdf.Document,
        *,
        ruled: bool = True,
        repeat_header: bool = False,
        page_bottom: float = BOTTOM,
    ):
        self.doc = doc
        self.font_name = FONT_NAME
        self.ruled = ruled
        self.pad = PAD if ruled else PAD_BORDERLESS
        self.repeat_header = repeat_header
        self.bottom = page_bottom
        self.rects: dict[int, list[pymupdf.Rect]] = {}
        self.page = self._new_page()
        self.y = TOP

    def _new_page(self) -> pymupdf.Page:
        page = self.doc.new_page(width=PAGE_W, height=PAGE_H)
        page.insert_font(fontname=FONT_NAME, fontbuffer=FONT.buffer)
        return page

    def new_page(self) -> None:
        self.page = self._new_page()
        self.y = TOP

    def text_line(self, text: str, size: float = SIZE, *, center: bool = False) -> None:
        if self.y + size * 2 > self.bottom:
            self.new_page()
        width = FONT.text_length(text, fontsize=size)
        x = (PAGE_W - width) / 2 if center else LEFT
        self.page.insert_text((x, self.y + size), text, fontname=self.font_name, fontsize=size)
        self.y += size * 1.8

    def form(self, spec: FormSpec) -> tuple[int, int]:
        """Draw one form; returns its 1-based (first, last) page."""
        if self.y + 120 > self.bottom:
            self.new_page()
        first = self.page.number + 1
        if spec.title:
            self.text_line(spec.title, 16, center=True)
        if spec.year_line:
            self.text_line(spec.year_line, 11, center=True)
        for section in spec.sections:
            self.section(section)
        for pno, rects in self.rects.items():
            shape = self.doc[pno].new_shape()
            for rect in rects:
                shape.draw_rect(rect)
            shape.finish(width=0.5, color=(0, 0, 0))
            shape.commit()
        self.rects = {}
        self.y += 20
        return first, self.page.number + 1

    def _row_height(self, section: Section, row: list[C]) -> float:
        pad = self.pad
        h = SIZE * LEADING + 2 * pad
        for cell in row:
            if cell.rowspan == 1:
                width = sum(section.widths[cell.col : cell.col + cell.colspan]) - 2 * pad
                n = len(wrap(cell.text, width))
                h = max(h, n * SIZE * LEADING + 2 * pad)
        return h

    def section(self, section: Section) -> None:
        xs = [LEFT]
        for w in section.widths:
            xs.append(xs[-1] + w)
        heights = [self._row_height(section, row) for row in section.rows]
        # Place rows: (page, y0, y1) per row, breaking pages as needed.
        # Page numbers, not Page objects: PyMuPDF invalidates those when a page is added.
        placed: list[tuple[int, float, float]] = []
        repeats: list[tuple[int, float, int]] = []
        for r, h in enumerate(heights):
            if self.y + h > self.bottom:
                self.new_page()
                if self.repeat_header and section.header_rows and r >= section.header_rows:
                    for hr in range(section.header_rows):
                        repeats.append((self.page.number, self.y, hr))
                        self.y += heights[hr]
            placed.append((self.page.number, self.y, self.y + h))
            self.y += h
        for page, y, hr in repeats:
            for cell in section.rows[hr]:
                self._cell(page, xs, cell, y, y + heights[hr], draw_text=True)
        for r, row in enumerate(section.rows):
            for cell in row:
                rows = range(r, min(r + cell.rowspan, len(placed)))
                # One rectangle per page the merged cell covers; text on its first piece only.
                pieces: dict[int, list[float]] = {}
                for rr in rows:
                    pno, y0, y1 = placed[rr]
                    if pno not in pieces:
                        pieces[pno] = [y0, y1]
                    else:
                        pieces[pno][1] = y1
                for i, (pno, (y0, y1)) in enumerate(pieces.items()):
                    self._cell(pno, xs, cell, y0, y1, draw_text=i == 0)

    def _cell(
        self, pno: int, xs: list[float], cell: C, y0: float, y1: float, *, draw_text: bool
    ) -> None:
        page = self.doc[pno]
        x0, x1 = xs[cell.col], xs[cell.col + cell.colspan]
        if self.ruled:
            # Drawn in one shape per page at the end of the form (draw_rect per cell is slow).
            self.rects.setdefault(pno, []).append(pymupdf.Rect(x0, y0, x1, y1))
        if not draw_text or not cell.text:
            return
        lines = wrap(cell.text, x1 - x0 - 2 * self.pad)
        block_h = len(lines) * SIZE * LEADING
        ty = y0 + (y1 - y0 - block_h) / 2
        for line in lines:
            page.insert_text(
                (x0 + self.pad, ty + SIZE), line, fontname=self.font_name, fontsize=SIZE
            )
            ty += SIZE * LEADING


def _save(doc: pymupdf.Document, path: Path, **kw: object) -> None:
    """Subset the embedded CJK font (3.5 MB whole) before saving."""
    doc.subset_fonts()
    doc.save(path, garbage=3, **kw)  # type: ignore[arg-type]
    doc.close()


def write_forms(
    path: Path,
    specs: list[FormSpec],
    *,
    ruled: bool = True,
    repeat_header: bool = False,
    new_page_each: bool = False,
    page_bottom: float = BOTTOM,
) -> list[tuple[int, int]]:
    doc = pymupdf.open()
    drawer = Drawer(doc, ruled=ruled, repeat_header=repeat_header, page_bottom=page_bottom)
    ranges = []
    for i, spec in enumerate(specs):
        if new_page_each and i:
            drawer.new_page()
        ranges.append(drawer.form(spec))
    _save(doc, path)
    return ranges


def write_text_pdf(path: Path, lines: list[str], pages: int = 1) -> None:
    doc = pymupdf.open()
    for _ in range(pages):
        page = doc.new_page(width=PAGE_W, height=PAGE_H)
        page.insert_font(fontname=FONT_NAME, fontbuffer=FONT.buffer)
        y = TOP
        for line in lines:
            page.insert_text((LEFT, y), line, fontname=FONT_NAME, fontsize=11)
            y += 20
    _save(doc, path)


def write_image_only_pdf(path: Path) -> None:
    src = pymupdf.open()
    Drawer(src).form(standard_form(indicators=2))
    pix = src[0].get_pixmap(dpi=50)
    doc = pymupdf.open()
    page = doc.new_page(width=PAGE_W, height=PAGE_H)
    page.insert_image(page.rect, pixmap=pix)
    _save(doc, path)


def write_garbled_pdf(path: Path) -> None:
    """CJK text whose font has no ToUnicode map: glyphs cannot be mapped back to characters."""
    doc = pymupdf.open()
    drawer = Drawer(doc)
    drawer.form(standard_form(indicators=2))
    doc.subset_fonts()
    for xref in range(1, doc.xref_length()):
        if doc.xref_get_key(xref, "ToUnicode")[0] != "null":
            doc.xref_set_key(xref, "ToUnicode", "null")
    _save(doc, path)


def write_encrypted_pdf(path: Path) -> None:
    doc = pymupdf.open()
    Drawer(doc).form(standard_form(indicators=1))
    _save(doc, path, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="secret", owner_pw="owner")


def write_zero_page_pdf(path: Path) -> None:
    body = (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    )
    xref_at = len(body)
    body += (
        b"xref\n0 3\n0000000000 65535 f \n0000000009 00000 n \n0000000056 00000 n \n"
        b"trailer<</Size 3/Root 1 0 R>>\nstartxref\n" + str(xref_at).encode() + b"\n%%EOF\n"
    )
    path.write_bytes(body)


def write_truncated_pdf(path: Path) -> None:
    tmp = path.with_suffix(".full.pdf")
    write_forms(tmp, [standard_form()])
    data = tmp.read_bytes()
    tmp.unlink()
    path.write_bytes(data[: len(data) // 2])
