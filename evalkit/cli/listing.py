"""``evalkit metrics`` and ``evalkit runs``: list the installed metrics and the indexed runs."""

from __future__ import annotations

import json
from typing import Any

import click


@click.command()
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


@click.command(name="runs")
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
