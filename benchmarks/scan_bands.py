"""Field and number accuracy of an eval run per scanner setting band (dpi, bitonal, blur, JPEG
quality, seal, turn, searchable, source layout), read from the run's per-form tallies and the
corpus manifest's recorded generator settings.

    .venv/bin/jixiao eval run --split test --family scan-sweep --manifest corpus/manifest.json \\
        --out run.json -q
    .venv/bin/python benchmarks/scan_bands.py run.json corpus/manifest.json

Numbers are the leaves the contract stores as floats (`contract.NUMBER_LEAVES`); a form the
run did not find counts all its leaves wrong, as the run does.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from jixiao.contract import NUMBER_LEAVES


def _band(key: str, value: Any) -> str:
    if key == "jpeg":
        if value is None:
            return "bitonal (no JPEG)"
        low = value // 10 * 10
        return f"{low}–{low + 9}"
    return str(value)


def bands(run: dict[str, Any], manifest: dict[str, Any]) -> dict[str, dict[str, list[int]]]:
    """{setting: {band: [fields right, fields, numbers right, numbers]}}."""
    settings = {d["file"]: d.get("settings") or {} for d in manifest["documents"]}
    out: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0, 0, 0]))
    for form in run["forms"]:
        s = settings.get(form["doc"], {})
        numbers = [0, 0]
        for path, (right, total) in form["fields"].items():
            if path.rsplit(".", 1)[-1] in NUMBER_LEAVES:
                numbers[0] += right
                numbers[1] += total
        for key in ("dpi", "bitonal", "blur", "jpeg", "seal", "turn", "searchable", "source"):
            value = s.get(key)
            if key == "source" and s.get("source_template") is not None:
                value = f"{value}/{s['source_template']}"
            tally = out[key][_band(key, value)]
            tally[0] += form["correct"]
            tally[1] += form["leaves"]
            tally[2] += numbers[0]
            tally[3] += numbers[1]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run", type=Path)
    p.add_argument("manifest", type=Path)
    args = p.parse_args()
    run = json.loads(args.run.read_text(encoding="utf-8"))
    manifest = json.loads(args.manifest.read_text(encoding="utf-8"))
    print("| setting | band | fields | numbers |")
    print("|---|---|---|---|")
    for key, by_band in bands(run, manifest).items():
        for band, (fr, ft, nr, nt) in sorted(by_band.items()):
            fields = f"{100 * fr / ft:.2f} % ({ft})" if ft else "–"
            nums = f"{100 * nr / nt:.2f} % ({nt})" if nt else "–"
            print(f"| {key} | {band} | {fields} | {nums} |")


if __name__ == "__main__":
    main()
