"""`jixiao corpus build`: render synthetic and real gold forms in every layout family.

Writes `<out>/pdf/<family>/<name>.pdf`, `<out>/gold/<id>.json` (synthetic gold; real gold stays
in evals/gold) and `<out>/manifest.json`, which the eval harness reads with `load_manifest`.
Deterministic for a seed. Splits are fixed per gold id, so every rendering of one form lands in
the same split and nothing of a test form leaks into dev.

The realistic families (`office`, `html`, `scan-sweep`; opt-in with `--realistic` or by name,
as they call LibreOffice / Chromium and take seconds per document) are split twice:
- by form, like every family: a document's split is `split_for(gold_id)`;
- by generator settings: a test document draws its settings from values dev never uses
  (`render/settings.py`, `SPLIT_KEYS`): office — another font (AR PL UMing vs WenQuanYi Zen
  Hei), template 3 (分值 before 实际完成值) vs 1–2, fixed print scale vs fit-to-width; html —
  horizontal rules only vs a full grid, another font stack; scan-sweep — 180/300 dpi vs
  150/200/250, JPEG 40–50 or bitonal vs JPEG 55–90, 1.1–2.0° vs 0.2–1.0° rotation, stronger
  blur, yellowed vs white/grey paper, shadow on the right vs none/left, seal over the totals vs
  none/over the unit, OCR layer error rate 6 % vs 2 %.
So test accuracy on them measures forms and settings nobody tuned on. Each such document
records its settings in the manifest (`ManifestDocument.settings`). When a template has no
column for a value (office without 年初预算数), the gold of that document is the record as
printed, written to `gold/<id>.<family>.json`.
"""

from __future__ import annotations

import hashlib
import json
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from jixiao.contract import FormRecord
from jixiao.corpus.render import ALL_FAMILIES, FAMILIES, render_document, render_pdf
from jixiao.errors import FileMissing, InvalidInput

Split = Literal["dev", "test"]
Origin = Literal["synthetic", "real"]

CREATED_BY = "jixiao corpus build"
REAL_TEST_IDS = frozenset({"sh-bdc-2023-03", "sh-bdc-2023-06", "sh-bdc-2023-08"})
# which synthetic profile each family draws (real forms go in every family)
FAMILY_PROFILE = {
    "ruled": "central",
    "ab-labels": "ab",
    "borderless": "central",
    "split-target": "sichuan",
    "bundle": "central",
    "scan": "central",
    "office": "central",
    "html": "central",
    "scan-sweep": "central",
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlantedEntry(_Model):
    code: str
    fields: list[str] = []


class ManifestForm(_Model):
    gold_id: str
    gold: str
    """Gold FormRecord JSON: relative to the manifest's folder, or repo-relative/absolute for
    real forms (evals/gold/<id>.json)."""
    pages: list[int]
    """[first_page, last_page], 1-based, inclusive."""
    origin: Origin
    planted: list[PlantedEntry] = []


class ManifestDocument(_Model):
    file: str
    family: str
    split: Split
    forms: list[ManifestForm]
    settings: dict[str, str | int | float | bool] = {}
    """Generator settings of the realistic families (dpi, jpeg, font, template...); empty for
    the others and in manifests written before they existed."""


class Manifest(_Model):
    seed: int
    created_by: str
    documents: list[ManifestDocument]

    def forms(self) -> Iterator[tuple[ManifestDocument, ManifestForm]]:
        for doc in self.documents:
            for form in doc.forms:
                yield doc, form


def load_manifest(path: Path | str) -> Manifest:
    """Read and validate a corpus manifest (one clear error line when it is missing or bad)."""
    path = Path(path)
    if not path.is_file():
        raise FileMissing(str(path), hint="run `jixiao corpus build` first")
    try:
        return Manifest.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(
            str(path),
            f"not a corpus manifest ({where}: {first['msg']})",
            "rebuild it with `jixiao corpus build`",
        ) from None


def split_for(gold_id: str) -> Split:
    """Fixed per form: the three named real forms, and synthetic ids whose sha256 is 0 or 1
    mod 5 (about 40 %, so that test stays above a third of the forms) go to test."""
    if gold_id.startswith("sh-"):
        return "test" if gold_id in REAL_TEST_IDS else "dev"
    digest = int(hashlib.sha256(gold_id.encode("utf-8")).hexdigest(), 16)
    return "test" if digest % 5 < 2 else "dev"


@dataclass(frozen=True)
class GoldForm:
    """A form to render: its record, where its gold lives, and the flags planted in it."""

    gold_id: str
    record: FormRecord
    origin: Origin
    profile: str
    planted: tuple[PlantedEntry, ...] = ()
    gold_path: str = ""


def default_gold_dir() -> Path:
    """evals/gold of the working directory, else of the repository this package lives in."""
    here = Path("evals/gold")
    if here.is_dir():
        return here
    return Path(__file__).resolve().parents[3] / "evals" / "gold"


def load_real_gold(gold_dir: Path) -> list[GoldForm]:
    """The hand-labelled real forms listed in <gold_dir>/index.json."""
    index_path = gold_dir / "index.json"
    if not index_path.is_file():
        raise FileMissing(str(index_path), hint="pass --gold-dir pointing at evals/gold")
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
        forms = []
        for entry in index:
            path = gold_dir / entry["file"]
            record = FormRecord.model_validate_json(path.read_text(encoding="utf-8"))
            planted = tuple(
                PlantedEntry(code=flag["code"], fields=list(flag.get("fields", [])))
                for flag in entry.get("expected_flags", [])
            )
            forms.append(
                GoldForm(entry["id"], record, "real", "central", planted, _display_path(path))
            )
    except (OSError, KeyError, TypeError, ValueError) as err:
        raise InvalidInput(
            str(index_path), f"cannot read the real gold ({err})", "check evals/gold"
        ) from None
    return forms


def _display_path(path: Path) -> str:
    """Repo-relative when the file is inside the working directory, absolute otherwise."""
    resolved = path.resolve()
    try:
        return str(resolved.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(resolved)


def synthetic_gold(seed: int, count: int) -> list[GoldForm]:
    from jixiao.corpus.synth import generate_forms

    return [
        GoldForm(
            form.id,
            form.record,
            "synthetic",
            form.profile,
            tuple(PlantedEntry(code=p.code, fields=list(p.fields)) for p in form.planted),
        )
        for form in generate_forms(seed, count)
    ]


@dataclass
class _Job:
    family: str
    name: str
    split: Split
    forms: list[GoldForm] = field(default_factory=list)


def plan_documents(
    synthetic: Sequence[GoldForm], real: Sequence[GoldForm], families: Sequence[str], seed: int
) -> list[_Job]:
    """Which forms go into which PDF. Synthetic forms go to the family of their profile (central
    ones in turn over the central families); real forms go in every family. Bundles hold 3–8
    forms of one split; the real ones fill one dev and one test bundle."""
    central = [f for f in families if FAMILY_PROFILE[f] == "central"]
    by_family: dict[str, list[GoldForm]] = {f: [] for f in families}
    turn = 0
    for form in synthetic:
        if form.profile == "central":
            if central:
                by_family[central[turn % len(central)]].append(form)
                turn += 1
            continue
        for family in families:
            if FAMILY_PROFILE[family] == form.profile:
                by_family[family].append(form)
                break
    jobs: list[_Job] = []
    for family in families:
        if family == "bundle":
            jobs += _bundle_jobs(by_family[family], real, seed)
            continue
        for form in [*real, *by_family[family]]:
            jobs.append(_Job(family, form.gold_id, split_for(form.gold_id), [form]))
    return jobs


def _bundle_jobs(synthetic: Sequence[GoldForm], real: Sequence[GoldForm], seed: int) -> list[_Job]:
    import random

    rng = random.Random(f"bundles:{seed}")
    jobs: list[_Job] = []
    for split in ("dev", "test"):
        reals = [f for f in real if split_for(f.gold_id) == split]
        if reals:
            jobs.append(_Job("bundle", f"real-{split}", split, list(reals)))
        pool = [f for f in synthetic if split_for(f.gold_id) == split]
        k = 0
        while pool:
            size = rng.randint(3, 8)
            if len(pool) - size < 3:  # never leave a bundle of fewer than 3 behind
                size = len(pool) if len(pool) <= 8 else len(pool) - 3
            k += 1
            jobs.append(_Job("bundle", f"syn-{split}-{k:02d}", split, pool[:size]))
            pool = pool[size:]
    return jobs


@dataclass
class BuildSummary:
    manifest: Manifest
    seconds: float
    counts: dict[tuple[str, str], int]

    def table(self) -> str:
        families = sorted({f for f, _ in self.counts}, key=_family_order)
        lines = [f"{'family':<14}{'dev':>6}{'test':>6}{'total':>7}"]
        for family in families:
            dev, test = self.counts.get((family, "dev"), 0), self.counts.get((family, "test"), 0)
            lines.append(f"{family:<14}{dev:>6}{test:>6}{dev + test:>7}")
        dev = sum(v for (_, s), v in self.counts.items() if s == "dev")
        test = sum(v for (_, s), v in self.counts.items() if s == "test")
        lines.append(f"{'all':<14}{dev:>6}{test:>6}{dev + test:>7}")
        return "\n".join(lines)


def _family_order(family: str) -> int:
    return ALL_FAMILIES.index(family) if family in ALL_FAMILIES else len(ALL_FAMILIES)


def build_corpus(
    out: Path,
    *,
    seed: int = 7,
    synthetic: int = 72,
    families: Sequence[str] = FAMILIES,
    gold_dir: Path | None = None,
    real: Sequence[GoldForm] | None = None,
) -> BuildSummary:
    """Render the corpus into `out` and write its manifest; see the module docstring."""
    started = time.perf_counter()
    unknown = [f for f in families if f not in ALL_FAMILIES]
    if unknown:
        raise InvalidInput(
            None,
            f"unknown layout family {unknown[0]!r}",
            f"use some of: {', '.join(ALL_FAMILIES)}",
        )
    families = [f for f in ALL_FAMILIES if f in families]  # fixed order, no duplicates
    if real is None:
        real = load_real_gold(gold_dir or default_gold_dir())
    synth = synthetic_gold(seed, synthetic) if synthetic > 0 else []

    out.mkdir(parents=True, exist_ok=True)
    (out / "gold").mkdir(exist_ok=True)
    for form in synth:
        (out / "gold" / f"{form.gold_id}.json").write_text(
            form.record.model_dump_json(indent=2) + "\n", encoding="utf-8"
        )

    documents: list[ManifestDocument] = []
    counts: dict[tuple[str, str], int] = {}
    for job in plan_documents(synth, real, families, seed):
        rel = f"pdf/{job.family}/{job.name}.pdf"
        doc_seed = zlib.crc32(f"{seed}:{job.family}:{job.name}".encode())
        rendered = render_document(
            job.family, [f.record for f in job.forms], out / rel, seed=doc_seed, split=job.split
        )
        forms = []
        for form, printed, (first, last) in zip(
            job.forms, rendered.printed, rendered.pages, strict=True
        ):
            gold = form.gold_path or f"gold/{form.gold_id}.json"
            if printed != form.record:  # the template left a column out: gold as printed
                gold = f"gold/{form.gold_id}.{job.family}.json"
                (out / gold).write_text(printed.model_dump_json(indent=2) + "\n", encoding="utf-8")
            forms.append(
                ManifestForm(
                    gold_id=form.gold_id,
                    gold=gold,
                    pages=[first, last],
                    origin=form.origin,
                    planted=list(form.planted),
                )
            )
        documents.append(
            ManifestDocument(
                file=rel,
                family=job.family,
                split=job.split,
                forms=forms,
                settings=rendered.settings,
            )
        )
        key = (job.family, job.split)
        counts[key] = counts.get(key, 0) + len(forms)

    manifest = Manifest(seed=seed, created_by=CREATED_BY, documents=documents)
    (out / "manifest.json").write_text(
        json.dumps(manifest.model_dump(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return BuildSummary(manifest, time.perf_counter() - started, counts)


def build_examples(out: Path, *, seed: int = 7, gold_dir: Path | None = None) -> Manifest:
    """The small committed set in examples/: real sh-bdc-2023-02 in `ruled`, one synthetic
    `split-target` form, one `bundle` of three forms and a one-page `scan`, each with its gold
    JSON beside it and a manifest in the corpus format."""
    real = {f.gold_id: f for f in load_real_gold(gold_dir or default_gold_dir())}
    synth = synthetic_gold(seed, 72)  # the same forms as `corpus build --seed <seed>`
    sichuan = next(f for f in synth if f.profile == "sichuan")
    central = [f for f in synth if f.profile == "central" and split_for(f.gold_id) == "dev"][:3]
    # the scan: the shortest dev real form, so that the example stays one page
    dev_real = [f for f in real.values() if split_for(f.gold_id) == "dev"]
    short = min(dev_real, key=lambda f: len(f.record.indicators))
    plan = [
        ("ruled", f"{real['sh-bdc-2023-02'].gold_id}.ruled", [real["sh-bdc-2023-02"]]),
        ("split-target", f"{sichuan.gold_id}.split-target", [sichuan]),
        ("bundle", "bundle-3.bundle", central),
        ("scan", f"{short.gold_id}.scan", [short]),
    ]
    out.mkdir(parents=True, exist_ok=True)
    documents = []
    for family, name, forms in plan:
        doc_seed = zlib.crc32(f"{seed}:{family}:{name}".encode())
        pages = render_pdf(family, [f.record for f in forms], out / f"{name}.pdf", seed=doc_seed)
        entries = []
        for form, (first, last) in zip(forms, pages, strict=True):
            (out / f"{form.gold_id}.json").write_text(
                form.record.model_dump_json(indent=2) + "\n", encoding="utf-8"
            )
            entries.append(
                ManifestForm(
                    gold_id=form.gold_id,
                    gold=f"{form.gold_id}.json",
                    pages=[first, last],
                    origin=form.origin,
                    planted=list(form.planted),
                )
            )
        split = split_for(forms[0].gold_id)  # the bundle's three forms are all dev
        documents.append(
            ManifestDocument(file=f"{name}.pdf", family=family, split=split, forms=entries)
        )
    manifest = Manifest(seed=seed, created_by="jixiao corpus examples", documents=documents)
    (out / "manifest.json").write_text(
        json.dumps(manifest.model_dump(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return manifest
