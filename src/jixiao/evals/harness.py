"""`jixiao eval run`: extract the corpus documents of one split, score them against gold, and write
a run JSON.

Flow: manifest (corpus/manifest.json) → documents of the split (optionally one family, first N in
turn over the families) → extraction with one opened extractor → predicted forms matched to gold
forms (by project_name, then by overlapping pages, then by the document when it holds one form)
→ compare.py per form → metrics.py over the run.

Run JSON (format "jixiao-eval-run/1"): what ran (split, extractor, model, mode, prompts with
their sha256, code commit, manifest seed), `summary` (every aggregate, see metrics.py, plus cost
and form counts) and `forms`: one compact entry per gold form with its counts and only its
*wrong* leaves ([path, gold, predicted, page, confidence]). The set of leaves is fixed by the gold
(its sha256 is kept, with the PDF's), so "previously correct" is "not listed as wrong in the base
run" for a form both runs read from the same PDF against the same gold.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jixiao.contract import ExtractionResult, FormRecord, SourceInfo
from jixiao.errors import (
    ConfigError,
    CorruptPdf,
    EmptyPdf,
    EncryptedPdf,
    FileMissing,
    InvalidInput,
    JixiaoError,
    NoFormFound,
    NotAPdf,
    TooManyPages,
)
from jixiao.evals.compare import FormComparison, compare_forms, normalize_text
from jixiao.evals.escalation import escalation_summary, score_questions
from jixiao.evals.metrics import ScoredForm, ScoredLeaf, summarize

RUN_FORMAT = "jixiao-eval-run/1"
BASELINE_FORMAT = "jixiao-eval-baseline/1"
Progress = Callable[[str], None]

if TYPE_CHECKING:  # the corpus and extractor modules load lazily at runtime
    from jixiao.corpus.build import Manifest, ManifestDocument
    from jixiao.extract.base import Extractor, ExtractorOutput


@dataclass(slots=True)
class EvalOptions:
    split: str = "dev"
    manifest: Path = Path("corpus/manifest.json")
    extractor: str = "layout"
    model: str | None = None
    base_url: str | None = None
    mode: str | None = None
    prompts: tuple[str, ...] = ()
    """NAME@VERSION overrides of the section prompts, e.g. ("extract_header@v2",)."""
    family: str | None = None
    limit: int | None = None
    """At most this many documents, taken in turn over the families (so a subset covers all)."""
    forms_per_document: int | None = None
    """Only the first N forms of each document are extracted and scored (a cheap subset of the
    multi-form bundles for slow extractors); None: all."""
    threshold: float | None = None
    """Review threshold for the calibration section; None: the calibrated one (the same one
    `extract` and `review` use), so the eval reports the coverage users get."""
    name: str | None = None
    escalation: dict[str, Any] = field(default_factory=dict)
    """The hybrid's EscalationPolicy fields: {"llm": "always"} is the hybrid before
    escalation; {"ask_all": True} asks every planned question whatever the routing says (how
    the routing table is measured)."""


# -- selection --------------------------------------------------------------------------------


def select_documents(
    manifest: Manifest, split: str, family: str | None = None, limit: int | None = None
) -> list[ManifestDocument]:
    """Documents of `split` (and `family`), in turn over the families when limited."""
    docs = [
        d for d in manifest.documents if d.split == split and (family is None or d.family == family)
    ]
    if limit is None or limit >= len(docs):
        return docs
    by_family: dict[str, list[ManifestDocument]] = {}
    for doc in docs:
        by_family.setdefault(doc.family, []).append(doc)
    picked: list[ManifestDocument] = []
    turn = 0
    while len(picked) < limit:
        for queue in by_family.values():
            if turn < len(queue) and len(picked) < limit:
                picked.append(queue[turn])
        turn += 1
    return picked


class FirstFormsOnly:
    """Extractor wrapper for `forms_per_document`, one per document: its first `n` forms go to
    the inner extractor; later ones get an empty record at no cost and are not scored."""

    def __init__(self, inner: Extractor, n: int) -> None:
        self.inner = inner
        self.n = n
        self.name = inner.name
        self._seen = 0

    def extract(self, form: Any, layout: Any, *, doc_sha256: str) -> ExtractorOutput:
        from jixiao.extract.base import ExtractorOutput

        self._seen += 1
        if self._seen > self.n:
            return ExtractorOutput(record=FormRecord())
        return self.inner.extract(form, layout, doc_sha256=doc_sha256)


def resolve_gold(manifest_path: Path, ref: str) -> Path:
    """A manifest's gold path: relative to the manifest's folder, else to the working directory,
    else to the repository (real gold is written repo-relative: evals/gold/<id>.json)."""
    candidates = [manifest_path.parent / ref, Path(ref), _repo_root() / ref]
    for path in candidates:
        if path.is_file():
            return path
    raise FileMissing(ref, hint=f"the gold named in {manifest_path} is missing; rebuild the corpus")


def _repo_root() -> Path:
    return Path(__file__).resolve().parents[3]


# -- extraction -------------------------------------------------------------------------------


# A document that cannot be read costs its own forms only; an endpoint or configuration error
# (LLMUnavailable, ConfigError) would fail every document the same way, so it stops the run.
DOCUMENT_ERRORS: tuple[type[JixiaoError], ...] = (
    FileMissing,
    NotAPdf,
    CorruptPdf,
    EncryptedPdf,
    EmptyPdf,
    NoFormFound,
    TooManyPages,
)


def extract_results(
    extractor: Extractor, pdf: Path, warnings: list[str] | None = None
) -> list[ExtractionResult]:
    """One ExtractionResult per form of `pdf`: the project pipeline when it is there, else the
    same steps here (ingest → serialize → extractor), so evals run before the pipeline lands.
    The checks are not run here: the harness runs them itself on prediction and gold alike."""
    try:
        from jixiao.extract.pipeline import extract_document
    except ImportError:
        return _extract_here(extractor, pdf)
    sink = warnings if warnings is not None else []
    results: list[ExtractionResult] = extract_document(
        pdf, extractor=extractor, check=False, on_warning=sink.append
    )
    return results


def _extract_here(extractor: Extractor, pdf: Path) -> list[ExtractionResult]:
    from jixiao.ingest import ingest_pdf, serialize_form

    ingested = ingest_pdf(pdf)
    sha = ingested.document.sha256
    out: list[ExtractionResult] = []
    for form in ingested.forms:
        if form.kind != "project":
            continue
        output = extractor.extract(form, serialize_form(form), doc_sha256=sha)
        out.append(
            ExtractionResult(
                source=SourceInfo(file=pdf.name, sha256=sha, pages=list(form.pages)),
                form=output.record,
                fields=output.fields,
                flags=output.flags,
                run=output.stats,
            )
        )
    return out


@contextlib.contextmanager
def prompt_overrides(refs: tuple[str, ...]) -> Iterator[dict[str, str]]:
    """Pin section prompts to NAME@VERSION for the duration (restored after); yields ref → sha."""
    if not refs:
        yield {}
        return
    from jixiao.extract.llm import prompts

    saved = dict(prompts.SECTION_PROMPTS)
    chosen: dict[str, str] = {}
    try:
        for ref in refs:
            name, _, version = ref.partition("@")
            number = version.lstrip("v")
            if not name or not number.isdigit():
                raise ConfigError(
                    None, f"--prompt {ref!r} is not NAME@VERSION", "e.g. extract_header@v2"
                )
            sections = [s for s, (n, _) in saved.items() if n == name]
            if not sections:
                known = ", ".join(sorted({n for n, _ in saved.values()}))
                raise ConfigError(None, f"no section uses prompt {name!r}", f"use one of: {known}")
            prompt = prompts.load_prompt(name, int(number))  # a missing file fails here, clearly
            chosen[prompt.ref] = prompt.sha256
            for section in sections:
                prompts.SECTION_PROMPTS[section] = (name, int(number))
        yield chosen
    finally:
        prompts.SECTION_PROMPTS.clear()
        prompts.SECTION_PROMPTS.update(saved)


# -- matching and scoring -----------------------------------------------------------------------


def match_forms(
    golds: list[tuple[FormRecord, list[int]]], preds: list[ExtractionResult]
) -> list[int | None]:
    """For each gold form (record, [first, last] page), the index of its predicted form or None.

    By project_name first (NFKC, no whitespace); then by the most overlapping pages; then, when
    the document holds one form, its one remaining prediction."""
    used: set[int] = set()
    out: list[int | None] = [None] * len(golds)
    for gi, (gold, _) in enumerate(golds):
        name = normalize_text(gold.project_name or "")
        for pi, pred in enumerate(preds):
            if pi not in used and name and normalize_text(pred.form.project_name or "") == name:
                out[gi] = pi
                used.add(pi)
                break
    for gi, (_, pages) in enumerate(golds):
        if out[gi] is not None or not pages:
            continue
        want = set(range(pages[0], pages[-1] + 1))
        best, best_overlap = None, 0
        for pi, pred in enumerate(preds):
            overlap = len(want & set(pred.source.pages))
            if pi not in used and overlap > best_overlap:
                best, best_overlap = pi, overlap
        if best is not None:
            out[gi] = best
            used.add(best)
    if len(golds) == 1 and out[0] is None:
        rest = [pi for pi in range(len(preds)) if pi not in used]
        if rest:
            out[0] = rest[0]
    return out


def check_codes(record: FormRecord, result: ExtractionResult | None = None) -> list[str]:
    """Codes the deterministic checks find on `record` (extraction flags are not findings)."""
    from jixiao.checks import printed_level1_weights, run_checks

    fields = result.fields if result is not None else None
    # the printed 一级 weights (R8), read from the cells' source text as `jixiao extract` does
    weights = printed_level1_weights(record, fields)
    return [f.code for f in run_checks(record, fields=fields, level1_weights=weights)]


def score_form(
    gold: FormRecord, pred: ExtractionResult | None
) -> tuple[list[ScoredLeaf], list[list[Any]], FormComparison]:
    """Compare one form; returns the scored leaves, the compact wrong leaves and the comparison."""
    comparison = compare_forms(pred.form if pred is not None else None, gold)
    leaves: list[ScoredLeaf] = []
    wrong: list[list[Any]] = []
    for leaf in comparison.leaves:
        prov = pred.fields.get(leaf.pred_path) if pred is not None and leaf.pred_path else None
        conf = prov.confidence if prov is not None else None
        leaves.append(ScoredLeaf(leaf.ok, conf, prov.extractor if prov is not None else None))
        if not leaf.ok:
            page = prov.page if prov is not None else None
            wrong.append([leaf.path, leaf.gold, leaf.pred, page, conf])
    return leaves, wrong, comparison


def input_kind(result: ExtractionResult | None) -> str:
    """ "ocr" when any value of the form was read from an OCR'd page, else "text"."""
    if result is not None and any(
        "ocr_confidence" in prov.signals for prov in result.fields.values()
    ):
        return "ocr"
    return "text"


def group_counts(comparison: FormComparison) -> dict[str, list[int]]:
    """{group: [correct, total]} of one form, so runs over different form sets can be compared
    on the forms they share."""
    out: dict[str, list[int]] = {}
    for leaf in comparison.leaves:
        c = out.setdefault(leaf.group, [0, 0])
        c[0] += leaf.ok
        c[1] += 1
    return out


def field_counts(comparison: FormComparison) -> dict[str, list[int]]:
    """{field: [correct, total]} of one form ("indicators[].score": [14, 16])."""
    out: dict[str, list[int]] = {}
    for leaf in comparison.leaves:
        c = out.setdefault(leaf.field, [0, 0])
        c[0] += leaf.ok
        c[1] += 1
    return out


# -- the run ----------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def git_commit(root: Path | None = None) -> dict[str, Any]:
    """HEAD of the repository and whether src/ or prompts/ have uncommitted changes."""
    root = root or _repo_root()
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src", "prompts"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    if head.returncode != 0:
        return {"commit": None, "dirty": None}
    return {"commit": head.stdout.strip(), "dirty": bool(dirty.stdout.strip())}


def run_eval(options: EvalOptions, progress: Progress | None = None) -> dict[str, Any]:
    """Extract, score and summarise one split; returns the run JSON object (see the module doc)."""
    from jixiao.corpus.build import load_manifest
    from jixiao.extract.base import ExtractorOptions, open_extractor

    say = progress or (lambda _line: None)
    if options.split not in ("dev", "test"):
        raise ConfigError(None, f"unknown split {options.split!r}", "use --split dev or test")
    manifest = load_manifest(options.manifest)
    docs = select_documents(manifest, options.split, options.family, options.limit)
    if not docs:
        raise InvalidInput(
            str(options.manifest),
            f"no documents in split {options.split!r}"
            + (f" and family {options.family!r}" if options.family else ""),
            "check --split/--family, or rebuild the corpus with `jixiao corpus build`",
        )
    scored: list[ScoredForm] = []
    entries: list[dict[str, Any]] = []
    documents: list[dict[str, Any]] = []
    prompts: dict[str, str] = {}
    cost = {"llm_calls": 0, "input_tokens": 0, "output_tokens": 0, "cache_hits": 0}
    models: set[str] = set()
    modes: set[str] = set()
    started = time.perf_counter()
    extractor_opts = ExtractorOptions(
        model=options.model,
        base_url=options.base_url,
        mode=options.mode,
        escalation=dict(options.escalation),
    )
    questions: list[dict[str, dict[str, Any]]] = []
    calls_per_form: list[int] = []
    with (
        prompt_overrides(options.prompts) as pinned,
        open_extractor(options.extractor, extractor_opts) as extractor,
    ):
        prompts.update(pinned)
        for n, doc in enumerate(docs, 1):
            pdf = options.manifest.parent / doc.file
            doc_sha = _sha256(pdf) if pdf.is_file() else None
            doc_started = time.perf_counter()
            error = None
            warnings: list[str] = []
            # a fresh wrapper per document: "first N forms" counts within this document only
            doc_extractor = (
                extractor
                if options.forms_per_document is None
                else FirstFormsOnly(extractor, options.forms_per_document)
            )
            try:
                results = extract_results(doc_extractor, pdf, warnings)
            except DOCUMENT_ERRORS as err:  # one bad document must not lose the others
                results, error = [], err.line()
            seconds = time.perf_counter() - doc_started
            doc_forms = doc.forms[: options.forms_per_document]
            results = results[: options.forms_per_document]
            for result in results:
                prompts.update(result.run.prompts)
                for key in cost:
                    cost[key] += getattr(result.run, key)
                if result.run.model:
                    models.add(result.run.model)
                if result.run.mode:
                    modes.add(result.run.mode)
            golds = []
            for form in doc_forms:
                path = resolve_gold(options.manifest, form.gold)
                golds.append((path, FormRecord.model_validate_json(path.read_text("utf-8"))))
            match = match_forms(
                [(g, f.pages) for (_, g), f in zip(golds, doc_forms, strict=True)], results
            )
            for (gold_path, gold), form, pi in zip(golds, doc_forms, match, strict=True):
                pred = results[pi] if pi is not None else None
                leaves, wrong, comparison = score_form(gold, pred)
                questions.append(score_questions(pred, comparison))
                calls_per_form.append(pred.run.llm_calls if pred is not None else 0)
                expected = [p.code for p in form.planted]
                found = check_codes(pred.form, pred) if pred is not None else []
                scored.append(
                    ScoredForm(
                        doc=doc.file,
                        family=doc.family,
                        gold_id=form.gold_id,
                        origin=form.origin,
                        comparison=comparison,
                        leaves=leaves,
                        flags_found=found,
                        flags_expected=expected,
                        flags_on_gold=check_codes(gold),
                        input_kind=input_kind(pred),
                    )
                )
                entries.append(
                    {
                        "doc": doc.file,
                        "family": doc.family,
                        "gold_id": form.gold_id,
                        "gold_sha256": _sha256(gold_path),
                        "doc_sha256": doc_sha,
                        "origin": form.origin,
                        "found": pred is not None,
                        "pages": list(pred.source.pages) if pred is not None else [],
                        "leaves": comparison.total,
                        "correct": comparison.correct,
                        "groups": group_counts(comparison),
                        "fields": field_counts(comparison),
                        "wrong": wrong,
                        "flags_found": found,
                        "flags_expected": expected,
                    }
                )
            matched = sum(1 for pi in match if pi is not None)
            documents.append(
                {
                    "file": doc.file,
                    "family": doc.family,
                    "forms_gold": len(doc_forms),
                    "forms_found": len(results),
                    "forms_matched": matched,
                    "seconds": round(seconds, 3),
                    "error": error,
                    "warnings": warnings,
                }
            )
            say(
                f"[{n}/{len(docs)}] {doc.file}: {matched}/{len(doc.forms)} forms matched"
                + (f", {len(results) - matched} extra" if len(results) > matched else "")
                + (f" — {error}" if error else "")
                + f" ({seconds:.1f} s)"
            )
    total_seconds = time.perf_counter() - started
    threshold = options.threshold
    if threshold is None:
        from jixiao.confidence import review_threshold

        threshold = review_threshold()
    summary = summarize(scored, threshold=threshold)
    n_forms = len(scored)
    summary["cost"] = {
        **cost,
        "seconds": round(total_seconds, 3),
        "forms": n_forms,
        "seconds_per_form": round(total_seconds / n_forms, 3) if n_forms else None,
        "llm_calls_per_form": cost["llm_calls"] / n_forms if n_forms else None,
        "tokens_per_form": (cost["input_tokens"] + cost["output_tokens"]) / n_forms
        if n_forms
        else None,
    }
    summary["escalation"] = escalation_summary(questions, calls_per_form)
    summary["forms"] = {
        "gold": n_forms,
        "found": sum(d["forms_found"] for d in documents),
        "matched": sum(d["forms_matched"] for d in documents),
        "documents": len(documents),
        "documents_failed": sum(1 for d in documents if d["error"]),
    }
    return {
        "format": RUN_FORMAT,
        "name": options.name,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "split": options.split,
        "extractor": options.extractor,
        "model": ",".join(sorted(models)) or options.model,
        "mode": ",".join(sorted(modes)) or options.mode,
        "prompts": dict(sorted(prompts.items())),
        **git_commit(),
        "manifest": {
            "path": str(options.manifest),
            "seed": manifest.seed,
            "documents": len(manifest.documents),
        },
        "selection": {
            "family": options.family,
            "limit": options.limit,
            "forms_per_document": options.forms_per_document,
        },
        "escalation": dict(options.escalation),
        "threshold": threshold,
        "summary": summary,
        "documents": documents,
        "forms": entries,
    }


def write_run(run: dict[str, Any], path: Path) -> None:
    """Write a run JSON: one line per form entry keeps diffs of committed baselines readable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    head = {k: v for k, v in run.items() if k not in ("forms", "documents")}
    text = json.dumps(head, ensure_ascii=False, indent=1)[:-2]
    parts = [text]
    for key in ("documents", "forms"):
        lines = ",\n".join("  " + json.dumps(x, ensure_ascii=False) for x in run.get(key, []))
        parts.append(f',\n "{key}": [\n{lines}\n ]')
    path.write_text("".join(parts) + "\n}\n", encoding="utf-8")


def write_baseline(runs: dict[str, dict[str, Any]], path: Path, note: str = "") -> None:
    """A baseline: the runs of one extractor × model, one per split, in one file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    parts = []
    for split, run in runs.items():
        tmp = path.with_suffix(f".{split}.tmp")
        write_run(run, tmp)
        body = tmp.read_text(encoding="utf-8").rstrip("\n")
        tmp.unlink()
        parts.append(f"  {json.dumps(split)}: " + body.replace("\n", "\n  "))
    head = json.dumps({"format": BASELINE_FORMAT, "note": note}, ensure_ascii=False)[:-1]
    path.write_text(head + ', "runs": {\n' + ",\n".join(parts) + "\n}}\n", encoding="utf-8")


def load_runs(path: Path) -> dict[str, dict[str, Any]]:
    """The runs in a run JSON or a baseline, by split (one clear line when it is neither)."""
    if not path.is_file():
        raise FileMissing(str(path), hint="write one with `jixiao eval run --out ...`")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InvalidInput(
            str(path), f"not JSON ({err})", "pass a file written by `jixiao eval run`"
        ) from None
    if isinstance(data, dict) and data.get("format") == BASELINE_FORMAT:
        runs = data.get("runs") or {}
    elif isinstance(data, dict) and data.get("format") == RUN_FORMAT:
        runs = {str(data.get("split")): data}
    else:
        runs = {}
    if not runs or not all(r.get("format") == RUN_FORMAT for r in runs.values()):
        raise InvalidInput(
            str(path),
            "not an eval run or baseline",
            f"expected format {RUN_FORMAT!r} or {BASELINE_FORMAT!r} from `jixiao eval run`",
        )
    return dict(runs)


def load_run(path: Path, split: str | None = None) -> dict[str, Any]:
    """One run: the file's only run, or its run of `split` (a baseline holds one per split)."""
    runs = load_runs(path)
    if split is None:
        if len(runs) > 1:
            raise InvalidInput(
                str(path), f"holds runs of several splits ({', '.join(runs)})", "name the split"
            )
        return next(iter(runs.values()))
    if split not in runs:
        raise InvalidInput(
            str(path),
            f"has no run of split {split!r} (only {', '.join(runs)})",
            f"run `jixiao eval run --split {split}` for it",
        )
    return runs[split]
