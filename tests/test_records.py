"""The record models (evalkit.records) against real records of the bundled suites.

Every ``results.json``, ``samples.jsonl`` line and ``compare.json`` that real runs of the
bundled suites write validates through the models and through the committed JSON Schemas;
a record written in a newer format is refused with exit code 2 and a message that says what
to do; a malformed record is refused naming the field; and the committed schemas are the ones
the models generate.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evalkit.cli import main
from evalkit.errors import RunError
from evalkit.records import (
    COMPARE_FORMAT_VERSION,
    RESULTS_FORMAT_VERSION,
    SCHEMA_FILES,
    RecordError,
    RunHeader,
    SampleLine,
    check_comparison,
    check_for_write,
    check_run_header,
    check_sample_line,
    json_schemas,
    read_comparison,
)
from evalkit.runner import RunOptions, run_suite
from evalkit.store import RESULTS, SAMPLES, load_run
from tests.conftest import ROOT, SYS_A, SYS_B, quickstart_tasks

SCHEMAS = ROOT / "docs" / "schemas"
SUITES = ROOT / "suites"
FIXTURES = Path(__file__).parent / "fixtures"
#: Quickstart tasks whose records differ in shape: text metrics with gates, QA, perplexity
#: (adapter outputs), stereotype pairs (variants), diversity (set-level dict statistics) and
#: image metrics (image references, untested set-level rows in a comparison).
QUICKSTART_TASKS = ("translate", "qa", "lm_step0075", "stereotype", "diversity", "digits")


def _main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Run folders and comparison folders of real runs of the bundled suites, by name."""
    d = tmp_path_factory.mktemp("records")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EVALKIT_CACHE_DIR", str(d / "cache"))
        mp.setenv("EVALKIT_INDEX", str(d / "index.sqlite"))
        qs = quickstart_tasks(d / "quickstart.yaml", QUICKSTART_TASKS)
        runs = {
            "quickstart_a": run_suite(
                qs, f"predictions:{SYS_A}", d / "qa", RunOptions(labels={"step": "1"})
            ).path,
            # Against a baseline: the regression gates are evaluated, not skipped.
            "quickstart_b": run_suite(
                qs,
                f"predictions:{SYS_B}",
                d / "qb",
                RunOptions(labels={"step": "2"}, baseline=d / "qa"),
            ).path,
            "retrieval": run_suite(SUITES / "retrieval.yaml", "bm25:", d / "ret", limit=6).path,
            "bias": run_suite(SUITES / "bias.yaml", None, d / "bias", limit=4).path,
            "lm": run_suite(
                SUITES / "lm.yaml", f"hf:{ROOT / 'models/tiny-gpt2/step-0075'}", d / "lm", limit=4
            ).path,
            "translation": run_suite(
                SUITES / "translation.yaml",
                f"predictions:{SUITES / 'translation/sys_a.jsonl'}",
                d / "tr",
            ).path,
        }
        for name, extra in (("pairwise", []), ("series", ["--series", "step"])):
            out = d / f"cmp_{name}"
            with pytest.raises(SystemExit) as exc:
                main(
                    [
                        "compare",
                        str(d / "qa"),
                        str(d / "qb"),
                        "--resamples",
                        "100",
                        *extra,
                        "--out",
                        str(out),
                    ]
                )
            assert exc.value.code in (0, 1)  # 1: the significant regressions of sys_b
            runs[f"compare_{name}"] = out
        yield runs


RUNS = ("quickstart_a", "quickstart_b", "retrieval", "bias", "lm", "translation")
COMPARES = ("compare_pairwise", "compare_series")


def _lines(run: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (run / SAMPLES).read_text(encoding="utf-8").splitlines()]


def _header(run: Path) -> dict[str, Any]:
    header: dict[str, Any] = json.loads((run / RESULTS).read_text(encoding="utf-8"))
    return header


@pytest.mark.parametrize("name", RUNS)
def test_records_of_bundled_suites_validate(records: dict[str, Path], name: str) -> None:
    run = records[name]
    header = check_run_header(_header(run), run / RESULTS)
    assert header.format_version == RESULTS_FORMAT_VERSION and header.status == "completed"
    assert header.results and header.tasks and header.counts is not None
    lines = _lines(run)
    assert len(lines) == header.counts.samples
    typed = [check_sample_line(ln, f"{run / SAMPLES}:{i}") for i, ln in enumerate(lines, 1)]
    assert {ln.task for ln in typed} == {t.name for t in header.tasks}
    # Statistics are metric-defined and kept exactly as written.
    assert [ln.stats for ln in typed] == [ln["stats"] for ln in lines]


def test_records_cover_optional_parts(records: dict[str, Path]) -> None:
    """The runs above exercise the optional parts of the models, so those are checked too."""
    lines = [ln for name in RUNS for ln in _lines(records[name])]
    assert any("outputs" in ln for ln in lines) and any("outputs" not in ln for ln in lines)
    assert any(isinstance(s, dict) for ln in lines for s in ln["stats"].values())
    header = check_run_header(_header(records["quickstart_b"]))
    assert header.baseline is not None and header.gates
    assert {g.status for g in header.gates} >= {"pass", "fail"}
    assert any(g.p_value is not None for g in header.gates)  # a regression test was run


@pytest.mark.parametrize("name", COMPARES)
def test_comparisons_validate(records: dict[str, Path], name: str) -> None:
    doc = read_comparison(records[name] / "compare.json")
    assert doc.format_version == COMPARE_FORMAT_VERSION and doc.comparisons
    assert (doc.series is not None) == (name == "compare_series")
    assert any(row.change == "not tested" for row in doc.comparisons)  # set-level image rows


@pytest.mark.parametrize(
    "fixture", ["compare_pairwise.json", "compare_series.json", "compare_series_significant.json"]
)
def test_older_comparisons_of_the_same_version_validate(fixture: str) -> None:
    # Written before `missing`/`failed`/`compared` counts existed, with format_version 1.
    doc = read_comparison(FIXTURES / fixture)
    assert doc.format_version == 1 and doc.comparisons


def _doctored(run: Path, tmp_path: Path, **changes: Any) -> Path:
    copy = tmp_path / f"doctored-{run.name}"
    shutil.copytree(run, copy)
    header = _header(copy)
    header.update(changes)
    (copy / RESULTS).write_text(json.dumps(header), encoding="utf-8")
    return copy


def test_newer_results_format_is_refused_by_the_cli(
    records: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    newer = RESULTS_FORMAT_VERSION + 1
    run = _doctored(records["quickstart_a"], tmp_path, format_version=newer)
    compare = ["compare", str(records["quickstart_b"]), str(run), "--out", str(tmp_path / "o")]
    for args in (["report", str(run)], compare):
        code, _, err = _main(args, capsys)
        assert code == 2, err
        assert "RecordError" in err and str(run / RESULTS) in err
        assert f"format_version {newer} is newer than this evalkit reads" in err
        assert f"format version {RESULTS_FORMAT_VERSION} and older" in err
        assert "upgrade evalkit" in err


def test_equal_version_loads_and_newer_version_is_refused_before_the_structure(
    records: dict[str, Path], tmp_path: Path
) -> None:
    assert load_run(records["quickstart_a"]).header["format_version"] == RESULTS_FORMAT_VERSION
    # A newer record may look different: the version is what the message is about.
    newer = {"format_version": RESULTS_FORMAT_VERSION + 1, "results": "another layout"}
    with pytest.raises(RecordError, match="newer than this evalkit reads") as exc:
        check_run_header(newer, "x/results.json")
    assert exc.value.exit_code == 2


def test_newer_comparison_format_is_refused(records: dict[str, Path], tmp_path: Path) -> None:
    doc = json.loads((records["compare_pairwise"] / "compare.json").read_text(encoding="utf-8"))
    doc["format_version"] = COMPARE_FORMAT_VERSION + 1
    path = tmp_path / "compare.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(RecordError, match=r"compare\.json: format_version 2 is newer.*upgrade"):
        read_comparison(path)


def test_malformed_header_is_refused_naming_the_field(
    records: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _header(records["quickstart_a"])["results"]
    bad = _doctored(records["quickstart_a"], tmp_path, results=[dict(rows[0], n="many")])
    with pytest.raises(RecordError, match=r"not a run header: results\.0\.n: "):
        load_run(bad)
    code, _, err = _main(["report", str(bad)], capsys)
    assert code == 2 and "results.0.n" in err
    with pytest.raises(RecordError, match="a JSON object is expected"):
        check_run_header([1, 2], "x/results.json")
    with pytest.raises(RecordError, match="format_version: Field required"):
        check_run_header({"results": []})


def test_sample_lines_are_checked_field_by_field(records: dict[str, Path]) -> None:
    line = _lines(records["quickstart_a"])[0]
    check_sample_line(line)
    for change, where in (({"cached": "yes"}, "cached"), ({"id": 3}, "id"), ({"x": 1}, "x")):
        with pytest.raises(RecordError, match=f"not a sample line: {where}: "):
            check_sample_line({**line, **change}, "s.jsonl:1")
    with pytest.raises(RecordError, match="stats: Field required"):
        check_sample_line({k: v for k, v in line.items() if k != "stats"})


def test_a_writer_bug_is_an_evalkit_bug_not_a_record(records: dict[str, Path]) -> None:
    line = _lines(records["quickstart_a"])[0]
    check_for_write(SampleLine, [line], "s.jsonl")
    with pytest.raises(RunError, match=r"invalid SampleLine.*bug in evalkit") as exc:
        check_for_write(SampleLine, [line, {**line, "stats": None}], "s.jsonl")
    assert exc.value.exit_code == 3
    with pytest.raises(RunError, match="invalid RunHeader"):
        check_for_write(RunHeader, [{"format_version": 1, "tasks": [{}]}], "results.json")


def test_run_with_an_invalid_line_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import evalkit.executors.local as local
    from evalkit.executors.base import score_batch as real

    def buggy(*args: Any) -> list[dict[str, Any]]:
        return [dict(ln, cached="no") for ln in real(*args)]

    monkeypatch.setattr(local, "score_batch", buggy)
    monkeypatch.setenv("EVALKIT_INDEX", str(tmp_path / "index.sqlite"))
    suite = quickstart_tasks(tmp_path / "qs.yaml", ["qa"])
    with pytest.raises(RunError, match="invalid SampleLine"):
        run_suite(suite, f"predictions:{SYS_A}", tmp_path / "run")
    assert not (tmp_path / "run" / SAMPLES).exists() or not _lines(tmp_path / "run")


def test_committed_schemas_match_the_models() -> None:
    for name, text in json_schemas().items():
        path = SCHEMAS / name
        assert path.is_file(), f"{path} is missing; run `python scripts/write_schemas.py`"
        assert path.read_text(encoding="utf-8") == text, (
            f"{path} differs from evalkit.records.{SCHEMA_FILES[name].__name__}; regenerate it "
            "with `python scripts/write_schemas.py` and commit the result"
        )


def _validator(name: str) -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _errors(validator: Any, obj: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(obj)]


@pytest.mark.parametrize("name", RUNS)
def test_schemas_validate_the_same_records(records: dict[str, Path], name: str) -> None:
    header, line = _validator("results.schema.json"), _validator("sample_line.schema.json")
    run = records[name]
    assert _errors(header, _header(run)) == []
    for ln in _lines(run):
        assert _errors(line, ln) == []


def test_schemas_validate_the_same_comparisons(records: dict[str, Path]) -> None:
    validator = _validator("compare.schema.json")
    docs = [json.loads((records[n] / "compare.json").read_text("utf-8")) for n in COMPARES]
    docs += [json.loads(p.read_text("utf-8")) for p in sorted(FIXTURES.glob("compare_*.json"))]
    for doc in docs:
        check_comparison(doc)
        assert _errors(validator, doc) == []


def test_schemas_refuse_what_the_models_refuse(records: dict[str, Path]) -> None:
    header, line = _validator("results.schema.json"), _validator("sample_line.schema.json")
    good = _header(records["quickstart_a"])
    bad = dict(good, results=[dict(good["results"][0], n="many")])
    assert _errors(header, bad) and _errors(header, {"results": []})
    ln = _lines(records["quickstart_a"])[0]
    assert _errors(line, {**ln, "cached": "yes"}) and _errors(line, {**ln, "x": 1})
