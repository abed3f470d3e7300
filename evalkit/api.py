"""The Python API for analysis: run suites, load runs, compare them, get pandas tables.

Everything here reads and writes the same records as the command line (``results.json`` +
``samples.jsonl``); nothing calls a model except :func:`run`. pandas comes with the
``pandas`` extra (``scripts/setup.sh`` installs it): only ``to_pandas`` needs it, and says how
to install it when it is missing.

>>> import evalkit
>>> run = evalkit.run("suites/quickstart.yaml", "predictions:suites/quickstart/sys_a.jsonl",
...                   "reports/a")                                      # doctest: +SKIP
>>> run.to_pandas().head()                                              # doctest: +SKIP
>>> evalkit.load_runs("reports/*").to_pandas("samples")                 # doctest: +SKIP
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from evalkit.errors import ConfigError, InputError
from evalkit.report.csv import COLUMNS as CSV_COLUMNS
from evalkit.store import SAMPLES, RunRecord, iter_samples, read_header

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from evalkit.adapters import ModelAdapter
    from evalkit.suite import Suite

Table = Literal["results", "samples"]
PathLike = str | os.PathLike[str]

#: Columns of ``to_pandas("results")``: the tidy row contract of ``results.json`` (the columns of
#: ``results.csv``).
RESULT_COLUMNS = CSV_COLUMNS
#: Leading columns of ``to_pandas("samples")``; per-sample scores follow as ``score:NAME``.
SAMPLE_COLUMNS = ("task", "id", "prompt", "prediction", "references", "error", "cached")


#: How to get pandas, named in the error of ``to_pandas`` without it.
PANDAS_HINT = "pip install 'evalkit[pandas]'"


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as exc:  # an optional dependency: the `pandas` extra
        raise ImportError(
            f"to_pandas() needs pandas, which is not installed: {PANDAS_HINT} "
            "(scripts/setup.sh installs it; from a checkout: pip install -e '.[pandas]')."
        ) from exc
    return pandas


@dataclass
class Run(RunRecord):
    """A run directory read back, with tables for analysis.

    It is a :class:`evalkit.store.RunRecord` (``path``, ``header``, ``samples``), so every
    report and comparison function accepts it.
    """

    exit_code: int | None = None

    @property
    def run_id(self) -> str | None:
        """The run's id from its header."""
        value = self.header.get("run_id")
        return None if value is None else str(value)

    @property
    def label(self) -> str:
        """A short name: the run directory's name."""
        return self.path.name or str(self.path)

    def to_pandas(self, table: Table = "results") -> pd.DataFrame:
        """The run as a DataFrame.

        Args:
            table: ``"results"``: one row per (task, metric value) with the columns of
                :data:`RESULT_COLUMNS`. ``"samples"``: one row per sample line with
                :data:`SAMPLE_COLUMNS`, then a ``score:NAME`` column per per-sample score the
                report shows (sentence BLEU, exact match, nDCG@10...; NaN where a sample has
                none, such as a failed call).

        Returns:
            A new DataFrame.

        Raises:
            ImportError: pandas is not installed.
            ConfigError: ``table`` is neither ``"results"`` nor ``"samples"``.
        """
        pd = _pandas()
        if table == "results":
            return pd.DataFrame(
                [{c: r.get(c) for c in RESULT_COLUMNS} for r in self.results],
                columns=list(RESULT_COLUMNS),
            )
        if table == "samples":
            from evalkit.report.scores import per_sample_scores

            columns, scores = per_sample_scores(self)
            rows = []
            for line, own in zip(self.samples, scores, strict=True):
                row = {c: line.get(c) for c in SAMPLE_COLUMNS}
                row.update({f"score:{c}": own.get(c, float("nan")) for c in columns})
                rows.append(row)
            return pd.DataFrame(rows, columns=[*SAMPLE_COLUMNS, *(f"score:{c}" for c in columns)])
        raise ConfigError(f"to_pandas: unknown table '{table}'; choose 'results' or 'samples'.")

    def report_html(self) -> str:
        """This run's ``report.html`` text, rendered from the record."""
        from evalkit.report.html.run import render_html

        return render_html(self)

    def _repr_html_(self) -> str:
        from evalkit.report.inline import iframe_html

        return iframe_html(self.report_html())


class Runs(list[Run]):
    """Several runs, in the order given, with one table over all of them."""

    def to_pandas(self, table: Table = "results") -> pd.DataFrame:
        """Every run's table (see :meth:`Run.to_pandas`) stacked, with ``run`` (the run
        directory's name), ``run_id`` and ``model`` columns first."""
        pd = _pandas()
        frames = []
        for run in self:
            frame = run.to_pandas(table)
            model = (run.header.get("model") or {}).get("spec")
            frame.insert(0, "model", model)
            frame.insert(0, "run_id", run.run_id)
            frame.insert(0, "run", run.label)
            frames.append(frame)
        if not frames:
            return pd.DataFrame(columns=["run", "run_id", "model", *RESULT_COLUMNS])
        return pd.concat(frames, ignore_index=True)


def load_run(run_dir: PathLike) -> Run:
    """Read a run directory (``results.json`` and ``samples.jsonl``) without calling a model.

    Args:
        run_dir: A directory written by ``evalkit run`` or :func:`run`.

    Returns:
        The run, with ``to_pandas()``.

    Raises:
        InputError: ``results.json`` is missing or malformed, or a sample line is not JSON.
    """
    path = Path(run_dir)
    header = read_header(path)
    return Run(path=path, header=header, samples=list(iter_samples(path / SAMPLES)))


def load_runs(*run_dirs: PathLike | Iterable[PathLike]) -> Runs:
    """Read several run directories, in order.

    Each argument is a run directory, a glob pattern (``"reports/ckpt-*"``, expanded in sorted
    order, keeping only directories with a ``results.json``) or an iterable of those.

    Raises:
        InputError: A named directory is not a run, or a pattern matches no run.
    """
    paths: list[Path] = []
    for item in run_dirs:
        items = [item] if isinstance(item, (str, os.PathLike)) else list(item)
        for one in items:
            text = os.fspath(one)
            if glob.has_magic(text):
                found = [
                    Path(p) for p in sorted(glob.glob(text)) if Path(p, "results.json").is_file()
                ]
                if not found:
                    raise InputError(f"{text}: no run directory matches this pattern.")
                paths.extend(found)
            else:
                paths.append(Path(text))
    return Runs(load_run(p) for p in paths)


def run(
    suite: Suite | PathLike,
    model: str | ModelAdapter | None,
    out: PathLike,
    **options: Any,
) -> Run:
    """Run a suite against a model, write the run directory, and return the run.

    The same as ``evalkit run SUITE --model MODEL --out OUT``: the record, ``results.csv`` and
    ``report.html`` are written into ``out``.

    Args:
        suite: A suite YAML path or a loaded suite.
        model: An adapter spec (``predictions:PATH``, ``hf:PATH``, ``openai:MODEL``...), an
            adapter instance, or None when every task names its own ``model:``.
        out: The run directory.
        **options: Fields of :class:`evalkit.runner.RunOptions` (``overwrite``, ``resume``,
            ``limit``, ``seed``, ``use_cache``, ``labels``, ``model_options``...), as the
            command line's flags: ``overwrite=True`` replaces a run already in ``out``.

    Returns:
        The run read back from ``out``; ``exit_code`` is 1 when a gate failed, else 0.

    Raises:
        ConfigError: An option that :class:`~evalkit.runner.RunOptions` does not have (with the
            list of those it has), or a bad suite or model (exit code 2 on the command line).
    """
    from evalkit.runner import RunOptions, run_suite

    known = {f.name for f in fields(RunOptions)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(
            f"evalkit.run: unknown option(s) {', '.join(unknown)}; the options are "
            f"{', '.join(sorted(known))}."
        )
    suite_arg: Any = suite if not isinstance(suite, os.PathLike) else os.fspath(suite)
    outcome = run_suite(suite_arg, model, Path(out), **options)
    loaded = load_run(outcome.path)
    loaded.exit_code = outcome.exit_code
    return loaded


class Comparison(dict[str, Any]):
    """A comparison document (``compare.json``'s content) with a table and a page."""

    def to_pandas(self) -> pd.DataFrame:
        """One row per comparison (pair of runs, task, metric value): the columns of
        ``compare.csv`` (labels, values, delta, CI, p-values, significance, change)."""
        from evalkit.report._record import typed_comparison
        from evalkit.report.compare_files import COMPARE_COLUMNS
        from evalkit.report.views import pair_labels, run_labels

        pd = _pandas()
        typed = typed_comparison(self)
        labels = run_labels(typed)
        rows = []
        for row, typed_row in zip(self.get("comparisons", []), typed.comparisons, strict=True):
            a_label, b_label = pair_labels(labels, typed_row)
            rows.append(
                {**{c: row.get(c) for c in COMPARE_COLUMNS}, "a_label": a_label, "b_label": b_label}
            )
        return pd.DataFrame(rows, columns=list(COMPARE_COLUMNS))

    def report_html(self) -> str:
        """The ``compare.html`` text of this comparison."""
        from evalkit.report.html.compare import render_compare_html

        return render_compare_html(self)

    def _repr_html_(self) -> str:
        from evalkit.report.inline import iframe_html

        return iframe_html(self.report_html())


def compare_runs(
    runs: Iterable[PathLike | RunRecord],
    out: PathLike | None = None,
    **options: Any,
) -> Comparison:
    """Compare runs (the first is the baseline, or a series with ``series="step"``).

    The same as ``evalkit compare RUN_A RUN_B ...``: samples joined by id, paired bootstrap (or
    randomization) per metric, Holm-adjusted p-values.

    Args:
        runs: Run directories or loaded runs, at least two.
        out: When given, ``compare.json``, ``compare.csv``, ``compare.html`` and ``compare.md``
            are written there.
        **options: Fields of :class:`evalkit.compare.CompareOptions` (``test``, ``resamples``,
            ``seed``, ``alpha``, ``intersection``, ``series``...).

    Returns:
        The comparison document; ``["exit_code"]`` is 1 when a significant regression was found.
    """
    from evalkit.compare import CompareOptions
    from evalkit.compare import compare_runs as _compare

    paths = [r.path if isinstance(r, RunRecord) else Path(r) for r in runs]
    doc = Comparison(_compare(paths, CompareOptions(**options)))
    if out is not None:
        from evalkit.report.compare_files import write_compare_outputs

        write_compare_outputs(doc, Path(out))
    return doc


__all__ = [
    "Comparison",
    "Run",
    "Runs",
    "compare_runs",
    "load_run",
    "load_runs",
    "run",
]
