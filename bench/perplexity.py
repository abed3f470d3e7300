"""Benchmark: evalkit's perplexity against a plain transformers loop, on the bundled tiny GPT-2.

Rows (each timed at every ``--sizes`` value: that many paragraphs of Python's bundled help text,
``pydoc_data.topics``, 200 to 1200 characters each, many longer than the model's 128-token
window):

- ``perplexity``: ``evalkit.metrics.lm.score_texts(texts, adapter)`` (the
  ``hf`` adapter: windows sorted by length and batched, ``batch_size`` 16, the output layer
  applied to scored positions only, GPT-2's GELU run as PyTorch's fused kernel) against the
  loop people write by hand, on the model as ``from_pretrained`` loads it: for each text, for
  each window, one forward pass with batch size 1 and no sorting, summing the
  log-probabilities of the same targets. Both return the corpus perplexity and bits per byte,
  which must agree before anything is timed.
- ``evaluate.load("perplexity")`` (Hugging Face ``evaluate``) where it loads offline: its
  script comes from the Hub, so it is usually a skipped row. With a local copy of the script
  (``$EVALKIT_BENCH_EVALUATE_DIR/perplexity/perplexity.py``) it runs on the model's local
  path in a row of its own, ``mean per-text perplexity``: evaluate truncates each text to one
  window and averages per-text perplexities, a different quantity from the corpus value above,
  so evalkit computes that quantity there (from its per-sample statistics) for the parity check.

The model loads once, outside the timings; only scoring is timed. Tokens per second are printed
under the table (targets scored / median seconds). Torch uses ``$EVALKIT_BENCH_TORCH_THREADS``
threads when set (on a busy two-core machine, 1 is much faster than the default 2), and both
cases run on ``$EVALKIT_BENCH_DEVICE`` (default ``cpu``; ``cuda`` on a GPU machine).

Usage::

    python bench/perplexity.py [--sizes 50,200] [--repeats 3] [--json PATH]
"""

from __future__ import annotations

import math
import os
import random
import sys
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import REPO_ROOT, Case, Group, Row, main, run_benchmark

__all__ = ["MODEL", "build", "corpus", "load_evaluate_perplexity", "plain_loop", "run"]

SEED = 20240611
MODEL = REPO_ROOT / "models" / "tiny-gpt2" / "step-0600"
BATCH_SIZE = 16
EVALUATE_TIMEOUT_S = 60.0


def corpus(n: int, seed: int = SEED) -> list[str]:
    """``n`` paragraphs of pydoc help text (200-1200 characters), in a seeded order."""
    from pydoc_data.topics import topics

    paras = [
        p.strip("\n")
        for name in sorted(topics)
        for p in topics[name].split("\n\n")
        if 200 <= len(p.strip("\n")) <= 1200
    ]
    random.Random(seed).shuffle(paras)
    if n > len(paras):
        raise ValueError(f"--sizes: at most {len(paras)} paragraphs are available, got {n}.")
    return paras[:n]


@lru_cache(maxsize=1)
def _plain_model() -> tuple[Any, Any]:
    """The model and tokenizer as a user loads them: ``from_pretrained``, nothing changed."""
    import transformers

    _adapter()  # sets the thread count first
    device = os.environ.get("EVALKIT_BENCH_DEVICE", "cpu")
    model: Any = transformers.AutoModelForCausalLM.from_pretrained(MODEL)
    model.to(device).eval()
    return model, transformers.AutoTokenizer.from_pretrained(MODEL)


@lru_cache(maxsize=1)
def _adapter() -> Any:
    threads = os.environ.get("EVALKIT_BENCH_TORCH_THREADS")
    import torch

    if threads:
        torch.set_num_threads(int(threads))
    from evalkit.adapters.hf import HFAdapter

    device = os.environ.get("EVALKIT_BENCH_DEVICE", "cpu")
    return HFAdapter(str(MODEL), batch_size=BATCH_SIZE, device=device)


def _values(nll: float, tokens: int, nbytes: int) -> dict[str, float]:
    return {"perplexity": math.exp(nll / tokens), "bits_per_byte": nll / nbytes / math.log(2)}


def plain_loop(texts: Sequence[str], model: Any, tokenizer: Any) -> dict[str, float]:
    """Per text, per window, batch size 1: the same windows and targets as evalkit."""
    import torch

    from evalkit.adapters.hf import rolling_windows

    max_length = model.config.n_positions
    nll, tokens = 0.0, 0
    with torch.inference_mode():
        for text in texts:
            ids = [tokenizer.bos_token_id, *tokenizer(text, add_special_tokens=False)["input_ids"]]
            for seq, k in rolling_windows(ids, max_length, max_length):
                logits = model(torch.tensor([seq[:-1]], device=model.device)).logits[0, -k:]
                target = torch.tensor(seq[-k:], device=model.device)[:, None]
                nll -= float(logits.float().log_softmax(-1).gather(-1, target).double().sum())
                tokens += k
    return _values(nll, tokens, sum(len(t.encode()) for t in texts))


def load_evaluate_perplexity(timeout_s: float = EVALUATE_TIMEOUT_S) -> tuple[Any, str | None]:
    """``evaluate.load("perplexity")`` offline: ``(module, None)`` or ``(None, reason)``."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_DATASETS_OFFLINE"] = "1"
    local = os.environ.get("EVALKIT_BENCH_EVALUATE_DIR")
    target = os.path.join(local, "perplexity") if local else "perplexity"
    box: dict[str, Any] = {}

    def load() -> None:
        try:
            import evaluate

            box["module"] = evaluate.load(target, module_type="metric")
        except Exception as exc:  # any failure is a skipped row, with its reason
            box["error"] = exc

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        return None, f"evaluate.load('perplexity') timed out after {timeout_s:g} s"
    if "module" in box:
        return box["module"], None
    error = box["error"]
    if isinstance(error, ImportError):
        return None, f"evaluate not importable: {error}"
    first = str(error).splitlines()[0][:120] if str(error) else ""
    return None, (
        f"evaluate.load({target!r}) needs its script from the Hub, offline here: "
        f"{type(error).__name__}: {first}"
    )


def _mean_per_text_group(texts: list[str], module: Any) -> Group | Case:
    """evaluate's definition: each text truncated to one window, mean of per-text perplexity.

    Returns a skipped case instead when evaluate's script loads but cannot compute here.
    """
    from evalkit.metrics.lm import Perplexity
    from evalkit.types import GenerateRequest, Sample

    adapter = _adapter()
    tok = adapter.tokenizer
    room = adapter.max_length - 1  # evaluate keeps max_length - 1 tokens after its start token
    clipped = [tok.decode(tok(t, add_special_tokens=False)["input_ids"][:room]) for t in texts]
    metric = Perplexity()

    def evalkit_mean() -> float:
        requests = [GenerateRequest(t, kind=metric.request_kind) for t in clipped]
        gens = adapter.loglikelihood_rolling(requests)
        samples = [
            Sample(id=str(i), prompt=t, outputs=g.outputs)
            for i, (t, g) in enumerate(zip(clipped, gens, strict=True))
        ]
        per_text = metric.per_sample_values(metric.sample_stats(samples))["perplexity"]
        return sum(per_text) / len(per_text)

    def evaluate_mean(texts: list[str], batch_size: int) -> float:
        out = module.compute(
            predictions=texts, model_id=str(MODEL), batch_size=batch_size, max_length=room + 1
        )
        return float(out["mean_perplexity"])

    # A probe: evaluate's script gives a tokenizer without a pad token (GPT-2's) one through
    # `special_tokens_map_extended`, which transformers 5 removed, and it always pads.
    label = f"evaluate.load('perplexity') (batch {BATCH_SIZE})"
    try:
        evaluate_mean(clipped[:2], BATCH_SIZE)
    except Exception as exc:
        first = str(exc).splitlines()[0][:100] if str(exc) else ""
        return Case(label, skip=f"loaded, but compute fails: {type(exc).__name__}: {first}")

    return Group(
        "mean per-text perplexity",
        Case(f"evalkit (batch {BATCH_SIZE}, sorted)", evalkit_mean),
        [Case(label, lambda: evaluate_mean(clipped, BATCH_SIZE))],
        tolerance=1e-3,
        note="evaluate's definition (texts truncated to one window, mean of per-text values)",
    )


def build(size: int, *, seed: int = SEED, with_evaluate: bool = True) -> list[Group]:
    """The perplexity group (and evaluate's, where it loads) on ``size`` paragraphs."""
    from evalkit.metrics.lm import score_texts

    texts = corpus(size, seed)
    adapter = _adapter()

    def evalkit_case() -> dict[str, float]:
        details = score_texts(texts, adapter).details
        return {k: details[k] for k in ("perplexity", "bits_per_byte")}

    peers = [
        Case(
            "transformers loop (batch 1)",
            lambda: plain_loop(texts, *_plain_model()),
        )
    ]
    module, skip = load_evaluate_perplexity() if with_evaluate else (None, "not requested")
    extra = _mean_per_text_group(texts, module) if module is not None else None
    if module is None or isinstance(extra, Case):
        peers.append(
            extra if isinstance(extra, Case) else Case("evaluate.load('perplexity')", skip=skip)
        )
    tokens = sum(len(adapter.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts)
    groups = [
        Group(
            "perplexity",
            Case(f"evalkit (batch {BATCH_SIZE}, sorted)", evalkit_case),
            peers,
            # float32 logits; the two agree to ~1e-8 here, 1e-4 leaves room for other BLAS.
            tolerance=1e-4,
            note="the same windows and targets in both; tokens per second below the table",
        )
    ]
    if isinstance(extra, Group):
        groups.append(extra)
    _TOKENS[size] = tokens
    return groups


#: Targets scored per call, by size (for the tokens-per-second lines).
_TOKENS: dict[int, int] = {}


def tokens_per_second(rows: Sequence[Row]) -> list[str]:
    """``size impl: N tokens/s`` lines for the perplexity rows."""
    lines = []
    for r in rows:
        if r.group == "perplexity" and r.median_s:
            rate = _TOKENS[r.size] / r.median_s
            lines.append(
                f"n={r.size:<5} {_TOKENS[r.size]:>7} tokens  {r.impl:<30} {rate:>8,.0f} tokens/s"
            )
    return lines


def run(
    sizes: Sequence[int] = (50, 200), repeats: int = 3, *, with_evaluate: bool = True
) -> list[Row]:
    """Run the benchmark in-process and return the rows (no printing)."""
    return run_benchmark(
        "perplexity", lambda n: build(n, with_evaluate=with_evaluate), sizes, repeats
    )


if __name__ == "__main__":
    rows = main(
        "perplexity",
        build,
        default_sizes=(50, 200),
        default_repeats=3,
        packages=("torch", "transformers", "tokenizers", "evaluate", "numpy"),
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    print("\ntokens per second (targets scored / median time):")
    print("\n".join(tokens_per_second(rows)))
