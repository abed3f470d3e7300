"""How fast a large run report opens and filters in headless Chromium.

Builds a synthetic run with the runner (a one-task suite scored with ``exact_match`` and
``token_f1``, replayed through a ``predictions:`` file in a temporary folder), then opens its
``report.html`` from disk in Debian's Chromium through Playwright and times, per repeat in a
fresh browser context:

- ``load``: navigation until the sample table has drawn its first page (parsing the embedded
  JSON, building the search index, rendering 50 rows);
- ``filter``: typing a query into the search box until the filtered page is drawn (the 150 ms
  input debounce is included, as a reader would feel it);
- ``sort``: clicking a score column until the sorted first page is drawn.

Timings are reported, never asserted (``tests/test_report_browser_large.py`` checks only that
the report opens and filters correctly)::

    python bench/report_browser.py                       # 10,000 samples, 5 repeats
    python bench/report_browser.py --samples 50000 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: Samples whose prediction holds this word (every 100th), for the filter step.
NEEDLE = "zebra"


def build_run(folder: Path, n: int) -> Path:
    """Write a suite, a dataset and predictions for ``n`` samples, run them, return the run dir.

    Sample ``i`` has id ``q{i:05d}``; its prediction equals the reference when ``i % 3 == 0``,
    shares some words otherwise, and holds :data:`NEEDLE` when ``i % 100 == 7``.
    """
    import evalkit

    folder.mkdir(parents=True, exist_ok=True)
    with (
        open(folder / "data.jsonl", "w", encoding="utf-8") as data,
        open(folder / "preds.jsonl", "w", encoding="utf-8") as preds,
    ):
        for i in range(n):
            answer = f"answer {i} lorem ipsum"
            data.write(
                json.dumps({"id": f"q{i:05d}", "question": f"question {i}?", "answer": answer})
                + "\n"
            )
            prediction = answer if i % 3 == 0 else f"answer {i + 1} dolor"
            if i % 100 == 7:
                prediction += f" {NEEDLE}"
            preds.write(json.dumps({"id": f"q{i:05d}", "prediction": prediction}) + "\n")
    suite = folder / "suite.yaml"
    suite.write_text(
        "name: large\n"
        "bootstrap: {resamples: 200}\n"
        "tasks:\n"
        "  - name: qa\n"
        f"    dataset: {{path: {folder / 'data.jsonl'}, id: id, references: answer}}\n"
        '    prompt: "{question}"\n'
        "    metrics: [exact_match, token_f1]\n",
        encoding="utf-8",
    )
    run = evalkit.run(
        suite, f"predictions:{folder / 'preds.jsonl'}", folder / "run", use_cache=False
    )
    return run.path


def _first_page_drawn(page: Any, expected_status_start: str) -> None:
    page.wait_for_function(
        "s => document.getElementById('page-status').textContent.startsWith(s)",
        arg=expected_status_start,
    )


def measure(report: Path, n: int, repeats: int, executable: str) -> dict[str, list[float]]:
    """Time load, filter and sort ``repeats`` times, each in a fresh context; seconds."""
    from playwright.sync_api import sync_playwright

    times: dict[str, list[float]] = {"load": [], "filter": [], "sort": []}
    n_needles = sum(1 for i in range(n) if i % 100 == 7)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True)
        try:
            for _ in range(repeats):
                ctx = browser.new_context(viewport={"width": 1280, "height": 900})
                page = ctx.new_page()
                t0 = time.perf_counter()
                page.goto(report.resolve().as_uri(), wait_until="load")
                _first_page_drawn(page, f"Showing 1–50 of {n:,}")
                times["load"].append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                page.fill("#sample-search", NEEDLE)
                _first_page_drawn(page, f"Showing 1–{min(50, n_needles)} of {n_needles:,} (")
                times["filter"].append(time.perf_counter() - t0)
                page.fill("#sample-search", "")
                _first_page_drawn(page, f"Showing 1–50 of {n:,} ·")
                t0 = time.perf_counter()
                page.click("#samples-table thead th[data-stat='1'] button")
                page.wait_for_function(
                    "() => document.querySelector('#samples-table thead th[data-stat=\"1\"]')"
                    ".getAttribute('aria-sort') === 'ascending'"
                )
                # The click handler sorts and redraws synchronously, before click() returns.
                times["sort"].append(time.perf_counter() - t0)
                ctx.close()
        finally:
            browser.close()
    return times


def main(argv: list[str] | None = None) -> int:
    """Build the run, time the report, print a table."""
    sys.path.insert(0, str(ROOT / "tests"))
    from browser import chromium_path  # tests/browser.py: the same Chromium the tests use

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    executable = chromium_path()
    if executable is None:
        print(
            "no Chromium found (install Debian's chromium or set EVALKIT_CHROMIUM)", file=sys.stderr
        )
        return 2
    with tempfile.TemporaryDirectory(prefix="evalkit-report-bench-") as tmp:
        t0 = time.perf_counter()
        run_dir = build_run(Path(tmp), args.samples)
        built = time.perf_counter() - t0
        report = run_dir / "report.html"
        size_mb = report.stat().st_size / 1e6
        times = measure(report, args.samples, args.repeats, executable)
    print(
        f"report.html for {args.samples:,} samples: {size_mb:.1f} MB "
        f"(run + reports built in {built:.1f} s)"
    )
    print(f"Chromium {executable}, {args.repeats} repeats, fresh context each")
    print(f"{'step':<8}{'median s':>10}{'min s':>10}{'max s':>10}")
    for step, values in times.items():
        print(
            f"{step:<8}{statistics.median(values):>10.3f}{min(values):>10.3f}{max(values):>10.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
