"""unsupported_facts: what counts as a fact, support rules, values and input errors."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from evalkit.errors import InputError
from evalkit.metrics.rag.facts import UnsupportedFacts, answer_facts, unsupported_items
from evalkit.registry import METRICS
from evalkit.stats import approximate_randomization, bootstrap_ci
from evalkit.types import Sample


def sample(answer: str | None, contexts: Any) -> Sample:
    return Sample("q", prediction=answer, outputs={"contexts": contexts}, where="p.jsonl:9")


@pytest.mark.parametrize(
    ("answer", "facts"),
    [
        ("It rose 12.5% to 1,200,000 units in 2021.",
         {"dates": [], "numbers": ["12.5%", "1,200,000", "2021"], "names": []}),
        ("Released 2021-03-03, on 3 March 2021 and March 3rd, 2021; updated in May 2022.",
         {"dates": ["2021-03-03", "3 March 2021", "March 3rd, 2021", "May 2022"],
          "numbers": [], "names": []}),
        # sentence-initial single words are not names unless seen capitalised mid-sentence
        ("Paris is big. Ask Marie Curie. Later I met the Louvre staff on Monday.",
         {"dates": [], "numbers": [], "names": ["Marie Curie", "Louvre"]}),
        ("Paris is big. I love Paris.", {"dates": [], "numbers": [], "names": ["Paris"]}),
        ("New York is big. The Python Software Foundation agrees. However NASA disagrees.",
         {"dates": [], "numbers": [], "names": ["York", "Python Software Foundation", "NASA"]}),
        ("Visit New York. New York is big.", {"dates": [], "numbers": [], "names": ["New York"]}),
        ("Use v1.2.3 or 3.14 now.", {"dates": [], "numbers": ["3.14"], "names": []}),
    ],
)  # fmt: skip
def test_answer_facts(answer: str, facts: dict[str, list[str]]) -> None:
    assert answer_facts(answer) == facts


def test_support_rules() -> None:
    ctx = "On 2021-03-03 the Python Software Foundation sold 1200000 units, 12.50 percent more."
    n, missing = unsupported_items(
        "On March 3, 2021 the python software foundation sold 1,200,000 units (12.5%). "
        "In March 2021 Guido van Rossum said so; 13% more came on 4 March 2021.",
        ctx,
    )
    assert n == 7
    assert missing == ["4 March 2021", "13%", "Guido van Rossum"]
    # a year is a number: supported by the digits of an ISO date in the context
    assert unsupported_items("It happened in 2021.", ctx) == (1, [])
    # a month-year date is supported by any date of that month, not of another
    assert unsupported_items("It happened in April 2021.", ctx) == (1, ["April 2021"])


def test_values_by_hand_and_empty_answers() -> None:
    m = METRICS.get("unsupported_facts")()
    ctx = ["The bridge opened in 1937 and is 2,737 metres long."]
    samples = [
        sample("It opened in 1937.", ctx),  # 1 fact, supported
        sample("It opened in 1938 and is 2737 metres long.", ctx),  # 1938 unsupported
        sample("It was built by Joseph Strauss in 1933.", ctx),  # 2 unsupported
        sample("It is long.", ctx),  # no facts
        sample("", ctx),  # empty: left out
    ]
    stats = m.sample_stats(samples)
    assert [s["unsupported"] for s in stats] == [[], ["1938"], ["1933", "Joseph Strauss"], [], []]
    assert m.aggregate(stats) == {
        "unsupported_rate": 0.5,
        "unsupported_per_answer": 0.75,
        "facts_per_answer": 1.25,  # (1 + 2 + 2 + 0) / 4
    }
    assert json.loads(json.dumps(stats)) == stats
    warnings = m.sample_warnings(samples)
    assert warnings[:4] == [None] * 4 and "empty answer" in (warnings[4] or "")
    assert math.isnan(m.aggregate(stats[4:])["unsupported_rate"])
    assert not m.higher_is_better and "references" not in m.requires


def test_no_context_makes_every_fact_unsupported() -> None:
    stat = UnsupportedFacts().sample_stats([sample("Ada Lovelace was born in 1815.", [])])[0]
    # "Ada" starts the sentence and is capitalised nowhere else: only "Lovelace" is a name
    assert stat["unsupported"] == ["1815", "Lovelace"]


def test_intervals_and_paired_test() -> None:
    m = UnsupportedFacts()
    ctx = ["It has 10 rooms."]
    a = m.sample_stats([sample("It has 10 rooms.", ctx) for _ in range(30)])
    b = m.sample_stats([sample(f"It has {11 + i} rooms.", ctx) for i in range(30)])
    assert m.aggregate(b)["unsupported_rate"] == 1.0
    ci = bootstrap_ci(m, a + b, resamples=200, rng=np.random.default_rng(0))
    low, high = ci["unsupported_rate"]
    assert low <= 0.5 <= high
    assert approximate_randomization(m, a, b, trials=100, seed=0)["unsupported_rate"] < 0.05


def test_bad_contexts() -> None:
    with pytest.raises(InputError, match=r"p\.jsonl:9: field 'contexts' is dict"):
        UnsupportedFacts().sample_stats([sample("In 1999.", {"a": "b"})])
