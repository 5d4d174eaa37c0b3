"""Measure section and whole-form questions where they arise: templates the layout cannot read.

The corpus's families are all templates the layout extractor knows, so `eval run --ask-all`
never plans a section or a whole-form question there. This measures those two levels on the dev
split's real forms printed with labels no synonym table knows:

- `header`: 项目名称 printed as 工程名目 → the layout reads no project name → a section question;
- `template`: every printed label replaced by an unknown word → no funding or indicator rows →
  the whole form through the LLM.

Each reading is scored against the form's gold exactly as `jixiao eval run` scores (rescued /
broke / confirmed wrong / null per level, jixiao.evals.escalation), and written as a dev run file
that `jixiao eval routing` reads beside the corpus run:

    .venv/bin/python benchmarks/measure_unseen_templates.py --out /tmp/unseen-dev.json [--limit N]
    .venv/bin/jixiao eval routing RUN.json /tmp/unseen-dev.json --model gemma3-270m --save

Uses the configured LLM endpoint (the embedded server when none is set). Dev forms only.
"""

from __future__ import annotations

import argparse
import json
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _header(text: str) -> str | None:
    return "工程名目" if text == "项目名称" else None


def _template(text: str) -> str | None:
    from jixiao.extract.labels import classify_any

    match = classify_any(text)
    return f"栏目{zlib.crc32(match.field.encode()) % 97}" if match is not None else None


VARIANTS: dict[str, Callable[[str], str | None]] = {"header": _header, "template": _template}


def main() -> None:
    from jixiao.config import LLMSettings
    from jixiao.contract import ExtractionResult, FormRecord, SourceInfo
    from jixiao.corpus.build import REAL_TEST_IDS, render_pdf
    from jixiao.evals.compare import compare_forms
    from jixiao.evals.escalation import escalation_summary, score_questions
    from jixiao.evals.harness import RUN_FORMAT
    from jixiao.extract.escalation import EscalationPolicy
    from jixiao.extract.hybrid import HybridExtractor, LazyLLM
    from jixiao.extract.layout import LayoutExtractor
    from jixiao.extract.llm.client import open_client
    from jixiao.extract.llm.extractor import LLMExtractor
    from jixiao.ingest import ingest_pdf, serialize_form

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=None, help="at most N real dev forms")
    parser.add_argument("--variant", choices=sorted(VARIANTS), action="append")
    parser.add_argument("--ids", default=None, help="comma-separated real dev gold ids")
    parser.add_argument(
        "--examples",
        action="store_true",
        help="read examples/<id>.ruled.pdf where it exists (the PDF the recorded tests use) "
        "instead of rendering the gold anew",
    )
    args = parser.parse_args()

    gold_dir = REPO / "evals" / "gold"
    index = json.loads((gold_dir / "index.json").read_text("utf-8"))
    dev = [e for e in index if e["id"] not in REAL_TEST_IDS]
    if args.ids:
        dev = [e for e in dev if e["id"] in args.ids.split(",")]
    dev = dev[: args.limit]
    per_form: list[dict[str, dict[str, Any]]] = []
    calls: list[int] = []
    forms: list[dict[str, Any]] = []
    started = time.perf_counter()
    settings = LLMSettings.from_env()
    with open_client(settings) as client:
        llm = LLMExtractor(client, max_retries=0)
        hybrid = HybridExtractor(
            LayoutExtractor(),
            LazyLLM(extractor=llm),
            policy=EscalationPolicy(ask_all=True),
        )
        for entry in dev:
            gold = FormRecord.model_validate_json((gold_dir / entry["file"]).read_text("utf-8"))
            pdf = REPO / "examples" / f"{entry['id']}.ruled.pdf"
            if not (args.examples and pdf.is_file()):
                pdf = Path(f"/tmp/unseen-{entry['id']}.pdf")
                render_pdf("ruled", [gold], pdf)
            for variant in args.variant or sorted(VARIANTS):
                ingested = ingest_pdf(pdf)
                (form,) = ingested.forms
                relabel = VARIANTS[variant]
                for grid in form.grids:
                    for cell in grid.cells:
                        new = relabel(cell.text)
                        if new is not None:
                            cell.text = new
                out = hybrid.extract(
                    form, serialize_form(form), doc_sha256=ingested.document.sha256
                )
                result = ExtractionResult(
                    source=SourceInfo(file=str(pdf), sha256=ingested.document.sha256),
                    form=out.record,
                    fields=out.fields,
                    flags=out.flags,
                    run=out.stats,
                )
                comparison = compare_forms(out.record, gold)
                counts = score_questions(result, comparison)
                per_form.append(counts)
                calls.append(out.stats.llm_calls)
                forms.append(
                    {
                        "gold_id": entry["id"],
                        "variant": variant,
                        "accuracy": round(comparison.accuracy, 4),
                        "llm_calls": out.stats.llm_calls,
                        "questions": [q.model_dump(mode="json") for q in out.stats.questions],
                    }
                )
                print(
                    f"{entry['id']} {variant}: accuracy {comparison.accuracy:.3f}, "
                    f"{out.stats.llm_calls} calls, "
                    + ", ".join(f"{k}={v['rescued']}/{v['broke']}" for k, v in counts.items()),
                    flush=True,
                )
    run = {
        "format": RUN_FORMAT,
        "split": "dev",
        "extractor": "hybrid",
        "model": settings.model,
        "name": args.out.stem,
        "note": "real dev forms printed with labels no synonym table knows "
        "(benchmarks/measure_unseen_templates.py)",
        "summary": {
            "escalation": escalation_summary(per_form, calls),
            "cost": {"seconds": round(time.perf_counter() - started, 1)},
        },
        "forms": forms,
    }
    args.out.write_text(json.dumps(run, ensure_ascii=False, indent=1) + "\n", "utf-8")
    print(json.dumps(run["summary"]["escalation"], indent=1))


if __name__ == "__main__":
    main()
