"""A wheel of jixiao (`pip install .`, not `-e`) works on its own, away from the checkout.

The wheel is built from a copy of the working tree, installed into a fresh virtualenv, and run
from a temporary folder. That virtualenv sees the test interpreter's packages (the dependencies)
through a .pth file, with nothing to download; it does not see the checkout's src/ (the
editable install's own .pth file is not processed from there), so what runs is the wheel.
`--system-site-packages` would not do: a venv made from a venv's python gets the base
interpreter's site-packages, not the venv's.

Building needs the build backend (setuptools, from the package index pip is configured with,
as any `pip install` does).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from recorded_llm import serve_cassette

from jixiao.extract.llm import prompts as prompts_module

REPO = Path(__file__).resolve().parents[2]
PROMPTS = REPO / "prompts"
GOLD = REPO / "evals" / "gold" / "sh-bdc-2023-02.json"
# No cassette holds the calls for examples/sh-bdc-2023-02.ruled.pdf (the LLM baselines recorded
# sh-bdc-2023-01 and -03 of the corpus); this one holds all five section calls of its own PDF,
# recorded against the real embedded server with validation re-asks off.
LLM_PDF = REPO / "tests" / "llm" / "data" / "injected.pdf"
CASSETTE = (
    REPO / "cassettes" / "test_llm_extract" / "test_injected_pdf_end_to_end_and_cached_rerun.yaml"
)

pytestmark = pytest.mark.slow

# Not copied for the build: VCS, virtualenvs, build outputs, caches, generated corpora.
_TOP_LEVEL_SKIP = {".git", ".venv", "build", "dist", "corpus", "out", ".jixiao"}
_ANYWHERE_SKIP = shutil.ignore_patterns(
    "__pycache__", "*.pyc", "*.egg-info", ".pytest_cache", ".mypy_cache", ".ruff_cache",
    ".hypothesis", "*.db", "*.db-wal", "*.db-shm",
)  # fmt: skip


def _ignore(folder: str, names: list[str]) -> set[str]:
    skip = set(_ANYWHERE_SKIP(folder, names))
    if Path(folder) == REPO:
        skip |= _TOP_LEVEL_SKIP & set(names)
    return skip


def _run(cmd: list[str], *, cwd: Path, timeout: float = 300, **kw: Any) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, **kw)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@dataclass
class Installed:
    wheel: Path
    python: Path
    jixiao: Path
    site: Path  # the venv's site-packages, where the wheel went
    work: Path  # an empty folder outside the checkout to run from
    tree: Path  # the copy of the working tree the wheel was built from


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    root = tmp_path_factory.mktemp("wheel")
    tree, dist, venv, work = root / "tree", root / "dist", root / "venv", root / "work"
    shutil.copytree(REPO, tree, ignore=_ignore, symlinks=True)
    _run(
        [sys.executable, "-m", "pip", "wheel", str(tree), "--no-deps", "-w", str(dist)],
        cwd=root,
        env={**_env(root), "PIP_NO_INPUT": "1"},
    )
    (wheel,) = dist.glob("jixiao-*.whl")

    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=root)
    python = venv / "bin" / "python"
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(_run([str(python), "-c", purelib], cwd=root).strip())
    ours = sysconfig.get_paths()
    deps = dict.fromkeys([ours["purelib"], ours["platlib"]])  # this interpreter's packages
    (site / "zz_test_dependencies.pth").write_text("\n".join(deps) + "\n", encoding="utf-8")
    install = ["install", "--no-deps", "--no-index", str(wheel)]
    _run([sys.executable, "-m", "pip", "--python", str(python), *install], cwd=root, env=_env(root))
    work.mkdir()
    yield Installed(wheel, python, venv / "bin" / "jixiao", site, work, tree)


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without JIXIAO_/OPENAI_ settings or PYTHONPATH; caches in tmp."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JIXIAO_", "OPENAI_")) and k != "PYTHONPATH"
    }
    env["JIXIAO_CACHE_DIR"] = str(tmp / "cache")
    env.update(extra)
    return env


def _prompt_files(root: Path = PROMPTS) -> dict[str, bytes]:
    files = {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*.md")}
    assert files, f"no prompts in {root}"
    return files


def test_wheel_holds_every_runtime_file(installed: Installed) -> None:
    """Every file of the package (code, templates, migrations, thresholds...) and every
    prompt of the tree it was built from."""
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    src = installed.tree / "src"
    package_files = [str(p.relative_to(src)) for p in (src / "jixiao").rglob("*") if p.is_file()]
    assert "jixiao/store/migrations/versions" in " ".join(package_files)  # a sane copy
    missing = [name for name in package_files if name not in names]
    assert not missing, f"files of src/jixiao not in the wheel: {missing}"
    for rel in _prompt_files(installed.tree / "prompts"):
        assert f"jixiao/_prompts/{rel}" in names, rel


def test_installed_package_reads_its_own_prompts(installed: Installed) -> None:
    probe = (
        "import json, jixiao\n"
        "from jixiao.extract.llm import prompts as p\n"
        "names = sorted({(d.name, int(f.stem[1:])) for d in p.prompts_dir().iterdir()"
        " for f in d.glob('v*.md')})\n"
        "print(json.dumps({'package': jixiao.__file__, 'dir': str(p.prompts_dir()),"
        " 'sha': {f'{n}/v{v}.md': p.load_prompt(n, v).sha256 for n, v in names}}))\n"
    )
    out = json.loads(
        _run([str(installed.python), "-c", probe], cwd=installed.work, env=_env(installed.work))
    )
    assert Path(out["package"]).is_relative_to(installed.site), out["package"]
    assert Path(out["dir"]) == installed.site / "jixiao" / "_prompts"
    files = _prompt_files()
    # the same bytes as the checkout's prompts/, so recorded prompt hashes still hold
    assert out["sha"] == {rel: hashlib.sha256(data).hexdigest() for rel, data in files.items()}
    for rel, data in files.items():
        assert (installed.site / "jixiao" / "_prompts" / rel).read_bytes() == data


def test_installed_check_strict_exits_1_on_an_error(installed: Installed) -> None:
    gold = json.loads(GOLD.read_text(encoding="utf-8"))
    gold["total_score"] = round(gold["total_score"] + 5, 2)  # R9: not the sum of the scores
    record = installed.work / "broken.json"
    record.write_text(json.dumps(gold, ensure_ascii=False), encoding="utf-8")
    proc = subprocess.run(
        [str(installed.jixiao), "check", str(record), "--strict"],
        cwd=installed.work,
        env=_env(installed.work),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "TOTAL_SCORE_MISMATCH" in proc.stdout


def _extract_llm(jixiao: Path, cwd: Path, out: Path) -> tuple[dict[str, Any], Any]:
    """`jixiao extract --extractor llm` on LLM_PDF, answered from the cassette."""
    with serve_cassette(CASSETTE) as llm:
        env = _env(
            cwd,
            JIXIAO_CACHE_DIR=str(cwd / f"cache-{out.stem}"),  # each run asks the server itself
            JIXIAO_LLM_BASE_URL=llm.base_url,
            JIXIAO_LLM_MODEL="gemma3-270m",
            JIXIAO_LLM_MODE="tools",
            # as recorded: one attempt per section, and a miss must fail at once
            JIXIAO_LLM_MAX_VALIDATION_RETRIES="0",
            JIXIAO_LLM_MAX_TRANSPORT_RETRIES="0",
        )
        proc = subprocess.run(
            [str(jixiao), "extract", str(LLM_PDF), "--extractor", "llm", "-o", str(out)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert not llm.unmatched, (
        f"{len(llm.unmatched)} request(s) have no recording: a prompt, schema or parameter "
        f"changed since {CASSETTE.name} was recorded (re-record: tests/llm/conftest.py)"
    )
    assert proc.returncode == 0, proc.stderr
    assert llm.unplayed == 0, f"{llm.unplayed} recorded answers were never asked for"
    (result,) = json.loads(out.read_text(encoding="utf-8"))
    return result, proc


def test_installed_llm_extractor_against_recorded_answers(installed: Installed) -> None:
    result, _ = _extract_llm(installed.jixiao, installed.work, installed.work / "wheel.json")
    run = result["run"]
    assert run["extractor"] == "llm" and run["llm_calls"] == 5 and run["cache_hits"] == 0
    checkout = {
        prompt.ref: prompt.sha256
        for prompt in map(prompts_module.section_prompt, prompts_module.SECTION_PROMPTS)
    }
    assert run["prompts"] == checkout  # the wheel's prompts are the checkout's, byte for byte
    assert result["form"]["project_name"], result["form"]  # the recorded answers were read

    # and it reads the form exactly as the checkout's own command does with the same answers
    here, _ = _extract_llm(
        Path(sys.executable).parent / "jixiao", installed.work, installed.work / "checkout.json"
    )
    for key in ("form", "fields", "flags"):
        assert result[key] == here[key], key
