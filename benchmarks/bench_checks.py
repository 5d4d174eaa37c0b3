"""How fast are the deterministic checks? Target: 10,000 forms in under 2 s on one core.

    .venv/bin/python benchmarks/bench_checks.py [--count 10000] [--seed 7]

Uses synthetic forms from jixiao.corpus.synth (planted inconsistencies included); falls back to
the 8 gold forms repeated when the generator is not installed. Prints forms/s and flags/form.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from jixiao.checks import run_checks
from jixiao.contract import FormRecord

ROOT = Path(__file__).resolve().parents[1]


def load_forms(count: int, seed: int) -> tuple[list[FormRecord], str]:
    try:
        from jixiao.corpus.synth import generate_forms
    except ImportError:
        gold = sorted((ROOT / "evals" / "gold").glob("*-*.json"))
        base = [FormRecord.model_validate_json(p.read_text(encoding="utf-8")) for p in gold]
        return [base[i % len(base)] for i in range(count)], "gold forms repeated"
    forms = generate_forms(seed, count)
    return [f.record for f in forms], f"synthetic, seed {seed}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="best of N timed runs")
    args = parser.parse_args()
    records, kind = load_forms(args.count, args.seed)
    indicators = sum(len(r.indicators) for r in records) / max(len(records), 1)
    best = best_cpu = float("inf")
    flags = 0
    for _ in range(args.repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        flags = sum(len(run_checks(r)) for r in records)
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - start_cpu)
    print(
        json.dumps(
            {
                "forms": len(records),
                "source": kind,
                "indicators_per_form": round(indicators, 1),
                "seconds": round(best, 3),
                # CPU time: what one core costs when the machine is shared (wall time is not).
                "cpu_seconds": round(best_cpu, 3),
                "forms_per_s": round(len(records) / best),
                "flags_per_form": round(flags / len(records), 2),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
