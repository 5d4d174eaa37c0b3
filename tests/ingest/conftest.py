"""Fixture PDFs for the ingestion tests, drawn once per session into a temp folder.

`fixtures.py` is loaded under a unique module name (--import-mode=importlib; other test folders
have helper modules too)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest


def _load_fixtures() -> ModuleType:
    name = "jixiao_tests_ingest_fixtures"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("fixtures.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def draw() -> ModuleType:
    """The fixture-drawing module (write_forms, standard_form, …)."""
    return _load_fixtures()


@pytest.fixture(scope="session")
def pdfs(tmp_path_factory: pytest.TempPathFactory, draw: ModuleType) -> dict[str, Path]:
    """Named fixture PDFs; `ranges[name]` holds the page range of each form drawn."""
    d = tmp_path_factory.mktemp("ingest_pdfs")
    out: dict[str, Path] = {}

    def forms(name: str, specs: list, **kw: object) -> None:
        path = d / f"{name}.pdf"
        RANGES[name] = draw.write_forms(path, specs, **kw)
        out[name] = path

    forms("ruled", [draw.standard_form()])
    forms("cross_repeat", [draw.standard_form(indicators=30)], repeat_header=True)
    forms("cross_plain", [draw.standard_form(indicators=30)], repeat_header=False)
    forms(
        "two_on_page",
        [
            draw.standard_form("第一个项目", indicators=2),
            draw.standard_form("第二个项目", indicators=2),
        ],
    )
    forms(
        "bundle",
        [draw.standard_form(f"项目{i}", indicators=3 + 4 * (i % 3)) for i in range(6)],
    )
    forms("borderless", [draw.standard_form(indicators=4)], ruled=False)
    for name, writer in (
        ("image_only", draw.write_image_only_pdf),
        ("garbled", draw.write_garbled_pdf),
        ("encrypted", draw.write_encrypted_pdf),
        ("zero_pages", draw.write_zero_page_pdf),
        ("truncated", draw.write_truncated_pdf),
    ):
        path = d / f"{name}.pdf"
        writer(path)
        out[name] = path
    no_form = d / "no_form.pdf"
    draw.write_text_pdf(no_form, ["会议纪要", "本次会议讨论了预算编制工作。"])
    out["no_form"] = no_form
    many = d / "many_pages.pdf"
    draw.write_text_pdf(many, ["第一页"], pages=5)
    out["many_pages"] = many
    not_pdf = d / "notes.pdf"
    not_pdf.write_text("这不是PDF文件\n", encoding="utf-8")
    out["not_pdf"] = not_pdf
    return out


RANGES: dict[str, list[tuple[int, int]]] = {}


@pytest.fixture(scope="session")
def ranges(pdfs: dict[str, Path]) -> dict[str, list[tuple[int, int]]]:
    return RANGES
