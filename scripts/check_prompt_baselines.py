#!/usr/bin/env python3
"""CI guard: every prompt file under prompts/ must be cited, by its sha256, by a baseline run in
evals/baselines/. A prompt is immutable once a baseline cites it; a new or edited prompt has no
number behind it until someone runs the eval with it and commits the baseline.

    python scripts/check_prompt_baselines.py [--prompts DIR] [--baselines DIR]

Exit 0 when every prompt is cited; exit 1 with one line per uncited prompt and the command that
produces the missing baseline. Standard library only, so it runs before the package installs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_VERSION_RE = re.compile(r"^v(\d+)\.md$")


def prompt_files(root: Path) -> list[tuple[str, Path]]:
    """(name@vN, path) of every prompts/<name>/v<N>.md."""
    out = []
    for path in sorted(root.glob("*/v*.md")):
        m = _VERSION_RE.match(path.name)
        if m:
            out.append((f"{path.parent.name}@v{m.group(1)}", path))
    return out


def cited_hashes(baselines: Path) -> dict[str, list[str]]:
    """sha256 → the baseline files whose runs used a prompt with that hash."""
    cited: dict[str, list[str]] = {}
    for path in sorted(baselines.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            print(f"{path}: not readable JSON ({err}) — regenerate it with `jixiao eval run`")
            continue
        runs = list(data.get("runs", {}).values()) if "runs" in data else [data]
        # a routing table (jixiao eval routing) cites the prompts of each model it measured
        runs += list((data.get("models") or {}).values()) if isinstance(data, dict) else []
        for run in runs:
            for sha in (run.get("prompts") or {}).values():
                cited.setdefault(sha, []).append(path.name)
    return cited


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=Path, default=REPO / "prompts")
    parser.add_argument("--baselines", type=Path, default=REPO / "evals" / "baselines")
    args = parser.parse_args(argv)
    cited = cited_hashes(args.baselines)
    missing = []
    files = prompt_files(args.prompts)
    for ref, path in files:
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        if sha not in cited:
            missing.append((ref, path, sha))
    for ref, path, sha in missing:
        rel = path.relative_to(args.prompts.parent) if args.prompts.parent in path.parents else path
        print(
            f"{rel}: prompt {ref} (sha256 {sha[:12]}…) is cited by no baseline in "
            f"{args.baselines} — run `jixiao corpus build --out corpus --seed 7 && jixiao eval "
            f"run --split all --extractor llm --prompt {ref} --limit 6 --out "
            f"evals/baselines/llm-<model>.json` and commit the baseline (an edited prompt that "
            f"a baseline already cites must become a new v<N+1>.md instead)"
        )
    if missing:
        return 1
    print(f"ok: {len(files)} prompt files, each cited by a baseline")
    return 0


if __name__ == "__main__":
    sys.exit(main())
