"""``evalkit run`` and ``evalkit validate``: run a suite against a model, or check it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from evalkit.cli._printing import _ci_outputs, _print_gates, _print_results
from evalkit.errors import ConfigError


def _parse_model_args(items: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--model-arg '{item}': expected KEY=VALUE, e.g. batch_size=8.")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def _parse_labels(items: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--label '{item}': expected KEY=VALUE, e.g. step=2000.")
        out[key] = value
    return out


@click.command()
@click.argument("suite", type=click.Path(path_type=Path))
@click.option(
    "--model",
    "-m",
    default=None,
    help="Adapter spec: predictions:PATH, python:MODULE:FUNCTION, scripted:echo ... "
    "(optional when every task names its own `model:`).",
)
@click.option(
    "--out",
    "-o",
    type=click.Path(path_type=Path),
    default=None,
    help="Run directory (default: reports/<suite>/<UTC timestamp>).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Score only the first N samples of each task.",
)
@click.option("--seed", type=int, default=None, help="Seed for generation and bootstrap.")
@click.option("--resume", is_flag=True, help="Finish the run already in --out.")
@click.option("--overwrite", is_flag=True, help="Replace a run already in --out.")
@click.option("--no-cache", is_flag=True, help="Do not read or write the response cache.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None)
@click.option(
    "--model-arg",
    multiple=True,
    metavar="KEY=VALUE",
    help="Option for the adapter (repeatable); VALUE is parsed as JSON when it can be.",
)
@click.option(
    "--baseline",
    type=click.Path(path_type=Path),
    default=None,
    help="A run to check regression gates against (max_drop, no_significant_regression).",
)
@click.option(
    "--label",
    multiple=True,
    metavar="KEY=VALUE",
    help="Label the run (repeatable), e.g. step=2000; `compare --series step` orders by it.",
)
@click.option(
    "--junit",
    type=click.Path(path_type=Path),
    default=None,
    help="Write JUnit XML (a test case per metric and per gate).",
)
@click.option(
    "--markdown",
    type=click.Path(path_type=Path),
    default=None,
    help="Write a Markdown summary (also appended to $GITHUB_STEP_SUMMARY when set).",
)
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    default=None,
    help="Where batches are served and scored (default: the suite's `executor:`, else local).",
)
@click.option(
    "--ray-address",
    default=None,
    metavar="ADDRESS",
    help="Join this Ray cluster (host:6379, ray://host:10001, auto); implies --executor ray.",
)
@click.option(
    "--ray-workers",
    type=click.IntRange(min=1),
    default=None,
    help="Ray worker actors (default: the cluster's CPUs; a local instance gets this many).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def run(
    suite: Path,
    model: str | None,
    out: Path | None,
    limit: int | None,
    seed: int | None,
    resume: bool,
    overwrite: bool,
    no_cache: bool,
    batch_size: int | None,
    model_arg: tuple[str, ...],
    baseline: Path | None,
    label: tuple[str, ...],
    junit: Path | None,
    markdown: Path | None,
    executor: str | None,
    ray_address: str | None,
    ray_workers: int | None,
    quiet: bool,
) -> None:
    """Run SUITE against a model and write the run record and reports."""
    from evalkit.runner import RunOptions, run_suite
    from evalkit.suite import ExecutorSpec, load_suite

    if ray_address is not None and executor == "local":
        raise ConfigError("--ray-address needs --executor ray (or leave --executor out).")
    given: dict[str, Any] = {
        "kind": "ray" if ray_address else executor,
        "address": ray_address,
        "workers": ray_workers,
    }
    # Only the flags given override the suite's `executor:` (field by field).
    executor_spec = ExecutorSpec.model_validate({k: v for k, v in given.items() if v is not None})

    loaded = load_suite(suite)
    if out is None:
        from evalkit.store import default_run_dir

        out = default_run_dir(loaded.name)  # unique even for runs started in the same second
    if overwrite and resume:
        raise ConfigError("--overwrite and --resume exclude each other; pick one.")
    # --overwrite: the runner builds the new run beside the old one and swaps it in only once
    # it has saved samples (never rmtree first).
    opts = RunOptions(
        limit=limit,
        seed=seed,
        resume=resume,
        overwrite=overwrite,
        use_cache=not no_cache,
        progress=not quiet,
        batch_size=batch_size,
        model_options=_parse_model_args(model_arg),
        baseline=baseline,
        labels=_parse_labels(label),
        executor=executor_spec,
    )
    outcome = run_suite(loaded, model, out, opts)
    _print_results(outcome.results)
    gates = outcome.header.get("gates", [])
    _print_gates(gates)
    click.echo(f"record: {out / 'results.json'}  report: {out / 'report.html'}")
    _ci_outputs(junit, markdown, run_header=outcome.header, gates=gates, run_dir=out)
    sys.exit(outcome.exit_code)


@click.command()
@click.argument("suite", type=click.Path(path_type=Path))
def validate(suite: Path) -> None:
    """Check SUITE and its datasets without calling any model."""
    from evalkit.data.samples import load_dataset
    from evalkit.suite import load_suite

    loaded = load_suite(suite)
    total = 0
    for task in loaded.tasks:
        ds = load_dataset(task.dataset_path, task.spec.dataset, task.templates)
        total += len(ds.samples)
        click.echo(
            f"task {task.name}: {len(ds.samples)} samples, metrics: "
            f"{', '.join(e.key for e in task.metrics)}"
        )
        if ds.qrels_file is not None:
            click.echo(f"  {ds.qrels_file.note(task.no_relevant)}")
    click.echo(f"ok: {suite} ({len(loaded.tasks)} tasks, {total} samples)")
