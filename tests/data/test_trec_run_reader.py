"""The bulk TREC run reader gives what the line reader gives, and its errors, on every input."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from evalkit.data.retrieval import Run
from evalkit.data.retrieval.trec_runs import _bulk, _by_line, read_trec_run
from evalkit.errors import InputError

CASES = {
    "plain": "q1 Q0 d1 1 2.5 sys\nq1 Q0 d2 2 1.5 sys\nq2 Q0 d1 1 3 sys\n",
    "interleaved queries": "q2 Q0 a 1 1 s\nq1 Q0 b 1 2 s\nq2 Q0 c 2 0.5 s\nq1 Q0 a 2 1 s\n",
    "blank lines, tabs, spaces": "\n  q1\tQ0  d1 1 2.5 sys  \n\n\nq2 Q0 d9 1 -1e-3 sys",
    "crlf": "q1 Q0 d1 1 2.5 sys\r\nq1 Q0 d2 2 1.5 sys\r\n",
    "lone cr": "q1 Q0 d1 1 2.5 sys\rq1 Q0 d2 2 1.5 sys\r",
    "python float syntax": "q1 Q0 d1 1 1_0 sys\nq1 Q0 d2 2 .5 sys\nq1 Q0 d3 3 5. sys\n",
    "unicode ids": "q\u00e9 Q0 d\u2603 1 1 sys\nq\u00e9 Q0 e 2 0 sys\n",
    "unicode separator": "q1\u3000Q0 d1 1 1 sys\n",
    "file separator byte": "q1\x1cQ0 d1 1 1 sys x\n",
    "vertical tab": "q1\x0bQ0 d1 1 1 sys\n",
    "empty": "",
    "only blank lines": "\n\n  \n",
    "five columns": "q1 Q0 d1 1 2.5\n",
    "seven columns": "q1 Q0 d1 1 2.5 sys extra\n",
    "five then seven": "q1 Q0 d1 1 2.5\nq1 Q0 d2 2 1.5 sys extra\n",
    "seven then five": "q1 Q0 d1 1 2.5 sys x\nq1 Q0 d2 2 1.5\n",
    "not a number": "q1 Q0 d1 1 2.5 sys\nq1 Q0 d2 2 high sys\n",
    "nan": "q1 Q0 d1 1 nan sys\n",
    "infinity": "q1 Q0 d1 1 2 sys\nq2 Q0 d1 1 -inf sys\n",
    "overflow": "q1 Q0 d1 1 1e400 sys\n",
    "repeated document": "q1 Q0 d1 1 2 sys\nq2 Q0 d1 1 2 sys\nq1 Q0 d1 2 1 sys\n",
    "no final newline": "q1 Q0 d1 1 2 a\nq1 Q0 d2 2 1 b",
}


def _outcome(read, path: Path) -> object:
    try:
        return read(path)
    except InputError as exc:
        return ("error", str(exc))


@pytest.mark.parametrize("name", sorted(CASES))
def test_bulk_reader_equals_line_reader(tmp_path: Path, name: str) -> None:
    path = tmp_path / "sys.run"
    path.write_bytes(CASES[name].encode("utf-8"))
    assert _outcome(read_trec_run, path) == _outcome(_by_line, path)


def test_bulk_reader_takes_the_common_files_and_hands_the_odd_ones_on(tmp_path: Path) -> None:
    taken = {
        "plain",
        "interleaved queries",
        "blank lines, tabs, spaces",
        "crlf",
        "no final newline",
    }
    for name in taken | {"lone cr", "unicode ids", "five then seven", "repeated document", "nan"}:
        raw = CASES[name].encode("utf-8")
        assert (_bulk(raw, tmp_path / "x") is not None) == (name in taken), name


def test_a_large_shuffled_run_reads_the_same_both_ways(tmp_path: Path) -> None:
    rng = random.Random(7)
    lines = [
        f"q{q} Q0 d{d} {d} {rng.random()!r} tag{q % 3}\n" for q in range(300) for d in range(40)
    ]
    rng.shuffle(lines)
    path = tmp_path / "big.run"
    path.write_text("".join(lines))
    data, where, tag = read_trec_run(path)
    assert (data, where, tag) == _by_line(path)
    assert sum(map(len, data.values())) == 12_000 and tag == lines[-1].split()[-1]
    run = Run.load(path)
    first = next(iter(run))
    assert (
        run.where(first)
        == f"{path}:{1 + next(i for i, s in enumerate(lines) if s.startswith(first + ' '))}"
    )


def test_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.run"
    path.write_text(CASES["five then seven"])
    with pytest.raises(InputError, match=r"bad.run:1: a TREC run line has 6 columns .* got 5"):
        Run.load(path)
    path.write_text(CASES["repeated document"])
    twice = r"bad.run:3: document 'd1' occurs twice .*first at .*bad.run:1\)"
    with pytest.raises(InputError, match=twice):
        Run.load(path)
