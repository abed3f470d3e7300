"""Commands over finished runs: ``report`` (re-render), ``gate`` (check), ``compare``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from evalkit.cli._printing import _ci_outputs, _fmt, _print_gates
from evalkit.errors import ConfigError


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
def report(run_dir: Path) -> None:
    """Re-render the reports of RUN_DIR from its record (no model is called)."""
    from evalkit.report import write_reports

    for path in write_reports(run_dir):
        click.echo(str(path))


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--baseline",
    type=click.Path(path_type=Path),
    default=None,
    help="The run to test regressions against (without it, baseline-relative gates are "
    "skipped: no baseline yet).",
)
@click.option(
    "--fail-on-regression",
    is_flag=True,
    help="Also test every task's primary metric values against --baseline (paired bootstrap, "
    "Holm-corrected with the suite's regression gates); fail on a significant regression.",
)
@click.option(
    "--alpha",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.05,
    show_default=True,
    help="Significance level of the --fail-on-regression tests.",
)
@click.option(
    "--resamples",
    type=click.IntRange(min=1),
    default=None,
    help="Paired bootstrap resamples (default: max(1000, 4 x tests / alpha)).",
)
@click.option("--seed", type=int, default=12345, show_default=True)
@click.option("--junit", type=click.Path(path_type=Path), default=None)
@click.option("--markdown", type=click.Path(path_type=Path), default=None)
def gate(
    run_dir: Path,
    baseline: Path | None,
    fail_on_regression: bool,
    alpha: float,
    resamples: int | None,
    seed: int,
    junit: Path | None,
    markdown: Path | None,
) -> None:
    """Check the gates of RUN_DIR (against --baseline); exit 1 when one fails.

    Writes RUN_DIR/gates.json and re-renders RUN_DIR/report.html with the verdicts. A run
    whose suite declares no gates is an error (exit 2) unless --fail-on-regression is given.
    """
    from evalkit import gates as gates_mod
    from evalkit.report import write_reports
    from evalkit.store import load_run

    record = load_run(run_dir)
    if not gates_mod.declared_gates(record.header):
        if not fail_on_regression:
            raise ConfigError(
                f"{run_dir}: the suite of this run declares no gates, so nothing would be "
                f"checked. {gates_mod.HOW_TO_GATE}"
            )
        if baseline is None:
            raise ConfigError(
                f"{run_dir}: --fail-on-regression needs --baseline BASE_RUN (the suite declares "
                "no gates, so without a baseline nothing would be checked)."
            )
    base = load_run(baseline) if baseline is not None else None
    gates = gates_mod.check_gates(
        record,
        base,
        resamples=resamples,
        seed=seed,
        fail_on_regression=fail_on_regression,
        alpha=alpha,
    )
    if not gates:
        raise ConfigError(
            f"{run_dir}: the suite's gates name no check (min, max, max_drop or "
            f"no_significant_regression). {gates_mod.HOW_TO_GATE}"
        )
    settings: dict[str, Any] = {
        "fail_on_regression": fail_on_regression,
        "alpha": alpha,
        "resamples": resamples,  # None: max(1000, 4 x tests / alpha)
        "seed": seed,
    }
    doc = gates_mod.gate_check_document(record, base, gates, settings)
    written = gates_mod.write_gate_check(run_dir, doc)
    write_reports(run_dir)  # report.html opens with these verdicts
    _print_gates(gates)
    click.echo(f"gate check: {written}  report: {Path(run_dir) / 'report.html'}")
    _ci_outputs(junit, markdown, run_header=record.header, gates=gates, run_dir=run_dir)
    sys.exit(1 if gates_mod.gates_failed(gates) else 0)


@click.command()
@click.argument("runs", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "-o",
    type=click.Path(path_type=Path),
    default=None,
    help="Where compare.html/.csv/.json/.md go (default: reports/compare/<UTC time>).",
)
@click.option(
    "--series",
    default=None,
    metavar="KEY",
    help="Treat the runs as a checkpoint series ordered by label KEY (e.g. step).",
)
@click.option(
    "--test",
    "test_kind",
    type=click.Choice(["bootstrap", "randomization"]),
    default="bootstrap",
    show_default=True,
    help="Paired significance test.",
)
@click.option(
    "--resamples",
    type=click.IntRange(min=1),
    default=None,
    help="Bootstrap resamples or randomization trials (default: max(1000, 4 x tests / alpha), "
    "so that Holm-corrected p-values can reach alpha).",
)
@click.option("--seed", type=int, default=12345, show_default=True)
@click.option(
    "--alpha",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.05,
    show_default=True,
)
@click.option(
    "--intersection",
    is_flag=True,
    help="Compare only the samples (and tasks) all runs have, and report how many.",
)
@click.option(
    "--top-k",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Examples per metric in the per-example diff.",
)
@click.option(
    "--latest",
    type=click.IntRange(min=2),
    default=None,
    help="Compare the latest N indexed runs of --suite instead of naming them.",
)
@click.option("--suite", "suite_name", default=None, help="Suite name for --latest.")
@click.option("--junit", type=click.Path(path_type=Path), default=None)
@click.option("--markdown", type=click.Path(path_type=Path), default=None)
def compare(
    runs: tuple[Path, ...],
    out: Path | None,
    series: str | None,
    test_kind: str,
    resamples: int | None,
    seed: int,
    alpha: float,
    intersection: bool,
    top_k: int,
    latest: int | None,
    suite_name: str | None,
    junit: Path | None,
    markdown: Path | None,
) -> None:
    """Compare RUNS (the first is the baseline); exit 1 on a significant regression."""
    from evalkit.compare import CompareOptions, compare_runs
    from evalkit.report.compare_files import write_compare_outputs

    paths: list[Path] = list(runs)
    if latest is not None:
        from evalkit.index import list_runs

        if paths:
            raise ConfigError("give run directories or --latest N, not both.")
        if not suite_name:
            raise ConfigError("--latest needs --suite NAME.")
        found = list_runs(suite=suite_name, status="completed", limit=latest)
        if len(found) < latest:
            raise ConfigError(
                f"the index has {len(found)} completed run(s) of suite '{suite_name}'; "
                f"--latest {latest} needs {latest}. See `evalkit runs --suite {suite_name}`."
            )
        paths = [Path(r["path"]) for r in reversed(found)]  # oldest first: the baseline
    opts = CompareOptions(
        test=test_kind,
        resamples=resamples,
        seed=seed,
        alpha=alpha,
        intersection=intersection,
        top_k=top_k,
        series=series,
    )
    doc = compare_runs(paths, opts)
    if out is None:
        from evalkit.store import default_run_dir

        out = default_run_dir("compare")  # unique even for comparisons in the same second
    write_compare_outputs(doc, out)
    labels = {r["index"]: r["label"] for r in doc["runs"]}
    for row in doc["comparisons"]:
        mark = {"improved": "+", "regressed": "-"}.get(row["change"], " ")
        click.echo(
            f"{mark} {row['task']}/{row['metric']}: {labels[row['a']]} {_fmt(row['value_a'])} -> "
            f"{labels[row['b']]} {_fmt(row['value_b'])}  delta {_fmt(row['delta'])} "
            f"[{_fmt(row['ci_low'])}, {_fmt(row['ci_high'])}]  p_holm={_fmt(row['p_adjusted'])}"
        )
    verdict = (
        f"{doc['regressions']} significant regression(s)"
        if doc["regressions"]
        else "no significant regression"
    )
    click.echo(f"{verdict} (Holm-adjusted, alpha {alpha}); report: {out / 'compare.html'}")
    _ci_outputs(junit, markdown, compare_doc=doc)
    sys.exit(doc["exit_code"])


@click.command()
@click.argument("run_a", type=click.Path(path_type=Path))
@click.argument("run_b", type=click.Path(path_type=Path))
@click.option("--task", default=None, help="The task (default: the one with the metric).")
@click.option("--metric", default="judge", show_default=True, help="The judge metric's key.")
@click.option(
    "--criterion", default=None, help="A rubric criterion, or total (default: the only one)."
)
@click.option("--resamples", type=click.IntRange(0), default=1000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None)
def agreement(
    run_a: Path,
    run_b: Path,
    task: str | None,
    metric: str,
    criterion: str | None,
    resamples: int,
    seed: int,
    json_out: Path | None,
) -> None:
    """Agreement between the judges of two runs of one task (kappa, alpha, rho, tau-b)."""
    import json

    from evalkit.compare.judges import judge_agreement

    doc = judge_agreement(
        run_a, run_b, task=task, metric=metric, criterion=criterion, resamples=resamples,
        seed=seed,
    )  # fmt: skip
    click.echo(
        f"{doc['task']}/{metric} ({doc['criterion']}): {doc['n']} samples scored by both "
        f"judges ({doc['left_out']} left out)"
    )
    for name, v in doc["values"].items():
        click.echo(f"  {name:<9} {v['value']:.4g}  [{v['ci_low']:.4g}, {v['ci_high']:.4g}]")
    if json_out is not None:
        json_out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
