"""choice_accuracy: acc and acc_norm as lm-evaluation-harness defines them.

Numbers come from transformers run directly on the bundled tiny GPT-2 (no evalkit code in the
expected values), and from an independent implementation of lm-evaluation-harness'
``process_results`` for ``multiple_choice`` over raw log-probabilities.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evalkit.errors import ConfigError, InputError
from evalkit.metrics import choice_accuracy
from evalkit.metrics.choice import ChoiceAccuracy, item_choices
from evalkit.runner import run_suite
from evalkit.suite import load_suite
from evalkit.types import Sample

ROOT = Path(__file__).resolve().parents[2]
STEP_600 = ROOT / "models" / "tiny-gpt2" / "step-0600"

ITEMS: list[dict[str, Any]] = [
    {
        "id": "loop",
        "context": "Names in the target list are not deleted",
        "choices": ["when the loop is finished, but", "for sequences if elements can be"],
        "gold": 0,
    },
    {
        "id": "class",
        "context": "the new class's dictionary. Note that this is",
        "choices": ["reliable only right after the class", "é", "iterate over all the objects in"],
        "gold": "reliable only right after the class",
    },
    {
        "id": "pow",
        "context": "The power operator binds more tightly than unary operators ",
        "choices": ["on its left", "zebra"],
        "gold": 1,
    },
]


def _write_suite(tmp_path: Path, rows: list[dict[str, Any]], params: str = "") -> Path:
    data = tmp_path / "items.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    suite = tmp_path / "mc.yaml"
    suite.write_text(
        "name: mc\nbootstrap: {resamples: 50}\ntasks:\n  - name: t\n"
        "    dataset: {path: items.jsonl, id: id}\n"
        '    prompt: "{context}"\n'
        f"    metrics:\n      - choice_accuracy{params}\n",
        encoding="utf-8",
    )
    return suite


# ------------------------------------------------------------- lm-eval, written independently


def lm_eval_process_results(
    lls: list[float], choices: list[str], gold: int | str
) -> dict[str, float]:
    """lm-evaluation-harness' multiple_choice ``process_results`` (acc, acc_norm), restated.

    ``completion_len = len(choice)`` (characters, no delimiter); a text gold is
    ``choices.index(gold)``; ``np.argmax`` takes the first of equal values.
    """
    gold_index = choices.index(gold) if isinstance(gold, str) else gold
    completion_len = np.array([float(len(c)) for c in choices])
    pred = int(np.argmax(lls))
    pred_norm = int(np.argmax(np.asarray(lls) / completion_len))
    return {"acc": float(pred == gold_index), "acc_norm": float(pred_norm == gold_index)}


def _transformers_logprob(model: Any, tok: Any, context: str, continuation: str) -> float:
    """log P(continuation | context) with transformers alone, the pair split as lm-eval does.

    Trailing context whitespace moves to the continuation; the continuation's tokens are
    ``encode(context + continuation)[len(encode(context)):]``; the sequence starts with
    ``<|endoftext|>`` (evalkit's prefix token, see ``evalkit.adapters.hf``).
    """
    import torch

    n_spaces = len(context) - len(context.rstrip())
    if n_spaces:
        context, continuation = context[:-n_spaces], context[-n_spaces:] + continuation
    ctx = tok(context, add_special_tokens=False)["input_ids"]
    whole = tok(context + continuation, add_special_tokens=False)["input_ids"]
    cont = whole[len(ctx) :]
    ids = [tok.eos_token_id, *ctx, *cont]
    with torch.no_grad():
        logp = model(torch.tensor([ids])).logits[0].double().log_softmax(-1)
    start = len(ids) - len(cont)
    return float(sum(logp[start - 1 + j, t] for j, t in enumerate(cont)))


@pytest.fixture(scope="module")
def hf_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("mc")
    suite = _write_suite(tmp, ITEMS)
    out = tmp / "run"
    run_suite(suite, f"hf:{STEP_600}", out, use_cache=False)
    return out


def test_hf_run_equals_transformers_and_hand_computed_acc(hf_run: Path) -> None:
    import transformers

    tok = transformers.AutoTokenizer.from_pretrained(STEP_600)
    model = transformers.AutoModelForCausalLM.from_pretrained(STEP_600).eval()
    lines = {
        ln["id"]: ln for ln in map(json.loads, (hf_run / "samples.jsonl").read_text().splitlines())
    }
    accs, norms = [], []
    for item in ITEMS:
        line = lines[item["id"]]
        assert line["error"] is None
        got = [c["logprob"] for c in line["outputs"]["choices"]]
        want = [
            _transformers_logprob(model, tok, item["context"], " " + c) for c in item["choices"]
        ]
        assert got == pytest.approx(want, abs=1e-4)
        expected = lm_eval_process_results(want, item["choices"], item["gold"])
        assert line["stats"]["choice_accuracy"] == [expected["acc"], expected["acc_norm"]]
        accs.append(expected["acc"])
        norms.append(expected["acc_norm"])
    # "pow": the gold is the unlikely " zebra"; the model prefers " on its left".
    assert lines["pow"]["stats"]["choice_accuracy"][0] == 0.0
    rows = {r["metric"]: r for r in json.loads((hf_run / "results.json").read_text())["results"]}
    assert rows["acc"]["value"] == pytest.approx(sum(accs) / 3)
    assert rows["acc_norm"]["value"] == pytest.approx(sum(norms) / 3)
    assert rows["acc"]["n"] == 3 and rows["acc"]["higher_is_better"] is True


# ------------------------------------------------------------------------- parity, raw logprobs


def _random_items(seed: int, n: int) -> list[tuple[list[float], list[str], int | str]]:
    rng = random.Random(seed)
    words = ["a", "bb", "ccc", "été", "naïve", "x y z", "日本語", "the end", "q"]
    out: list[tuple[list[float], list[str], int | str]] = []
    for _ in range(n):
        k = rng.randint(2, 5)
        choices = rng.sample(words, k)
        # Rounded values make exact ties (in ll and in ll / len) common.
        lls = [-float(rng.randint(1, 12)) / 2 for _ in range(k)]
        gold_index = rng.randrange(k)
        gold: int | str = choices[gold_index] if rng.random() < 0.3 else gold_index
        out.append((lls, choices, gold))
    return out


def test_parity_with_lm_eval_definition_from_raw_logprobs() -> None:
    items = _random_items(0, 400)
    want = [lm_eval_process_results(*it) for it in items]
    metric = ChoiceAccuracy()
    samples = [
        Sample(
            str(i),
            inputs={"choices": c, "gold": g},
            outputs={"choices": [{"logprob": x} for x in ll]},
        )
        for i, (ll, c, g) in enumerate(items)
    ]
    stats = metric.sample_stats(samples)
    assert stats == [[w["acc"], w["acc_norm"]] for w in want]
    score = choice_accuracy(
        [it[0] for it in items], [it[2] for it in items], [it[1] for it in items]
    )
    assert score.name == "acc" and score.n == 400
    assert score.value == pytest.approx(np.mean([w["acc"] for w in want]), abs=1e-12)
    assert score.details["acc_norm"] == pytest.approx(np.mean([w["acc_norm"] for w in want]))
    # Some items differ between acc and acc_norm, and ties occur: the test exercises both.
    assert any(w["acc"] != w["acc_norm"] for w in want)
    assert any(len(set(it[0])) < len(it[0]) for it in items)


def test_bytes_normalisation_differs_only_for_non_ascii() -> None:
    # ll / chars: -3/3 = -1.0 ("été") vs -2.2/2 = -1.1 ("ab"); in bytes "été" has 5: -0.6.
    lls, choices = [[-2.2, -3.0]], [["ab", "été"]]
    assert choice_accuracy(lls, [1], choices).details["acc_norm"] == 1.0
    assert choice_accuracy(lls, [0], choices, length="bytes").details["acc_norm"] == 0.0
    assert choice_accuracy(lls, [1], choices, length="bytes").details["acc_norm"] == 1.0
    ascii_lls, ascii_choices = [[-2.2, -3.1]], [["ab", "cde"]]
    for gold in (0, 1):
        chars = choice_accuracy(ascii_lls, [gold], ascii_choices).details
        assert chars == choice_accuracy(ascii_lls, [gold], ascii_choices, length="bytes").details


def test_request_continuations_use_the_target_delimiter() -> None:
    s = Sample("1", inputs={"opts": ["A", "B"], "ans": "B"})
    m = ChoiceAccuracy(choices_field="opts", gold_field="ans", target_delimiter="\nAnswer: ")
    assert m.request_continuations(s) == ("\nAnswer: A", "\nAnswer: B")
    assert item_choices(s, "opts", "ans") == (["A", "B"], 1)
    assert 'target_delimiter:"\\nAnswer:\\u0020"' in m.signature()


# ------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("bad", "field", "what"),
    [
        ({"choices": "yes or no"}, "choices", "must be a list of strings"),
        ({"choices": ["yes", 3]}, "choices", "must be a list of strings"),
        ({"choices": ["only"]}, "choices", "at least two"),
        ({"choices": ["a", ""]}, "choices", "choice 1 is empty"),
        ({"gold": 2}, "gold", "index 2 is out of range for 2 choices"),
        ({"gold": -1}, "gold", "index -1 is out of range"),
        ({"gold": "maybe"}, "gold", "'maybe' is none of the choices"),
        ({"gold": "1"}, "gold", "an index must be a JSON integer"),
        ({"gold": True}, "gold", "must be the right choice's index"),
        ({"gold": None}, "gold", "must be the right choice's index"),
    ],
)
def test_bad_items_fail_before_any_model_call_with_file_line_and_field(
    tmp_path: Path, bad: dict[str, Any], field: str, what: str
) -> None:
    rows = [
        {"id": "1", "context": "c", "choices": ["yes", "no"], "gold": 0},
        {"id": "2", "context": "c", "choices": ["yes", "no"], "gold": 1, **bad},
    ]
    suite = _write_suite(tmp_path, rows)
    # fail_ids would fail every call: a model call before the check would show up as that.
    with pytest.raises(InputError) as err:
        run_suite(suite, "scripted:echo", tmp_path / "out", use_cache=False)
    message = str(err.value)
    assert f"items.jsonl:2: field '{field}'" in message and what in message, message
    assert err.value.exit_code == 2


def test_a_missing_field_names_the_parameter_to_set(tmp_path: Path) -> None:
    rows = [{"id": "1", "context": "c", "options": ["yes", "no"], "gold": 0}]
    suite = _write_suite(tmp_path, rows)
    with pytest.raises(InputError, match=r"items.jsonl:1: field 'choices' is missing"):
        run_suite(suite, "scripted:echo", tmp_path / "out", use_cache=False)
    ok = _write_suite(tmp_path, rows, ": {choices_field: options}")
    outcome = run_suite(ok, "scripted:echo", tmp_path / "out2", use_cache=False)
    assert {r["metric"] for r in outcome.results} == {"acc", "acc_norm"}


def test_cli_exit_code_2_for_bad_gold(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from evalkit.cli import main

    rows = [{"id": "1", "context": "c", "choices": ["yes", "no"], "gold": 5}]
    suite = _write_suite(tmp_path, rows)
    with pytest.raises(SystemExit) as exc:
        main(["run", str(suite), "--model", "scripted:echo", "--out", str(tmp_path / "o")])
    assert exc.value.code == 2
    assert "items.jsonl:1: field 'gold': index 5 is out of range" in capsys.readouterr().err


def test_a_continuation_template_is_refused_next_to_choices(tmp_path: Path) -> None:
    suite = _write_suite(tmp_path, ITEMS[:1])
    text = suite.read_text().replace(
        '    prompt: "{context}"\n', '    prompt: "{context}"\n    continuation: " {context}"\n'
    )
    suite.write_text(text)
    with pytest.raises(ConfigError, match="remove the task's `continuation:`"):
        load_suite(suite)


def test_missing_per_choice_results_are_an_input_error() -> None:
    s = Sample("7", inputs={"choices": ["a", "b"], "gold": 0}, outputs={"logprob": -1.0})
    with pytest.raises(InputError, match="no per-choice log-likelihoods"):
        ChoiceAccuracy().sample_stats([s])
    s2 = Sample(
        "8", inputs={"choices": ["a", "b"], "gold": 0}, outputs={"choices": [{"logprob": 0}]}
    )
    with pytest.raises(InputError, match="1 log-likelihoods for 2 choices"):
        ChoiceAccuracy().sample_stats([s2])
    with pytest.raises(InputError, match="differ in length"):
        choice_accuracy([[-1.0, -2.0]], [0, 1], [["a", "b"]])


def test_scripted_model_scores_each_choice_once() -> None:
    from evalkit.adapters.scripted import ScriptedAdapter
    from evalkit.types import GenerateRequest

    adapter = ScriptedAdapter("echo")
    r = GenerateRequest("the cat sat", kind="loglikelihood", continuations=(" cat", " dog here"))
    (g,) = adapter.call([r])
    assert g.outputs == {
        "choices": [
            {"logprob": -0.25, "is_greedy": True, "n_tokens": 1},
            {"logprob": -1.0, "is_greedy": False, "n_tokens": 2},
        ]
    }
    assert math.isclose(-0.25 / 3, max(-0.25 / 3, -1.0 / 8))
