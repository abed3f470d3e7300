"""Example inputs and parameters for every registered metric, by family.

tests/metrics/test_metric_contract.py checks the generic metric contract on these. Each family
function takes a metric name and a scratch folder and returns :class:`Examples`: realistic
samples with
the fields the metric requires, valid non-default parameter sets and bad parameter sets. A
registered metric without an entry in :data:`FAMILIES` fails the contract, so a new metric (or
family) must add its examples here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from evalkit._validate import as_samples
from evalkit.types import Sample

ROOT = Path(__file__).resolve().parents[1]

#: The local evaluate module of the hf_evaluate bridge's tests (no network needed).
HF_MODULE = ROOT / "tests" / "fixtures" / "evaluate_modules" / "token_recall"
HF_EVALUATE = f"hf_evaluate:{HF_MODULE}"


@dataclass(frozen=True)
class Examples:
    """What the contract needs to exercise one metric.

    Attributes:
        samples: Realistic samples carrying every field the metric requires.
        params: Valid non-default parameter sets; each builds and scores ``samples``.
        bad: Parameter sets that must fail with a ConfigError naming the metric.
        base: Parameters every scoring build needs with these samples (an image reference).
        untracked: Parameters that do not change the number (batch size, device), so they stay
            out of the signature; every other non-default parameter must change it.
        batch_tol: Absolute tolerance between statistics of different batchings (0: exact;
            batched float32 encoders move by ~1e-7).
        rel: Relative tolerance of values aggregated from reordered statistics.
        nan_values: Value names that may be NaN on these samples.
        order_dependent: Value names that may depend on the order of the statistics (a
            Monte Carlo p-value seeded over positions); the rest must not.
        corpus_per_sample: Parameter sets under which a sample's own value is computed in the
            context of all statistics (BERTScore's idf), not from its statistic alone.
    """

    samples: list[Sample]
    params: list[dict[str, Any]]
    bad: list[dict[str, Any]]
    base: dict[str, Any] = field(default_factory=dict)
    untracked: frozenset[str] = frozenset()
    batch_tol: float = 0.0
    rel: float = 1e-12
    nan_values: frozenset[str] = frozenset()
    order_dependent: frozenset[str] = frozenset()
    corpus_per_sample: list[dict[str, Any]] = field(default_factory=list)


Family = Callable[[str, Path], Examples]

# ------------------------------------------------------------------------------ text and QA

#: One to three references per prediction and a few awkward inputs (empty, accents, repeats).
PREDICTIONS = [
    "The cat sat on the mat.",
    "A quick brown fox jumps over the lazy dog",
    "Paris is the capital of France.",
    "",
    "Zürich, café — naïve?",
    "the the the the",
    "It was 3.14 percent (roughly).",
    "Tokyo",
]
REFERENCES = [
    ["The cat is on the mat.", "There is a cat on the mat."],
    ["The quick brown fox jumped over the lazy dog."],
    ["The capital of France is Paris.", "Paris", "paris is France's capital"],
    ["Nothing was predicted here."],
    ["Zurich, cafe - naive?"],
    ["the cat"],
    ["It was about 3.14 percent.", "Roughly 3.14 percent."],
    ["Tokyo", "Tōkyō"],
]

TEXT_PARAMS: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {
    "meteor": (
        [{"alpha": 0.81, "beta": 0.83, "gamma": 0.28, "tokenize": "whitespace"}],
        [{"alpha": 1.5}, {"beta": -1.0}, {"gamma": "0.5"}, {"alpha": True}, {"tokenize": "13a"}],
    ),
    "bertscore": (
        [{"num_layers": 4}, {"idf": True}, {"batch_size": 3, "num_threads": 1}],
        [
            {"num_layers": 7},
            {"num_layers": "5"},
            {"idf": "yes"},
            {"batch_size": 0},
            {"device": "tpu"},
            {"rescale_with_baseline": True},
            {"baseline_path": "baseline.tsv"},
        ],
    ),
    "bleu": (
        [{"tokenize": "intl", "smooth_method": "floor", "lowercase": True}, {"max_ngram_order": 2}],
        [
            {"tokenize": "13b"},
            {"tokenize": 13},
            {"smooth_method": "laplace"},
            {"smooth_value": "0.1", "smooth_method": "floor"},
            {"max_ngram_order": 0},
            {"effective_order": "yes"},
        ],
    ),
    "chrf": (
        [{"word_order": 2, "beta": 1}, {"char_order": 3, "lowercase": True}],
        [{"char_order": -1}, {"beta": "2"}, {"whitespace": 1}, {"char_order": 0}],
    ),
    "ter": (
        [{"normalized": True, "case_sensitive": True}, {"no_punct": True}],
        [{"normalized": "no"}, {"no_punct": None}],
    ),
    "rouge": (
        [{"use_stemmer": True, "multi_ref": "mean"}, {"rouge_types": ["rouge1", "rougeL"]}],
        [
            {"tokenizer": "icu"},
            {"tokenizer": True},
            {"rouge_types": ["rouge0"]},
            {"rouge_types": ["rougeX"]},
            {"rouge_types": "rouge1"},
            {"rouge_types": []},
            {"rouge_types": ["rouge1", "rouge1"]},
            {"multi_ref": "max"},
            {"use_stemmer": "true"},
        ],
    ),
    "exact_match": ([{"normalize": "none"}], [{"normalize": "lower"}, {"normalize": True}]),
    "token_f1": ([{"normalize": "none"}], [{"normalize": "lower"}, {"normalize": None}]),
}


def text_examples(name: str, workdir: Path) -> Examples:
    """Text and QA metrics: predictions against one to three references each."""
    params, bad = TEXT_PARAMS[name]
    untracked = frozenset({"batch_size", "device", "num_threads"}) if name == "bertscore" else None
    return Examples(
        samples=as_samples(name, PREDICTIONS, REFERENCES),
        params=params,
        bad=bad,
        untracked=untracked or frozenset(),
        corpus_per_sample=[{"idf": True}] if name == "bertscore" else [],
    )


# ------------------------------------------------------------------------------ language model


def lm_examples(name: str, workdir: Path) -> Examples:
    """Perplexity: rolling log-likelihood outputs (summed NLL, token count) of scored texts."""
    texts = [
        ("The cat sat on the mat.", 21.5, 7),
        ("Zürich, café — naïve?", 30.25, 9),
        ("x", 4.0, 1),
        ("def f(x):\n    return x", 12.0, 8),
        (" ".join(["word"] * 50), 80.0, 51),
        ("A second sentence, scored as well.", 18.0, 8),
    ]
    samples = [
        Sample(id=f"t{i}", prompt=text, outputs={"nll": nll, "n_tokens": n})
        for i, (text, nll, n) in enumerate(texts)
    ]
    return Examples(
        samples=samples,
        params=[{"max_length": 64, "stride": 32}, {"max_length": 128}],
        bad=[
            {"max_length": 0},
            {"max_length": "64"},
            {"stride": True},
            {"max_length": 4, "stride": 8},
        ],
    )


# ------------------------------------------------------------------------------ retrieval

# Ties across relevant and unjudged documents, an empty ranking (q3), a query without relevant
# documents (q4), a negative grade, a query missing from the run (q6), an unjudged top document.
QRELS: dict[str, dict[str, int]] = {
    "q1": {"a": 2, "b": 1, "c": 0},
    "q2": {"d": 1},
    "q3": {"e": 3, "f": -1},
    "q4": {"g": 0},
    "q5": {"h": 1, "i": 2, "j": 1},
    "q6": {"k": 1},
    "q7": {"m": 2, "n": 2},
}
RUN: dict[str, list[list[Any]]] = {
    "q1": [["a", 0.3], ["x", 0.9], ["b", 0.3], ["c", 0.1]],
    "q2": [["y", 1.0], ["d", 0.5]],
    "q3": [],
    "q4": [["g", 1.0]],
    "q5": [["i", 2.0], ["h", 1.0], ["z", 0.5], ["j", 0.25]],
    "q7": [["n", 5], ["w", 4], ["m", 3]],
}


def ranking_samples(
    qrels: dict[str, dict[str, int]] = QRELS, run: dict[str, Any] = RUN
) -> list[Sample]:
    """Samples as the runner builds them from judgments and a run (missing queries flagged)."""
    return [
        Sample(
            id=q,
            inputs={"qrels": grades},
            outputs={"ranking": run[q]} if q in run else {"ranking": [], "missing": True},
        )
        for q, grades in qrels.items()
    ]


#: Bad parameter sets shared by the ranking metrics.
_COMMON_BAD: list[dict[str, Any]] = [{"missing": "drop"}, {"no_relevant": "nan"}, {"missing": None}]
_K_BAD: list[dict[str, Any]] = [{"k": 0}, {"k": [5, 5]}, {"k": "10"}, {"k": []}, {"k": True}]
_LEVEL_BAD: list[dict[str, Any]] = [{"relevance_level": "2"}, {"relevance_level": 1.5}]

RANKING_PARAMS: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {
    "precision": ([{"k": [1, 5], "relevance_level": 2}], _COMMON_BAD + _K_BAD + _LEVEL_BAD),
    "recall": ([{"k": [3, None], "missing": "skip"}], _COMMON_BAD + _K_BAD + _LEVEL_BAD),
    "hit_rate": ([{"k": 1, "no_relevant": "skip"}], _COMMON_BAD + _K_BAD + _LEVEL_BAD),
    "mrr": ([{"k": [10], "relevance_level": 2}], _COMMON_BAD + _K_BAD + _LEVEL_BAD),
    "ndcg": (
        [{"k": [3, 10, None], "gain": "exponential"}],
        [*_COMMON_BAD, *_K_BAD, {"gain": "log"}, {"gain": None}, {"relevance_level": 1}],
    ),
    "map": ([{"k": [2], "missing": "skip", "no_relevant": "skip"}], _COMMON_BAD + _K_BAD),
    "r_precision": ([{"relevance_level": 2}], [*_COMMON_BAD, *_LEVEL_BAD, {"k": 10}]),
}


def retrieval_examples(name: str, workdir: Path) -> Examples:
    """Ranking metrics: a run's rankings against graded relevance judgments."""
    params, bad = RANKING_PARAMS[name]
    return Examples(samples=ranking_samples(), params=params, bad=bad, rel=1e-14)


# ------------------------------------------------------------------------------ image


def image_examples(name: str, workdir: Path) -> Examples:
    """Image metrics: generated digits (PNG bytes) against a reference set of 300 digits.

    Each sample also carries precomputed features of its image (``outputs["features"]``, what
    the ``features:`` adapter returns), which ``extractor: precomputed`` scores against the
    reference digits' features.
    """
    from evalkit.assets.image_features import digits_data
    from evalkit.data.images import encode_png
    from tests._image_helpers import row_features

    images, _, _, held = digits_data()
    ref = workdir / "reference.npz"
    gen_features, ref_features = workdir / "gen_features.npy", workdir / "ref_features.npz"
    if not ref.exists():
        np.savez(ref, images=images[held[300:]])
        np.save(gen_features, row_features(images[held[:60]]).astype(np.float32))
        np.savez(ref_features, features=row_features(images[held[300:]]).astype(np.float32))
    samples = [
        Sample(
            id=str(i),
            outputs={"image": encode_png(images[j]), "features": f"{gen_features}#{i}"},
        )
        for i, j in enumerate(held[:60])
    ]
    precomputed = {"extractor": "precomputed", "reference": str(ref_features)}
    table: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {
        "fid": (
            [{"extractor": "python:tests._image_helpers:row_features"}, precomputed],
            [
                {"extractor": 3},
                {"reference": 1},
                {"weights": 2},
                {"reference": "no/such.npz"},
                {"extractor": "precomputed", "weights": "w.pth"},
            ],
        ),
        "kid": (
            [{"subsets": 7, "subset_size": 30, "seed": 3}, {**precomputed, "subsets": 5}],
            [{"subsets": 0}, {"subset_size": 1}, {"seed": "1"}, {"subsets": True}],
        ),
        "inception_score": (
            [{"splits": 4}],
            [{"splits": 0}, {"splits": 2.5}, {"reference": "x.npz"}, {"extractor": "precomputed"}],
        ),
    }
    params, bad = table[name]
    base = {} if name == "inception_score" else {"reference": str(ref)}
    return Examples(samples=samples, params=params, bad=bad, base=base, batch_tol=1e-9, rel=1e-6)


# ------------------------------------------------------------------------------ diversity

DIVERSITY_PARAMS: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {
    "distinct_n": (
        [{"n": 1, "tokenize": "13a"}, {"lowercase": True}, {"n": [3, 1]}],
        [{"n": 0}, {"tokenize": "spacy"}, {"lowercase": "yes"}, {"n": []}, {"n": [1, 1]}],
    ),
    "ngram_entropy": (
        [{"n": 3}, {"tokenize": "13a"}, {"n": [1, 2, 4]}],
        [{"n": "2"}, {"n": 0}, {"n": [2, 11]}],
    ),
    "repetition": (
        [{"n": 2, "lowercase": True}, {"n": [1, 4]}],
        [{"lowercase": "yes"}, {"n": -1}, {"n": [1, "2"]}],
    ),
    "self_bleu": (
        [{"sample_size": 2, "seed": 3}, {"max_ngram_order": 2, "smooth_method": "floor"}],
        [{"sample_size": 1}, {"tokenize": "13b"}, {"smooth_method": "laplace"}],
    ),
    "embedding_diversity": ([{"batch_size": 2}], [{"batch_size": 0}, {"model": 3}]),
}


def diversity_examples(name: str, workdir: Path) -> Examples:
    """Diversity metrics: several sampled outputs per prompt (or the prediction alone)."""
    samples = [
        Sample(id="1", prediction="a b c", outputs={"samples": ["a b c", "a b d", "e f"]}),
        Sample(id="2", prediction="the cat sat on the mat"),
        Sample(id="3", prediction="q r s t", outputs={"samples": ["q r s t", "q r s t"]}),
        Sample(
            id="4",
            prediction="The Dog barked. The dog barked again.",
            outputs={"samples": ["The Dog barked. The dog barked again.", "A bird sang at dawn."]},
        ),
    ]
    params, bad = DIVERSITY_PARAMS[name]
    embedding = name == "embedding_diversity"
    return Examples(
        samples=samples,
        params=params,
        bad=bad,
        untracked=frozenset({"batch_size"}) if embedding else frozenset(),
        batch_tol=1e-5 if embedding else 0.0,
        rel=1e-6 if embedding else 1e-9,
    )


# ------------------------------------------------------------------------------ bias


def bias_examples(name: str, workdir: Path) -> Examples:
    """Bias probes: counterfactual variants, paired log-likelihoods, embeddings, groups."""
    if name == "counterfactual_gap":
        pairs = [("Yes", "no"), ("yes", "yes"), ("no", "Yes!"), ("Yes.", "No."), ("no", "no")]
        return Examples(
            samples=[
                Sample(id=str(i), prediction=a, outputs={"variants": [b]})
                for i, (a, b) in enumerate(pairs)
            ],
            params=[{"positive_label": "no"}, {"seed": 4, "tolerance": 0.5}],
            bad=[
                {"tolerance": -1},
                {"scorer": "no_such_metric"},
                {"scorer": "perplexity"},
                {"seed": "0"},
            ],
            rel=1e-9,
        )
    if name in ("counterfactual_ll_gap", "stereotype_preference"):
        pairs_ll = [(1.0, 2.0), (3.0, 2.5), (2.0, 2.0), (4.0, 6.5), (5.0, 4.0)]
        samples = [
            Sample(
                id=str(i),
                prompt=f"sentence {i}",
                outputs={"nll": a, "n_tokens": 3 + i, "variants": [{"nll": b, "n_tokens": 4}]},
            )
            for i, (a, b) in enumerate(pairs_ll)
        ]
        if name == "counterfactual_ll_gap":
            return Examples(
                samples=samples,
                params=[{"length_normalize": True}, {"tolerance": 0.6, "seed": 2}],
                bad=[{"length_normalize": 1}, {"tolerance": -0.5}],
                rel=1e-9,
            )
        return Examples(
            samples=samples,
            params=[{"tie_tolerance": 0.6}],
            bad=[{"tie_tolerance": -0.1}, {"length_normalize": "no"}],
            rel=1e-9,
        )
    if name == "weat":
        rng = np.random.default_rng(0)
        return Examples(
            samples=[
                Sample(
                    id=f"{k}{i}",
                    inputs={"set": k, "concept": k},
                    outputs={"embedding": [float(x) for x in rng.normal(size=4)]},
                )
                for k in "XYAB"
                for i in range(3)
            ],
            params=[{"permutations": 50, "exact_limit": 10, "seed": 2}, {"set_field": "concept"}],
            bad=[{"permutations": 0}, {"seed": 1.5}],
            rel=1e-9,
            # Sampled partitions (more than exact_limit) are drawn over sample positions.
            order_dependent=frozenset({"weat_p_value"}),
        )
    if name == "group_fairness":
        rows = [
            ("a", "yes", "yes"),
            ("a", "no", "yes"),
            ("a", "yes", "yes"),
            ("b", "yes", "no"),
            ("b", "no", "no"),
            ("b", "yes", "yes"),
        ]
        return Examples(
            samples=[
                Sample(
                    id=str(i),
                    inputs={"group": g, "cohort": str(i % 2)},
                    prediction=p,
                    references=(r,),
                )
                for i, (g, p, r) in enumerate(rows)
            ],
            params=[{"positive_label": "no"}, {"group_field": "cohort"}],
            bad=[{"positive_label": "!!"}, {"group_field": 3}],
            rel=1e-9,
        )
    raise KeyError(name)


# ------------------------------------------------------------------------------ choice


def choice_examples(name: str, workdir: Path) -> Examples:
    """Multiple choice: per-choice log-likelihoods, choices and gold (index or text)."""
    items = [
        (["no", "yes sir"], 1, [-4.0, -6.0]),
        (["café", "cafe au lait"], "café", [-5.0, -9.0]),
        (["a", "b", "c"], 2, [-1.0, -1.0, -0.5]),
        (["red", "green"], 0, [-2.0, -2.0]),
        (["été", "summer"], 0, [-4.1, -5.5]),
    ]
    samples = [
        Sample(
            id=str(i),
            inputs={"choices": c, "gold": g, "options": c, "answer": g},
            outputs={"choices": [{"logprob": x, "is_greedy": False, "n_tokens": 1} for x in ll]},
        )
        for i, (c, g, ll) in enumerate(items)
    ]
    return Examples(
        samples=samples,
        params=[
            {"length": "bytes"},
            {"choices_field": "options", "gold_field": "answer"},
            {"target_delimiter": ""},
        ],
        bad=[{"length": "tokens"}, {"choices_field": ""}, {"target_delimiter": 1}],
        rel=1e-9,
    )


def choice_calibration_examples(name: str, workdir: Path) -> Examples:
    """The multiple-choice items of :func:`choice_examples`, binned."""
    ex = choice_examples("choice_accuracy", workdir)
    return Examples(
        samples=ex.samples,
        params=[
            {"answer": "norm", "n_bins": 3},
            {"choices_field": "options", "gold_field": "answer", "binning": "equal_mass"},
            {"norm": "max", "edge": "lower"},
        ],
        bad=[{"answer": "tokens"}, {"n_bins": 0}, {"choices_field": ""}],
        rel=1e-9,
    )


# ------------------------------------------------------------------------------ hf_evaluate


def hf_evaluate_examples(name: str, workdir: Path) -> Examples:
    """The evaluate bridge, on the local token_recall module (never the Hub)."""
    return Examples(
        samples=as_samples(name, PREDICTIONS, REFERENCES),
        params=[
            {"compute_args": {"lowercase": True}},
            {"values": ["token_recall"], "higher_is_better": False},
        ],
        bad=[{"references": "all"}, {"values": "token_recall"}, {"higher_is_better": "yes"}],
        rel=1e-9,
    )


# ------------------------------------------------------------------------------ classification

#: (reference, prediction, confidence): three classes, one never predicted ("bird"), one
#: predicted but never a reference ("fish"), confidences on and off bin edges.
CLASSIFIED = [
    ("cat", "cat", 0.9),
    ("dog", "cat", 0.7),
    ("cat", " cat", 0.5),
    ("bird", "dog", 0.4),
    ("dog", "dog", 1.0),
    ("cat", "fish", 0.25),
    ("Dog", "dog", 0.8),
    ("dog", "dog", 0.65),
]


def classification_examples(name: str, workdir: Path) -> Examples:
    """Label pairs with confidences in the model outputs and in a dataset field."""
    samples = [
        Sample(
            id=f"c{i}",
            inputs={"p_dataset": str(round(1 - c, 2))},
            references=(ref,),
            prediction=pred,
            outputs={"confidence": c},
        )
        for i, (ref, pred, c) in enumerate(CLASSIFIED)
    ]
    if name == "accuracy":
        return Examples(
            samples=samples, params=[{"normalize": "lower"}], bad=[{"normalize": "upper"}]
        )
    if name == "f1":
        return Examples(
            samples=samples,
            params=[
                {"average": "micro"},
                {"average": "weighted", "normalize": "lower"},
                {"labels": ["cat", "dog", "bird"], "zero_division": 1.0},
            ],
            bad=[{"average": "binary"}, {"labels": ["cat", "cat"]}, {"zero_division": 2.0}],
            rel=1e-9,
        )
    if name == "calibration":
        return Examples(
            samples=samples,
            params=[
                {"binning": "equal_mass", "n_bins": 3},
                {"norm": "l2", "n_bins": 4, "edge": "torchmetrics"},
                {"norm": "max", "edge": "lower"},
                {"target": "positive", "positive_label": "dog"},
                {"confidence_from": "dataset", "confidence_field": "p_dataset"},
            ],
            bad=[{"n_bins": 0}, {"norm": "l3"}, {"target": "positive"}],
            rel=1e-9,
        )
    raise KeyError(name)


# ------------------------------------------------------------------------------ rag contexts

#: (retrieved ids, judged grades): a relevant passage first, late, none retrieved, nothing
#: retrieved, and a question without a relevant judged passage.
RAG_RETRIEVED = [
    (["d1", "d2", "d3"], {"d1": 2, "d3": 1, "d9": 1}),
    (["d4", "d5", "d6", "d1"], {"d1": 1}),
    (["d2", "d4"], {"d7": 2}),
    ([], {"d1": 1}),
    (["d1", "d2"], {"d2": 0}),
    (["d8", "d3", "d9"], {"d3": 2, "d9": 2, "d2": 1}),
]


def rag_context_examples(name: str, workdir: Path) -> Examples:
    """Retrieved passages in the model outputs, judged passage grades in the dataset."""
    samples = []
    for i, (ids, grades) in enumerate(RAG_RETRIEVED):
        contexts = [{"id": d, "text": f"passage {d}"} for d in ids]
        samples.append(
            Sample(
                id=f"r{i}",
                inputs={"relevant": grades, "gold_ids": [d for d, g in grades.items() if g > 0]},
                prediction="an answer",
                outputs={"contexts": contexts, "passages": contexts[::-1]},
            )
        )
    params: list[dict[str, Any]] = [
        {"k": 2},
        {"min_grade": 2.0},
        {"no_relevant": "skip"},
        {"contexts_field": "passages", "relevant_field": "gold_ids"},
    ]
    bad: list[dict[str, Any]] = [{"k": 0}, {"no_relevant": "nan"}, {"relevant_field": ""}]
    if name == "context_precision":
        params.append({"form": "set", "k": 1})
        bad.append({"form": "mean"})
    return Examples(samples=samples, params=params, bad=bad, rel=1e-9)


# ------------------------------------------------------------------------------ rag grounding

#: (answer, retrieved passages, cited ids): a faithful answer, an invented number, an
#: unretrieved citation, an empty answer, no passage retrieved, an answer without a claim.
RAG_ANSWERS = [
    ("The Eiffel Tower is 330 metres tall. It opened in 1889.", ["d1", "d2"], ["d1", "d2"]),
    ("The Eiffel Tower is 412 metres tall. Gustave Eiffel built it.", ["d1"], ["d1", "d9"]),
    ("It opened in 1889 in Paris.", ["d2", "d3"], ["d3"]),
    ("", ["d1"], []),
    ("Paris hosted the World's Fair in 1889.", [], []),
    ("Yes!", ["d1"], ["d1"]),
]
RAG_TEXTS = {
    "d1": "The Eiffel Tower is 330 metres tall.",
    "d2": "It opened in 1889 for the World's Fair in Paris.",
    "d3": "Lyon is a city.",
}


def rag_grounding_examples(name: str, workdir: Path) -> Examples:
    """Answers, retrieved passages and cited ids in the model outputs (as a predictions file)."""
    samples = []
    for i, (answer, ids, cited) in enumerate(RAG_ANSWERS):
        contexts = [{"id": d, "text": RAG_TEXTS[d]} for d in ids]
        samples.append(
            Sample(
                id=f"g{i}",
                prediction=answer,
                outputs={"contexts": contexts, "passages": contexts[::-1], "citations": cited,
                         "cites": cited[::-1]},
            )
        )  # fmt: skip
    params: list[dict[str, Any]] = [{"contexts_field": "passages"}]
    bad: list[dict[str, Any]] = [{"contexts_field": 3}]
    if name != "unsupported_facts":
        params.append({"threshold": 0.5})
        bad += [{"threshold": 0.0}, {"threshold": 1.5}]
    if name == "faithfulness":
        bad += [{"verifier": "judge"}, {"verifier": "nli"}, {"model": "scripted:echo"}]
    if name == "citation_accuracy":
        params.append({"citations_field": "cites"})
    values = {
        "faithfulness": ("faithfulness", "claims_per_answer"),
        "unsupported_facts": ("unsupported_rate", "unsupported_per_answer", "facts_per_answer"),
        "citation_accuracy": ("citation_precision", "citation_recall", "citations_per_answer"),
    }[name]
    return Examples(samples=samples, params=params, bad=bad, rel=1e-9, nan_values=frozenset(values))


def context_relevance_examples(name: str, workdir: Path) -> Examples:
    """Retrieved passages with the judge's per-passage verdicts (one failed, one unparsed)."""
    import json

    rows: list[tuple[list[Any], list[bool | str | None]]] = [
        (["Paris is in France.", "Lyon."], [True, False]),
        ([{"id": "d1", "text": "Everest."}], [True]),
        (["a", "b", "c"], [False, None, True]),
        ([], []),
        (["only"], ["I think so"]),
    ]
    samples = []
    for i, (ctx, verdicts) in enumerate(rows):
        js = [
            {
                "text": None
                if v is None
                else v
                if isinstance(v, str)
                else json.dumps({"relevant": v}),
                "error": "HTTP 500" if v is None else None,
                "cached": False,
            }
            for v in verdicts
        ]
        samples.append(
            Sample(id=str(i), prompt=f"q{i}?", outputs={"contexts": ctx, "passages": ctx,
                   "judgments": js})
        )  # fmt: skip
    return Examples(
        samples=samples,
        base={"model": "python:judges:relevant"},
        params=[
            {"contexts_field": "passages"},
            {"parser": "regex", "pattern": r'"relevant": (?P<relevant>true|false)'},
        ],
        bad=[{"k": 0}, {"contexts_field": ""}, {"parser": "regex"}],
        untracked=frozenset({"model_options"}),
        rel=1e-9,
    )


def answer_relevance_examples(name: str, workdir: Path) -> Examples:
    """Answers with the judge's grades: parsed, fenced, out of scale, unparsed, a failed call."""
    answers: list[tuple[str, list[str | None]]] = [
        ("Paris is the capital.", ['{"relevance": 5}', '{"relevance": 4}']),
        ("I like trains.", ['{"relevance": 1}', '```json\n{"relevance": 2}\n```']),
        ("Maybe.", ['{"relevance": 9}', "relevant, I think"]),
        ("It opened in 1889.", [None, '{"relevance": 3}']),
        ("", ['{"relevance": 1}', '{"relevance": 1}']),
    ]
    samples = [
        Sample(
            id=str(i),
            inputs={"question": f"question {i}?", "q": f"q{i}"},
            prompt=f"passages... question {i}?",
            prediction=pred,
            outputs={
                "judgments": [
                    {"text": t, "error": "HTTP 500" if t is None else None, "cached": False}
                    for t in js
                ]
            },
        )
        for i, (pred, js) in enumerate(answers)
    ]
    return Examples(
        samples=samples,
        base={"model": "python:judges:grade", "repeats": 2},
        params=[
            {"question_field": "q"},
            {"parser": "regex", "pattern": r'"relevance": (?P<relevance>\d+)'},
        ],
        bad=[{"scale": ["A", "B"]}, {"question_field": ""}, {"parser": "regex"}, {"scale": 3}],
        untracked=frozenset({"model_options"}),
        rel=1e-9,
    )


# ------------------------------------------------------------------------------ judges

#: Judge answers given directly (as the runner hands them): verdicts, fenced JSON, an unparsed
#: answer, an out-of-scale one and a failed call; a person's label per sample.
JUDGE_ANSWERS = [
    ('{"score": 5, "accuracy": 5, "safe": "pass"}', '{"score": 4, "accuracy": 4, "safe": true}'),
    ('```json\n{"score": 2, "accuracy": 1, "safe": "fail"}\n```', "I would say 2"),
    ('{"score": 9, "accuracy": 3, "safe": "pass"}', '{"score": 3, "accuracy": 3, "safe": 1}'),
    (None, '{"score": 1, "accuracy": 2, "safe": "fail"}'),
    ('{"score": 4, "accuracy": 5, "safe": "pass"}', '{"score": 4, "accuracy": 5, "safe": "pass"}'),
    ('{"score": 3, "accuracy": 2, "safe": false}', '{"score": 2, "accuracy": 2, "safe": false}'),
]


def judge_examples(name: str, workdir: Path) -> Examples:
    """Two judgments per sample; the metric reads the first ``repeats`` of them."""
    samples = []
    for i, pair in enumerate(JUDGE_ANSWERS):
        js = [
            {"text": t, "error": None if t is not None else "HTTP 500", "cached": False}
            for t in pair
        ]
        samples.append(
            Sample(
                id=str(i),
                inputs={"human": 1 + (i * 2) % 5},
                prediction="answer " * (i + 1),
                references=("ref",),
                outputs={"judgments": js},
            )
        )
    one = [
        Sample(id=s.id, inputs=s.inputs, prediction=s.prediction, references=s.references,
               outputs={"judgments": s.outputs["judgments"][:1]})
        for s in samples
    ]  # fmt: skip
    return Examples(
        samples=one,
        base={"model": "python:judges:grade"},
        params=[
            {"human_label": "human"},
            {"length_unit": "words", "agreement_weights": "linear", "human_label": "human"},
            {
                "criteria": [
                    {"name": "accuracy", "scale": [1, 5], "weight": 2},
                    {"name": "safe", "scale": "pass_fail"},
                ]
            },
            {"parser": "regex", "pattern": r'"score": (?P<score>\d+)'},
        ],
        bad=[
            {"repeats": 0},
            {"criteria": [{"name": "a"}, {"name": "a"}]},
            {"parser": "regex"},
            {"human_criterion": "score"},
        ],
        untracked=frozenset({"model_options"}),
        nan_values=frozenset({"length_corr", "kappa", "alpha", "spearman", "kendall"}),
        rel=1e-9,
    )


#: Pairwise verdicts as the runner hands them: per pair, the run as A then as B; a tie, a
#: flip, an unparsed answer, a failed call and a sample whose opponent failed.
PAIRWISE_VERDICTS = [
    ("A", "B"),
    ("B", "A"),
    ("tie", "tie"),
    ("A", "A"),
    ("I cannot tell", None),
    ("B", "B"),
]


def pairwise_examples(name: str, workdir: Path) -> Examples:
    """A predictions file as the opponent; one sample whose opponent output failed."""
    import json

    opponent = workdir / "opponent.jsonl"
    rows = [{"id": str(i), "prediction": f"their answer {i}"} for i in range(6)]
    rows.append({"id": "6", "prediction": "", "error": "HTTP 503"})
    opponent.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    samples = []
    verdicts: list[tuple[str | None, ...]] = [*PAIRWISE_VERDICTS, ()]
    for i, pair in enumerate(verdicts):
        js = [
            {
                "text": None if w is None else w if " " in w else json.dumps({"winner": w}),
                "error": "HTTP 500" if w is None else None,
                "cached": False,
            }
            for w in pair
        ]
        samples.append(
            Sample(id=str(i), prediction="my answer " * (i + 1), outputs={"judgments": js})
        )
    return Examples(
        samples=samples,
        base={"model": "python:judges:prefer", "against": {"them": str(opponent)}},
        params=[
            {"system": "mine", "length_unit": "words"},
            {"parser": "regex", "pattern": r'"winner": "(?P<winner>A|B|tie)"'},
        ],
        bad=[{"against": {"bad name": {}}}, {"system": "bad name"}, {"orders": "ba"}],
        untracked=frozenset({"model_options"}),
        nan_values=frozenset({"length_corr", "flip_rate", "first_position_rate"}),
        rel=1e-9,
    )


#: The examples of every registered metric, by family.
FAMILIES: dict[str, Family] = {
    **{n: text_examples for n in TEXT_PARAMS},
    "perplexity": lm_examples,
    "choice_accuracy": choice_examples,
    "choice_calibration": choice_calibration_examples,
    **{n: retrieval_examples for n in RANKING_PARAMS},
    **{n: image_examples for n in ("fid", "kid", "inception_score")},
    **{n: diversity_examples for n in DIVERSITY_PARAMS},
    **{
        n: bias_examples
        for n in (
            "counterfactual_gap",
            "counterfactual_ll_gap",
            "stereotype_preference",
            "weat",
            "group_fairness",
        )
    },
    **{n: classification_examples for n in ("accuracy", "f1", "calibration")},
    **{n: rag_context_examples for n in ("context_precision", "context_recall")},
    **{
        n: rag_grounding_examples
        for n in ("faithfulness", "unsupported_facts", "citation_accuracy")
    },
    "judge": judge_examples,
    "context_relevance": context_relevance_examples,
    "answer_relevance": answer_relevance_examples,
    "judge_pairwise": pairwise_examples,
    HF_EVALUATE: hf_evaluate_examples,
}


def examples_for(name: str, workdir: Path) -> Examples:
    """The examples of metric ``name``; a KeyError names the file to extend."""
    family = FAMILIES.get(name)
    if family is None:
        raise KeyError(f"{name}: no contract examples; add them to tests/metric_examples.py")
    ex = family(name, workdir)
    assert ex.samples and ex.params and ex.bad, f"{name}: empty examples"
    assert all(p in ex.params for p in ex.corpus_per_sample), name
    return ex
