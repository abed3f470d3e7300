"""The one JSONL reader (``evalkit._io.iter_jsonl``) and the readers built on it.

The first half pins the reader's contract: line numbers, blank lines, newlines, invalid JSON and
non-object lines with ``PATH:LINE``, invalid UTF-8, a BOM and the torn-last-line option. The
second half pins, word for word, the message each former reader (datasets, predictions,
retrieval runs, qrels and corpora, the run record) gives for a bad line, so that routing them
through one reader changed no message a user sees.
"""

from __future__ import annotations

import ast
import codecs
import os
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

import evalkit.data.samples
import evalkit.suite
from evalkit import _io
from evalkit._io import iter_jsonl
from evalkit.adapters.predictions import PredictionsAdapter
from evalkit.data.retrieval import Qrels, Run, load_corpus
from evalkit.data.samples import DatasetSpec, load_dataset
from evalkit.errors import ConfigError, InputError
from evalkit.store import append_samples, iter_samples
from evalkit.suite import parse_suite

#: A line json.loads refuses with "Expecting ',' delimiter" at column 10.
BAD = '{"id": 2 "x"}'
LATIN1_CAFE = b'{"id": "caf\xe9"}\n'


def _file(tmp_path: Path, data: bytes | str, name: str = "d.jsonl") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def _exact(text: str) -> str:
    """A ``pytest.raises(match=...)`` pattern that matches exactly ``text``."""
    import re

    return "^" + re.escape(text) + "$"


# ------------------------------------------------------------------------ reader contract


def test_line_numbers_count_blank_lines_which_are_skipped(tmp_path: Path) -> None:
    p = _file(tmp_path, '{"a": 1}\n\n   \n\t\n{"a": 2}\n')
    assert list(iter_jsonl(p)) == [(1, {"a": 1}), (5, {"a": 2})]


def test_universal_newlines_and_a_last_line_without_newline(tmp_path: Path) -> None:
    p = _file(tmp_path, '{"a": 1}\r\n{"a": 2}\r{"a": 3}')
    assert list(iter_jsonl(p)) == [(1, {"a": 1}), (2, {"a": 2}), (3, {"a": 3})]


def test_line_separators_inside_strings_do_not_split_a_line(tmp_path: Path) -> None:
    text = '{"t": "a\u2028b\u0085c\u2029d"}\n{"t": "e"}\n'
    assert list(iter_jsonl(_file(tmp_path, text))) == [
        (1, {"t": "a\u2028b\u0085c\u2029d"}),
        (2, {"t": "e"}),
    ]


def test_data_given_is_used_instead_of_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "never-written.jsonl"
    assert list(iter_jsonl(missing, b'{"a": 1}\n')) == [(1, {"a": 1})]
    assert not missing.exists()


def test_invalid_json_names_file_line_column_and_fix(tmp_path: Path) -> None:
    p = _file(tmp_path, '{"id": 1}\n' + BAD + "\n")
    rows = iter_jsonl(p)
    assert next(rows) == (1, {"id": 1})  # lines before the bad one are yielded
    with pytest.raises(InputError) as exc:
        next(rows)
    assert str(exc.value) == (
        f"{p}:2: not valid JSON (Expecting ',' delimiter at column 10); "
        "each line must be one JSON object."
    )


def test_invalid_json_message_options(tmp_path: Path) -> None:
    p = _file(tmp_path, BAD + "\n")
    with pytest.raises(
        InputError, match=_exact(f"{p}:1: not valid JSON (Expecting ',' delimiter).")
    ):
        list(iter_jsonl(p, fix="", show_column=False))
    with pytest.raises(
        InputError,
        match=_exact(f"{p}:1: not valid JSON (Expecting ',' delimiter at column 10); say so."),
    ):
        list(iter_jsonl(p, fix="say so"))


@pytest.mark.parametrize(
    ("line", "kind"), [("[1, 2]", "list"), ('"text"', "str"), ("3", "int"), ("null", "NoneType")]
)
def test_a_line_that_is_not_an_object(tmp_path: Path, line: str, kind: str) -> None:
    p = _file(tmp_path, '{"a": 1}\n\n' + line + "\n")
    with pytest.raises(InputError, match=_exact(f"{p}:3: expected a JSON object, got {kind}.")):
        list(iter_jsonl(p))
    with pytest.raises(InputError, match=_exact(f"{p}:3: expected a JSON object.")):
        list(iter_jsonl(p, show_type=False))


def test_invalid_utf8_names_line_byte_and_fix(tmp_path: Path) -> None:
    p = _file(tmp_path, b'{"id": 1}\n' + LATIN1_CAFE)
    with pytest.raises(InputError) as exc:
        list(iter_jsonl(p))
    message = str(exc.value)
    assert message.startswith(f"{p}:2: byte 21 (0xe9, column 12) is not valid UTF-8; ")
    assert "iconv -f cp1252 -t utf-8" in message


def test_invalid_utf8_is_found_before_any_line_is_parsed(tmp_path: Path) -> None:
    # The whole file is checked first: the encoding, not the bad JSON of line 1, is reported,
    # and no row comes out of a file that is not UTF-8.
    p = _file(tmp_path, BAD.encode() + b"\n" + LATIN1_CAFE)
    rows = iter_jsonl(p)
    with pytest.raises(
        InputError, match=r"d\.jsonl:2: byte \d+ \(0xe9, column 12\) is not valid UTF-8"
    ):
        next(rows)


def test_utf16_is_recognised(tmp_path: Path) -> None:
    p = _file(tmp_path, codecs.BOM_UTF16_LE + '{"a": 1}\n'.encode("utf-16-le"))
    with pytest.raises(InputError, match="it looks like UTF-16"):
        list(iter_jsonl(p))


def test_a_utf8_bom_is_dropped(tmp_path: Path) -> None:
    p = _file(tmp_path, codecs.BOM_UTF8 + '{"id": "é"}\n{"id": 2}\n'.encode())
    assert list(iter_jsonl(p)) == [(1, {"id": "é"}), (2, {"id": 2})]


def test_torn_last_line_option(tmp_path: Path) -> None:
    torn = _file(tmp_path, '{"a": 1}\n{"a": 2}\n{"a": 3, "b"')
    assert list(iter_jsonl(torn, torn_last_line=True)) == [(1, {"a": 1}), (2, {"a": 2})]
    # Without the option the last line is a line like any other, and this one is bad.
    with pytest.raises(InputError, match=r"d\.jsonl:3: not valid JSON"):
        list(iter_jsonl(torn))
    # A complete last line without its newline is still torn: the writer was cut off.
    whole = _file(tmp_path, '{"a": 1}\n{"a": 2}', "w.jsonl")
    assert list(iter_jsonl(whole, torn_last_line=True)) == [(1, {"a": 1})]
    assert list(iter_jsonl(whole)) == [(1, {"a": 1}), (2, {"a": 2})]
    # A bad line before the torn one is an error all the same.
    bad = _file(tmp_path, BAD + '\n{"a": 2', "b.jsonl")
    with pytest.raises(InputError, match=r"b\.jsonl:1: not valid JSON"):
        list(iter_jsonl(bad, torn_last_line=True))


def test_an_empty_file_has_no_lines(tmp_path: Path) -> None:
    assert list(iter_jsonl(_file(tmp_path, ""))) == []
    assert list(iter_jsonl(_file(tmp_path, "\n\n", "e.jsonl"))) == []


# ------------------------------------------------------------- each reader's bad-line message

DATA_FIX = "each line must be one JSON object."


def test_dataset_messages(tmp_path: Path) -> None:
    spec = DatasetSpec(path="d.jsonl", references="answer")
    p = _file(tmp_path, '{"id": 1, "answer": "a"}\n' + BAD + "\n")
    msg = f"{p}:2: not valid JSON (Expecting ',' delimiter at column 10); {DATA_FIX}"
    with pytest.raises(InputError, match=_exact(msg)):
        load_dataset(p, spec)
    p = _file(tmp_path, "[1]\n")
    with pytest.raises(InputError, match=_exact(f"{p}:1: expected a JSON object, got list.")):
        load_dataset(p, spec)
    p = _file(tmp_path, LATIN1_CAFE)
    with pytest.raises(
        InputError, match=rf"^{p}:1: byte 11 \(0xe9, column 12\) is not valid UTF-8; "
    ):
        load_dataset(p, spec)


def test_predictions_messages(tmp_path: Path) -> None:
    p = _file(tmp_path, '{"id": "1", "prediction": "a"}\n\n' + BAD + "\n", "p.jsonl")
    msg = (
        f"{p}:3: not valid JSON (Expecting ',' delimiter); each line must be one JSON object "
        "with 'id' and 'prediction'."
    )
    with pytest.raises(InputError, match=_exact(msg)):
        PredictionsAdapter(str(p))
    p = _file(tmp_path, '["1", "a"]\n', "p.jsonl")
    with pytest.raises(InputError, match=_exact(f"{p}:1: expected a JSON object.")):
        PredictionsAdapter(str(p))
    p = _file(tmp_path, LATIN1_CAFE, "p.jsonl")
    with pytest.raises(
        InputError, match=rf"^{p}:1: byte 11 \(0xe9, column 12\) is not valid UTF-8; "
    ):
        PredictionsAdapter(str(p))


@pytest.mark.parametrize(
    ("load", "good"),
    [
        (Run.load, '{"query_id": "q1", "ranking": [["d1", 1.0]]}'),
        (Qrels.load, '{"query_id": "q1", "qrels": {"d1": 1}}'),
        (load_corpus, '{"id": "d1", "text": "a"}'),
    ],
    ids=["run", "qrels", "corpus"],
)
def test_retrieval_messages(tmp_path: Path, load: object, good: str) -> None:
    assert callable(load)
    p = _file(tmp_path, good + "\n" + BAD + "\n")
    msg = f"{p}:2: not valid JSON (Expecting ',' delimiter at column 10); {DATA_FIX}"
    with pytest.raises(InputError, match=_exact(msg)):
        load(p)
    p = _file(tmp_path, good + "\n" + "[1]\n", "o.jsonl")
    with pytest.raises(InputError, match=_exact(f"{p}:2: expected a JSON object, got list.")):
        load(p)
    # Before the one reader these raised a bare UnicodeDecodeError; now the message of every
    # other text file.
    p = _file(tmp_path, good.encode() + b"\n" + LATIN1_CAFE, "u.jsonl")
    with pytest.raises(
        InputError, match=rf"^{p}:2: byte \d+ \(0xe9, column 12\) is not valid UTF-8; "
    ):
        load(p)
    # A BOM (Windows editors write one) is no longer part of the first line.
    p = _file(tmp_path, codecs.BOM_UTF8 + good.encode() + b"\n", "b.jsonl")
    assert len(load(p)) == 1


def test_trec_and_tsv_files_are_utf8_checked_too(tmp_path: Path) -> None:
    p = _file(tmp_path, codecs.BOM_UTF8 + b"q1 0 d1 1\r\nq1 0 d2 0\r\n", "qrels.txt")
    assert Qrels.load(p).to_dict() == {"q1": {"d1": 1, "d2": 0}}
    p = _file(tmp_path, b"d1\tcaf\xe9\n", "corpus.tsv")
    with pytest.raises(
        InputError, match=r"corpus\.tsv:1: byte 6 \(0xe9, column 7\) is not valid UTF-8"
    ):
        load_corpus(p)


def test_run_record_messages_and_torn_line(tmp_path: Path) -> None:
    p = tmp_path / "samples.jsonl"
    append_samples(p, [{"task": "t", "id": "1"}, {"task": "t", "id": "2"}])
    with open(p, "ab") as fh:
        fh.write(b'{"task": "t", "id": "3", "predic')  # a run killed mid-append
    assert [s["id"] for s in iter_samples(p)] == ["1", "2"]
    assert p.read_bytes().endswith(b'"predic')  # reading alone leaves the file as it is
    assert [s["id"] for s in iter_samples(p, repair=True)] == ["1", "2"]
    assert p.read_bytes().endswith(b'"2"}\n')  # repaired: appends resume on a clean line
    p.write_text('{"task": "t", "id": "1"}\n' + BAD + "\n", encoding="utf-8")
    with pytest.raises(
        InputError, match=_exact(f"{p}:2: not valid JSON (Expecting ',' delimiter).")
    ):
        list(iter_samples(p))
    p.write_text('{"task": "t", "id": "1"}\n[1]\n', encoding="utf-8")
    with pytest.raises(InputError, match=_exact(f"{p}:2: expected a JSON object, got list.")):
        list(iter_samples(p))


def test_run_record_round_trips_awkward_text(tmp_path: Path) -> None:
    p = tmp_path / "samples.jsonl"
    lines = [{"id": "1", "prediction": "a\u2028b\rc\ud800"}, {"id": "2", "prediction": "é"}]
    append_samples(p, lines)
    back = list(iter_samples(p))
    assert back[0]["prediction"] == "a\u2028b\rc\ud800" and back[1] == lines[1]


# --------------------------------------------------------------------------- atomic writes


def test_write_atomic_streams_and_cleans_up(tmp_path: Path) -> None:
    p = tmp_path / "m.npy"
    matrix = np.arange(6, dtype=np.float32).reshape(2, 3)
    _io.write_atomic(p, lambda fh: np.save(fh, matrix, allow_pickle=False))
    assert np.array_equal(np.load(p), matrix)
    assert p.stat().st_mode & 0o777 == _io.file_mode()

    def fail(fh: object) -> None:
        raise RuntimeError("encoder died")

    with pytest.raises(RuntimeError, match="encoder died"):
        _io.write_atomic(p, fail)
    assert np.array_equal(np.load(p), matrix)  # the old file is intact
    assert os.listdir(tmp_path) == ["m.npy"]  # and no temporary file is left


def test_write_atomic_refuses_a_missing_folder_with_a_write_error(tmp_path: Path) -> None:
    with pytest.raises(_io.WriteError, match="cannot write"):
        _io.write_atomic(tmp_path / "no" / "x.bin", lambda fh: fh.write(b"x"))


# --------------------------------------------------------------------------- DatasetSpec


def test_dataset_spec_lives_with_its_loader() -> None:
    assert evalkit.suite.DatasetSpec is DatasetSpec
    assert DatasetSpec.__module__ == "evalkit.data.samples"
    tree = ast.parse(Path(evalkit.data.samples.__file__).read_text(encoding="utf-8"))
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    } | {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    assert "evalkit.suite" not in imported


def test_dataset_spec_is_strict_and_frozen() -> None:
    spec = DatasetSpec(path="d.jsonl")
    assert DatasetSpec.model_config.get("extra") == "forbid"
    with pytest.raises(ValidationError, match="frozen"):
        spec.path = "e.jsonl"
    text = (
        "name: s\ntasks:\n  - name: t\n    dataset: {path: d.jsonl, refrences: a}\n"
        "    metrics: [exact_match]\n"
    )
    with pytest.raises(ConfigError) as exc:
        parse_suite(text, Path("s.yaml"))
    assert str(exc.value) == (
        "s.yaml:4: tasks[0].dataset.refrences: unknown key 'refrences'. Did you mean "
        "'references'? "
        "Allowed keys: path, format, id, references, qrels, qrels_file, limit."
    )
