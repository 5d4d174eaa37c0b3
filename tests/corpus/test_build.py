"""`jixiao corpus build`: manifest, fixed splits, real forms in every family, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import pymupdf
import pytest
from typer.testing import CliRunner

from jixiao.cli import app
from jixiao.contract import FormRecord
from jixiao.corpus.build import build_corpus, load_manifest, load_real_gold, split_for
from jixiao.corpus.render import FAMILIES
from jixiao.errors import FileMissing, InvalidInput

ROOT = Path(__file__).resolve().parents[2]
GOLD = ROOT / "evals" / "gold"


@pytest.fixture(scope="module")
def two_real() -> list:
    # one dev and one test form keep the build small; the CLI test below uses all eight
    return [f for f in load_real_gold(GOLD) if f.gold_id in ("sh-bdc-2023-02", "sh-bdc-2023-03")]


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory: pytest.TempPathFactory, two_real: list) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    build_corpus(out, seed=3, synthetic=8, families=FAMILIES, real=two_real)
    return out


def test_manifest_validates_and_points_at_real_files(small_corpus: Path) -> None:
    manifest = load_manifest(small_corpus / "manifest.json")
    assert manifest.seed == 3 and manifest.created_by == "jixiao corpus build"
    for doc, form in manifest.forms():
        pdf = small_corpus / doc.file
        assert doc.file == f"pdf/{doc.family}/{pdf.stem}.pdf" and pdf.is_file()
        with pymupdf.open(pdf) as opened:
            assert 1 <= form.pages[0] <= form.pages[1] <= opened.page_count
        gold = Path(form.gold) if form.origin == "real" else small_corpus / form.gold
        if not gold.is_absolute() and form.origin == "real":
            gold = ROOT / gold
        FormRecord.model_validate_json(gold.read_text(encoding="utf-8"))


def test_real_forms_are_in_every_family_and_splits_are_fixed(small_corpus: Path) -> None:
    manifest = load_manifest(small_corpus / "manifest.json")
    families_of: dict[str, set[str]] = {}
    splits_of: dict[str, set[str]] = {}
    for doc, form in manifest.forms():
        families_of.setdefault(form.gold_id, set()).add(doc.family)
        splits_of.setdefault(form.gold_id, set()).add(doc.split)
        assert doc.split == split_for(form.gold_id)
    assert families_of["sh-bdc-2023-02"] == set(FAMILIES)
    assert families_of["sh-bdc-2023-03"] == set(FAMILIES)
    assert splits_of["sh-bdc-2023-02"] == {"dev"} and splits_of["sh-bdc-2023-03"] == {"test"}
    assert all(len(s) == 1 for s in splits_of.values())
    synthetic = {g for g in families_of if g.startswith("syn-3-")}
    assert len(synthetic) == 8
    # every synthetic form lands in exactly one family (bundles hold several forms)
    assert all(len(families_of[g]) == 1 for g in synthetic)


def test_planted_flags_travel_into_the_manifest(small_corpus: Path) -> None:
    manifest = load_manifest(small_corpus / "manifest.json")
    real = {form.gold_id: form for _, form in manifest.forms() if form.origin == "real"}
    index = {e["id"]: e for e in json.loads((GOLD / "index.json").read_text(encoding="utf-8"))}
    expected = [(f["code"], f["fields"]) for f in index["sh-bdc-2023-02"]["expected_flags"]]
    assert [(p.code, p.fields) for p in real["sh-bdc-2023-02"].planted] == expected
    synthetic = [form for _, form in manifest.forms() if form.origin == "synthetic"]
    assert sum(len(f.planted) for f in synthetic) == 2  # round(8 × 0.25)


def test_bundles_hold_forms_of_one_split() -> None:
    real = load_real_gold(GOLD)
    from jixiao.corpus.build import plan_documents, synthetic_gold

    jobs = plan_documents(synthetic_gold(9, 40), real, ["bundle"], 9)
    real_bundles = [j for j in jobs if j.name.startswith("real-")]
    assert sorted(f.gold_id for j in real_bundles for f in j.forms) == [r.gold_id for r in real]
    for job in jobs:
        assert {split_for(f.gold_id) for f in job.forms} == {job.split}
        if job.name.startswith("syn-"):
            assert 1 <= len(job.forms) <= 8


def test_split_is_stable_and_test_is_at_least_a_third() -> None:
    ids = [f"syn-7-{i:03d}" for i in range(300)]
    assert [split_for(i) for i in ids] == [split_for(i) for i in ids]
    share = sum(split_for(i) == "test" for i in ids) / len(ids)
    assert 0.34 <= share <= 0.46
    assert [split_for(f"sh-bdc-2023-0{n}") for n in range(1, 9)] == [
        "dev", "dev", "test", "dev", "dev", "test", "dev", "test"
    ]  # fmt: skip


def test_same_seed_same_corpus(tmp_path: Path, two_real: list) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        build_corpus(out, seed=2, synthetic=4, families=["ruled", "bundle"], real=two_real[:1])
    assert (a / "manifest.json").read_bytes() == (b / "manifest.json").read_bytes()
    for pdf in sorted((a / "pdf").rglob("*.pdf")):
        assert pdf.read_bytes() == (b / pdf.relative_to(a)).read_bytes()


def test_cli_builds_with_all_real_forms_and_prints_the_table(tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    result = CliRunner().invoke(
        app,
        ["corpus", "build", "--out", str(out), "--seed", "1", "--synthetic", "0",
         "--families", "bundle", "--gold-dir", str(GOLD)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "family" in result.output and "bundle" in result.output
    manifest = load_manifest(out / "manifest.json")
    real_in = sorted(f.gold_id for _, f in manifest.forms() if f.origin == "real")
    assert real_in == [f"sh-bdc-2023-0{n}" for n in range(1, 9)]
    assert len(manifest.documents) == 2  # all eight real forms: one dev and one test bundle
    assert {d.split for d in manifest.documents} == {"dev", "test"}


def test_unknown_family_and_bad_manifest_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="unknown layout family"):
        build_corpus(tmp_path, families=["ruled", "nope"], real=[])
    with pytest.raises(FileMissing):
        load_manifest(tmp_path / "missing.json")
    bad = tmp_path / "manifest.json"
    bad.write_text('{"seed": 1, "documents": []}', encoding="utf-8")
    with pytest.raises(InvalidInput, match="not a corpus manifest"):
        load_manifest(bad)


def test_committed_examples_match_their_manifest() -> None:
    examples = ROOT / "examples"
    manifest = load_manifest(examples / "manifest.json")
    assert {d.family for d in manifest.documents} == {"ruled", "split-target", "bundle", "scan"}
    assert sum(p.stat().st_size for p in examples.iterdir()) < 2_000_000
    for doc, form in manifest.forms():
        with pymupdf.open(examples / doc.file) as pdf:
            assert form.pages[1] <= pdf.page_count
        FormRecord.model_validate_json((examples / form.gold).read_text(encoding="utf-8"))
    bundle = next(d for d in manifest.documents if d.family == "bundle")
    assert len(bundle.forms) == 3
