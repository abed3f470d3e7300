"""``hf:`` log-likelihoods of multiple-choice requests, against transformers run directly.

A request with ``continuations`` is one ``loglikelihood`` call per choice (the adapter base
expands and gathers them); each choice's score must equal the summed log-probability of its
tokens computed with transformers alone, with the pair tokenised as lm-evaluation-harness'
``_encode_pair`` does, under both prefix rules (``loglikelihood_prefix``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evalkit.adapters.hf import HFAdapter
from evalkit.errors import ConfigError
from evalkit.types import GenerateRequest

ROOT = Path(__file__).resolve().parents[2]
STEP_600 = ROOT / "models" / "tiny-gpt2" / "step-0600"

CASES = [
    ("Names in the target list are not deleted", (" when the loop is finished", " zebra")),
    ("The power operator binds ", ("more tightly", "less", "than unary operators on its left")),
    ("", ("The", "Return the value")),
]


@pytest.fixture(scope="module")
def reference() -> tuple[Any, Any]:
    import transformers

    tok = transformers.AutoTokenizer.from_pretrained(STEP_600)
    model = transformers.AutoModelForCausalLM.from_pretrained(STEP_600).eval()
    return tok, model


def lm_eval_pair(tok: Any, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """lm-evaluation-harness' ``_encode_pair``, restated: trailing context spaces move to the
    continuation, whose tokens are those of ``context + continuation`` after the context's."""
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces:
        context, continuation = context[:-n_spaces], context[-n_spaces:] + continuation
    ctx = tok(context, add_special_tokens=False)["input_ids"]
    whole = tok(context + continuation, add_special_tokens=False)["input_ids"]
    return ctx, whole[len(ctx) :]


def direct(
    tok: Any, model: Any, context: str, continuation: str, rule: str
) -> tuple[float, bool, int]:
    """(summed log-probability, greedy, continuation tokens) with transformers only."""
    import torch

    if context == "":  # both rules: the prefix token is the context (lm-eval's rule too)
        ctx, cont = [tok.eos_token_id], tok(continuation, add_special_tokens=False)["input_ids"]
    else:
        ctx, cont = lm_eval_pair(tok, context, continuation)
        if rule == "always":
            ctx = [tok.eos_token_id, *ctx]
    ids = ctx + cont
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].double()
    logp = logits.log_softmax(-1)
    rows = range(len(ctx) - 1, len(ids) - 1)
    total = float(sum(logp[r, t] for r, t in zip(rows, cont, strict=True)))
    greedy = all(int(logits[r].argmax()) == t for r, t in zip(rows, cont, strict=True))
    return total, greedy, len(cont)


@pytest.mark.parametrize("rule", ["always", "empty_context"])
def test_choices_equal_transformers(reference: tuple[Any, Any], rule: str) -> None:
    tok, model = reference
    adapter = HFAdapter(str(STEP_600), loglikelihood_prefix=rule, batch_size=3)
    assert adapter.info()["loglikelihood_prefix"] == rule
    requests = [GenerateRequest(c, kind="loglikelihood", continuations=ch) for c, ch in CASES]
    gens = adapter.call(requests)
    for (context, choices), g in zip(CASES, gens, strict=True):
        assert g.ok and len(g.outputs["choices"]) == len(choices)
        for cont, got in zip(choices, g.outputs["choices"], strict=True):
            want, greedy, n_tokens = direct(tok, model, context, cont, rule)
            assert got["logprob"] == pytest.approx(want, abs=1e-4)
            assert got["is_greedy"] is greedy
            assert got["n_tokens"] == n_tokens


def test_rules_differ_only_for_non_empty_contexts() -> None:
    always = HFAdapter(str(STEP_600))
    bare = HFAdapter(str(STEP_600), loglikelihood_prefix="empty_context")
    assert always.info() != bare.info()  # the cache keeps them apart
    with_ctx = GenerateRequest("The value of", kind="loglikelihood", continuation=" the")
    empty = GenerateRequest("", kind="loglikelihood", continuation="The value")
    a, b = always.loglikelihood([with_ctx, empty]), bare.loglikelihood([with_ctx, empty])
    assert a[1].outputs == pytest.approx(b[1].outputs)
    assert abs(a[0].outputs["logprob"] - b[0].outputs["logprob"]) > 1e-3


def test_expanded_choices_equal_single_calls_and_mix_with_plain_requests() -> None:
    adapter = HFAdapter(str(STEP_600), batch_size=2)
    context, choices = CASES[1]
    plain = GenerateRequest("Return the", kind="loglikelihood", continuation=" value")
    multi = GenerateRequest(context, kind="loglikelihood", continuations=choices)
    got = adapter.call([plain, multi])
    singles = adapter.loglikelihood(
        [GenerateRequest(context, kind="loglikelihood", continuation=c) for c in choices]
    )
    assert got[0].outputs == pytest.approx(adapter.loglikelihood([plain])[0].outputs)
    for one, part in zip(singles, got[1].outputs["choices"], strict=True):
        assert part["logprob"] == pytest.approx(one.outputs["logprob"], abs=1e-5)


def test_a_failed_choice_fails_the_item_by_name() -> None:
    adapter = HFAdapter(str(STEP_600))
    r = GenerateRequest("The value", kind="loglikelihood", continuations=(" of", ""))
    (g,) = adapter.call([r])
    assert not g.ok and g.error is not None
    assert g.error.startswith("choice 1: hf: the continuation is empty")


def test_bad_prefix_rule_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"loglikelihood_prefix='bos'.*empty_context"):
        HFAdapter(str(STEP_600), loglikelihood_prefix="bos")
