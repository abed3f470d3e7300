"""``evalkit cache info`` and ``evalkit cache clear``: the response cache."""

from __future__ import annotations

import datetime as _dt
import json

import click


@click.group(name="cache")
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
