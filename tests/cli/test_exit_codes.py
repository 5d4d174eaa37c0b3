"""Every documented exit code (README, "Commands") is the exit status of the installed `jixiao`
command, with its one line on stderr: `jixiao: <file>: <what is wrong> — <what to do>`.

Run through .venv/bin/jixiao in a subprocess (see conftest.py). Until cli.main stopped running
click with standalone_mode=False, `typer.Exit(1)` came back as a dropped return value: the
console script exited 0 on `check --strict` with an error finding, on Ctrl-C and on `--help`
failures alike, while CliRunner tests passed.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pymupdf
import pytest
from clihelpers import EXAMPLE, REPO, Run, clean_env, installed_jixiao

GOLD = REPO / "evals" / "gold" / "sh-bdc-2023-02.json"  # the form EXAMPLE renders


def one_error_line(stderr: str, file: object, words: str) -> str:
    """The single stderr line, which names the file, says what is wrong and what to do."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    line = lines[0]
    assert line.startswith(f"jixiao: {file}: " if file is not None else "jixiao: "), line
    assert words in line and " — " in line, line
    assert "Traceback" not in stderr
    return line


# -- bad PDFs, each made here from the committed example ------------------------------------


def write_truncated(path: Path) -> Path:
    data = EXAMPLE.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def write_encrypted(path: Path) -> Path:
    with pymupdf.open(EXAMPLE) as doc:
        doc.save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="secret", owner_pw="owner")
    return path


def write_zero_pages(path: Path) -> Path:
    # PyMuPDF refuses to save a document without pages: write the smallest valid one by hand.
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
    return path


def write_no_form(path: Path) -> Path:
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((50, 80), "会议纪要：本次会议讨论了预算编制工作。", fontname="china-s")
    doc.save(path)
    doc.close()
    return path


# -- ingestion errors: 3 to 9 ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "code", "words"),
    [
        (lambda d: d / "absent.pdf", 3, "does not exist"),
        (lambda d: d / "notes.pdf", 4, "not a PDF"),
        (lambda d: write_truncated(d / "truncated.pdf"), 5, "damaged or truncated"),
        (lambda d: write_encrypted(d / "encrypted.pdf"), 6, "encrypted"),
        (lambda d: write_zero_pages(d / "empty.pdf"), 7, "no pages"),
        (lambda d: write_no_form(d / "minutes.pdf"), 8, "no 项目支出绩效自评表 found"),
    ],
    ids=["3-missing", "4-not-pdf", "5-damaged", "6-encrypted", "7-no-pages", "8-no-form"],
)
def test_bad_pdf_exit_code_and_line(
    jixiao: Run, tmp_path: Path, make: Any, code: int, words: str
) -> None:
    (tmp_path / "notes.pdf").write_text("这不是PDF文件\n", encoding="utf-8")
    pdf = make(tmp_path)
    proc = jixiao("extract", str(pdf), "-o", "out.json", "--extractor", "layout")
    assert proc.returncode == code, proc.stderr
    one_error_line(proc.stderr, pdf, words)
    assert not (tmp_path / "out.json").exists()  # nothing read, nothing written


def test_9_too_many_pages(jixiao: Run) -> None:
    proc = jixiao("extract", str(EXAMPLE), "-o", "out.json", "-x", "layout", "--max-pages", "1")
    assert proc.returncode == 9, proc.stderr
    one_error_line(proc.stderr, EXAMPLE, "--max-pages 1")


# -- batches: 10 ----------------------------------------------------------------------------


def test_10_batch_with_one_bad_input_stores_the_good_one(jixiao: Run, tmp_path: Path) -> None:
    bad = write_truncated(tmp_path / "bad.pdf")
    db = f"sqlite:///{tmp_path / 'jixiao.db'}"
    proc = jixiao("batch", str(EXAMPLE), str(bad), "--db", db, "--no-progress", "-e", "layout")
    assert proc.returncode == 10, proc.stderr
    assert "Traceback" not in proc.stderr
    # the summary table, then one whole line for the failed file
    failed = [line for line in proc.stderr.splitlines() if str(bad) in line]
    assert len(failed) == 1 and "damaged or truncated" in failed[0], proc.stderr
    exported = jixiao("export", "--db", db, "--format", "json", "-o", "forms.json")
    assert exported.returncode == 0, exported.stderr
    forms = json.loads((tmp_path / "forms.json").read_text(encoding="utf-8"))
    assert len(forms) == 1 and forms[0]["form"]["project_name"] == "数据运营服务费"


def test_10_extract_with_one_bad_input_writes_the_good_one(jixiao: Run, tmp_path: Path) -> None:
    bad = write_encrypted(tmp_path / "locked.pdf")
    proc = jixiao("extract", str(bad), str(EXAMPLE), "-o", "out.json", "-x", "layout")
    assert proc.returncode == 10, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("jixiao: ")]
    assert len(errors) == 1 and str(bad) in errors[0] and "encrypted" in errors[0]
    assert len(json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))) == 1


def test_14_database_cannot_be_opened(jixiao: Run, tmp_path: Path) -> None:
    # Not in README's table yet, but a distinct code all the same.
    db = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'x.db'}"
    proc = jixiao("batch", str(EXAMPLE), "--db", db, "--no-progress")
    assert proc.returncode == 14, proc.stderr
    one_error_line(proc.stderr, None, "cannot open the database")


# -- configuration, endpoint, input file: 11, 12, 13 ----------------------------------------


def test_11_configuration(jixiao: Run) -> None:
    proc = jixiao("extract", str(EXAMPLE), "-o", "out.json", "--extractor", "nosuch")
    assert proc.returncode == 11, proc.stderr
    one_error_line(proc.stderr, None, "unknown extractor 'nosuch'")
    env = jixiao("llm", "check", JIXIAO_LLM_TIMEOUT_S="soon")
    assert env.returncode == 11, env.stderr
    one_error_line(env.stderr, None, "invalid LLM setting timeout_s")


def free_loopback_port() -> int:
    """A port nothing listens on (taken from the OS, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_12_llm_endpoint_nobody_listens_on(jixiao: Run) -> None:
    url = f"http://127.0.0.1:{free_loopback_port()}/v1"
    proc = jixiao("llm", "check", "--base-url", url, "--model", "gemma3-270m", "--timeout", "5")
    assert proc.returncode == 12, proc.stderr
    line = one_error_line(proc.stderr, url, "cannot connect to the LLM endpoint")
    assert "jixiao llm check" in line or "--mode" in line


def test_13_invalid_input_file(jixiao: Run, tmp_path: Path) -> None:
    record = tmp_path / "record.json"
    record.write_text("{not json", encoding="utf-8")
    proc = jixiao("check", str(record))
    assert proc.returncode == 13, proc.stderr
    one_error_line(proc.stderr, record, "not valid JSON")


# -- check --strict: 1; eval compare: 20 ----------------------------------------------------


def test_check_strict_exits_1_on_an_error_finding(jixiao: Run, tmp_path: Path) -> None:
    gold = json.loads(GOLD.read_text(encoding="utf-8"))
    sound = tmp_path / "sound.json"
    sound.write_text(json.dumps(gold, ensure_ascii=False), encoding="utf-8")
    ok = jixiao("check", str(sound), "--strict", "--json")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert not [f for f in json.loads(ok.stdout)[0]["flags"] if f["severity"] == "error"]

    gold["total_score"] = round(gold["total_score"] + 5, 2)  # no longer the sum of the scores
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(gold, ensure_ascii=False), encoding="utf-8")
    strict = jixiao("check", str(broken), "--strict", "--json")
    flags = json.loads(strict.stdout)[0]["flags"]
    assert [(f["rule"], f["severity"]) for f in flags if f["code"] == "TOTAL_SCORE_MISMATCH"] == [
        ("R9", "error")
    ]
    assert strict.returncode == 1, strict.stderr
    assert strict.stderr == ""  # the findings are the output; nothing went wrong
    # without --strict the same findings are a report, not a failure
    assert jixiao("check", str(broken)).returncode == 0


def _run_file(split: str, wrong: list[str]) -> dict[str, Any]:
    """A minimal run JSON of `jixiao eval run` (shape of harness.run_eval, as in tests/evals):
    one form with 10 scored leaves, `wrong` of them wrong."""
    from jixiao.evals.harness import RUN_FORMAT

    total, correct = 10, 10 - len(wrong)
    block = {"correct": correct, "total": total, "accuracy": correct / total}
    form = {
        "doc": "pdf/ruled/a.pdf",
        "family": "ruled",
        "gold_id": "a",
        "gold_sha256": "g-a",
        "doc_sha256": "d-a",
        "origin": "synthetic",
        "found": True,
        "pages": [1],
        "leaves": total,
        "correct": correct,
        "groups": {"indicators": [correct, total]},
        "fields": {"indicators[].score": [correct, total]},
        "wrong": [[path, 5.0, 4.0, 1, 0.9] for path in wrong],
        "flags_found": [],
        "flags_expected": [],
    }
    return {
        "format": RUN_FORMAT,
        "name": "hand-made",
        "created": "2026-01-01T00:00:00+00:00",
        "split": split,
        "extractor": "layout",
        "model": None,
        "mode": None,
        "prompts": {},
        "commit": None,
        "dirty": None,
        "manifest": {"path": "corpus/manifest.json", "seed": 7, "documents": 1},
        "selection": {"family": None, "limit": None},
        "threshold": 0.9,
        "summary": {
            "field_accuracy": {**block, "groups": {"indicators": block}},
            "families": {"ruled": {**block, "groups": {"indicators": block}}},
            "fields": {"indicators[].score": block},
        },
        "documents": [],
        "forms": [form],
    }


def test_eval_compare_exits_20_on_a_regression(jixiao: Run, tmp_path: Path) -> None:
    base, worse = tmp_path / "base.json", tmp_path / "worse.json"
    base.write_text(json.dumps(_run_file("test", [])), encoding="utf-8")
    worse.write_text(json.dumps(_run_file("test", ["indicators[2].score"])), encoding="utf-8")
    same = jixiao("eval", "compare", str(base), str(base))
    assert same.returncode == 0, same.stderr
    proc = jixiao("eval", "compare", str(base), str(worse))
    assert proc.returncode == 20, proc.stderr
    one_error_line(proc.stderr, worse, "test:")
    assert "indicators[2].score" in proc.stdout


# -- the command line itself ----------------------------------------------------------------


def test_usage_error_is_exit_2_without_traceback(jixiao: Run) -> None:
    proc = jixiao("check", "--no-such-option")
    assert proc.returncode == 2, proc.stderr
    assert "No such option" in proc.stderr and "Traceback" not in proc.stderr
    bare = jixiao()  # no arguments: the help, as a usage error
    assert bare.returncode == 2 and "Usage" in bare.stderr + bare.stdout
    assert "Traceback" not in bare.stderr


def test_help_exits_0(jixiao: Run) -> None:
    proc = jixiao("check", "--help")
    assert proc.returncode == 0 and "--strict" in proc.stdout, proc.stderr


def test_ctrl_c_is_130_with_one_line(tmp_path: Path) -> None:
    """Ctrl-C while waiting on an endpoint that accepts and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        url = f"http://127.0.0.1:{server.getsockname()[1]}/v1"
        proc = subprocess.Popen(
            [str(installed_jixiao()), "llm", "check", "--base-url", url, "--model", "m"],
            cwd=tmp_path,
            env=clean_env(tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            server.settimeout(60)
            conn, _ = server.accept()  # the request is on its way: the command is waiting
            with conn:
                time.sleep(0.3)
                proc.send_signal(signal.SIGINT)
                _, stderr = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines() == ["jixiao: interrupted"]
