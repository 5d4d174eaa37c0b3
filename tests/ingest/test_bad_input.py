"""`jixiao inspect` on bad input: one clear line on stderr, a distinct exit code, no traceback;
with several inputs the good ones are still processed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jixiao.cli import app
from jixiao.errors import EXIT_PARTIAL_FAILURE

runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, ["inspect", *args])


@pytest.mark.parametrize(
    ("name", "code", "words"),
    [
        ("not_pdf", 4, "not a PDF"),
        ("truncated", 5, "damaged or truncated"),
        ("encrypted", 6, "encrypted"),
        ("zero_pages", 7, "no pages"),
        ("no_form", 8, "no 项目支出绩效自评表 found"),
        ("garbled", 8, "OCR"),
    ],
)
def test_one_bad_file_gives_one_line_and_its_code(
    pdfs: dict[str, Path], name: str, code: int, words: str
) -> None:
    result = _run(str(pdfs[name]))
    assert result.exit_code == code
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"jixiao: {pdfs[name]}: ") and words in lines[0]
    assert " — " in lines[0]  # what to do
    assert "Traceback" not in result.output


def test_missing_file_and_too_many_pages(pdfs: dict[str, Path], tmp_path: Path) -> None:
    missing = _run(str(tmp_path / "absent.pdf"))
    assert missing.exit_code == 3 and "does not exist" in missing.stderr
    many = _run(str(pdfs["many_pages"]), "--max-pages", "3")
    assert many.exit_code == 9 and "more than --max-pages 3" in many.stderr


def test_folder_with_mixed_files_processes_the_good_ones(
    pdfs: dict[str, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "mixed"
    (folder / "sub").mkdir(parents=True)
    (folder / "good.pdf").write_bytes(pdfs["ruled"].read_bytes())
    (folder / "sub" / "bad.pdf").write_bytes(pdfs["truncated"].read_bytes())
    (folder / "readme.txt").write_text("notes", encoding="utf-8")
    result = _run(str(folder), "--json")
    assert result.exit_code == EXIT_PARTIAL_FAILURE
    payload = json.loads(result.stdout)
    assert [Path(f["file"]).name for f in payload["files"]] == ["good.pdf"]
    assert payload["files"][0]["forms"][0]["pages"] == [1]
    assert [Path(f["file"]).name for f in payload["failures"]] == ["bad.pdf"]
    assert [Path(p).name for p in payload["skipped"]] == ["readme.txt"]
    assert "1 of 2 inputs failed" in result.stderr
    assert "skipped 1 non-PDF" in result.stderr


def test_glob_and_explicit_non_pdf(pdfs: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "a.pdf").write_bytes(pdfs["ruled"].read_bytes())
    (tmp_path / "b.pdf").write_bytes(pdfs["two_on_page"].read_bytes())
    result = _run(str(tmp_path / "*.pdf"), "--json")
    assert result.exit_code == 0
    forms = [len(f["forms"]) for f in json.loads(result.stdout)["files"]]
    assert forms == [1, 2]
    nothing = _run(str(tmp_path / "*.xyz"))
    assert nothing.exit_code == 3 and "no file matches" in nothing.stderr
    explicit = _run(str(pdfs["not_pdf"]), str(tmp_path / "a.pdf"))
    assert explicit.exit_code == EXIT_PARTIAL_FAILURE and "not a PDF" in explicit.stderr


def test_human_output_shows_forms_grids_and_layout(pdfs: dict[str, Path]) -> None:
    result = _run(str(pdfs["two_on_page"]))
    assert result.exit_code == 0
    assert "form 1" in result.stdout and "form 2" in result.stdout
    assert "年初预算数=16,124.45" in result.stdout


def test_console_script_exit_code(pdfs: dict[str, Path]) -> None:
    """Through the real entry point (cli.main), not only CliRunner."""
    proc = subprocess.run(
        [sys.executable, "-m", "jixiao", "inspect", str(pdfs["encrypted"])],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 6
    assert proc.stderr.strip().count("\n") == 0 and "encrypted" in proc.stderr
