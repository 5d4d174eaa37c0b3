"""`ruled`: the official look — A4 portrait, a full ruled grid, merged 一级/二级 cells."""

from __future__ import annotations

import random

import pymupdf

from jixiao.contract import FormRecord
from jixiao.corpus.render.blocks import central_labels, draw_forms_one_per_page, page_policy
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
    pages = draw_forms_one_per_page(
        flow, forms, labels, rng, repeat_header=repeat_header, label_on_continuation=repeat_label
    )
    flow.finish()
    return flow.doc, pages
