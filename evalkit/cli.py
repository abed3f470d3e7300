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

from evalkit._version import __version__
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


def _parse_labels(items: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--label '{item}': expected KEY=VALUE, e.g. step=2000.")
        out[key] = value
    return out


def _print_gates(gates: list[dict[str, Any]]) -> None:
    """One line per gate check, then counts; the failure count goes to stderr."""
    for gate in gates:
        mark = {"pass": "PASS", "fail": "FAIL", "skipped": "SKIP"}[gate["status"]]
        click.echo(
            f"gate {mark}: {gate['task']}/{gate['metric']} {gate['kind']}: {gate['message']}"
        )
    counts = {s: sum(g["status"] == s for g in gates) for s in ("pass", "fail", "skipped")}
    if gates:
        click.echo(
            f"gates: {counts['pass']} passed, {counts['fail']} failed, {counts['skipped']} skipped"
        )
    if counts["fail"]:
        click.echo(f"{counts['fail']} gate(s) failed; exit code 1.", err=True)


def _ci_outputs(
    junit: Path | None,
    markdown: Path | None,
    *,
    run_header: dict[str, Any] | None = None,
    gates: list[dict[str, Any]] | None = None,
    compare_doc: dict[str, Any] | None = None,
    run_dir: Path | None = None,
) -> None:
    """Write JUnit XML and a Markdown summary; append the summary to $GITHUB_STEP_SUMMARY."""
    import os

    if junit is not None:
        import evalkit.report.junit as junit_mod

        if compare_doc is not None:
            xml = junit_mod.junit_for_compare(compare_doc)
        else:
            xml = junit_mod.junit_for_run(run_header or {}, gates or [])
        junit.parent.mkdir(parents=True, exist_ok=True)
        junit.write_text(xml, encoding="utf-8")
    summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
    if markdown is None and not summary_path:
        return
    from evalkit.report import markdown as md

    if compare_doc is not None:
        text = md.render_compare_markdown(compare_doc)
    else:
        from evalkit.store import load_run

        text = md.render_markdown(load_run(run_dir)) if run_dir is not None else ""
        if gates:
            text += "\n" + md.render_gates_markdown(gates)
    if markdown is not None:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(text, encoding="utf-8")
    if summary_path:
        with open(summary_path, "a", encoding="utf-8") as fh:
            fh.write(text + "\n")


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
        infos = cls.parameters()
        params = {p: info.default for p, info in infos.items()}
        listing.append(
            {
                "name": name,
                "direction": "higher is better" if cls.higher_is_better else "lower is better",
                "values": list(metric.value_names()),
                "requires": sorted(cls.requires),
                "parameters": params,
                "parameter_types": {p: info.type for p, info in infos.items()},
                "parameter_help": {p: info.description for p, info in infos.items()},
                "summary": (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else "",
            }
        )
    if as_json:
        click.echo(json.dumps(listing, indent=2, default=str))
        return
    for pattern in METRICS.patterns():
        click.echo(
            f"{pattern}  any metric of a local Hugging Face `evaluate` module "
            "(parameters: compute_args, values, references, higher_is_better)"
        )
    for m in listing:
        click.echo(f"{m['name']}  ({m['direction']})  {m['summary']}")
        click.echo(f"    values: {', '.join(m['values'])}")
        for p, d in m["parameters"].items():
            kind, text = m["parameter_types"][p], m["parameter_help"][p]
            click.echo(f"    {p}: {kind} = {d!r}" + (f"  ({text})" if text else ""))


@cli.command()
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


@cli.command()
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


@cli.command(name="runs")
@click.option("--suite", default=None, help="Only runs of this suite.")
@click.option("--model", default=None, help="Only runs whose model spec contains this text.")
@click.option("--since", default=None, help="Only runs created at or after this ISO date.")
@click.option("--until", default=None, help="Only runs created at or before this ISO date.")
@click.option("--status", type=click.Choice(["completed", "failed", "running"]), default=None)
@click.option("--limit", type=click.IntRange(min=1), default=None)
@click.option("--json", "as_json", is_flag=True)
def runs_cmd(
    suite: str | None,
    model: str | None,
    since: str | None,
    until: str | None,
    status: str | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """List indexed runs, newest first."""
    from evalkit.index import list_runs

    rows = list_runs(suite=suite, model=model, since=since, until=until, status=status, limit=limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        labels = " ".join(f"{k}={v}" for k, v in r["labels"].items())
        click.echo(
            f"{r['created_at']}  {r['suite']:<16} {r['status']:<9} {r['model']}  "
            f"{labels}  {r['path']}"
        )
    if not rows:
        click.echo("no runs match.")


@cli.command()
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


@cli.group(name="cache")
def cache_group() -> None:
    """Inspect or clear the response cache ($EVALKIT_CACHE_DIR/responses.sqlite)."""


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).isoformat(timespec="seconds")


def _bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover - the loop always returns


@cache_group.command(name="info")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def cache_info(as_json: bool) -> None:
    """Where the cache is, its size, entries per adapter, oldest and newest entry."""
    from evalkit.cache import summarize_cache

    s = summarize_cache()
    if as_json:
        click.echo(json.dumps(s.to_dict(), indent=2))
        return
    click.echo(f"path: {s.path}{'' if s.exists else ' (not created yet)'}")
    click.echo(f"size: {_bytes(s.size_bytes)}")
    click.echo(f"entries: {s.entries}")
    for spec, n in s.by_adapter.items():
        click.echo(f"  {n:>8}  {spec}")
    click.echo(f"oldest: {_when(s.oldest)}  newest: {_when(s.newest)}")


@cache_group.command(name="clear")
@click.option(
    "--older-than",
    "older_than",
    type=click.FloatRange(min=0),
    default=None,
    metavar="DAYS",
    help="Only entries stored more than DAYS days ago.",
)
@click.option(
    "--adapter",
    default=None,
    metavar="SPEC",
    help="Only entries of this adapter spec (python:mod:fn), or of every spec of a kind (python).",
)
def cache_clear(older_than: float | None, adapter: str | None) -> None:
    """Delete cached responses (all, or those matching the options); a corrupt file is replaced."""
    from evalkit.cache import clear_cache

    r = clear_cache(older_than_days=older_than, adapter=adapter)
    if r.replaced_corrupt:
        click.echo(f"{r.path}: could not be read ({r.error}); replaced it with an empty cache.")
        return
    click.echo(f"{r.path}: removed {r.removed} entries, kept {r.kept}.")


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the CLI and map evalkit errors to exit codes."""
    try:
        cli.main(args=argv, standalone_mode=False)
    except click.exceptions.Abort as exc:
        # click turns Ctrl-C into Abort; a run's own message (what is saved, how to resume)
        # rides on the KeyboardInterrupt it came from.
        cause = exc.__cause__
        click.echo(
            str(cause) if isinstance(cause, KeyboardInterrupt) and str(cause) else "aborted",
            err=True,
        )
        _exit_now(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except EvalkitError as exc:
        click.echo(f"{type(exc).__name__}: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt as exc:
        click.echo(
            str(exc) or "interrupted; the record so far is kept: rerun with --resume", err=True
        )
        _exit_now(130)
    sys.exit(0)


def _exit_now(code: int) -> None:
    """Exit at once after Ctrl-C: the record is flushed batch by batch, so nothing is lost.

    A normal exit would wait for worker threads still blocked in HTTP requests (the
    interpreter joins ThreadPoolExecutor workers at exit), as long as a hung server keeps them.
    """
    import contextlib
    import os

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
