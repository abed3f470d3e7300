"""Reports are pure, deterministic and safe functions of a run record.

The run directories here are written by hand with the store's own writers, with hostile model
output in them: HTML/JS injection payloads (from the OWASP XSS filter evasion cheat sheet's
classics), a script-breakout string, a ``javascript:`` URL and a spreadsheet formula (OWASP
"CSV Injection").
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest

from evalkit.cli.app import main
from evalkit.records import RecordError
from evalkit.report import (
    neutralise_cell,
    render_html,
    render_markdown,
    write_reports,
    write_results_csv,
)
from evalkit.report.html._assets import script_json
from evalkit.store import RESULTS, SAMPLES, append_samples, load_run, write_json_atomic
from tests._csp import assert_strict_csp

IMG = "<img src=x onerror=alert(1)>"
ATTR = '"><script>window.pwned=1</script>'
BREAKOUT = "</script><script>alert(1)</script>"
JS_URL = "javascript:alert(1)"
FORMULA = "=cmd|' /C calc'!A0"
UNICODE = "naïve café — 日本語 🙂 \u2028line\u2029para"
PAYLOADS = (IMG, ATTR, BREAKOUT, JS_URL, FORMULA)


def _header(results: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    header: dict[str, Any] = {
        "format_version": 1,
        "run_id": "20261121T133500Z-ab12cd",
        "status": "completed",
        "suite": {"name": "quickstart", "path": "suites/quickstart.yaml", "fingerprint": "ab" * 32},
        "model": {
            "spec": "predictions:suites/data/sys_a.jsonl",
            "info": {"adapter": "predictions", "path": "suites/data/sys_a.jsonl"},
        },
        "seed": 0,
        "evalkit_version": "0.1.0",
        "versions": {"python": "3.11.7", "sacrebleu": "2.6.0"},
        "created_at": "2026-11-21T13:35:00Z",
        "finished_at": "2026-11-21T13:36:05Z",
        "bootstrap": {"resamples": 1000, "confidence": 0.95},
        "tasks": [
            {
                "name": "translate",
                "dataset": {"path": "suites/data/mt.jsonl", "sha256": "cd" * 32, "n": 6},
                "n_samples": 6,
                "n_errors": 1,
                "metrics": {"bleu": "bleu|nrefs:1|tok:13a", "exact_match": "exact_match|x:1"},
            }
        ],
        "results": results if results is not None else [],
    }
    header.update(extra)
    return header


ROWS = [
    {
        "task": "translate",
        "metric": "bleu",
        "value": 31.2345678,
        "ci_low": 25.0,
        "ci_high": 36.1,
        "n": 5,
        "n_errors": 1,
        "higher_is_better": True,
        "signature": "bleu|nrefs:1|tok:13a",
    },
    {
        "task": "translate",
        "metric": "delta",
        "value": -0.5,
        "ci_low": -1.25,
        "ci_high": 0.125,
        "n": 5,
        "n_errors": 1,
        "higher_is_better": False,
        "signature": "-delta|evil:" + FORMULA,
    },
    {
        "task": "translate",
        "metric": "exact_match",
        "value": float("nan"),
        "ci_low": None,
        "ci_high": None,
        "n": 0,
        "n_errors": 1,
        "higher_is_better": True,
        "signature": "exact_match|x:1",
    },
]


def _sample(sid: str, prediction: str | None, **extra: Any) -> dict[str, Any]:
    line: dict[str, Any] = {
        "task": "translate",
        "id": sid,
        "prompt": f"Translate {sid}",
        "prediction": prediction,
        "references": ["ref " + sid],
        "error": None,
        "cached": False,
        "stats": {"bleu": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "exact_match": [1.0]},
    }
    line.update(extra)
    return line


SAMPLE_LINES = [
    _sample("img", IMG, prompt=ATTR),
    _sample("attr", ATTR, references=[BREAKOUT, JS_URL]),
    _sample("breakout", BREAKOUT, prompt="<!-- " + BREAKOUT),
    _sample("js", JS_URL, references=[IMG]),
    _sample("formula", FORMULA, prompt=FORMULA),
    _sample("uni", UNICODE, references=[UNICODE, ""]),
    _sample("failed", None, error="HTTP 500: <b>upstream</b> " + BREAKOUT, stats={}),
]


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    write_json_atomic(tmp_path / RESULTS, _header(ROWS))
    append_samples(tmp_path / SAMPLES, SAMPLE_LINES)
    return tmp_path


def _samples_block(html: str) -> str:
    blocks = re.findall(
        r'<script type="application/json" id="evalkit-samples">(.*?)</script>', html, re.S
    )
    assert len(blocks) == 1
    return blocks[0]


# --- HTML ---------------------------------------------------------------------------------


def test_html_payloads_are_escaped(run_dir: Path) -> None:
    html = render_html(load_run(run_dir))
    lowered = html.lower()
    for needle in ("<img", "<script>window", "<script>alert", "<b>upstream", "<!-- <"):
        assert needle not in lowered, needle
    # Exactly the two script elements of the template: the JSON block and the code.
    assert lowered.count("<script") == 2
    assert lowered.count("</script") == 2
    assert "innerhtml" not in lowered
    assert "document.write" not in lowered
    assert "eval(" not in lowered
    # Outside the JSON block (where the payloads are inert string content), sample data is
    # absent: the script builds the sample rows with textContent.
    outside = lowered.replace(_samples_block(html).lower(), "")
    for needle in ("onerror", "pwned", "javascript:", "alert(1)"):
        assert needle not in outside, needle
    # Data never becomes a link target or an event handler.
    assert re.findall(r'href="([^"]*)"', html) == [
        "#gates",
        "#results",
        "#tasks",
        "#samples",
        "#details",
    ]
    assert not re.search(r"\son[a-z]+\s*=", outside)


def test_html_has_csp_and_no_external_urls(run_dir: Path) -> None:
    html = render_html(load_run(run_dir))
    # No fetch of any kind; only the page's own style and script run, allowed by their hashes.
    assert_strict_csp(html)
    assert "http://" not in html
    assert "https://" not in html
    # No attribute that loads anything (the payload " src=x" only lives inside the JSON text).
    outside = html.replace(_samples_block(html), "")
    assert not re.search(r"""\s(src|href|action|srcset|poster)\s*=\s*(?!["']?#)""", outside)
    assert "@import" not in html
    assert "url(" not in html


def test_template_has_no_url() -> None:
    import importlib.resources

    text = (importlib.resources.files("evalkit.report") / "templates" / "run.html").read_text(
        encoding="utf-8"
    )
    assert "http://" not in text and "https://" not in text and "//cdn" not in text


def test_html_json_block_round_trips(run_dir: Path) -> None:
    html = render_html(load_run(run_dir))
    block = _samples_block(html)
    for ch in ("<", ">", "&", "\u2028", "\u2029"):
        assert ch not in block
    data = json.loads(block)
    by_id = {s["id"]: s for s in data["samples"]}
    assert [s["id"] for s in data["samples"]] == [s["id"] for s in SAMPLE_LINES]
    for line in SAMPLE_LINES:
        got = by_id[line["id"]]
        assert got["prediction"] == line["prediction"]
        assert got["prompt"] == line["prompt"]
        assert got["references"] == line["references"]
        assert got["error"] == line["error"]
    assert by_id["uni"]["prediction"] == UNICODE
    assert by_id["failed"]["prediction"] is None
    assert by_id["failed"]["error"].startswith("HTTP 500")
    # Only single-number statistics become columns (BLEU's count vector does not).
    assert data["stat_columns"] == ["exact_match"]
    assert by_id["img"]["stats"] == {"exact_match": "1"}


def test_script_json_escapes_every_breakout_character() -> None:
    text = str(script_json({"s": "</script><!--&\u2028\u2029\ud800", "x": float("nan")}))
    assert text == ('{"s":"\\u003c/script\\u003e\\u003c!--\\u0026\\u2028\\u2029\\ud800","x":null}')
    assert json.loads(text)["s"] == "</script><!--&\u2028\u2029\ud800"


def test_html_marks_failed_samples(run_dir: Path) -> None:
    html = render_html(load_run(run_dir))
    assert "1 failed" in html
    # The script shows a failed call as an error, never as an empty prediction.
    assert "is-error" in html and "the model call failed" in html


def test_html_shows_header_and_results(run_dir: Path) -> None:
    html = render_html(load_run(run_dir))
    for text in (
        "quickstart",
        "predictions:suites/data/sys_a.jsonl",
        "20261121T133500Z-ab12cd",
        "2026-11-21T13:35:00Z",
        "2026-11-21T13:36:05Z",
        "1 min 5 s",
        "1,000 resamples, 95% confidence",
        "sacrebleu",
        "2.6.0",
        "3.11.7",
        "bleu|nrefs:1|tok:13a",
        "95% CI",
        "31.23",  # 4 significant digits
        "[25, 36.1]",
        "[-1.25, 0.125]",
        "NaN",
        'id="task-0"',
        "Show this task's samples",
    ):
        assert text in html, text
    assert ">31.2345678<" not in html
    # The formula in a signature is plain text in HTML (the CSV defence is for spreadsheets).
    assert "-delta|evil:=cmd|&#39; /C calc&#39;!A0" in html


def test_write_reports_is_deterministic(run_dir: Path) -> None:
    paths = write_reports(run_dir)
    assert [p.name for p in paths] == ["results.csv", "report.html"]
    first = [p.read_bytes() for p in paths]
    again = write_reports(run_dir)
    assert [p.read_bytes() for p in again] == first
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "report.html",
        "results.csv",
        "results.json",
        "samples.jsonl",
    ]  # no temporary file left behind
    assert first[1].decode("utf-8") == render_html(load_run(run_dir))


def test_zero_results_and_no_samples_render(tmp_path: Path) -> None:
    write_json_atomic(tmp_path / RESULTS, {"format_version": 1, "results": []})
    csv_path, html_path = write_reports(tmp_path)
    html = html_path.read_text(encoding="utf-8")
    assert "This run has no results." in html
    assert "This run has no sample lines." in html
    assert json.loads(_samples_block(html))["samples"] == []
    assert csv_path.read_text(encoding="utf-8").splitlines() == [
        "task,metric,value,ci_low,ci_high,n,n_errors,higher_is_better,signature"
    ]
    assert render_markdown(load_run(tmp_path)).endswith("_No results._\n")


def test_failed_run_shows_banner(tmp_path: Path) -> None:
    header = _header(ROWS, status="failed", error="every call failed: " + IMG)
    del header["finished_at"]
    write_json_atomic(tmp_path / RESULTS, header)
    html = render_html(load_run(tmp_path))
    assert 'role="alert"' in html and "This run is failed" in html
    assert "every call failed: &lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img" not in html


def test_lone_surrogate_in_record_does_not_break_reports(tmp_path: Path) -> None:
    write_json_atomic(tmp_path / RESULTS, _header(ROWS))
    # json.loads turns this escape into a lone surrogate, which UTF-8 cannot encode.
    line = {**_sample("s", "x"), "prediction": "bad \\ud800 half"}
    raw = json.dumps(line).replace("\\\\ud800", "\\ud800")
    (tmp_path / SAMPLES).write_text(raw + "\n", encoding="utf-8")
    assert load_run(tmp_path).samples[0]["prediction"] == "bad \ud800 half"
    _, html_path = write_reports(tmp_path)
    data = json.loads(_samples_block(html_path.read_text(encoding="utf-8")))
    assert data["samples"][0]["prediction"] == "bad \ud800 half"


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ({"prediction": 5}, "prediction: Input should be a valid string"),
        ({"references": "ref"}, "references: Input should be a valid list"),
        ({"id": 7}, "id: Input should be a valid string"),
        ({"extra": 1}, "extra: Extra inputs are not permitted"),
    ],
)
def test_malformed_sample_line_is_refused_not_rendered(
    tmp_path: Path, bad: dict[str, Any], problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    problem = f"{tmp_path / SAMPLES}: sample 2: not a sample line: {problem}."
    write_json_atomic(tmp_path / RESULTS, _header(ROWS))
    append_samples(tmp_path / SAMPLES, [SAMPLE_LINES[0], {**SAMPLE_LINES[1], **bad}])
    for render in (render_html, render_markdown):
        with pytest.raises(RecordError) as err:
            render(load_run(tmp_path))
        assert str(err.value) == problem
    with pytest.raises(RecordError):
        write_reports(tmp_path)
    assert not (tmp_path / "report.html").exists() and not (tmp_path / "results.csv").exists()
    # The command line: exit code 2 and the same message, naming the file and the field.
    with pytest.raises(SystemExit) as exit_:
        main(["report", str(tmp_path)])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == f"RecordError: {problem}\n"


def test_malformed_result_row_is_refused_by_the_loader(tmp_path: Path) -> None:
    rows = [ROWS[0], {**ROWS[1], "n": "5"}]
    write_json_atomic(tmp_path / RESULTS, _header(rows))
    with pytest.raises(RecordError, match=r"results.1.n: Input should be a valid integer"):
        write_reports(tmp_path)


def test_many_samples_are_embedded_once(tmp_path: Path) -> None:
    write_json_atomic(tmp_path / RESULTS, _header(ROWS))
    append_samples(
        tmp_path / SAMPLES,
        (_sample(f"s{i}", f"prediction {i} {BREAKOUT}") for i in range(10_000)),
    )
    html = render_html(load_run(tmp_path))
    data = json.loads(_samples_block(html))
    assert len(data["samples"]) == 10_000
    assert data["page_size"] == 50
    assert html.lower().count("</script") == 2
    # Rows are built by the script page by page; the HTML itself holds no sample rows.
    assert html.count("prediction 9999") == 1


# --- CSV ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        (FORMULA, "'" + FORMULA),
        ("bleu", "bleu"),
        ("a=b", "a=b"),
        ("", ""),
        (-0.5, "-0.5"),
        (-3, "-3"),
        (31.2, "31.2"),
        (0.1 + 0.2, "0.30000000000000004"),
        (float("-inf"), "-inf"),
        (float("nan"), "nan"),
        (None, ""),
        (True, "true"),
        (False, "false"),
    ],
)
def test_neutralise_cell(value: Any, expected: str) -> None:
    assert neutralise_cell(value) == expected


def test_results_csv(run_dir: Path) -> None:
    csv_path, _ = write_reports(run_dir)
    with open(csv_path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == [
        "task",
        "metric",
        "value",
        "ci_low",
        "ci_high",
        "n",
        "n_errors",
        "higher_is_better",
        "signature",
    ]
    assert rows[0]["value"] == "31.2345678"
    assert rows[0]["higher_is_better"] == "true"
    delta = rows[1]
    assert (delta["value"], delta["ci_low"], delta["ci_high"]) == ("-0.5", "-1.25", "0.125")
    assert delta["higher_is_better"] == "false"
    assert delta["signature"] == "'-delta|evil:" + FORMULA
    assert (rows[2]["value"], rows[2]["ci_low"]) == ("nan", "")


def test_write_results_csv_neutralises_a_valid_row(tmp_path: Path) -> None:
    row = {"task": "@t", "metric": "m", "value": -1.0, "ci_low": None, "ci_high": None,
           "n": 3, "n_errors": 0, "higher_is_better": False, "signature": "=s"}  # fmt: skip
    path = write_results_csv([row], tmp_path / "r.csv")
    assert path.read_text(encoding="utf-8").splitlines()[1] == "'@t,m,-1.0,,,3,0,false,'=s"


def test_write_results_csv_refuses_partial_rows(tmp_path: Path) -> None:
    with pytest.raises(RecordError) as err:
        write_results_csv([{"task": "@t", "metric": "m", "value": -1}], tmp_path / "r.csv")
    assert str(err.value).startswith("results.json: not a run header: results.0.ci_low: Field")
    assert not (tmp_path / "r.csv").exists()


# --- Markdown -----------------------------------------------------------------------------


def test_markdown_table(run_dir: Path) -> None:
    md = render_markdown(load_run(run_dir))
    lines = md.splitlines()
    assert lines[0] == "### evalkit: quickstart"
    assert "**run** 20261121T133500Z-ab12cd" in md
    assert "| task | metric | value | 95% CI | n | errors |" in lines
    assert "| translate | bleu | 31.23 | [25, 36.1] | 5 | 1 |" in lines
    assert "| translate | delta | -0.5 | [-1.25, 0.125] | 5 | 1 |" in lines
    assert "| translate | exact\\_match | NaN | — | 0 | 1 |" in lines


def test_markdown_escapes_cells(tmp_path: Path) -> None:
    row = dict(ROWS[0], task="a|b\nc", metric="<img src=x>")
    header = _header([row], suite={"name": "s|x\r\ny"}, status="running")
    write_json_atomic(tmp_path / RESULTS, header)
    md = render_markdown(load_run(tmp_path))
    table_rows = [ln for ln in md.splitlines() if ln.startswith("| a")]
    assert table_rows == ["| a\\|b<br>c | &lt;img src=x&gt; | 31.23 | [25, 36.1] | 5 | 1 |"]
    # Every table line has exactly the 7 unescaped pipes of 6 columns.
    for line in md.splitlines():
        if line.startswith("|"):
            assert len(re.findall(r"(?<!\\)\|", line)) == 7, line
    assert "s\\|x<br>y" in md
    assert "<img" not in md
    assert "this run is running" in md
