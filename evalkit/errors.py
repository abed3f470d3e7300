"""Exceptions that carry their exit code.

Exit codes (the contract in DESIGN.md): 0 success, 1 a gate failed or a comparison found a
significant regression, 2 bad input or configuration, 3 the run could not complete.
"""

from __future__ import annotations


class EvalkitError(Exception):
    """Base class for every error evalkit raises on purpose."""

    exit_code: int = 3


class ConfigError(EvalkitError):
    """A suite, a metric parameter or a command-line option is wrong."""

    exit_code = 2


class InputError(EvalkitError, ValueError):
    """A data file, a predictions file or a metric input is malformed."""

    exit_code = 2


class AssetError(EvalkitError):
    """A local asset (model weights, WordNet, ...) is missing; the message says how to get it."""

    exit_code = 2


class AdapterError(EvalkitError):
    """A model adapter cannot be built or used at all (not a single failed call)."""

    exit_code = 3


class RunError(EvalkitError):
    """The run could not complete, for example because every model call failed."""

    exit_code = 3


class GateFailure(EvalkitError):
    """A quality gate failed."""

    exit_code = 1


def did_you_mean(name: str, choices: list[str] | tuple[str, ...] | set[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest choice, or an empty string.

    >>> did_you_mean("exact_mach", ["exact_match", "bleu"])
    " Did you mean 'exact_match'?"
    """
    import difflib

    close = difflib.get_close_matches(name, sorted(choices), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""
