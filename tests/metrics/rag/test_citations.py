"""citation_accuracy: valid, unsupported and unknown citations; values; input errors."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from evalkit.errors import ConfigError, InputError
from evalkit.metrics.rag.citations import CitationAccuracy
from evalkit.registry import METRICS
from evalkit.stats import bootstrap_ci
from evalkit.types import Sample

CTX = [
    {"id": "d1", "text": "The Eiffel Tower is 330 metres tall."},
    {"id": "d2", "text": "The tower was completed in 1889."},
    {"id": "d3", "text": "Lyon is a city in France."},
    "A passage without an id.",
]


def sample(answer: str | None, citations: Any, contexts: Any = CTX) -> Sample:
    return Sample(
        "q",
        prediction=answer,
        outputs={"contexts": contexts, "citations": citations},
        where="run.jsonl:3",
    )


def test_values_by_hand() -> None:
    m = METRICS.get("citation_accuracy")()
    answer = "The Eiffel Tower is 330 metres tall. The tower was completed in 1889."
    samples = [
        sample(answer, ["d1", "d2"]),  # 2 valid, both claims backed
        sample(answer, ["d1", "d1", "d3"]),  # d1 once; d3 supports nothing; claim 2 unbacked
        sample(answer, ["d7"]),  # not retrieved
        sample(answer, []),  # cites nothing: 2 claims unbacked, no citation to judge
        sample("", ["d1"]),  # empty: left out
    ]
    stats = m.sample_stats(samples)
    assert [s["invalid"] for s in stats] == [
        [],
        [["d3", "unsupported"]],
        [["d7", "not_retrieved"]],
        [],
        [["d1", "unsupported"]],
    ]
    assert [(s["citations"], s["valid"], s["cited_claims"]) for s in stats] == [
        (2, 2, 2), (2, 1, 1), (1, 0, 0), (0, 0, 0), (1, 0, 0)
    ]  # fmt: skip
    values = m.aggregate(stats)
    assert values["citation_precision"] == pytest.approx(3 / 5)
    assert values["citation_recall"] == pytest.approx(3 / 8)
    assert values["citations_per_answer"] == pytest.approx(5 / 4)
    assert json.loads(json.dumps(stats)) == stats
    per = m.per_sample_values(stats)["citation_precision"]
    assert per[:3] == pytest.approx([1.0, 0.5, 0.0]) and math.isnan(per[3])
    warnings = m.sample_warnings(samples)
    assert warnings[0] is None and warnings[1] is None and warnings[3] is None
    assert warnings[2] == (
        "cites 'd7', which is not among the retrieved passages (retrieved: d1, d2, d3)"
    )
    assert "empty answer" in (warnings[4] or "")


def test_claim_with_a_wrong_number_does_not_validate_its_citation() -> None:
    stat = CitationAccuracy().sample_stats([sample("The tower is 300 metres tall.", ["d1"])])[0]
    assert stat["invalid"] == [["d1", "unsupported"]]


def test_threshold_and_fields() -> None:
    s = Sample(
        "q",
        prediction="The Eiffel Tower is 330 metres tall and blue.",
        inputs={"docs": CTX},
        outputs={"refs": ["d1"]},
    )
    loose = CitationAccuracy(contexts_field="docs", citations_field="refs")
    strict = CitationAccuracy(contexts_field="docs", citations_field="refs", threshold=0.9)
    assert loose.sample_stats([s])[0]["valid"] == 1
    assert strict.sample_stats([s])[0]["valid"] == 0
    assert loose.signature() != strict.signature()


@pytest.mark.parametrize(
    ("citations", "needle"),
    [
        ("d1", "field 'citations' is str"),
        ([1], "field 'citations': item 0 is int"),
        ([None], "field 'citations': item 0 is NoneType"),
    ],
)
def test_bad_citations(citations: Any, needle: str) -> None:
    with pytest.raises(InputError, match=r"run\.jsonl:3: " + needle):
        CitationAccuracy().sample_stats([sample("An answer.", citations)])


def test_bad_contexts_and_missing_citations() -> None:
    with pytest.raises(InputError, match=r"run\.jsonl:3: field 'contexts': item 0 is int"):
        CitationAccuracy().sample_stats([sample("An answer.", ["d1"], contexts=[5])])
    no_cites = Sample("q", prediction="x", outputs={"contexts": []}, where="r.jsonl:1")
    with pytest.raises(InputError, match="field 'citations' is missing"):
        CitationAccuracy().sample_stats([no_cites])


def test_bad_parameter() -> None:
    with pytest.raises(ConfigError, match="citation_accuracy: threshold must be"):
        CitationAccuracy(threshold=1.5)


def test_bootstrap() -> None:
    m = CitationAccuracy()
    answer = "The Eiffel Tower is 330 metres tall."
    stats = m.sample_stats([sample(answer, ["d1"] if i % 3 else ["d3"]) for i in range(30)])
    point = m.aggregate(stats)["citation_precision"]
    low, high = bootstrap_ci(m, stats, resamples=200, rng=np.random.default_rng(0))[
        "citation_precision"
    ]
    assert point == pytest.approx(2 / 3) and low <= point <= high
