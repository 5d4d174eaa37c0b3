from __future__ import annotations

from pathlib import Path

from jixiao.errors import FileMissing, InvalidInput
from jixiao.inputs import expand_inputs


def _touch(path: Path, data: bytes = b"%PDF-1.4\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_folders_globs_files_and_their_errors(tmp_path: Path) -> None:
    a = _touch(tmp_path / "in" / "a.pdf")
    b = _touch(tmp_path / "in" / "deep" / "B.PDF")
    note = _touch(tmp_path / "in" / "note.txt", b"x")
    _touch(tmp_path / "in" / ".hidden", b"x")
    c = _touch(tmp_path / "c.pdf")
    empty = tmp_path / "empty"
    empty.mkdir()
    out = expand_inputs(
        [
            str(tmp_path / "in"),
            str(tmp_path / "*.pdf"),
            str(a),  # named twice: kept once
            str(tmp_path / "missing.pdf"),
            str(tmp_path / "*.none"),
            str(empty),
        ]
    )
    assert out.pdfs == [a, b, c]
    assert out.skipped == [note]
    kinds = [type(e) for e in out.errors]
    assert kinds == [FileMissing, FileMissing, InvalidInput]
    assert "missing.pdf" in out.errors[0].line()
    assert "no file matches" in out.errors[1].line()
    assert "no *.pdf" in out.errors[2].line()


def test_explicit_non_pdf_name_is_passed_on_for_validation(tmp_path: Path) -> None:
    text = _touch(tmp_path / "report.docx", b"PK")
    out = expand_inputs([str(text)])
    assert out.pdfs == [text] and not out.errors  # ingest says "not a PDF" for it
