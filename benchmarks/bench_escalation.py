"""Escalation against the hybrid before it: LLM calls and tokens per form, accuracy per family,
the README's first command, and the embedded server's peak memory.

    .venv/bin/python benchmarks/bench_escalation.py [--corpus /tmp/corpus7] [--skip-eval]

- builds the corpus (seed 7) unless --corpus points at one;
- runs `hybrid` (`--llm auto`, the packaged routing table, the embedded model) on dev and test and
  prints calls / prompt tokens per form (median and mean), field accuracy per family, next to the
  committed baselines: `hybrid-gemma3-270m.json` (the hybrid before escalation, every section
  asked, on its 12-form subset) and `layout-none.json`;
- times `jixiao extract examples/sh-bdc-2023-02.ruled.pdf -o ...` in a subprocess (the README's
  first command after setup);
- starts the embedded server, asks it the whole-form question of a template nobody anchored (every
  printed label replaced by an unknown word) and reads the server's peak resident memory (VmHWM).

Not a test: numbers depend on the machine and its load; the closing notes cite its output.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BASELINES = REPO / "evals" / "baselines"


def _families(run: dict[str, Any]) -> dict[str, float]:
    return {
        name: round(100 * float(v["accuracy"]), 2)
        for name, v in run["summary"]["families"].items()
        if v.get("accuracy") is not None
    }


def _per_form(run: dict[str, Any]) -> dict[str, Any]:
    cost = run["summary"]["cost"]
    forms = max(1, cost["forms"])
    esc = run["summary"].get("escalation", {})
    return {
        "forms": cost["forms"],
        "median_calls": esc.get("median_llm_calls_per_form"),
        "mean_calls": round(cost["llm_calls"] / forms, 3),
        "prompt_tokens_per_form": round(cost["input_tokens"] / forms, 1),
        "seconds_per_form": cost.get("seconds_per_form"),
        "forms_asking": esc.get("forms_asking"),
    }


def eval_runs(manifest: Path) -> dict[str, dict[str, Any]]:
    from jixiao.evals.harness import EvalOptions, run_eval

    runs = {}
    for split in ("dev", "test"):
        options = EvalOptions(
            split=split, manifest=manifest, extractor="hybrid", escalation={"llm": "auto"}
        )
        runs[split] = run_eval(options, progress=lambda line: print("  " + line, flush=True))
    return runs


def time_first_command() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        subprocess.run(
            [
                str(Path(sys.executable).parent / "jixiao"),
                "extract",
                str(REPO / "examples" / "sh-bdc-2023-02.ruled.pdf"),
                "-o",
                str(Path(tmp) / "out.json"),
            ],
            check=True,
            cwd=tmp,
        )
        return time.perf_counter() - started


def server_peak_memory() -> dict[str, Any]:
    """Peak RSS of the embedded server while it answers a whole-form question."""
    from jixiao.config import LLMSettings
    from jixiao.extract.escalation import EscalationPolicy, RoutingTable, save_routing
    from jixiao.extract.hybrid import HybridExtractor, LazyLLM
    from jixiao.extract.labels import classify_any
    from jixiao.extract.layout import LayoutExtractor
    from jixiao.extract.llm.client import open_client
    from jixiao.extract.llm.extractor import LLMExtractor
    from jixiao.ingest import ingest_pdf, serialize_form

    ingested = ingest_pdf(REPO / "examples" / "sh-bdc-2023-02.ruled.pdf")
    (form,) = ingested.forms
    for grid in form.grids:
        for cell in grid.cells:
            match = classify_any(cell.text)
            if match is not None:
                cell.text = f"栏目{zlib.crc32(match.field.encode()) % 97}"
    with tempfile.TemporaryDirectory() as tmp:
        routing = Path(tmp) / "routing.json"
        save_routing(RoutingTable(unmeasured={"form": True}), routing)
        settings = LLMSettings.from_env().model_copy(update={"cache_dir": Path(tmp) / "cache"})
        with open_client(settings) as client:
            assert client.server is not None and client.server.process is not None
            pid = client.server.process.pid
            hybrid = HybridExtractor(
                LayoutExtractor(),
                LazyLLM(extractor=LLMExtractor(client, max_retries=0)),
                policy=EscalationPolicy(routing_path=routing),
            )
            started = time.perf_counter()
            out = hybrid.extract(form, serialize_form(form), doc_sha256="bench")
            seconds = time.perf_counter() - started
            status = Path(f"/proc/{pid}/status").read_text()
            peak = next(int(line.split()[1]) for line in status.splitlines() if "VmHWM" in line)
    return {
        "peak_rss_mib": round(peak / 1024, 1),
        "llm_calls": out.stats.llm_calls,
        "prompt_tokens": out.stats.input_tokens,
        "seconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=None)
    parser.add_argument("--skip-eval", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()

    report: dict[str, Any] = {}
    if not args.skip_eval:
        corpus = args.corpus
        if corpus is None:
            from jixiao.corpus.build import build_corpus

            corpus = Path(tempfile.mkdtemp(prefix="bench-corpus-"))
            build_corpus(corpus, seed=7)
        runs = eval_runs(corpus / "manifest.json")
        from jixiao.evals.harness import load_runs

        always = load_runs(BASELINES / "hybrid-gemma3-270m.json")
        layout = load_runs(BASELINES / "layout-none.json")
        for split, run in runs.items():
            report[split] = {
                "auto": {**_per_form(run), "families": _families(run)},
                "always_subset": _per_form(always[split]),
                "always_subset_families": _families(always[split]),
                "layout_families": _families(layout[split]),
                "escalation_levels": run["summary"]["escalation"]["levels"],
            }
    report["first_command_seconds"] = round(time_first_command(), 2)
    if not args.skip_memory:
        report["server"] = server_peak_memory()
    print(json.dumps(report, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
