"""Retrieved contexts and citations read from a RAG sample: shapes accepted and refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evalkit.adapters.predictions import PredictionsAdapter
from evalkit.errors import InputError
from evalkit.metrics.rag._contexts import Passage, sample_citations, sample_contexts
from evalkit.types import GenerateRequest, Sample


def _sample(contexts: Any, where: str = "data.jsonl:7") -> Sample:
    return Sample("q1", outputs={"contexts": contexts}, where=where)


def test_strings_objects_and_doc_id_in_rank_order() -> None:
    s = _sample(
        [
            "bare passage",
            {"id": "d2", "text": "second", "score": 0.3, "title": "ignored"},
            {"doc_id": "d3", "text": "third"},
        ]
    )
    assert sample_contexts(s) == [
        Passage(None, "bare passage", 1),
        Passage("d2", "second", 2),
        Passage("d3", "third", 3),
    ]


def test_outputs_first_then_dataset_field() -> None:
    both = Sample(
        "q",
        inputs={"contexts": ["from the dataset"]},
        outputs={"contexts": ["from the model"]},
    )
    assert [p.text for p in sample_contexts(both)] == ["from the model"]
    only_data = Sample("q", inputs={"passages": [{"id": "a", "text": "x"}]})
    assert sample_contexts(only_data, field="passages") == [Passage("a", "x", 1)]


def test_empty_list_is_no_context() -> None:
    assert sample_contexts(_sample([])) == []
    assert sample_citations(Sample("q", outputs={"citations": []})) == []


@pytest.mark.parametrize(
    ("contexts", "needle"),
    [
        ("one passage", "field 'contexts' is str 'one passage'"),
        ({"id": "d1", "text": "x"}, "field 'contexts' is dict"),
        (["ok", 3], "item 1 is int 3"),
        ([{"id": "d1"}], "item 0 has no 'text' (keys: id)"),
        ([{"id": "d1", "text": None}], "item 0: 'text' is NoneType None"),
        ([{"id": 5, "text": "x"}], "item 0: 'id' is int 5; passage ids must be strings"),
        (
            [{"id": "d1", "text": "x"}, {"id": "d1", "text": "y"}],
            "items 0 and 1 share the id 'd1'",
        ),
    ],
)
def test_bad_shapes_name_the_place_item_and_fix(contexts: Any, needle: str) -> None:
    with pytest.raises(InputError) as info:
        sample_contexts(_sample(contexts))
    message = str(info.value)
    assert message.startswith("data.jsonl:7: field 'contexts'")
    assert needle in message
    if "share" not in needle and "'id'" not in needle:
        assert 'strings or {"id", "text"} objects' in message


def test_missing_field_lists_what_is_there() -> None:
    s = Sample("q9", inputs={"question": "?"}, outputs={"docs": []})
    with pytest.raises(InputError) as info:
        sample_contexts(s)
    message = str(info.value)
    assert message.startswith("sample 'q9': field 'contexts' is missing")
    assert "outputs here: docs" in message and "dataset fields: question" in message


def test_citations_checked() -> None:
    s = Sample("q", outputs={"citations": ["d3", "d3", "d1"]})
    assert sample_citations(s) == ["d3", "d3", "d1"]
    with pytest.raises(InputError, match=r"p.jsonl:2: field 'citations': item 1 is int 4"):
        sample_citations(Sample("q", outputs={"citations": ["d1", 4]}, where="p.jsonl:2"))
    with pytest.raises(InputError, match="field 'refs' is missing"):
        sample_citations(Sample("q", outputs={}), field="refs")


def test_a_predictions_file_row_reaches_the_sample_outputs(tmp_path: Path) -> None:
    """The shape RAG pipelines log, through the real predictions adapter."""
    row = {
        "id": "q1",
        "prediction": "Paris [d3].",
        "outputs": {"contexts": [{"id": "d3", "text": "Paris is in France."}], "citations": ["d3"]},
    }
    path = tmp_path / "preds.jsonl"
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    adapter = PredictionsAdapter(str(path))
    (gen,) = adapter.generate([GenerateRequest(prompt="?", task="t", sample_id="q1")])
    sample = Sample("q1", prediction=gen.text, outputs=gen.outputs)
    assert sample_contexts(sample) == [Passage("d3", "Paris is in France.", 1)]
    assert sample_citations(sample) == ["d3"]
