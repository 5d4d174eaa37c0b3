"""Generator settings of the realistic families, drawn from a space that differs per split.

Every `office`, `html` and `scan-sweep` document records the settings it was made with (the
manifest's `settings`). The test split draws the keys of `SPLIT_KEYS` from values that dev never
uses (other fonts and templates, other dpi, JPEG quality and rotation bands, bitonal pages...),
so that test accuracy measures how the extractor does on settings nobody tuned it on. Keys not
in `SPLIT_KEYS` (labels wording, which pages carry a seal...) are drawn alike in both splits.
"""

from __future__ import annotations

import random
from typing import Literal

Split = Literal["dev", "test"]
SettingValue = str | int | float | bool
Settings = dict[str, SettingValue]

# fonts none of the PyMuPDF renderers use (they draw with Droid Sans Fallback)
OFFICE_FONTS: dict[Split, tuple[str, ...]] = {
    "dev": ("WenQuanYi Zen Hei",),
    "test": ("AR PL UMing CN",),
}
# office templates: 1 the official column order with 年初预算数, 2 without 年初预算数 and with the
# header repeated on every page, 3 (test only) 分值 between 年度指标值 and 实际完成值
OFFICE_TEMPLATES: dict[Split, tuple[int, ...]] = {"dev": (1, 2), "test": (3,)}
# how the sheet is fitted to the paper: dev fits the columns to the page width, test prints
# at a fixed scale (rows then break wherever the page ends)
OFFICE_FIT: dict[Split, tuple[str, ...]] = {"dev": ("fit-width",), "test": ("scale",)}

HTML_TEMPLATES: dict[Split, tuple[str, ...]] = {
    # a full ruled grid, or horizontal rules only drawn above each cell (border-top)
    "dev": ("grid", "grid-shaded", "rules-top"),
    "test": ("rules",),  # horizontal rules only (border-bottom), no vertical lines
}
HTML_FONTS: dict[Split, tuple[str, ...]] = {
    "dev": ('"Noto Serif CJK SC", "Source Han Serif SC", SimSun, serif',),
    "test": ('"WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", sans-serif',),
}

SCAN_DPI: dict[Split, tuple[int, ...]] = {"dev": (150, 200, 250), "test": (180, 300)}
SCAN_JPEG: dict[Split, tuple[int, int]] = {"dev": (55, 90), "test": (40, 50)}
# |rotation| in degrees, recorded to 0.1°
SCAN_ROTATION: dict[Split, tuple[float, float]] = {"dev": (0.2, 1.0), "test": (1.1, 2.0)}
SCAN_BLUR: dict[Split, tuple[float, ...]] = {"dev": (0.0, 0.5), "test": (0.9, 1.3)}
SCAN_PAPER: dict[Split, tuple[str, ...]] = {"dev": ("white", "grey"), "test": ("yellowed",)}
SCAN_SHADOW: dict[Split, tuple[str, ...]] = {"dev": ("none", "left"), "test": ("right",)}
SCAN_SEAL: dict[Split, tuple[str, ...]] = {"dev": ("none", "unit"), "test": ("totals",)}
# a landscape sheet fed in portrait: the page image turned by 90° one way or the other
SCAN_TURN: dict[Split, tuple[int, ...]] = {"dev": (0, 90), "test": (0, 270)}
# share of characters a searchable scan's OCR layer gets wrong
SCAN_OCR_ERRORS: dict[Split, tuple[float, ...]] = {"dev": (0.02,), "test": (0.06,)}
# share of scans that are bitonal (1-bit, no JPEG); dev's are at dev dpi and blur, so test's
# bitonal pages (180/300 dpi, heavier blur) are still settings nobody tuned on
SCAN_BITONAL_SHARE: dict[Split, float] = {"dev": 0.3, "test": 0.4}

SPLIT_KEYS: dict[str, tuple[str, ...]] = {
    "office": ("font", "template", "fit"),
    "html": ("template", "font"),
    "scan-sweep": (
        "dpi",
        "jpeg",
        "rotation",
        "blur",
        "paper",
        "shadow",
        "seal",
        "ocr_error_rate",
    ),
}
"""Per family, the settings whose dev and test values never meet. (`turn` is 0 in both splits
for most pages; only its other value differs: 90° in dev, 270° in test.)"""


def office_settings(split: Split, rng: random.Random) -> Settings:
    template = rng.choice(OFFICE_TEMPLATES[split])
    fit = rng.choice(OFFICE_FIT[split])
    settings: Settings = {
        "tool": "libreoffice",
        "font": rng.choice(OFFICE_FONTS[split]),
        "template": template,
        # template 3 keeps or drops 年初预算数 by the seed; 1 always has it, 2 never
        "initial_budget_column": template == 1 or (template == 3 and rng.random() < 0.5),
        "repeat_header": template == 2 or rng.random() < 0.3,
        "fit": fit,
        "scale": 100 if fit == "fit-width" else rng.choice([85, 90, 95, 100]),
        "font_size": rng.choice([9, 10, 10.5, 11]),
        "labels": rng.choice(["central", "synonyms"]),
        "manual_break": rng.random() < 0.4,  # a page break forced inside the indicator rows
    }
    return settings


def html_settings(split: Split, rng: random.Random) -> Settings:
    return {
        "tool": "chromium",
        "template": rng.choice(HTML_TEMPLATES[split]),
        "font": rng.choice(HTML_FONTS[split]),
        "font_px": rng.choice([12, 13, 14]),
        "landscape": rng.random() < 0.3,
        "margin_mm": rng.choice([10, 15, 20]),
        "labels": rng.choice(["central", "synonyms"]),
        "repeat_header": rng.random() < 0.7,  # <thead> repeated by the browser on each page
    }


def scan_settings(split: Split, rng: random.Random, sources: tuple[str, ...]) -> Settings:
    """`sources`: the text-layer families this machine can render as the scanned original."""
    bitonal = rng.random() < SCAN_BITONAL_SHARE[split]
    lo, hi = SCAN_ROTATION[split]
    searchable = rng.random() < 0.3
    settings: Settings = {
        "source": rng.choice(sources),
        "dpi": rng.choice(SCAN_DPI[split]),
        "rotation": round(rng.uniform(lo, hi), 1) * rng.choice([-1, 1]),
        "blur": rng.choice(SCAN_BLUR[split]),
        "bitonal": bitonal,
        "paper": rng.choice(SCAN_PAPER[split]),
        "specks": rng.choice([0, 40, 150]),
        "shadow": rng.choice(SCAN_SHADOW[split]),
        "seal": rng.choice(SCAN_SEAL[split]),
        "signature": rng.random() < 0.6,
        # a quarter of the sheets went in sideways; an OCR layer is laid over upright pages only
        "turn": 0 if searchable or rng.random() < 0.75 else rng.choice(SCAN_TURN[split][1:]),
        "searchable": searchable,
    }
    if not bitonal:
        settings["jpeg"] = rng.randint(*SCAN_JPEG[split])
    if searchable:
        settings["ocr_error_rate"] = rng.choice(SCAN_OCR_ERRORS[split])
    return settings
