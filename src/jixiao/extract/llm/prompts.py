"""Versioned prompt files: prompts/<name>/v<N>.md, immutable once a baseline cites their hash.

To change a prompt, add v<N+1>.md; results record name@version and the sha256 of the bytes used,
so a number in a baseline can always be traced to the exact prompt text.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from jixiao.errors import ConfigError

ROWS_PLACEHOLDER = "{rows}"
_VERSION_RE = re.compile(r"^v(\d+)\.md$")

# The prompt each section uses, and its pinned version (None = newest on disk).
SECTION_PROMPTS: dict[str, tuple[str, int | None]] = {
    "header": ("extract_header", 1),
    "funding": ("extract_funding", 1),
    "goals": ("extract_goals", 1),
    "indicators": ("extract_indicators", 1),
    "totals": ("extract_totals", 1),
}


@dataclass(frozen=True, slots=True)
class Prompt:
    name: str
    version: int
    text: str
    sha256: str

    @property
    def ref(self) -> str:
        """name@version, as recorded in RunInfo."""
        return f"{self.name}@v{self.version}"

    def render(self, rows: str) -> str:
        # Plain replacement, not str.format: document text may contain braces.
        return self.text.replace(ROWS_PLACEHOLDER, rows)


# The prompts live in the repository's top-level prompts/ folder; a wheel carries a byte copy
# of it as jixiao/_prompts (setup.py copies it at build time). An editable install or a bare
# checkout has no copy and reads the folder itself.
PACKAGED_PROMPTS = Path(__file__).resolve().parents[2] / "_prompts"
CHECKOUT_PROMPTS = Path(__file__).resolve().parents[4] / "prompts"


def prompts_dir() -> Path:
    """JIXIAO_PROMPTS_DIR, else the prompts installed with the package, else the checkout's."""
    env = os.environ.get("JIXIAO_PROMPTS_DIR")
    if env:
        return Path(env)
    if PACKAGED_PROMPTS.is_dir():
        return PACKAGED_PROMPTS
    return CHECKOUT_PROMPTS


@lru_cache(maxsize=64)
def _load(root: Path, name: str, version: int | None) -> Prompt:
    folder = root / name
    versions = sorted(
        int(m.group(1))
        for p in (folder.iterdir() if folder.is_dir() else ())
        if (m := _VERSION_RE.match(p.name))
    )
    if not versions or (version is not None and version not in versions):
        want = f"v{version}.md" if version is not None else "v<N>.md"
        raise ConfigError(
            str(folder / want),
            "prompt file is missing",
            "restore it from git, reinstall jixiao, or set JIXIAO_PROMPTS_DIR",
        )
    chosen = version if version is not None else versions[-1]
    data = (folder / f"v{chosen}.md").read_bytes()
    text = data.decode("utf-8")
    if ROWS_PLACEHOLDER not in text:
        raise ConfigError(
            str(folder / f"v{chosen}.md"),
            f"prompt has no {ROWS_PLACEHOLDER} placeholder",
            "add it where the form's rows go",
        )
    return Prompt(name=name, version=chosen, text=text, sha256=hashlib.sha256(data).hexdigest())


def load_prompt(name: str, version: int | None = None) -> Prompt:
    """The prompt `name` at `version` (newest when None)."""
    return _load(prompts_dir(), name, version)


def section_prompt(section: str) -> Prompt:
    name, version = SECTION_PROMPTS[section]
    return load_prompt(name, version)
