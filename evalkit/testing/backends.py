"""Models behind the loopback OpenAI-compatible server: a scripted one and a local causal LM.

A backend generates text and scores texts token by token. Scores carry each token's text, its
character offset, its log-probability given the tokens before it (``None`` for the first) and
the top alternatives (a ``{token: logprob}`` map holding the most likely token and the actual
one), which is what an OpenAI ``/completions`` response with ``echo`` and ``logprobs`` holds.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

__all__ = [
    "Backend",
    "HFBackend",
    "ScriptedBackend",
    "TokenScore",
    "apply_stop",
    "find_tiny_gpt2",
    "make_random_gpt2",
]


@dataclass(frozen=True)
class TokenScore:
    """One scored token.

    Attributes:
        text: The token's text.
        offset: Its character offset in the scored text.
        logprob: Its log-probability given the tokens before it; ``None`` for the first.
        top: The most likely token at its position and the token itself, with their
            log-probabilities; ``None`` for the first.
    """

    text: str
    offset: int
    logprob: float | None
    top: Mapping[str, float] | None


class Backend(Protocol):
    """What the server needs from a model."""

    def generate(
        self,
        prompt: str,
        *,
        max_tokens: int | None,
        temperature: float,
        stop: Sequence[str],
        seed: int | None,
    ) -> tuple[str, str]:
        """The completion of ``prompt`` and its finish reason (``stop`` or ``length``)."""

    def score(self, text: str) -> list[TokenScore]:
        """Every token of ``text`` with its log-probability given the tokens before it."""

    def score_continuation(self, prompt: str, continuation: str) -> list[TokenScore]:
        """The tokens of ``continuation`` given ``prompt`` (offsets within ``continuation``)."""


def apply_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """``text`` cut before the first stop sequence, and whether one was found.

    >>> apply_stop("A B. C", [".", "C"])
    ('A B', True)
    """
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


#: Scripted tokens: a word with the whitespace before it; trailing whitespace is a token too.
_TOKEN = re.compile(r"\s*\S+|\s+\Z")


class ScriptedBackend:
    """A deterministic model with log-probabilities one can compute by hand.

    - Tokens are whitespace-separated words with their leading whitespace (``"a b"`` is
      ``["a", " b"]``).
    - A token's log-probability is ``-0.25 * (1 + len(word))`` whatever comes before it.
    - A word of at most 3 characters is the most likely token at its position
      (``top = {token: logprob}``); a longer one is not: the top alternative is ``" the"``
      with half its log-probability (``top = {token: lp, " the": lp / 2}``).
    - ``generate`` returns ``rule(prompt)`` (default: the prompt in upper case); with a
      temperature above 0 it appends ``" #SEED"``, a stand-in for a seeded sample. At most
      ``max_tokens`` tokens are kept, then the text is cut before the first stop sequence.
    - With ``bos=True``, scoring starts with a ``"<s>"`` token of empty text (as servers of
      models with a beginning-of-sequence token do), so the first word gets a log-probability.

    >>> b = ScriptedBackend()
    >>> [(t.text, t.logprob) for t in b.score("a bcde")]
    [('a', None), (' bcde', -1.25)]
    >>> b.generate("x y z", max_tokens=2, temperature=0.0, stop=[], seed=None)
    ('X Y', 'length')
    """

    def __init__(self, rule: Callable[[str], str] | None = None, *, bos: bool = False) -> None:
        self.rule = rule or (lambda p: p.upper())
        self.bos = bos

    @staticmethod
    def token_logprob(token: str) -> float:
        """The log-probability of one token: ``-0.25 * (1 + len(word))``."""
        return -0.25 * (1 + len(token.strip()))

    @classmethod
    def _top(cls, token: str) -> dict[str, float]:
        lp = cls.token_logprob(token)
        return {token: lp} if len(token.strip()) <= 3 else {token: lp, " the": lp / 2}

    def generate(
        self,
        prompt: str,
        *,
        max_tokens: int | None,
        temperature: float,
        stop: Sequence[str],
        seed: int | None,
    ) -> tuple[str, str]:
        text = self.rule(prompt)
        if temperature > 0:
            text += f" #{seed if seed is not None else 0}"
        reason = "stop"
        tokens = _TOKEN.findall(text)
        if max_tokens is not None and len(tokens) > max_tokens:
            text, reason = "".join(tokens[:max_tokens]), "length"
        text, stopped = apply_stop(text, stop)
        return text, "stop" if stopped else reason

    def score(self, text: str) -> list[TokenScore]:
        out: list[TokenScore] = []
        if self.bos:
            out.append(TokenScore("", 0, None, None))
        for m in _TOKEN.finditer(text):
            first = not out
            tok = m.group()
            out.append(
                TokenScore(
                    tok,
                    m.start(),
                    None if first else self.token_logprob(tok),
                    None if first else self._top(tok),
                )
            )
        return out

    def score_continuation(self, prompt: str, continuation: str) -> list[TokenScore]:
        return [
            TokenScore(m.group(), m.start(), self.token_logprob(m.group()), self._top(m.group()))
            for m in _TOKEN.finditer(continuation)
        ]


class HFBackend:
    """A local Hugging Face causal LM directory (safetensors weights, a fast tokenizer).

    Scoring runs one forward pass in float32 on the CPU; offsets come from the tokenizer's
    offset mapping (a token starts where the one before it ends). Generation is greedy at
    temperature 0 and seeded sampling above it. Calls are serialised with a lock.
    """

    def __init__(self, path: str | Path) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.path = Path(path)
        self.tokenizer: Any = AutoTokenizer.from_pretrained(self.path)
        if not self.tokenizer.is_fast:
            raise ValueError(f"{self.path}: HFBackend needs a fast tokenizer (offset mapping).")
        self.model: Any = AutoModelForCausalLM.from_pretrained(self.path, dtype=torch.float32)
        self.model.eval()
        self._torch = torch
        self._lock = threading.Lock()

    def _encode(self, text: str) -> tuple[list[int], list[int]]:
        enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ids = list(enc["input_ids"])
        starts, end = [], 0
        for _, stop in enc["offset_mapping"]:
            starts.append(end)
            end = max(end, int(stop))
        return ids, starts

    def _logprobs(self, ids: Sequence[int]) -> Any:
        torch = self._torch
        with torch.no_grad():
            logits = self.model(torch.tensor([list(ids)])).logits[0].float()
        return torch.log_softmax(logits, dim=-1)

    def _scores(
        self,
        text: str,
        ids: Sequence[int],
        starts: Sequence[int],
        logp: Any,
        first: int,
        shift: int,
    ) -> list[TokenScore]:
        out = []
        for i in range(first, len(ids)):
            end = starts[i + 1] if i + 1 < len(ids) else len(text)
            tok = text[starts[i] : end]
            if i == 0:
                out.append(TokenScore(tok, starts[i] - shift, None, None))
                continue
            row = logp[i - 1]
            lp = float(row[ids[i]])
            best = int(row.argmax())
            top = {tok: lp}
            top[self.tokenizer.decode([best])] = max(float(row[best]), top.get(tok, -1e30))
            out.append(TokenScore(tok, starts[i] - shift, lp, top))
        return out

    def score(self, text: str) -> list[TokenScore]:
        ids, starts = self._encode(text)
        if not ids:
            return []
        with self._lock:
            logp = self._logprobs(ids)
        return self._scores(text, ids, starts, logp, 0, 0)

    def score_continuation(self, prompt: str, continuation: str) -> list[TokenScore]:
        p_ids, _ = self._encode(prompt)
        c_ids, c_starts = self._encode(continuation)
        if not c_ids:
            return []
        ids = p_ids + c_ids
        starts = [0] * len(p_ids) + [len(prompt) + s for s in c_starts]
        with self._lock:
            logp = self._logprobs(ids)
        return self._scores(prompt + continuation, ids, starts, logp, len(p_ids), len(prompt))

    def generate(
        self,
        prompt: str,
        *,
        max_tokens: int | None,
        temperature: float,
        stop: Sequence[str],
        seed: int | None,
    ) -> tuple[str, str]:
        torch = self._torch
        n_new = 16 if max_tokens is None else max_tokens
        ids, _ = self._encode(prompt)
        if n_new == 0 or not ids:
            return "", "length"
        with self._lock, torch.no_grad():
            torch.manual_seed(0 if seed is None else seed)
            kwargs: dict[str, Any] = {"do_sample": temperature > 0}
            if temperature > 0:
                kwargs["temperature"] = temperature
            out = self.model.generate(
                torch.tensor([ids]),
                attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                max_new_tokens=n_new,
                min_new_tokens=n_new,
                pad_token_id=self.tokenizer.eos_token_id or 0,
                **kwargs,
            )
        new = out[0, len(ids) :].tolist()
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        text, stopped = apply_stop(text, stop)
        return text, "stop" if stopped else "length"


def find_tiny_gpt2(root: str | Path | None = None) -> Path | None:
    """The last ``models/tiny-gpt2/step-*`` checkpoint of this repository, if one exists."""
    base = Path(root) if root is not None else Path(__file__).resolve().parents[2]
    steps = [
        p for p in (base / "models" / "tiny-gpt2").glob("step-*") if (p / "config.json").exists()
    ]

    def step(p: Path) -> tuple[int, str]:
        digits = "".join(c for c in p.name if c.isdigit())
        return (int(digits) if digits else -1, p.name)

    return max(steps, key=step) if steps else None


def make_random_gpt2(path: str | Path, *, seed: int = 0, vocab_size: int = 384) -> Path:
    """Save a randomly initialised 2-layer GPT-2 and a byte-level BPE tokenizer to ``path``.

    The tokenizer is trained on Python's bundled help text (``pydoc_data.topics``), so nothing
    is downloaded; the model has random weights, which is enough to check log-likelihood
    plumbing against a direct forward pass.
    """
    from pydoc_data.topics import topics

    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    texts = [topics[k] for k in sorted(topics)][:60]
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>"
    )
    fast.save_pretrained(out)
    config = GPT2Config(
        vocab_size=tok.get_vocab_size(),
        n_positions=256,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=0,
        eos_token_id=0,
    )
    torch.manual_seed(seed)
    GPT2LMHeadModel(config).save_pretrained(out)
    return out
