"""Diversity metrics, bias probes, n samples per prompt and prompt variants.

Expected values are computed by hand in the comments next to them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import evalkit.metrics as M
from evalkit.adapters.base import ModelAdapter
from evalkit.adapters.scripted import ScriptedAdapter
from evalkit.data.probes import expand_probes, load_probes, swap_terms
from evalkit.errors import ConfigError, InputError
from evalkit.metrics.bias._stats import sign_flip_p_value
from evalkit.metrics.bias.group_fairness import GroupFairness
from evalkit.metrics.diversity import DistinctN, SelfBLEU
from evalkit.registry import METRICS
from evalkit.runner import run_suite
from evalkit.types import GenerateRequest, Sample, sample_seed
from tests.conftest import ROOT

# ------------------------------------------------------------------------------ diversity


def test_identical_outputs_give_minimal_distinct_and_self_bleu_100() -> None:
    same = ["the cat sat on the mat today"] * 4  # 7 tokens, no repeated bigram
    d = M.distinct_n([same], n=2)
    # 6 distinct bigrams over 4 * 6 = 24 bigrams: 1/4, the minimum for 4 outputs.
    assert d.details == {"distinct_2": 0.25, "distinct_2_per_prompt": 0.25}
    sb = M.self_bleu([same])
    assert sb.details["self_bleu"] == pytest.approx(100.0)
    assert sb.details["self_bleu_per_prompt"] == pytest.approx(100.0)
    assert M.embedding_diversity([same]).value == pytest.approx(0.0, abs=1e-6)
    # Entropy of identical outputs equals the entropy of one: 6 equiprobable unigrams + 1 twice.
    one = M.ngram_entropy([same[0]], n=1).value
    assert M.ngram_entropy([same], n=1).value == pytest.approx(one)


def test_disjoint_outputs_give_self_bleu_0_and_distinct_1() -> None:
    outs = ["alpha beta gamma delta", "one two three four", "red green blue black"]
    assert M.self_bleu([outs]).details == {"self_bleu": 0.0, "self_bleu_per_prompt": 0.0}
    assert M.distinct_n([outs], n=1).value == 1.0
    assert M.ngram_entropy([outs], n=1).value == pytest.approx(math.log2(12))


def test_corpus_and_per_prompt_distinct_differ() -> None:
    # Prompt 1: "a b", "a b" -> per prompt 1/2; prompt 2: "c d", "e f" -> 1.
    # Corpus: unigrams {a, b, c, d, e, f} = 6 over 8.
    d = M.distinct_n([["a b", "a b"], ["c d", "e f"]], n=1)
    assert d.details == {"distinct_1": 0.75, "distinct_1_per_prompt": 0.75}
    d2 = M.distinct_n([["a b", "a b"], ["c d", "c e"]], n=1)
    # per prompt: 2/4 and 3/4 -> 0.625; corpus: {a,b,c,d,e} = 5/8.
    assert d2.details == {"distinct_1": 0.625, "distinct_1_per_prompt": 0.625}


def test_repetition_by_hand() -> None:
    # "a b a b a b": bigrams ab ba ab ba ab -> 2 distinct of 5 -> 0.6; "x y z": 0.
    assert M.repetition([["a b a b a b", "x y z"]], n=2).value == pytest.approx(0.3)
    assert math.isnan(M.repetition(["one"], n=2).value)  # no bigram at all


def test_self_bleu_equals_evalkit_bleu_against_the_others() -> None:
    outs = [
        "the cat sat on the mat",
        "a cat sat on a mat",
        "the dog lay on the rug",
        "the cat lay on the mat quietly",
    ]
    want = [
        M.bleu([h], [[o for j, o in enumerate(outs) if j != i]], effective_order=True).value
        for i, h in enumerate(outs)
    ]
    got = M.self_bleu([outs]).details
    assert got["self_bleu"] == pytest.approx(float(np.mean(want)), rel=1e-12)
    assert got["self_bleu_per_prompt"] == pytest.approx(float(np.mean(want)), rel=1e-12)


def test_self_bleu_never_compares_an_output_with_its_copy() -> None:
    metric = SelfBLEU()
    stats = metric.sample_stats([Sample(id="1", outputs={"samples": ["a b c d", "e f g h"]})])
    # A bootstrap resample drawing the prompt twice still scores 0, not 100.
    assert metric.aggregate(stats * 2)["self_bleu"] == 0.0


def test_self_bleu_subsample_is_seeded_and_signed() -> None:
    rng = np.random.default_rng(1)
    words = [f"w{i}" for i in range(30)]
    outs = [" ".join(rng.choice(words, 6)) for _ in range(40)]
    a = M.self_bleu([outs], sample_size=10, seed=3)
    assert a == M.self_bleu([outs], sample_size=10, seed=3)
    assert "sample_size:10" in a.signature and "seed:3" in a.signature
    assert a.value != M.self_bleu([outs]).value


def test_tokenisation_is_in_the_signature() -> None:
    assert "|tok:whitespace|" in DistinctN().signature()
    assert "|tok:13a|" in DistinctN(tokenize="13a").signature()
    assert "|tok:13a|" in SelfBLEU().signature()
    # 13a splits punctuation: "end." -> "end", "."
    assert M.distinct_n(["end. end."], n=1, tokenize="13a").value == 0.5
    assert M.distinct_n(["end. end."], n=1).value == 0.5  # whitespace: "end." twice


# ------------------------------------------------------------------------------ probes


def test_swaps_are_bidirectional_and_case_aware() -> None:
    swaps = [["he", "she"], ["his", "her"], ["him", "her"], ["Daniel", "Laura"]]
    assert swap_terms("He saw her. She saw him.", swaps) == "She saw his. He saw her."
    assert swap_terms("Daniel thanked HIM; the", swaps) == "Laura thanked HER; the"
    assert swap_terms("theme shepherd", swaps) == "theme shepherd"  # whole words only
    assert swap_terms(swap_terms("He and his dog", swaps), swaps) == "He and his dog"


def test_bundled_pairs_are_the_expansion_of_the_probe_set() -> None:
    rows = expand_probes(load_probes(ROOT / "suites/bias/probes.yaml"))
    lines = (ROOT / "suites/bias/pairs.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(x) for x in lines] == rows
    for r in rows:
        assert r["text_a"] != r["text_b"]
        assert len(r["text_a"].split()) == len(r["text_b"].split())


def test_probe_template_without_group_term_is_an_error() -> None:
    with pytest.raises(InputError, match="no group term"):
        expand_probes({"swaps": [["he", "she"]], "templates": ["The cat sleeps."]})


def test_sign_flip_p_value_by_hand() -> None:
    # 5 positive differences: 2 of 32 sign patterns are as extreme (all + or all -).
    assert sign_flip_p_value([1, 2, 3, 4, 5]) == pytest.approx(2 / 32)
    assert sign_flip_p_value([1, -1]) == 1.0
    # Sampled branch (more than 16 pairs): seeded, bounded below by 1/(R+1).
    p = sign_flip_p_value([1.0] * 30, samples=999, seed=1)
    assert p == pytest.approx(1 / 1000)


def test_weat_with_a_known_effect_size() -> None:
    # s(w) = cos(w, a) - cos(w, b): x's get +c, y's -c -> effect = 2c / (2c / sqrt(3)).
    e = np.eye(4)
    x = [e[0] + 0.1 * e[2], e[0] + 0.1 * e[3]]
    y = [e[1] + 0.1 * e[3], e[1] + 0.1 * e[2]]
    s = M.weat(x, y, [e[0]], [e[1]])
    assert s.details["weat_effect_size"] == pytest.approx(math.sqrt(3))
    assert s.details["weat_p_value"] == pytest.approx(1 / 6)  # 1 of C(4, 2) partitions
    swapped = M.weat(y, x, [e[0]], [e[1]])
    assert swapped.details["weat_effect_size"] == pytest.approx(-math.sqrt(3))
    assert swapped.details["weat_p_value"] == 1.0


def test_weat_unequal_spread_uses_sample_std() -> None:
    rng = np.random.default_rng(0)
    x, y, a, b = (rng.normal(size=(k, 8)) for k in (5, 5, 4, 4))

    def s(w: np.ndarray) -> float:
        def cos(u: np.ndarray, v: np.ndarray) -> float:
            return float(u @ v / np.linalg.norm(u) / np.linalg.norm(v))

        return float(np.mean([cos(w, v) for v in a]) - np.mean([cos(w, v) for v in b]))

    sx, sy = [s(w) for w in x], [s(w) for w in y]
    want = (np.mean(sx) - np.mean(sy)) / np.std(sx + sy, ddof=1)
    assert M.weat(x, y, a, b).details["weat_effect_size"] == pytest.approx(want)


def test_stereotype_preference_by_hand_and_target() -> None:
    # d = more - less: +1, +1, -1, 0 (tie): 2 of 3 untied prefer "more" -> 66.7, ties 25%.
    s = M.stereotype_preference([-1.0, -1.0, -2.0, -3.0], [-2.0, -2.0, -1.0, -3.0])
    assert s.details["stereotype_preference"] == pytest.approx(200 / 3)
    assert s.details["stereotype_bias"] == pytest.approx(50 / 3)
    assert s.details["stereotype_ties"] == 25.0
    assert s.details["stereotype_ll_diff"] == pytest.approx(0.25)
    metric = METRICS.get("stereotype_preference")()
    assert metric.value_target("stereotype_preference") == 50.0
    assert metric.primary_values() == ("stereotype_bias",)


def test_group_fairness_by_hand_and_against_sklearn_rates() -> None:
    preds = ["yes", "yes", "no", "yes", "no", "no", "no", "yes"]
    labels = ["yes", "no", "yes", "yes", "no", "yes", "no", "no"]
    groups = ["a", "a", "a", "a", "b", "b", "b", "b"]
    v = M.group_fairness(preds, labels, groups).details
    # a: selected 3/4, TPR 2/3, FPR 1/1; b: selected 1/4, TPR 0/1, FPR 1/3.
    assert v["demographic_parity_difference"] == pytest.approx(0.5)
    assert v["equalized_odds_difference"] == pytest.approx(2 / 3)
    assert v["fairness_accuracy"] == pytest.approx(4 / 8)
    assert v["selection_rate"] == 0.5
    assert v["accuracy_difference"] == pytest.approx(0.0)  # a 2/4, b 2/4
    fairlearn = pytest.importorskip("fairlearn.metrics")
    y = [int(t == "yes") for t in labels]
    p = [int(t == "yes") for t in preds]
    assert v["demographic_parity_difference"] == pytest.approx(
        fairlearn.demographic_parity_difference(y, p, sensitive_features=groups)
    )
    assert v["equalized_odds_difference"] == pytest.approx(
        fairlearn.equalized_odds_difference(y, p, sensitive_features=groups)
    )


def test_group_fairness_needs_the_group_field() -> None:
    with pytest.raises(InputError, match="no field 'group'"):
        GroupFairness().sample_stats([Sample(id="1", prediction="yes", references=("yes",))])


def test_counterfactual_gap_twin_reports_a_bootstrap_interval() -> None:
    s = M.counterfactual_gap(["yes"] * 10, ["no"] * 5 + ["yes"] * 5)
    assert s.details["cf_gap"] == 0.5
    assert s.details["cf_changed"] == 0.5
    assert s.details["cf_p_value"] == pytest.approx(2 / 32)  # 5 non-zero differences
    assert s.details["cf_gap_ci_low"] <= 0.5 <= s.details["cf_gap_ci_high"]
    # A metric scorer: token_f1 against the references.
    # token_f1 vs "x y": 1 for "x y", 0.5 for "x z" (P = R = 1/2).
    t = M.counterfactual_gap(["x y"], ["x z"], [["x y"]], scorer="token_f1")
    assert t.details["cf_gap"] == pytest.approx(0.5)
    with pytest.raises(ConfigError, match="scorer"):
        M.counterfactual_gap(["a"], ["b"], scorer="perplexity")


# ------------------------------------------------------------------ n samples and variants


def test_adapter_call_expands_samples_and_variants() -> None:
    adapter = ScriptedAdapter(responses={"hi": ["a", "b", "c"], "yo": ["x"]})
    g = adapter.call([GenerateRequest("hi", n=4, seed=5, variants=("yo",))])[0]
    assert g.text == "a"
    assert g.outputs == {"samples": ["a", "b", "c", "a"], "variants": [["x", "x", "x", "x"]]}
    one = adapter.call([GenerateRequest("hi", seed=5)])[0]
    assert one.text == "a" and one.outputs == {}
    failed = ScriptedAdapter(errors={"yo": "boom"}).call([GenerateRequest("hi", variants=("yo",))])
    assert failed[0].error == "variant 1: boom"


def test_python_adapter_gets_the_sample_seeds(tmp_path: Path) -> None:
    mod = tmp_path / "sampler.py"
    mod.write_text(
        "def gen(prompts, seeds):\n    return [f'{p}:{s}' for p, s in zip(prompts, seeds)]\n"
    )
    from evalkit.adapters import build_adapter

    adapter = build_adapter(f"python:{mod}:gen")
    g = adapter.call([GenerateRequest("p", n=3, seed=9)])[0]
    assert g.outputs["samples"] == [f"p:{sample_seed(9, k)}" for k in range(3)]
    assert g.outputs["samples"][0] == "p:9"


def test_cache_key_follows_n_and_variants() -> None:
    base = GenerateRequest("p").cache_fields()
    assert "n" not in base and "variants" not in base  # old cache entries stay valid
    assert GenerateRequest("p", n=2).cache_fields()["n"] == 2
    assert GenerateRequest("p", variants=("q",)).cache_fields()["variants"] == ["q"]


def _suite(tmp_path: Path, body: str, data: list[dict[str, Any]]) -> Path:
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in data))
    path = tmp_path / "s.yaml"
    path.write_text("name: s\nseed: 0\nbootstrap: {resamples: 50}\ntasks:\n" + body)
    return path


def test_hf_samples_are_seeded_and_recorded(tmp_path: Path) -> None:
    model = ROOT / "models/tiny-gpt2/step-0600"
    body = (
        "  - name: t\n    dataset: {path: d.jsonl, id: id}\n    prompt: '{p}'\n"
        "    generation: {max_tokens: 8, temperature: 1.0, n: 3}\n"
        "    metrics: [distinct_n, self_bleu]\n"
    )
    suite = _suite(tmp_path, body, [{"id": "1", "p": "The for statement"}, {"id": "2", "p": "A"}])
    runs = []
    for k in range(2):
        run_suite(suite, f"hf:{model}", tmp_path / f"r{k}", use_cache=False)
        lines = (tmp_path / f"r{k}/samples.jsonl").read_text().splitlines()
        runs.append([json.loads(x) for x in lines])
    assert runs[0] == [{**ln, "cached": False} for ln in runs[1]]  # seeded: identical reruns
    first = runs[0][0]
    samples = first["outputs"]["samples"]
    assert len(samples) == 3 and samples[0] == first["prediction"]
    assert len(set(samples)) > 1  # temperature 1.0 with three seeds
    # Sample 0 is what an n=1 run with the same seed generates.
    (tmp_path / "one").mkdir()
    single = _suite(
        tmp_path / "one", body.replace(", n: 3", ""), [{"id": "1", "p": "The for statement"}]
    )
    run_suite(single, f"hf:{model}", tmp_path / "r_one", use_cache=False)
    one = json.loads((tmp_path / "r_one/samples.jsonl").read_text().splitlines()[0])
    assert one["prediction"] == samples[0]


BIASED = """
def answer(prompts):
    # A model with a known bias: it approves applicants described with male terms only.
    male = {"he", "his", "him", "daniel", "father"}
    return ["Yes" if male & set(p.lower().replace(".", " ").replace(",", " ").split()) else "No"
            for p in prompts]

def fair(prompts):
    return ["Yes" if "engineer" in p or "pilot" in p else "No" for p in prompts]
"""


@pytest.mark.parametrize(("function", "biased"), [("answer", True), ("fair", False)])
def test_counterfactual_probe_detects_a_known_bias(
    tmp_path: Path, function: str, biased: bool
) -> None:
    (tmp_path / "model.py").write_text(BIASED)
    body = (
        "  - name: cf\n    dataset: {path: pairs.jsonl, id: id}\n    prompt: '{text_a} Hire?'\n"
        "    prompt_variants: ['{text_b} Hire?']\n    metrics: [counterfactual_gap]\n"
    )
    pairs = (ROOT / "suites/bias/pairs.jsonl").read_text()
    (tmp_path / "pairs.jsonl").write_text(pairs)
    suite = tmp_path / "s.yaml"
    suite.write_text("name: s\nseed: 0\nbootstrap: {resamples: 200}\ntasks:\n" + body)
    out = run_suite(suite, f"python:{tmp_path / 'model.py'}:{function}", tmp_path / "run")
    rows = {r["metric"]: r for r in out.results}
    p = rows["cf_p_value"]["value"]
    if biased:
        # Every pair flips yes -> no: 12 non-zero differences, exact sign-flip p = 2 / 2**12.
        assert rows["cf_gap"]["value"] == 1.0
        assert rows["cf_changed"]["value"] == 1.0
        assert p == pytest.approx(2 / 4096) and p < 0.05
        assert rows["cf_gap"]["ci_low"] == 1.0
    else:
        assert rows["cf_gap"]["value"] == 0.0 and p == 1.0
        assert rows["cf_changed"]["value"] == 0.0
    assert rows["cf_gap"]["target"] == 0.0
    lines = [json.loads(x) for x in (tmp_path / "run/samples.jsonl").read_text().splitlines()]
    assert all(len(ln["outputs"]["variants"]) == 1 for ln in lines)


def test_adapters_without_embed_refuse_weat(tmp_path: Path) -> None:
    body = "  - name: w\n    dataset: {path: d.jsonl, id: id}\n    prompt: '{t}'\n"
    body += "    metrics: [weat]\n"
    suite = _suite(tmp_path, body, [{"id": "1", "t": "a", "set": "X"}])
    with pytest.raises(ConfigError, match="needs 'embed' requests"):
        run_suite(suite, "scripted:echo", tmp_path / "run")
    assert "embed" not in ModelAdapter.capabilities
