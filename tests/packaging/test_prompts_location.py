"""Where prompts come from: JIXIAO_PROMPTS_DIR, else the copy installed with the package (a
wheel), else the checkout's prompts/ (an editable install, the tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jixiao.extract.llm import prompts

REPO = Path(__file__).resolve().parents[2]


def _tree(root: Path, text: str) -> Path:
    (root / "extract_header").mkdir(parents=True)
    (root / "extract_header" / "v1.md").write_text(text + " {rows}", encoding="utf-8")
    return root


def test_packaged_copy_first_then_checkout_then_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JIXIAO_PROMPTS_DIR", raising=False)
    packaged = _tree(tmp_path / "pkg", "packaged")
    checkout = _tree(tmp_path / "repo", "checkout")
    monkeypatch.setattr(prompts, "PACKAGED_PROMPTS", packaged)
    monkeypatch.setattr(prompts, "CHECKOUT_PROMPTS", checkout)
    assert prompts.load_prompt("extract_header", 1).text.startswith("packaged")

    monkeypatch.setattr(prompts, "PACKAGED_PROMPTS", tmp_path / "not-installed")
    assert prompts.load_prompt("extract_header", 1).text.startswith("checkout")

    monkeypatch.setenv("JIXIAO_PROMPTS_DIR", str(_tree(tmp_path / "env", "env")))
    assert prompts.load_prompt("extract_header", 1).text.startswith("env")


def test_a_checkout_reads_its_own_prompts(monkeypatch: pytest.MonkeyPatch) -> None:
    """No build output may shadow prompts/ in a checkout (src/jixiao/_prompts must not exist)."""
    monkeypatch.delenv("JIXIAO_PROMPTS_DIR", raising=False)
    assert prompts.prompts_dir() == REPO / "prompts"
    assert not (REPO / "src" / "jixiao" / "_prompts").exists()
