"""`borderless`: the central layout with no ruling lines at all; columns are aligned by position
only, with generous whitespace between columns and rows. Wrapped cells still wrap."""

from __future__ import annotations

import random

import pymupdf

from jixiao.contract import FormRecord
from jixiao.corpus.render.blocks import (
    central_labels,
    draw_forms_one_per_page,
    page_policy,
    synonym_labels,
)
from jixiao.corpus.render.draw import Flow, new_document, seeded_style

PageRange = tuple[int, int]


def render(forms: list[FormRecord], seed: int) -> tuple[pymupdf.Document, list[PageRange]]:
    rng = random.Random(f"borderless:{seed}")
    style = seeded_style(rng, ruled=False, pad_range=(4.5, 7.5), font_range=(8.0, 10.0))
    flow = Flow(new_document(), style)
    repeat_header = page_policy(rng, rng.choice([0.0, 1.0]))
    repeat_label = page_policy(rng, 0.5)
    # one template per document: a department prints all its forms with the same wording
    labels = synonym_labels(rng) if rng.random() < 0.5 else central_labels(rng)
    pages = draw_forms_one_per_page(
        flow, forms, labels, rng, repeat_header=repeat_header, label_on_continuation=repeat_label
    )
    flow.finish()
    return flow.doc, pages
