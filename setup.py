"""The one build step pyproject.toml cannot say: put a byte copy of the top-level prompts/
folder into the wheel as jixiao/_prompts, where jixiao.extract.llm.prompts looks first.

prompts/ stays where it is (baselines cite its files' sha256 and the evals diff it), so the
copy is made at build time only. An editable install gets no copy: it reads prompts/ itself.
All metadata lives in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PROMPTS = Path(__file__).resolve().parent / "prompts"
PACKAGED = Path("jixiao") / "_prompts"


class BuildPyWithPrompts(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        files = sorted(p for p in PROMPTS.rglob("*") if p.is_file())
        if not any(p.suffix == ".md" for p in files):
            # A wheel without prompts installs fine and fails at the first LLM call: refuse.
            raise SystemExit(f"setup.py: no prompt files under {PROMPTS}; cannot build jixiao")
        target = Path(self.build_lib) / PACKAGED
        shutil.rmtree(target, ignore_errors=True)
        for src in files:
            dest = target / src.relative_to(PROMPTS)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)  # bytes as they are: prompt hashes must not change

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = list(super().get_outputs(include_bytecode))
        if not getattr(self, "editable_mode", False):
            target = Path(self.build_lib) / PACKAGED
            outputs += [
                str(target / p.relative_to(PROMPTS)) for p in PROMPTS.rglob("*") if p.is_file()
            ]
        return outputs


setup(cmdclass={"build_py": BuildPyWithPrompts})
