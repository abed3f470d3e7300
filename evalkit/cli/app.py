"""The ``evalkit`` command group, its commands, and the console entry point (exit codes)."""

from __future__ import annotations

import sys

import click

from evalkit._version import __version__
from evalkit.cli.cache_commands import cache_group
from evalkit.cli.listing import metrics, runs_cmd
from evalkit.cli.results import agreement, compare, gate, report
from evalkit.cli.running import run, validate
from evalkit.errors import EvalkitError


@click.group()
@click.version_option(__version__, prog_name="evalkit")
def cli() -> None:
    """Evaluate models with faithful metrics, paired statistics and reports."""


# In the order the commands were declared before the split (``--help`` lists them sorted).
for _command in (run, report, metrics, gate, compare, runs_cmd, validate, cache_group, agreement):
    cli.add_command(_command)


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
