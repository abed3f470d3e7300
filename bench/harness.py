"""A tiny benchmark runner: evalkit against its peers, in one process, on the same data.

A benchmark file builds, for each input size, a list of :class:`Group` objects. A group is one
row of the report (``BLEU``, ``ROUGE``...): an evalkit :class:`Case` and the peers it is
compared with, each a zero-argument callable that does the whole job on data prepared in
advance and returns the numbers it computed (a float or a name -> float mapping).

For each group the runner:

1. calls every case once (warm-up: imports, caches, lazy initialisation) and checks that every
   peer's numbers agree with evalkit's (the *parity* column: the largest absolute difference
   over the names both return); a disagreement above the group's tolerance stops the benchmark,
   because timing two functions that compute different things says nothing;
2. times ``repeats`` further calls of each case with :func:`time.perf_counter`, round-robin
   (evalkit, peer 1, peer 2, evalkit, ...) so that slow drift of the machine (thermal state,
   other processes) affects every case alike, with a garbage collection before each call so
   that no case pays for another's garbage;
3. reports the median and the minimum, and ``ratio = peer median / evalkit median``: above 1
   means evalkit is faster, below 1 means the peer is faster. The ratio of the minimums is
   printed too: on a shared machine other processes only ever add time, so it is the steadier
   of the two when the machine is busy.

A peer that cannot run here (a missing package, a download that the offline machine cannot
make) is a :class:`Case` with ``skip`` set to the reason, and shows as a row saying so.

Benchmark files call :func:`main` with their name and group builder; it parses ``--sizes``,
``--repeats`` and ``--json``, prints the table and optionally writes the rows as JSON::

    python bench/text_overlap.py --sizes 1000,10000 --repeats 5 --json out.json

Speed is reported here, never asserted by tests: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "REPO_ROOT",
    "Case",
    "Group",
    "ParityError",
    "Row",
    "format_table",
    "git_state",
    "load_average",
    "machine_info",
    "main",
    "parity_diff",
    "run_benchmark",
    "run_group",
]

#: The checkout this file belongs to. It goes first on ``sys.path`` so that a benchmark measures
#: the evalkit next to it, not whichever copy an (editable) install points at.
REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

#: What a case returns: one number, or named numbers (for parity checks).
Values = float | Mapping[str, float]


class ParityError(AssertionError):
    """A peer's numbers differ from evalkit's by more than the group's tolerance."""


@dataclass(frozen=True)
class Case:
    """One implementation of a benchmark row.

    Attributes:
        name: A label for the implementation (``evalkit``, ``sacrebleu.corpus_bleu``...).
        fn: Does the whole job on prepared data and returns the numbers it computed.
        skip: Why this case cannot run here; ``None`` when it can.
    """

    name: str
    fn: Callable[[], Values] | None = None
    skip: str | None = None


@dataclass(frozen=True)
class Group:
    """One row of the report: evalkit and the peers that do equivalent work.

    Attributes:
        name: The row name (``BLEU``, ``ROUGE``...).
        evalkit: The evalkit case (the denominator of every ratio).
        peers: The cases compared with it.
        tolerance: The largest absolute difference from evalkit's numbers that counts as
            agreement.
        note: What the row measures, printed under the table.
    """

    name: str
    evalkit: Case
    peers: Sequence[Case] = ()
    tolerance: float = 1e-9
    note: str = ""


@dataclass
class Row:
    """The measurements of one case at one size (one line of the table and of the JSON)."""

    benchmark: str
    size: int
    group: str
    impl: str
    is_evalkit: bool
    repeats: int
    times_s: list[float] = field(default_factory=list)
    median_s: float | None = None
    min_s: float | None = None
    ratio: float | None = None
    ratio_min: float | None = None
    parity_max_abs_diff: float | None = None
    skipped: str | None = None


def _as_dict(values: Values) -> dict[str, float]:
    if isinstance(values, Mapping):
        return {str(k): float(v) for k, v in values.items()}
    return {"value": float(values)}


def parity_diff(reference: Values, other: Values) -> float:
    """The largest absolute difference between two cases' numbers, over the names they share.

    NaN on both sides counts as equal; a NaN on one side only, or no shared name, is infinite.

    >>> parity_diff(1.0, 1.0 + 1e-12) < 1e-9
    True
    >>> parity_diff({"a": 1.0, "b": 2.0}, {"a": 1.0, "b": 2.5, "c": 9.0})
    0.5
    >>> parity_diff({"a": 1.0}, {"b": 1.0})
    inf
    """
    ref, oth = _as_dict(reference), _as_dict(other)
    shared = ref.keys() & oth.keys()
    if not shared:
        return math.inf
    worst = 0.0
    for key in shared:
        a, b = ref[key], oth[key]
        if math.isnan(a) and math.isnan(b):
            continue
        diff = abs(a - b)
        worst = max(worst, diff if not math.isnan(diff) else math.inf)
    return worst


def _timed(fn: Callable[[], Values]) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run_group(benchmark: str, size: int, group: Group, repeats: int) -> list[Row]:
    """Warm up, check parity and time one group; returns evalkit's row, then each peer's.

    Raises:
        ParityError: When a peer's numbers differ from evalkit's by more than
            ``group.tolerance``.
        ValueError: When ``repeats`` is below 1 or the evalkit case is skipped.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}.")
    if group.evalkit.fn is None or group.evalkit.skip is not None:
        raise ValueError(f"{group.name}: the evalkit case cannot be skipped.")
    cases = [group.evalkit, *group.peers]
    rows = [
        Row(benchmark, size, group.name, c.name, i == 0, repeats, skipped=c.skip)
        for i, c in enumerate(cases)
    ]
    live = [
        (c.fn, row)
        for c, row in zip(cases, rows, strict=True)
        if c.fn is not None and c.skip is None
    ]

    # Warm-up call, whose numbers are the parity check.
    reference = group.evalkit.fn()
    for fn, row in live[1:]:
        diff = parity_diff(reference, fn())
        row.parity_max_abs_diff = diff
        if not diff <= group.tolerance:
            raise ParityError(
                f"{benchmark}: {group.name} at size {size}: {row.impl} differs from evalkit by "
                f"{diff:.3g} (tolerance {group.tolerance:g}); refusing to time different work."
            )

    for _ in range(repeats):
        for fn, row in live:
            row.times_s.append(_timed(fn))

    base = statistics.median(rows[0].times_s)
    base_min = min(rows[0].times_s)
    for _, row in live:
        row.median_s = statistics.median(row.times_s)
        row.min_s = min(row.times_s)
        if not row.is_evalkit:
            row.ratio = row.median_s / base if base > 0 else math.inf
            row.ratio_min = row.min_s / base_min if base_min > 0 else math.inf
    return rows


def run_benchmark(
    benchmark: str,
    build: Callable[[int], Sequence[Group]],
    sizes: Sequence[int],
    repeats: int,
    progress: Callable[[str], None] | None = None,
) -> list[Row]:
    """Run every group that ``build(size)`` returns, for each size, and collect the rows."""
    rows: list[Row] = []
    for size in sizes:
        for group in build(size):
            if progress is not None:
                progress(f"{benchmark}: {group.name} n={size} ...")
            rows.extend(run_group(benchmark, size, group, repeats))
    return rows


def _seconds(x: float | None) -> str:
    if x is None:
        return "-"
    if x < 1e-3:
        return f"{x * 1e6:.0f} us"
    if x < 1.0:
        return f"{x * 1e3:.1f} ms"
    return f"{x:.2f} s"


def _ratio(r: Row, value: float | None) -> str:
    if r.is_evalkit:
        return "(baseline)"
    return "-" if value is None else f"{value:.2f}"


def format_table(rows: Sequence[Row]) -> str:
    """A plain-text table: size, row, implementation, times, ratios and parity.

    ``ratio`` is peer median / evalkit median, ``ratio(min)`` the same for the minimums.

    >>> print(format_table([Row("b", 10, "BLEU", "evalkit", True, 1, [0.5], 0.5, 0.5),
    ...                     Row("b", 10, "BLEU", "peer", False, 1, [1.0], 1.0, 1.0, 2.0, 2.0, 0.0),
    ...                     Row("b", 10, "BLEU", "other", False, 1, skipped="offline")]))
    ... # doctest: +NORMALIZE_WHITESPACE
    size  metric  implementation  median    min       ratio       ratio(min)  parity max|diff|
    10    BLEU    evalkit         500.0 ms  500.0 ms  (baseline)  (baseline)  -
    10    BLEU    peer            1.00 s    1.00 s    2.00        2.00        0
    10    BLEU    other           skipped (offline)
    """
    header = ["size", "metric", "implementation", "median", "min", "ratio", "ratio(min)"]
    header.append("parity max|diff|")
    lines: list[list[str]] = []
    for r in rows:
        if r.skipped is not None:
            lines.append([str(r.size), r.group, r.impl, f"skipped ({r.skipped})"])
            continue
        parity = "-" if r.parity_max_abs_diff is None else f"{r.parity_max_abs_diff:.3g}"
        times = [_seconds(r.median_s), _seconds(r.min_s)]
        ratios = [_ratio(r, r.ratio), _ratio(r, r.ratio_min)]
        lines.append([str(r.size), r.group, r.impl, *times, *ratios, parity])
    # A skipped line's last cell ("skipped (...)") is free text: it widens no column.
    widths = [len(h) for h in header]
    for line in lines:
        cells = line if len(line) == len(header) else line[:-1]
        for i, cell in enumerate(cells):
            widths[i] = max(widths[i], len(cell))
    out = []
    for line in [header, *lines]:
        cells = [c.ljust(w) for c, w in zip(line[:-1], widths, strict=False)] + [line[-1]]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)


def machine_info(packages: Sequence[str] = ()) -> dict[str, Any]:
    """Where the numbers were measured: Python, platform, CPU count and package versions."""
    versions: dict[str, str] = {}
    for pkg in packages:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "missing"
    evalkit_path = "not importable"
    try:
        import evalkit

        evalkit_path = str(Path(evalkit.__file__).resolve().parent)
    except ImportError:
        pass
    return {
        "evalkit_path": evalkit_path,
        "git": git_state(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "versions": versions,
    }


def git_state(root: Path = REPO_ROOT) -> str:
    """The checkout's commit and how many tracked or untracked files differ from it.

    Benchmarks measure the working tree, which may hold changes not yet committed; the
    count says so (``abc1234+3 changed``).
    """
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--", "evalkit"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return f"{head}+{len(status)} changed under evalkit/" if status else head


def load_average() -> float | None:
    """The 1-minute load average (``None`` where the platform has none).

    Recorded before and after a run: on a shared machine, a load above the CPU count means
    other processes competed for the CPUs and the timings are inflated and noisy.
    """
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--sizes {text!r}: give comma-separated integers, e.g. 1000,10000."
        ) from None
    if not sizes or any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"--sizes {text!r}: sizes must be integers >= 1.")
    return sizes


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"--repeats {text!r}: give an integer >= 1.")
    return value


def main(
    benchmark: str,
    build: Callable[[int], Sequence[Group]],
    *,
    default_sizes: Sequence[int] = (1000, 10000),
    default_repeats: int = 5,
    packages: Sequence[str] = (),
    description: str | None = None,
    argv: Sequence[str] | None = None,
) -> list[Row]:
    """Command-line entry point of a benchmark file: parse options, run, print, write JSON.

    Args:
        benchmark: The benchmark's name (``text_overlap``).
        build: Returns the groups for one size; data generation happens here, untimed.
        default_sizes: Sizes when ``--sizes`` is not given.
        default_repeats: Timed calls per case when ``--repeats`` is not given.
        packages: Packages whose versions are printed and written to the JSON.
        description: The ``--help`` text.
        argv: Arguments (default: ``sys.argv[1:]``).

    Returns:
        The measured rows.
    """
    parser = argparse.ArgumentParser(prog=f"bench/{benchmark}.py", description=description)
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=list(default_sizes),
        help="comma-separated input sizes (default: %(default)s)",
    )
    parser.add_argument(
        "--repeats",
        type=_positive,
        default=default_repeats,
        help="timed calls per case after one warm-up call (default: %(default)s)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON to PATH")
    args = parser.parse_args(argv)

    info = machine_info(["evalkit", *packages])
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    load_before = load_average()
    notes: dict[str, str] = {}

    def build_and_collect_notes(size: int) -> Sequence[Group]:
        groups = build(size)
        for g in groups:
            if g.note:
                notes.setdefault(g.name, g.note)
        return groups

    rows = run_benchmark(
        benchmark,
        build_and_collect_notes,
        args.sizes,
        args.repeats,
        progress=lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    print(
        f"\n{benchmark}: {args.repeats} timed calls per case after one warm-up; "
        f"{started}; Python {info['python']} on {info['platform']}, {info['cpu_count']} CPUs"
    )
    print(", ".join(f"{k} {v}" for k, v in info["versions"].items()))
    load_after = load_average()
    print(f"evalkit from {info['evalkit_path']} (git {info['git']})")
    print(
        f"1-minute load average: {load_before} before, {load_after} after "
        f"(above {info['cpu_count']} means other processes competed for the CPUs)"
    )
    print(
        "ratio = peer median / evalkit median; ratio(min) = the same for the fastest calls. "
        ">1 means evalkit is faster.\n"
    )
    print(format_table(rows))
    if notes:
        print()
        for name, note in notes.items():
            print(f"{name}: {note}")
    if args.json:
        payload = {
            "benchmark": benchmark,
            "started": started,
            "repeats": args.repeats,
            "sizes": args.sizes,
            "machine": info,
            "load_average": {"before": load_before, "after": load_after},
            "rows": [asdict(r) for r in rows],
        }
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=2)
            fh.write("\n")
    return rows
