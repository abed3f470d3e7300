"""The ``evalkit`` command line: run, report, metrics, validate.

Exit codes: 0 success, 1 a gate failed, 2 bad input or configuration, 3 the run could not
complete. Errors print one clear message to stderr, never a traceback.
"""

from __future__ import annotations

import datetime as _dt
import json
import sys
from pathlib import Path
from typing import Any

import click

from evalkit import __version__
from evalkit.errors import ConfigError, EvalkitError


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


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def _print_results(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    width = max(len(f"{r['task']}/{r['metric']}") for r in rows)
    for r in rows:
        name = f"{r['task']}/{r['metric']}".ljust(width)
        ci = f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]"
        err = f"  errors={r['n_errors']}" if r["n_errors"] else ""
        click.echo(f"{name}  {_fmt(r['value']):>8}  {ci:<20} n={r['n']}{err}")


@click.group()
@click.version_option(__version__, prog_name="evalkit")
def cli() -> None:
    """Evaluate models with faithful metrics, paired statistics and reports."""


@cli.command()
@click.argument("suite", type=click.Path(path_type=Path))
@click.option(
    "--model",
    "-m",
    required=True,
    help="Adapter spec: predictions:PATH, python:MODULE:FUNCTION, scripted:echo ...",
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
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def run(
    suite: Path,
    model: str,
    out: Path | None,
    limit: int | None,
    seed: int | None,
    resume: bool,
    overwrite: bool,
    no_cache: bool,
    batch_size: int | None,
    model_arg: tuple[str, ...],
    quiet: bool,
) -> None:
    """Run SUITE against a model and write the run record and reports."""
    from evalkit.runner import RunOptions, run_suite
    from evalkit.suite import load_suite

    loaded = load_suite(suite)
    if out is None:
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        out = Path("reports") / loaded.name / stamp
    if overwrite and resume:
        raise ConfigError("--overwrite and --resume exclude each other; pick one.")
    if overwrite and out.exists():
        import shutil

        if not (out / "results.json").exists() and any(out.iterdir()):
            raise ConfigError(f"{out}: --overwrite only replaces a run directory; this one is not.")
        shutil.rmtree(out)
    opts = RunOptions(
        limit=limit,
        seed=seed,
        resume=resume,
        use_cache=not no_cache,
        progress=not quiet,
        batch_size=batch_size,
        model_options=_parse_model_args(model_arg),
    )
    outcome = run_suite(loaded, model, out, opts)
    _print_results(outcome.results)
    for gate in outcome.header.get("gates", []):
        mark = "PASS" if gate["passed"] else "FAIL"
        click.echo(
            f"gate {mark}: {gate['task']}/{gate['metric']} {gate['kind']} "
            f"{gate['threshold']} (value {_fmt(gate['value'])})"
        )
    click.echo(f"record: {out / 'results.json'}  report: {out / 'report.html'}")
    sys.exit(outcome.exit_code)


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
def report(run_dir: Path) -> None:
    """Re-render the reports of RUN_DIR from its record (no model is called)."""
    from evalkit.report import write_reports

    for path in write_reports(run_dir):
        click.echo(str(path))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def metrics(as_json: bool) -> None:
    """List every metric with its parameters, defaults and direction."""
    from evalkit.registry import METRICS

    listing: list[dict[str, Any]] = []
    for name in METRICS.names():
        cls = METRICS.get(name)
        metric = cls.build({})
        params = {
            p: (None if v.default is v.empty else v.default) for p, v in cls.parameters().items()
        }
        listing.append(
            {
                "name": name,
                "direction": "higher is better" if cls.higher_is_better else "lower is better",
                "values": list(metric.value_names()),
                "requires": sorted(cls.requires),
                "parameters": params,
                "summary": (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else "",
            }
        )
    if as_json:
        click.echo(json.dumps(listing, indent=2, default=str))
        return
    for m in listing:
        click.echo(f"{m['name']}  ({m['direction']})  {m['summary']}")
        click.echo(f"    values: {', '.join(m['values'])}")
        for p, d in m["parameters"].items():
            click.echo(f"    {p} = {d!r}")


@cli.command()
@click.argument("suite", type=click.Path(path_type=Path))
def validate(suite: Path) -> None:
    """Check SUITE and its datasets without calling any model."""
    from evalkit.data import load_dataset
    from evalkit.suite import load_suite

    loaded = load_suite(suite)
    total = 0
    for task in loaded.tasks:
        ds = load_dataset(task.dataset_path, task.spec.dataset, task.spec.prompt)
        total += len(ds.samples)
        click.echo(
            f"task {task.name}: {len(ds.samples)} samples, metrics: "
            f"{', '.join(e.key for e in task.metrics)}"
        )
    click.echo(f"ok: {suite} ({len(loaded.tasks)} tasks, {total} samples)")


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the CLI and map evalkit errors to exit codes."""
    try:
        cli.main(args=argv, standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except EvalkitError as exc:
        click.echo(f"{type(exc).__name__}: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted; the record so far is kept: rerun with --resume", err=True)
        sys.exit(130)
    sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
