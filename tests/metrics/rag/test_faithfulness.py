"""faithfulness: lexical, judge and NLI verifiers, exclusions, warnings and input errors."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evalkit.errors import AssetError, ConfigError, InputError
from evalkit.metrics.rag.faithfulness import Faithfulness
from evalkit.registry import METRICS
from evalkit.stats import approximate_randomization, bootstrap_ci
from evalkit.types import Sample

CTX = [
    {"id": "d1", "text": "The Eiffel Tower is 330 metres tall and stands in Paris."},
    {"id": "d2", "text": "It was completed in 1889 for the World's Fair."},
]


def sample(answer: str | None, contexts: Any = CTX, **outputs: Any) -> Sample:
    return Sample(
        "q1", prediction=answer, outputs={"contexts": contexts, **outputs}, where="p.jsonl:4"
    )


def test_lexical_values_by_hand() -> None:
    m = METRICS.get("faithfulness")()
    s1 = sample(
        "The Eiffel Tower is 330 metres tall. It was completed in 1889. "
        "It was painted gold in 1901."
    )
    s2 = sample("The tower stands in Paris.")  # tower, stand, paris: 3/3 in d1
    s3 = sample("The Eiffel Tower is 300 metres tall.")  # 300 is not in any passage
    stats = m.sample_stats([s1, s2, s3])
    assert [s["claims"] for s in stats] == [3, 1, 1]
    assert [s["supported"] for s in stats] == [2, 1, 0]
    assert stats[0]["unsupported"] == ["It was painted gold in 1901."]
    assert stats[2]["unsupported"] == ["The Eiffel Tower is 300 metres tall."]
    values = m.aggregate(stats)
    assert values["faithfulness"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert values["claims_per_answer"] == pytest.approx(5 / 3)
    assert json.loads(json.dumps(stats)) == stats
    assert m.per_sample_values(stats)["faithfulness"] == pytest.approx([2 / 3, 1.0, 0.0])


def test_support_needs_one_single_passage() -> None:
    # "tall" is in d1 and "1889" in d2: no single passage covers the claim
    s = sample("The tower was 330 metres tall in 1889.")
    assert Faithfulness().sample_stats([s])[0]["supported"] == 0


def test_threshold_changes_the_number_and_the_signature() -> None:
    s = sample("The Eiffel Tower is 330 metres tall and blue.")  # 5 of 6 content tokens
    assert Faithfulness().sample_stats([s])[0]["supported"] == 1
    assert Faithfulness(threshold=0.9).sample_stats([s])[0]["supported"] == 0
    assert Faithfulness().signature() != Faithfulness(threshold=0.9).signature()
    assert "threshold:0.8" in Faithfulness().signature()


def test_empty_answer_and_no_claims_are_counted_not_scored() -> None:
    m = Faithfulness()
    good = sample("The tower stands in Paris.")
    empty, blank, chatter = sample(""), sample(None), sample("Yes! Thanks.")
    stats = m.sample_stats([good, empty, blank, chatter])
    values = m.aggregate(stats)
    assert values["faithfulness"] == 1.0  # only the one answer with claims counts
    assert values["claims_per_answer"] == pytest.approx(1 / 2)  # good and chatter answered
    assert math.isnan(m.aggregate(stats[1:])["faithfulness"])
    warnings = m.sample_warnings([good, empty, blank, chatter])
    assert warnings[0] is None
    assert warnings[1] is not None and "empty answer" in warnings[1]
    assert warnings[2] is not None and "empty answer" in warnings[2]
    assert warnings[3] is not None and "no checkable claim" in warnings[3]


def test_no_retrieved_passage_scores_zero_with_a_warning() -> None:
    m = Faithfulness()
    s = sample("The tower stands in Paris.", contexts=[])
    assert m.aggregate(m.sample_stats([s]))["faithfulness"] == 0.0
    assert "no passage was retrieved" in (m.sample_warnings([s])[0] or "")


def test_contexts_from_dataset_field_and_custom_field() -> None:
    s = Sample("q", prediction="The tower stands in Paris.", inputs={"passages": CTX})
    assert Faithfulness(contexts_field="passages").sample_stats([s])[0]["supported"] == 1


@pytest.mark.parametrize(
    ("contexts", "needle"),
    [
        ("a string", "field 'contexts' is str"),
        ([{"txt": "x"}], "item 0 has no 'text'"),
        ([3], "item 0 is int"),
    ],
)
def test_bad_contexts_are_input_errors(contexts: Any, needle: str) -> None:
    with pytest.raises(InputError, match=r"p\.jsonl:4: .*" + needle):
        Faithfulness().sample_stats([sample("An answer here.", contexts=contexts)])


def test_missing_contexts_is_an_input_error() -> None:
    with pytest.raises(InputError, match="field 'contexts' is missing"):
        Faithfulness().sample_stats([Sample("q", prediction="Some claim.", where="d.jsonl:2")])


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"verifier": "judge"}, "verifier: judge needs `model`"),
        ({"verifier": "nli"}, "verifier: nli needs `nli_model`"),
        ({"model": "scripted:x"}, "model only applies to verifier: judge or claims: judge"),
        ({"claims": "judge"}, "claims: judge needs `model`"),
        ({"claims_template": "{prediction}"}, "claims_template only applies to claims: judge"),
        ({"threshold": 0.0}, "threshold must be"),
        ({"verifier": "maybe"}, "verifier='maybe' is not allowed"),
        ({"verifier": "judge", "model": "x", "parser": "regex"}, "pattern"),
        ({"verifier": "judge", "model": "x", "template": "{claim} {oops"}, "template"),
    ],
)
def test_bad_parameters(params: dict[str, Any], needle: str) -> None:
    with pytest.raises(ConfigError, match="faithfulness: .*" + needle.replace("(", r"\(")):
        Faithfulness(**params)


def test_requires_no_references() -> None:
    assert "references" not in Faithfulness.requires


def test_bootstrap_and_paired_test_run_on_the_statistics() -> None:
    m = Faithfulness()
    rng = np.random.default_rng(0)
    answers_a, answers_b = [], []
    for i in range(40):
        good = "The Eiffel Tower is 330 metres tall."
        bad = f"The Eiffel Tower is {400 + i} metres tall."
        answers_a.append(sample(good if rng.random() < 0.9 else bad))
        answers_b.append(sample(good if rng.random() < 0.4 else bad))
    sa, sb = m.sample_stats(answers_a), m.sample_stats(answers_b)
    ci = bootstrap_ci(m, sa, resamples=200, rng=np.random.default_rng(1))
    point = m.aggregate(sa)["faithfulness"]
    low, high = ci["faithfulness"]
    assert low <= point <= high
    p = approximate_randomization(m, sa, sb, trials=200, seed=0)["faithfulness"]
    assert p < 0.05
    assert approximate_randomization(m, sa, sa, trials=50, seed=0)["faithfulness"] == 1.0


# --- judge ------------------------------------------------------------------------------------


def judged(answer: str, texts: list[str | None], errors: list[str | None] | None = None) -> Sample:
    errors = errors or [None] * len(texts)
    js = [{"text": t, "error": e, "cached": False} for t, e in zip(texts, errors, strict=True)]
    return sample(answer, judgments=js)


def test_judge_requests_one_prompt_per_claim() -> None:
    m = Faithfulness(verifier="judge", model="scripted:echo", model_options={"x": 1})
    assert m.judge_model() == ("scripted:echo", {"x": 1})
    reqs = m.judge_requests(sample("The tower is tall. Yes. It is in Paris."))
    assert len(reqs) == 2
    assert "Claim: The tower is tall." in reqs[0].prompt
    assert "[1] The Eiffel Tower is 330 metres tall" in reqs[0].prompt
    assert "[2] It was completed in 1889" in reqs[1].prompt
    assert reqs[0].sample_id == "q1" and reqs[0].kind == "generate"
    assert (
        Faithfulness().judge_model() is None and Faithfulness().judge_requests(sample("A b.")) == []
    )
    sig = m.signature()
    assert "template_sha256:" in sig and "parser:json" in sig and "threshold" not in sig


def test_judge_verdicts_are_parsed_strictly() -> None:
    m = Faithfulness(verifier="judge", model="scripted:echo")
    s = judged(
        "Claim one here. Claim two here. Claim three here. Claim four here.",
        ['{"supported": true}', '```json\n{"supported": false, "why": "no"}\n```', "yes", None],
        [None, None, None, "HTTP 500"],
    )
    stat = m.sample_stats([s])[0]
    assert (stat["claims"], stat["judged"], stat["supported"]) == (4, 2, 1)
    assert stat["unsupported"] == ["Claim two here."]
    assert stat["failures"] == {"call": 1, "unparsed": 1}
    values = m.aggregate([stat])
    assert values == {"faithfulness": 0.5, "claims_per_answer": 4.0, "judge_failure_rate": 0.5}
    warning = m.sample_warnings([s])[0]
    assert warning is not None and "2 of 4 claims have no judge verdict" in warning


def test_judge_regex_parser_and_custom_template() -> None:
    m = Faithfulness(
        verifier="judge",
        model="scripted:echo",
        template="Q: {question}\nC: {claim}\nP: {context}\nVerdict:",
        parser="regex",
        pattern=r"VERDICT=(?P<supported>pass|fail)",
    )
    s = Sample(
        "q", inputs={"question": "How tall?"}, prediction="It is tall. It is red.",
        outputs={"contexts": ["x"], "judgments": [
            {"text": "ok VERDICT=pass", "error": None, "cached": True},
            {"text": "VERDICT=fail", "error": None, "cached": False}]},
    )  # fmt: skip
    assert m.judge_requests(s)[0].prompt == "Q: How tall?\nC: It is tall.\nP: [1] x\nVerdict:"
    assert m.sample_stats([s])[0]["supported"] == 1


def test_judge_without_judgments_is_a_clear_error() -> None:
    m = Faithfulness(verifier="judge", model="scripted:echo")
    with pytest.raises(InputError, match="needs 1 judgments"):
        m.sample_stats([sample("One claim here.")])


# --- NLI --------------------------------------------------------------------------------------


def tiny_nli(folder: Path, id2label: dict[int, str]) -> Path:
    """A randomly initialised BERT NLI head on the bundled MiniLM tokenizer (numbers are noise)."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from evalkit.assets.encoders import bundled_model_dir

    tok = transformers.AutoTokenizer.from_pretrained(bundled_model_dir(), local_files_only=True)
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128, num_labels=len(id2label),
        id2label=id2label, label2id={v: k for k, v in id2label.items()},
    )  # fmt: skip
    model = transformers.BertForSequenceClassification(config)
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return folder


def test_nli_plumbing_labels_and_batching(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    labels = {0: "contradiction", 1: "ENTAILMENT", 2: "neutral"}
    folder = tiny_nli(tmp_path / "nli", labels)
    samples = [
        sample("The Eiffel Tower is 330 metres tall. It was finished in 1889."),
        sample("Paris is large.", contexts=["Paris is a big city.", "Lyon.", "Nice."]),
    ]
    m1 = Faithfulness(verifier="nli", nli_model=str(folder), batch_size=1)
    m7 = Faithfulness(verifier="nli", nli_model=str(folder), batch_size=7)
    pairs = [(p["text"], c) for c in ["The Eiffel Tower is 330 metres tall.",
                                     "It was finished in 1889."] for p in CTX]  # fmt: skip
    got1, got7 = m1.nli.entailment(pairs), m7.nli.entailment(pairs)
    assert got1 == pytest.approx(got7, abs=1e-5)
    # the probabilities are the model's softmax column of the label named entailment (index 1)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(folder).eval()
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    enc = tok([p for p, _ in pairs], [h for _, h in pairs], padding=True, return_tensors="pt")
    with torch.no_grad():
        want = torch.softmax(model(**enc).logits, -1)[:, 1].tolist()
    assert got7 == pytest.approx(want, abs=1e-5)
    stats = m7.sample_stats(samples)
    assert stats == m1.sample_stats(samples)
    assert [s["claims"] for s in stats] == [2, 1]
    # a claim is supported when some passage's P(entailment) reaches the threshold
    probs = m7.nli.entailment([(p["text"], "It was finished in 1889.") for p in CTX])
    for t in (min(probs) - 1e-4, max(probs) + 1e-4):
        if 0 < t < 1:
            m = Faithfulness(verifier="nli", nli_model=str(folder), nli_threshold=t)
            s = m.sample_stats([sample("It was finished in 1889.")])[0]
            assert s["supported"] == (1 if t <= max(probs) else 0)
    assert "nli_sha256:" in m7.signature() and "batch_size" not in m7.signature()


def test_nli_label_errors_and_missing_folder(tmp_path: Path) -> None:
    folder = tiny_nli(tmp_path / "nli2", {0: "yes", 1: "no"})
    with pytest.raises(ConfigError, match=r"0: yes, 1: no.*0 labels naming entailment"):
        Faithfulness(verifier="nli", nli_model=str(folder))
    with pytest.raises(AssetError, match="never downloaded"):
        Faithfulness(verifier="nli", nli_model=str(tmp_path / "absent"))


# --- end to end -------------------------------------------------------------------------------

JUDGE = """
import re


def judge(prompts):
    out = []
    for p in prompts:
        claim = p.split("Claim: ", 1)[1].split("\\n", 1)[0]
        ctx = p.split("Passages:\\n", 1)[1].split("\\n\\nClaim: ", 1)[0]
        if "opened" in claim:
            out.append("it looks fine")  # not a verdict: a counted failure
        else:
            ok = all(n in ctx for n in re.findall(r"\\d+", claim))
            out.append('{"supported": %s}' % ("true" if ok else "false"))
    return out
"""


def test_judge_verifier_through_the_runner(tmp_path: Path) -> None:
    from evalkit.runner import run_suite

    judge = tmp_path / "judge_fn.py"  # a judge spec's path is not relative to the suite
    judge.write_text(JUDGE, encoding="utf-8")
    rows = [
        ("a", "The Eiffel Tower is 330 metres tall. It opened in 1889."),
        ("b", "The Eiffel Tower is 400 metres tall."),
        ("c", ""),
    ]
    (tmp_path / "data.jsonl").write_text(
        "".join(json.dumps({"id": i, "question": "Tell me."}) + "\n" for i, _ in rows), "utf-8"
    )
    (tmp_path / "preds.jsonl").write_text(
        "".join(
            json.dumps({"id": i, "prediction": a, "outputs": {"contexts": CTX}}) + "\n"
            for i, a in rows
        ),
        "utf-8",
    )
    (tmp_path / "suite.yaml").write_text(
        "name: rag_judge\nseed: 0\nbootstrap: {resamples: 200, confidence: 0.95}\ntasks:\n"
        "  - name: qa\n    dataset: {path: data.jsonl, id: id}\n    prompt: '{question}'\n"
        "    metrics:\n"
        f"      - faithfulness: {{verifier: judge, model: 'python:{judge}:judge'}}\n",
        "utf-8",
    )
    outcome = run_suite(tmp_path / "suite.yaml", f"predictions:{tmp_path / 'preds.jsonl'}",
                        tmp_path / "run")  # fmt: skip
    lines = [json.loads(x) for x in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    by_id = {line["id"]: line for line in lines}
    assert by_id["a"]["stats"]["faithfulness"]["failures"] == {"unparsed": 1}
    assert by_id["a"]["stats"]["faithfulness"]["supported"] == 1
    assert by_id["b"]["stats"]["faithfulness"]["unsupported"] == [
        "The Eiffel Tower is 400 metres tall."
    ]
    assert len(by_id["a"]["judgments"]["faithfulness"]) == 2
    assert "empty answer" in by_id["c"]["warnings"]["faithfulness"]
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert outcome.exit_code == 0
    text = json.dumps(results)
    assert "judge_failure_rate" in text and "template_sha256" in text
    # Comparing runs rebuilds the recorded metric from its recorded parameters, without the
    # judge: a run compares with itself, every delta 0.
    from evalkit.compare import compare_runs

    doc = compare_runs([tmp_path / "run", tmp_path / "run"])
    assert [r["metric"] for r in doc["comparisons"]] == ["faithfulness"]
    assert doc["comparisons"][0]["delta"] == 0.0
