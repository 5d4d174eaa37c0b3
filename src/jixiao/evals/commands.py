"""CLI commands of this package (`jixiao eval run | compare | report`); `jixiao.cli` calls
`register(app)`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

eval_app = typer.Typer(
    help="Measure extraction against gold on the corpus, gate regressions, write reports.",
    no_args_is_help=True,
)


@eval_app.command("run")
def run(
    split: Annotated[
        str, typer.Option("--split", help="dev, test, or all (both, as one baseline file).")
    ] = "dev",
    manifest: Annotated[
        Path, typer.Option("--manifest", help="Corpus manifest (`jixiao corpus build`).")
    ] = Path("corpus/manifest.json"),
    extractor: Annotated[
        str, typer.Option("--extractor", "-e", help="llm, layout or hybrid.")
    ] = "layout",
    prompt: Annotated[
        list[str] | None,
        typer.Option("--prompt", help="Pin a section prompt: NAME@VERSION (repeatable)."),
    ] = None,
    model: Annotated[str | None, typer.Option("--model", help="LLM model name.")] = None,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="OpenAI-compatible endpoint.")
    ] = None,
    mode: Annotated[str | None, typer.Option("--mode", help="tools, json_schema, …")] = None,
    family: Annotated[str | None, typer.Option("--family", help="Only this layout family.")] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", min=1, help="At most N documents, in turn over the families."),
    ] = None,
    forms_per_doc: Annotated[
        int | None,
        typer.Option(
            "--forms-per-doc",
            min=1,
            help="Only the first N forms of each document (a cheap subset of bundles).",
        ),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(
            "--threshold",
            min=0.0,
            max=1.0,
            help="Review threshold (default: the calibrated one in confidence_thresholds.json).",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Run JSON (default evals/runs/<name>.json).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No per-document lines.")] = False,
    note: Annotated[
        str, typer.Option("--note", help="Why this run / what subset (kept in a baseline).")
    ] = "",
    llm: Annotated[
        str,
        typer.Option(
            "--llm",
            help="hybrid: auto (ask only what layout and checks leave in doubt), always "
            "(every section, the hybrid before escalation) or never.",
        ),
    ] = "auto",
    ask_all: Annotated[
        bool,
        typer.Option(
            "--ask-all",
            help="hybrid auto: ask every planned question whatever the routing table says "
            "(measures the routing table: `jixiao eval routing`).",
        ),
    ] = False,
    llm_max_calls: Annotated[
        int | None, typer.Option("--llm-max-calls", min=0, help="LLM requests per form.")
    ] = None,
    llm_max_tokens: Annotated[
        int | None, typer.Option("--llm-max-tokens", min=0, help="LLM tokens per form.")
    ] = None,
) -> None:
    """Extract the corpus documents of a split, score them against gold, write a run JSON.

    `--split all` runs dev and test and writes both into one baseline file."""
    from jixiao.evals.harness import EvalOptions, run_eval, write_baseline, write_run
    from jixiao.evals.report import format_summary
    from jixiao.extract.escalation import policy_options

    splits = ["dev", "test"] if split == "all" else [split]
    progress = None if quiet else (lambda line: typer.echo(line, err=True))
    runs: dict[str, dict[str, Any]] = {}
    for one in splits:
        options = EvalOptions(
            split=one,
            manifest=manifest,
            extractor=extractor,
            model=model,
            base_url=base_url,
            mode=mode,
            prompts=tuple(prompt or ()),
            family=family,
            limit=limit,
            forms_per_document=forms_per_doc,
            threshold=threshold,
            escalation=policy_options(llm, ask_all, llm_max_calls, llm_max_tokens),
        )
        runs[one] = run_eval(options, progress)
        typer.echo(format_summary(runs[one]))
    if out is None:
        stamp = str(runs[splits[0]]["created"]).replace(":", "").replace("-", "")[:15]
        out = Path("evals/runs") / f"{extractor}-{split}-{stamp}.json"
    for written in runs.values():
        written["name"] = out.stem
        written["note"] = note
    if split == "all":
        write_baseline(runs, out, note=note)
    else:
        write_run(runs[split], out)
    typer.echo(f"run written to {out}")


@eval_app.command("routing")
def routing(
    runs: Annotated[
        list[Path], typer.Argument(help="Dev runs of `eval run --extractor hybrid --ask-all`.")
    ],
    model: Annotated[str, typer.Option("--model", help="The model the runs measured.")],
    save: Annotated[
        bool, typer.Option("--save", help="Write the decisions into the packaged routing table.")
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write the table here (e.g. evals/baselines).")
    ] = None,
) -> None:
    """Per question kind: asked, rescued, broke, confirmed wrong, null, and the decision (ask a
    kind only where rescues beat breakage). Dev runs only: the routing is tuned, never on test."""
    from jixiao.errors import InvalidInput
    from jixiao.evals.escalation import routing_table
    from jixiao.evals.harness import load_run
    from jixiao.extract.escalation import load_routing, save_routing

    loaded = {}
    for path in runs:
        run = load_run(path)
        if run.get("split") != "dev":
            raise InvalidInput(str(path), "not a dev run", "measure the routing on dev only")
        loaded[path.stem] = run
    table = routing_table(loaded, model=model, base=load_routing().table)
    typer.echo("| kind | asked | rescued | broke | confirmed wrong | null | ask |")
    typer.echo("|---|---|---|---|---|---|---|")
    for level, kind in table.models[model].kinds.items():
        typer.echo(
            f"| {level} | {kind.asked} | {kind.rescued} | {kind.broke} | "
            f"{kind.confirmed_wrong} | {kind.null} | {'yes' if kind.ask else 'no'} |"
        )
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        typer.echo(f"written to {save_routing(table, out)}")
    if save:
        typer.echo(f"written to {save_routing(table)}")


@eval_app.command("compare")
def compare(
    base: Annotated[Path, typer.Argument(help="The base run JSON (e.g. a baseline).")],
    new: Annotated[Path, typer.Argument(help="The new run JSON.")],
    max_drop: Annotated[
        float,
        typer.Option("--max-drop", min=0.0, help="Allowed drop of any field group, in points."),
    ] = 0.5,
    examples: Annotated[int, typer.Option("--examples", help="Broken values to show.")] = 20,
) -> None:
    """Per-field diff of two runs (or baselines: each split both hold); exits non-zero on a
    regression."""
    from jixiao.errors import InvalidInput
    from jixiao.evals.diff import EvalRegression, diff_runs, format_diff
    from jixiao.evals.harness import load_runs

    base_runs, new_runs = load_runs(base), load_runs(new)
    splits = [s for s in new_runs if s in base_runs]
    if not splits:
        raise InvalidInput(
            str(new),
            f"shares no split with {base} ({', '.join(new_runs)} vs {', '.join(base_runs)})",
            "compare runs of the same split",
        )
    reasons = []
    for one in splits:
        diff = diff_runs(base_runs[one], new_runs[one], max_drop=max_drop)
        typer.echo(format_diff(diff, examples=examples))
        reasons += [f"{one}: {r}" for r in diff.reasons()] if diff.failed else []
    if reasons:
        raise EvalRegression(
            str(new),
            "; ".join(reasons) + f" (against {base})",
            "fix the regression, or if it is intended write a new baseline with `jixiao eval run "
            "--split all ... --out` and commit it with the reason",
        )


@eval_app.command("report")
def report(
    run_path: Annotated[
        Path, typer.Argument(help="A run JSON or baseline (every split it holds is shown).")
    ],
    html: Annotated[Path, typer.Option("--html", help="Where to write the HTML report.")],
) -> None:
    """One self-contained HTML page: accuracy per family and group, reliability, cost."""
    from jixiao.evals.harness import load_runs
    from jixiao.evals.report import render_html

    html.parent.mkdir(parents=True, exist_ok=True)
    html.write_text(render_html(list(load_runs(run_path).values())), encoding="utf-8")
    typer.echo(str(html))


@eval_app.command("table")
def table(
    files: Annotated[list[Path], typer.Argument(help="Baseline or run JSON files.")],
) -> None:
    """A markdown table of field accuracy per family × baseline, dev and test (for README)."""
    from jixiao.evals.harness import load_runs
    from jixiao.evals.report import numbers_table

    typer.echo(numbers_table({path.stem: load_runs(path) for path in files}))


def register(app: typer.Typer) -> None:
    """Add this package's commands to the top-level app."""
    app.add_typer(eval_app, name="eval")
