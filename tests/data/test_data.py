"""Dataset loading: formats, field mapping, limit, hash, and bad input named by line."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import Any

import pytest

from evalkit.data.samples import load_dataset
from evalkit.errors import InputError
from evalkit.suite import DatasetSpec
from tests.conftest import write_jsonl

ROWS: list[dict[str, Any]] = [
    {"id": "a", "question": "q1", "answer": "x"},
    {"id": "b", "question": "q2", "answer": ["y", "z"]},
    {"id": "c", "question": "q3", "answer": "w"},
]


def test_jsonl_mapping_limit_and_hash(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "d.jsonl", ROWS)
    ds = load_dataset(p, DatasetSpec(path="d.jsonl", id="id", references="answer"), "{question}")
    assert [s.id for s in ds.samples] == ["a", "b", "c"]
    assert ds.samples[1].references == ("y", "z")
    assert ds.sha256 == hashlib.sha256(p.read_bytes()).hexdigest()
    limited = load_dataset(p, DatasetSpec(path="d.jsonl", references="answer", limit=5), limit=2)
    assert len(limited.samples) == 2


def test_csv_and_parquet(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with open(tmp_path / "d.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["id", "question", "answer"])
        w.writeheader()
        w.writerow({"id": "a", "question": "q, with comma", "answer": "x"})
    ds = load_dataset(tmp_path / "d.csv", DatasetSpec(path="d.csv", references="answer"))
    assert ds.samples[0].inputs["question"] == "q, with comma"
    pq.write_table(pa.Table.from_pylist([*ROWS[:1], dict(ROWS[2])]), tmp_path / "d.parquet")
    ds = load_dataset(tmp_path / "d.parquet", DatasetSpec(path="d.parquet", references="answer"))
    assert [s.references for s in ds.samples] == [("x",), ("w",)]


def test_bad_json_line_is_named(tmp_path: Path) -> None:
    p = tmp_path / "d.jsonl"
    p.write_text('{"id": "a", "answer": "x"}\n{"id": "b", "answer": \n')
    with pytest.raises(InputError, match=r"d\.jsonl:2: not valid JSON"):
        load_dataset(p, DatasetSpec(path="d.jsonl", references="answer"))


def test_missing_reference_field(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "d.jsonl", [{"id": "a", "summary": "x"}, {"id": "b"}])
    with pytest.raises(InputError) as err:
        load_dataset(p, DatasetSpec(path="d.jsonl", references="summary"))
    assert "d.jsonl:2: field 'summary' is missing; the task maps references to 'summary'" in str(
        err.value
    )


def test_missing_prompt_field(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "d.jsonl", [{"id": "a", "answer": "x"}])
    with pytest.raises(InputError, match=r"field 'question' is missing; the prompt template"):
        load_dataset(p, DatasetSpec(path="d.jsonl", references="answer"), "Q: {question}")


@pytest.mark.parametrize("refs", ["", "   ", []])
def test_empty_references(tmp_path: Path, refs: object) -> None:
    p = write_jsonl(tmp_path / "d.jsonl", [{"id": "a", "answer": refs}])
    with pytest.raises(InputError, match="no reference text"):
        load_dataset(p, DatasetSpec(path="d.jsonl", references="answer"))


@pytest.mark.parametrize("refs", [3, {"a": 1}, ["ok", 2]])
def test_wrong_reference_type(tmp_path: Path, refs: object) -> None:
    p = write_jsonl(tmp_path / "d.jsonl", [{"id": "a", "answer": refs}])
    with pytest.raises(InputError, match=r"d\.jsonl:1: field 'answer' must be a string or a list"):
        load_dataset(p, DatasetSpec(path="d.jsonl", references="answer"))


def test_wrong_id_type(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "d.jsonl", [{"id": [1], "answer": "x"}])
    with pytest.raises(InputError, match="id must be a string or an integer"):
        load_dataset(p, DatasetSpec(path="d.jsonl", id="id", references="answer"))


def test_duplicate_ids(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "d.jsonl", [{"id": 1, "answer": "x"}, {"id": "1", "answer": "y"}])
    with pytest.raises(InputError, match=r"d\.jsonl:2: duplicate id '1' \(first at .*d\.jsonl:1\)"):
        load_dataset(p, DatasetSpec(path="d.jsonl", id="id", references="answer"))


def test_missing_file_and_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="dataset file not found"):
        load_dataset(tmp_path / "x.jsonl", DatasetSpec(path="x.jsonl"))
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(InputError, match="cannot tell the format"):
        load_dataset(tmp_path / "x.txt", DatasetSpec(path="x.txt"))


def test_not_an_object_line(tmp_path: Path) -> None:
    p = tmp_path / "d.jsonl"
    p.write_text('["a", "b"]\n')
    with pytest.raises(InputError, match=r"d\.jsonl:1: expected a JSON object"):
        load_dataset(p, DatasetSpec(path="d.jsonl"))
