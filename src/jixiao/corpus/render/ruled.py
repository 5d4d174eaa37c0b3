"""`ruled`: the official look — A4 portrait, a full ruled grid, merged 一级/二级 cells."""

from __future__ import annotations

import random

import pymupdf

from jixiao.contract import FormRecord
from jixiao.corpus.render.blocks import central_labels, draw_central_form, page_policy
from jixiao.corpus.render.draw import Flow, new_document, seeded_style

PageRange = tuple[int, int]


def render(forms: list[FormRecord], seed: int) -> tuple[pymupdf.Document, list[PageRange]]:
    rng = random.Random(f"ruled:{seed}")
    flow = Flow(new_document(), seeded_style(rng))
    # per document: is the indicator header repeated after a page break, and is a merged
    # 一级/二级 label cut by the break repeated or left blank (real forms do both)
    repeat_header = page_policy(rng, rng.choice([0.0, 0.5, 1.0]))
    repeat_label = page_policy(rng, rng.choice([0.0, 0.5, 1.0]))
    labels = central_labels(rng)
    pages: list[PageRange] = []
    for record in forms:
        flow.new_page()
        first = flow.page_number
        draw_central_form(
            flow,
            record,
            labels,
            rng,
            repeat_header=repeat_header,
            label_on_continuation=repeat_label,
        )
        pages.append((first, flow.page_number))
    flow.finish()
    return flow.doc, pages
