"""Text files as people have them: other encodings, a missing python: module, prompt templates
that reach for more than fields. Each runs the real CLI on small files in tmp_path."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest

from evalkit.cli import main

ROWS = [
    {"id": "1", "source": "Guten Morgen", "score": 0.25, "ref": "Good morning"},
    {"id": "2", "source": "Danke", "score": 0.5, "ref": "Thanks"},
    {"id": "3", "source": "caf\u00e9 au lait", "score": 0.125, "ref": "coffee with milk"},
]
LATIN1 = "it looks like Latin-1/cp1252; re-save it as UTF-8"


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run ``evalkit ARGS`` in-process (the console entry point): exit code, stdout, stderr."""
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def _jsonl(rows: list[dict[str, object]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def _suite(tmp_path: Path, data: str = "data.jsonl", prompt: str = "{source}") -> Path:
    """A one-task exact-match suite; the prompt is on line 6."""
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "name: text\n"
        "description: files as people have them\n"
        "tasks:\n"
        "  - name: t\n"
        f"    dataset: {{path: {data}, id: id, references: ref}}\n"
        f"    prompt: {json.dumps(prompt)}\n"
        "    metrics: [exact_match]\n",
        encoding="utf-8",
    )
    return suite


def _run(
    suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], model: str = "scripted:echo"
) -> tuple[int, str, str]:
    return _cli(["run", str(suite), "--model", model, "--out", str(tmp_path / "out"), "-q"], capsys)


def _where(raw: bytes, bad: bytes = b"\xe9") -> tuple[int, int, int]:
    """(line, byte offset, column) of the first ``bad`` byte in ``raw``."""
    offset = raw.index(bad)
    line = raw.count(b"\n", 0, offset) + 1
    return line, offset, offset - (raw.rfind(b"\n", 0, offset) + 1) + 1


# ------------------------------------------------------------------------------ encodings


def test_a_latin1_suite_names_line_byte_and_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "data.jsonl").write_text(_jsonl(ROWS), encoding="utf-8")
    suite = _suite(tmp_path)
    suite.write_bytes(suite.read_bytes().replace(b"as people", "as caf\u00e9s".encode("cp1252")))
    line, offset, column = _where(suite.read_bytes())
    assert line == 2
    for command in (["validate", str(suite)], ["run", str(suite), "--model", "scripted:echo",
                                               "--out", str(tmp_path / "out")]):  # fmt: skip
        code, _, err = _cli(command, capsys)
        assert code == 2, err
        assert (
            f"ConfigError: {suite}:2: byte {offset} (0xe9, column {column}) is not valid UTF-8"
            in err
        )
        assert LATIN1 in err and "iconv -f cp1252 -t utf-8" in err
        assert "Traceback" not in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_latin1_dataset_names_line_byte_and_fix(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if fmt == "jsonl":
        text = _jsonl(ROWS)
    else:
        text = "id,source,ref\n" + "".join(f"{r['id']},{r['source']},{r['ref']}\n" for r in ROWS)
    data = tmp_path / f"data.{fmt}"
    data.write_bytes(text.encode("cp1252"))
    line, offset, column = _where(data.read_bytes())
    assert line == (3 if fmt == "jsonl" else 4)
    suite = _suite(tmp_path, data.name)
    for command in (["validate", str(suite)], ["run", str(suite), "--model", "scripted:echo",
                                               "--out", str(tmp_path / "out")]):  # fmt: skip
        code, _, err = _cli(command, capsys)
        assert code == 2, err
        assert f"InputError: {data}:{line}: byte {offset} (0xe9, column {column})" in err
        assert LATIN1 in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_latin1_predictions_file_names_line_byte_and_fix(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "data.jsonl").write_text(_jsonl(ROWS), encoding="utf-8")
    preds = [{"id": r["id"], "prediction": r["source"]} for r in ROWS]
    if fmt == "jsonl":
        text = _jsonl(preds)
    else:
        text = "id,prediction\n" + "".join(f"{p['id']},{p['prediction']}\n" for p in preds)
    path = tmp_path / f"preds.{fmt}"
    path.write_bytes(text.encode("latin-1"))
    line, offset, column = _where(path.read_bytes())
    code, _, err = _run(_suite(tmp_path), tmp_path, capsys, model=f"predictions:{path}")
    assert code == 2, err
    assert f"InputError: {path}:{line}: byte {offset} (0xe9, column {column}) is not valid" in err
    assert LATIN1 in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_utf16_and_undecodable_bytes_get_their_own_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data.jsonl"
    data.write_bytes(_jsonl(ROWS).encode("utf-16"))  # with its byte-order mark, as Notepad
    code, _, err = _cli(["validate", str(_suite(tmp_path))], capsys)
    assert code == 2, err
    assert f"{data}:1: byte 0 (0xff, column 1)" in err and "it looks like UTF-16" in err
    # 0x81 is no character in cp1252 either: no guess, just the fix.
    data.write_bytes(_jsonl(ROWS[:1]).encode() + b'{"id": "2", "source": "\x81", "ref": "x"}\n')
    code, _, err = _cli(["validate", str(_suite(tmp_path))], capsys)
    assert code == 2, err
    assert f"{data}:2: byte " in err and err.rstrip().endswith("re-encode it as UTF-8.")


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_utf8_with_a_bom_is_read(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if fmt == "jsonl":
        text = _jsonl(ROWS)
    else:
        text = "id,source,ref\n" + "".join(f"{r['id']},{r['source']},{r['ref']}\n" for r in ROWS)
    (tmp_path / f"data.{fmt}").write_bytes(codecs.BOM_UTF8 + text.encode("utf-8"))
    code, _, err = _run(_suite(tmp_path, f"data.{fmt}"), tmp_path, capsys)
    assert code == 0, err
    lines = [json.loads(x) for x in (tmp_path / "out" / "samples.jsonl").read_text().splitlines()]
    assert [x["id"] for x in lines] == ["1", "2", "3"]  # the BOM is not part of the 'id' column
    assert lines[2]["prompt"] == "caf\u00e9 au lait"


# ------------------------------------------------------------------------------ python:


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("python:no_such_module_xyz:fn", "cannot import no_such_module_xyz (module "
                                         "'no_such_module_xyz' not found)"),
        ("python:os.path:no_such_function", "os.path has no callable 'no_such_function'"),
        ("images:python:no_such_module_xyz:fn", "cannot import no_such_module_xyz"),
    ],
)  # fmt: skip
def test_a_python_spec_that_does_not_import_is_a_config_error(
    model: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "data.jsonl").write_text(_jsonl(ROWS), encoding="utf-8")
    code, _, err = _run(_suite(tmp_path), tmp_path, capsys, model=model)
    assert code == 2, err
    assert err.startswith("ConfigError: ") and message in err
    assert not (tmp_path / "out").exists()  # before any sample was run


# ------------------------------------------------------------------------------ templates


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        ("{source.__class__}", "{source.__class__} is an attribute or index lookup"),
        ("{source[0]}", "{source[0]} is an attribute or index lookup"),
        ("Q: {}", "{} is positional"),
        ("Q: {0}", "{0} is positional"),
        ("{source:{score}}", "{source:{score}} nests a field in its format spec"),
        ("{source:{source.__class__}}", "nests a field in its format spec"),
        ("{source:>3000000000}", "width 3000000000 is above the limit of 1000"),
        ("{score:.5000f}", "precision 5000 is above the limit of 1000"),
        ("{source!x}", "unknown conversion !x"),
        ("{source:not a spec}", "'not a spec' is not a format spec"),
    ],
)
def test_templates_may_only_name_fields(
    prompt: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "data.jsonl").write_text(_jsonl(ROWS), encoding="utf-8")
    suite = _suite(tmp_path, prompt=prompt)
    for command in (["validate", str(suite)], ["run", str(suite), "--model", "scripted:echo",
                                               "--out", str(tmp_path / "out")]):  # fmt: skip
        code, _, err = _cli(command, capsys)
        assert code == 2, err
        assert f"ConfigError: {suite}:6: tasks[0].prompt:" in err and message in err
    assert not (tmp_path / "out").exists()  # refused before any model call


def test_escapes_and_plain_format_specs_still_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "data.jsonl").write_text(_jsonl(ROWS), encoding="utf-8")
    prompt = "{{literal}} {source!r:>20} {score:.2f} {score:0>8.3f} {source:*^1000}"
    code, _, err = _run(_suite(tmp_path, prompt=prompt), tmp_path, capsys)
    assert code == 0, err
    first = json.loads((tmp_path / "out" / "samples.jsonl").read_text().splitlines()[0])
    assert first["prompt"] == prompt.format(**ROWS[0])
    assert first["prompt"].startswith("{literal}       'Guten Morgen' 0.25 0000.250 ***")
