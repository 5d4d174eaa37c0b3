"""CLI commands of this package; `jixiao.cli` calls `register(app)`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

corpus_app = typer.Typer(
    help="The synthetic PDF corpus: forms rendered in several layout families.",
    no_args_is_help=True,
)


_DEFAULT_OUT = Path("corpus")


@corpus_app.command("build")
def build(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder to write the corpus to.")
    ] = _DEFAULT_OUT,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed: the same seed gives the same corpus.")
    ] = 7,
    synthetic: Annotated[int, typer.Option("--synthetic", help="Number of synthetic forms.")] = 72,
    families: Annotated[
        list[str] | None,
        typer.Option(
            "--families",
            "-f",
            help="Layout families to render (repeat or comma-separate); default: "
            "ruled, ab-labels, borderless, split-target, bundle, scan. The realistic ones "
            "(office, html, scan-sweep) are rendered only when named or with --realistic.",
        ),
    ] = None,
    realistic: Annotated[
        bool,
        typer.Option(
            "--realistic",
            help="Add the realistic families: office (LibreOffice), html (Chromium) and "
            "scan-sweep; slower, seconds per document.",
        ),
    ] = False,
    gold_dir: Annotated[
        Path | None,
        typer.Option("--gold-dir", help="Folder of the real gold (default: evals/gold)."),
    ] = None,
) -> None:
    """Render synthetic and real gold forms as PDFs and write manifest.json."""
    from jixiao.corpus.build import build_corpus
    from jixiao.corpus.render import FAMILIES, REALISTIC_FAMILIES

    chosen = [f.strip() for item in families or [] for f in item.split(",") if f.strip()]
    chosen = chosen or list(FAMILIES)
    if realistic:
        chosen += [f for f in REALISTIC_FAMILIES if f not in chosen]
    summary = build_corpus(out, seed=seed, synthetic=synthetic, families=chosen, gold_dir=gold_dir)
    typer.echo(summary.table())
    docs = len(summary.manifest.documents)
    typer.echo(f"{docs} PDFs in {out / 'pdf'}, manifest {out / 'manifest.json'}")
    typer.echo(f"built in {summary.seconds:.1f} s")


@corpus_app.command("examples")
def examples(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write to.")] = Path(
        "examples"
    ),
    seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic forms.")] = 7,
) -> None:
    """Write the small example set (one PDF per family kind, gold JSON beside each)."""
    from jixiao.corpus.build import build_examples

    manifest = build_examples(out, seed=seed)
    for doc in manifest.documents:
        typer.echo(f"{out / doc.file}  {doc.family}  {len(doc.forms)} form(s)")


def register(app: typer.Typer) -> None:
    """Add this package's commands to the top-level app."""
    app.add_typer(corpus_app, name="corpus")
