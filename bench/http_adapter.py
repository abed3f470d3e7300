"""Benchmark: requests per second of the ``openai:`` adapter at several concurrency bounds.

The server is the loopback OpenAI-compatible server (:mod:`evalkit.testing.openai_server`) in
a separate process (``python -m evalkit.testing``), so that client and server do not share a
GIL, with a fixed latency per request (default 20 ms) standing in for model time, which is
what makes concurrency matter: at concurrency ``c`` the ideal is ``c / latency`` requests/s.

Rows (one per concurrency bound, each timed at every ``--sizes`` value = requests per call):

- ``evalkit``: ``OpenAICompatAdapter.generate(requests)`` with ``max_concurrency=c``
  (``/chat/completions``; keep-alive connections, one per worker thread);
- ``urllib+threads``: the hand-written equivalent, ``urllib.request.urlopen`` for each
  request in a ``ThreadPoolExecutor(c)`` (a new connection per request, no retries).

Both must return the same texts (the parity column compares the number of answers and their
total length) before anything is timed. ``peer/evalkit`` above 1 means evalkit is faster;
the second table gives requests per second and the share of the ideal ``c / latency``.

Usage::

    python bench/http_adapter.py [--sizes 256] [--repeats 3] [--latency-ms 20]
        [--concurrency 1,8,32] [--json PATH]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import REPO_ROOT, Case, Group, Row, Values, format_table, machine_info, run_benchmark

__all__ = ["build", "rps_table", "run", "serve"]


@contextmanager
def serve(latency_s: float, *, subprocess_server: bool = True) -> Iterator[str]:
    """The loopback server's API root, in a child process (or in this one, for tests)."""
    if not subprocess_server:
        from evalkit.testing import OpenAIServer

        with OpenAIServer(latency_s=latency_s, max_lifetime_s=600) as srv:
            yield srv.url
        return
    cmd = [sys.executable, "-m", "evalkit.testing", "--latency-s", str(latency_s)]
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip() if proc.stdout else ""
        if not line.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the loopback server did not start: {line!r}")
        yield line
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _prompts(size: int) -> list[str]:
    return [f"request {i} of the benchmark" for i in range(size)]


def _summary(texts: Sequence[str | None]) -> dict[str, float]:
    ok = [t for t in texts if t is not None]
    return {"answers": float(len(ok)), "chars": float(sum(map(len, ok)))}


def _evalkit_case(url: str, prompts: list[str], concurrency: int) -> Callable[[], Values]:
    from evalkit.adapters.openai_compat import OpenAICompatAdapter
    from evalkit.types import GenerateRequest

    adapter = OpenAICompatAdapter("bench", base_url=url, max_concurrency=concurrency)
    requests = [GenerateRequest(p, max_tokens=16) for p in prompts]

    def call() -> Values:
        return _summary([g.text for g in adapter.generate(requests)])

    return call


def _urllib_case(url: str, prompts: list[str], concurrency: int) -> Callable[[], Values]:
    def one(prompt: str) -> str | None:
        body = {
            "model": "bench",
            "temperature": 0.0,
            "max_tokens": 16,
            "messages": [{"role": "user", "content": prompt}],
        }
        req = urllib.request.Request(
            url + "/chat/completions",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=60) as resp:
            doc = json.load(resp)
        text: str | None = doc["choices"][0]["message"]["content"]
        return text

    def call() -> Values:
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            return _summary(list(pool.map(one, prompts)))

    return call


def build(url: str, concurrencies: Sequence[int]) -> Callable[[int], list[Group]]:
    """The groups for one size: one per concurrency bound."""

    def groups(size: int) -> list[Group]:
        prompts = _prompts(size)
        return [
            Group(
                f"c={c}",
                Case("evalkit", _evalkit_case(url, prompts, c)),
                [Case("urllib+threads", _urllib_case(url, prompts, c))],
                tolerance=0.0,
                note=f"{size} chat requests per call, at most {c} in flight",
            )
            for c in concurrencies
        ]

    return groups


def rps_table(rows: Sequence[Row], latency_s: float) -> str:
    """Requests per second (size / median) and the share of the ideal ``c / latency``."""
    lines = [["size", "concurrency", "implementation", "requests/s", "of ideal"]]
    for r in rows:
        if r.median_s is None:
            continue
        c = int(r.group.removeprefix("c="))
        rps = r.size / r.median_s
        ideal = c / latency_s if latency_s > 0 else float("inf")
        lines.append([str(r.size), str(c), r.impl, f"{rps:.1f}", f"{rps / ideal:.0%}"])
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def run(
    sizes: Sequence[int] = (256,),
    repeats: int = 3,
    latency_s: float = 0.02,
    concurrencies: Sequence[int] = (1, 8, 32),
    *,
    subprocess_server: bool = True,
) -> list[Row]:
    """Start the server, run every group, return the rows."""
    with serve(latency_s, subprocess_server=subprocess_server) as url:
        return run_benchmark(
            "http_adapter",
            build(url, concurrencies),
            sizes,
            repeats,
            progress=lambda msg: print(msg, file=sys.stderr, flush=True),
        )


def _ints(text: str) -> list[int]:
    try:
        values = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        values = []
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: give comma-separated integers >= 1.")
    return values


def main(argv: Sequence[str] | None = None) -> list[Row]:
    """Parse options, run, print both tables, optionally write JSON."""
    parser = argparse.ArgumentParser(prog="bench/http_adapter.py", description=__doc__)
    parser.add_argument("--sizes", type=_ints, default=[256], help="requests per timed call")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per case")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="server delay")
    parser.add_argument("--concurrency", type=_ints, default=[1, 8, 32])
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON to PATH")
    args = parser.parse_args(argv)
    latency_s = args.latency_ms / 1000.0
    info = machine_info(["evalkit"])
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    rows = run(args.sizes, max(1, args.repeats), latency_s, args.concurrency)
    print(
        f"\nhttp_adapter: {args.repeats} timed calls per case after one warm-up; {started}; "
        f"Python {info['python']} on {info['platform']}, {info['cpu_count']} CPUs"
    )
    print(f"loopback server in a child process, {args.latency_ms:g} ms latency per request")
    print("peer/evalkit = peer median / evalkit median: >1 means evalkit is faster.\n")
    print(format_table(rows))
    print()
    print(rps_table(rows, latency_s))
    if args.json:
        payload = {
            "benchmark": "http_adapter",
            "started": started,
            "latency_s": latency_s,
            "machine": info,
            "rows": [asdict(r) for r in rows],
        }
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return rows


if __name__ == "__main__":
    main()
