"""The command line: exit codes, messages, and commands that read records only."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from evalkit.cli import cli, main
from tests.conftest import QUICKSTART, SYS_A


def _main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def test_run_then_report_reproduces_html(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "run"
    code, out, _ = _main(
        ["run", str(QUICKSTART), "--model", f"predictions:{SYS_A}", "--out", str(out_dir), "-q"],
        capsys,
    )
    assert code == 0
    assert "translate/bleu" in out and "gate PASS: translate/chrf min:" in out
    html = (out_dir / "report.html").read_bytes()
    csv_text = (out_dir / "results.csv").read_text()
    (out_dir / "report.html").unlink()
    (out_dir / "results.csv").unlink()
    code, out, _ = _main(["report", str(out_dir)], capsys)
    assert code == 0 and "report.html" in out
    assert (out_dir / "report.html").read_bytes() == html
    assert (out_dir / "results.csv").read_text() == csv_text


def test_overwrite_replaces_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "run",
        str(QUICKSTART),
        "--model",
        f"predictions:{SYS_A}",
        "--out",
        str(tmp_path / "r"),
        "-q",
    ]
    assert _main(args, capsys)[0] == 0
    code, _, err = _main(args, capsys)
    assert code == 2 and "already holds a run" in err
    assert _main([*args, "--overwrite"], capsys)[0] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "missing.yaml", "--model", "scripted:echo"], "suite file not found"),
        (["run", str(QUICKSTART), "--model", "nonsense"], "expected KIND:TARGET"),
        (["run", str(QUICKSTART), "--model", "predictons:x.jsonl"], "Did you mean 'predictions'"),
        (
            ["run", str(QUICKSTART), "--model", "predictions:nope.jsonl"],
            "predictions file not found",
        ),
        (["run", str(QUICKSTART), "--model", "scripted:echo", "--model-arg", "oops"], "KEY=VALUE"),
        (["validate", "missing.yaml"], "suite file not found"),
    ],
)
def test_bad_input_exits_2_with_a_message(
    args: list[str],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = _main(args, capsys)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_bad_data_line_exits_2(
    tmp_path: Path, make_suite: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    suite = make_suite()
    with open(tmp_path / "data.jsonl", "a") as fh:
        fh.write("{not json}\n")
    code, _, err = _main(
        ["run", str(suite), "--model", "scripted:echo", "--out", str(tmp_path / "r")], capsys
    )
    assert code == 2 and "data.jsonl:11: not valid JSON" in err


def test_validate_and_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _main(["validate", str(QUICKSTART)], capsys)
    assert code == 0 and "8 tasks, 442 samples" in out
    result = CliRunner().invoke(cli, ["metrics", "--json"])
    assert result.exit_code == 0
    listing = {m["name"]: m for m in json.loads(result.output)}
    assert {"bleu", "chrf", "ter", "rouge", "exact_match", "token_f1"} <= set(listing)
    assert listing["ter"]["direction"] == "lower is better"
    assert "tokenize" in listing["bleu"]["parameters"]
    assert listing["rouge"]["parameters"]["use_stemmer"] is False
    text = CliRunner().invoke(cli, ["metrics"]).output
    assert re.search(r"^    smooth_method: .+ = 'exp'", text, re.M), text


def test_console_script_is_installed() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "evalkit.cli", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and "evalkit, version" in proc.stdout
