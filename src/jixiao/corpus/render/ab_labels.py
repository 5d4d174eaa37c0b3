"""`ab-labels`: (A)(B) column labels, 市级主管部门, 一级 labels carrying their weights
("产出指标(50分)"), other column proportions and type sizes, sometimes landscape."""

from __future__ import annotations

import random

import pymupdf

from jixiao.contract import FormRecord
from jixiao.corpus.render.blocks import (
    AB,
    draw_table,
    draw_title,
    funding_table,
    goals_table,
    header_table,
    indicator_table,
    page_policy,
)
from jixiao.corpus.render.draw import Flow, new_document, seeded_style

PageRange = tuple[int, int]


def render(forms: list[FormRecord], seed: int) -> tuple[pymupdf.Document, list[PageRange]]:
    rng = random.Random(f"ab-labels:{seed}")
    landscape = rng.random() < 0.4
    flow = Flow(new_document(), seeded_style(rng, landscape=landscape, font_range=(8.0, 10.0)))
    repeat_header = page_policy(rng, rng.choice([0.0, 1.0]))
    repeat_label = page_policy(rng, rng.choice([0.0, 1.0]))
    # wider 三级 and reason columns; the level columns wide enough for "产出指标(50分)"
    proportions = [1.15, 1.0, 2.2, 1.4, 1.4, 0.7, 0.7, 2.6 if landscape else 2.0]
    pages: list[PageRange] = []
    for record in forms:
        flow.new_page()
        first = flow.page_number
        width = flow.style.content_width
        draw_title(flow, record)
        draw_table(flow, header_table(record, AB, width, rng))
        if record.funding:
            draw_table(flow, funding_table(record, AB, width, rng))
        draw_table(flow, goals_table(record, AB, width, rng))
        draw_table(
            flow,
            indicator_table(record, AB, width, rng, proportions),
            repeat_header=repeat_header,
            label_on_continuation=repeat_label,
        )
        pages.append((first, flow.page_number))
    flow.finish()
    return flow.doc, pages
