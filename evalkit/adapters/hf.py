"""``hf:PATH``: a local Hugging Face causal language model (transformers), offline.

Serves the three request kinds:

- ``generate``: greedy decoding at ``temperature: 0``, otherwise sampling from
  ``softmax(logits / temperature)`` with a generator seeded per request
  (``GenerateRequest.seed``), so a sample does not depend on the batch it ran in. Decoding stops
  at ``max_tokens`` (default: the ``max_new_tokens`` option), at the end-of-text token, or at the
  first stop sequence, which is cut from the text.
- ``loglikelihood``: the log-probability of ``continuation`` given ``prompt``, and whether the
  continuation is the greedy one. Whitespace at the end of the context moves to the
  continuation and the pair is tokenised together, as lm-evaluation-harness does
  (``HFLM._encode_pair``), so the split never cuts a token in two.
- ``loglikelihood_rolling``: the summed negative log-likelihood (nats) of a whole text, scored
  in windows of ``max_length`` tokens advancing by ``stride`` (request options; default: the
  model's maximum length for both). Every token is scored exactly once: the first window
  scores all its tokens, each later window scores only the tokens that no earlier window
  scored, with the tokens before them (up to ``max_length``) as context.

**The first token.** Every sequence starts with a *prefix token*: the tokenizer's BOS token,
or its EOS token when it has no BOS (GPT-2's ``<|endoftext|>`` is both; the rule of
lm-evaluation-harness' ``prefix_token_id``). So the first real token is scored too, conditioned
on the document boundary the model saw in training. A tokenizer with neither token leaves the
first token of each text unscored (``n_tokens`` says how many were scored) and cannot score a
continuation of an empty context. ``info()["prefix_token_id"]`` records which rule applied.

lm-evaluation-harness puts that token before ``loglikelihood`` contexts only when the context
is empty (``TemplateLM.loglikelihood``; a non-empty context is encoded without special tokens
unless ``add_bos_token`` is set), so its ``log P(continuation | context)`` for GPT-2 lacks the
document boundary. ``loglikelihood_prefix: empty_context`` scores that way, to reproduce its
multiple-choice numbers exactly; the default ``always`` keeps evalkit's rule, under which a
text's ``loglikelihood`` from an empty context equals its rolling score and scores chain
(``log P(a) + log P(b | a) = log P(ab)``). Both are in ``info()``, so the cache keeps them
apart.

**Batching.** Scoring windows (and prompts to generate from) are sorted by length and cut into
batches of at most ``batch_size`` (scoring batches are also cut where padding would pass a
quarter of the real tokens: see :func:`~evalkit.adapters._hf_support.length_batches`). Pad
positions are masked in attention, given the positions they would have without padding
(``position_ids``), and never scored, so results agree across batch sizes and padding sides
(``padding_side``: ``right`` or ``left`` for scoring; generation always pads on the left) to
float rounding (1e-5 in float32).

**Safety and offline use.** Only local directories (or models already in the local Hugging
Face cache) load: ``local_files_only`` is always set and nothing is downloaded. Weights load
from safetensors files only (``use_safetensors=True``; no pickle), and ``trust_remote_code`` is
off unless asked for. ``info()`` (the response cache key) holds the resolved path, SHA-256
hashes of the weights, config and tokenizer files, the revision, dtype, device, maximum length
and the library versions.

Options (``--model-arg KEY=VALUE``): ``revision``, ``dtype`` (``float32``, ``bfloat16``,
``float16``, ``auto``), ``device`` (``cpu``, ``cuda``, ``cuda:N``, ``mps``, ``auto``),
``batch_size``, ``max_length``, ``max_new_tokens``, ``chat_template`` (render each generation
prompt, and each log-likelihood context, as one user message with the tokenizer's chat
template), ``padding_side``, ``trust_remote_code``, ``fused_gelu`` (default true: see below),
``loglikelihood_prefix`` (``always`` or ``empty_context``: see the first token).

**Speed.** Two changes that leave the numbers as they are (to float rounding, tested): GPT-2's
``gelu_new``, five elementwise passes in transformers, runs as PyTorch's fused tanh GELU
(``fused_gelu: false`` keeps the model as loaded; ``info()["fused_gelu"]`` records it), and
scoring applies the output layer to the scored positions only, not to padding or to a strided
window's context. On the bundled model (CPU) evalkit's matrix products then run near the
machine's peak; ``bench/perplexity.py`` compares it with a per-text transformers loop.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

from evalkit.adapters._hf_support import (
    Settings,
    fuse_gelu,
    length_batches,
    resolve,
    rolling_windows,
    settings,
    sha256_files,
)
from evalkit.adapters.base import ModelAdapter
from evalkit.errors import AdapterError, AssetError, ConfigError, did_you_mean
from evalkit.types import GenerateRequest, Generation

__all__ = ["HFAdapter", "length_batches", "rolling_windows"]

#: The fewest rows the output layer is applied to at once. CPU BLAS libraries switch to other
#: kernels for matrices of a few rows, chosen differently with one thread and with two, whose
#: results differ in the last bits; fewer scored positions are padded up to this many, so that
#: a score does not depend on the thread count (Ray workers run one thread each).
_MIN_HEAD_ROWS = 16

_INSTALL = "pip install torch==2.13.0 && pip install 'evalkit[hf]'"
_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
    "added_tokens.json",
    "chat_template.jinja",
    "chat_template.json",
)

#: Weight hashes already computed in this process, by each file's (path, size, mtime): a
#: multi-GB checkpoint is read once per process, however many adapters load it.
_weight_hashes: dict[tuple[tuple[str, int, int], ...], str] = {}


def weights_sha256(paths: Sequence[Path]) -> str:
    """``sha256_files`` of weight files, remembered per file state (path, size, mtime)."""
    state = tuple((str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in paths)
    if state not in _weight_hashes:
        _weight_hashes[state] = sha256_files(paths)
    return _weight_hashes[state]


def _kv_cache_name(model: Any) -> str:
    """The name under which ``model.forward`` takes, and its output returns, the KV cache.

    transformers 5 renamed ``past_key_values`` to ``cache`` and warns on every call that still
    passes or reads the old name; earlier versions (the ``hf`` extra allows 4.56+) know only
    ``past_key_values``.
    """
    import inspect

    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):  # a forward that hides its signature: the old name
        return "past_key_values"
    return "cache" if "cache" in params else "past_key_values"


class HFAdapter(ModelAdapter):
    """A local causal LM through transformers (see the module docstring).

    Args:
        target: A model directory (or the name of a model already in the local HF cache).
        revision: A revision of a cached hub model (not allowed with a directory).
        dtype: ``float32`` (default), ``bfloat16``, ``float16`` or ``auto`` (the checkpoint's).
        device: ``cpu`` (default), ``cuda``, ``cuda:N``, ``mps`` or ``auto``.
        batch_size: Sequences per forward pass.
        max_length: Longest sequence fed to the model; default and upper bound: the model's
            maximum (``n_positions`` / ``max_position_embeddings``).
        max_new_tokens: Tokens to generate when a request sets no ``max_tokens``; default
            ``min(256, max_length // 2)``.
        chat_template: Render prompts with the tokenizer's chat template.
        padding_side: Where scoring batches are padded (``right`` or ``left``).
        trust_remote_code: Allow model code shipped with the checkpoint (off by default).
        loglikelihood_prefix: ``always`` (default: every scored sequence starts with the
            prefix token) or ``empty_context`` (only an empty context is replaced by it, as
            lm-evaluation-harness' ``loglikelihood`` does; see the module docstring).
    """

    name: ClassVar[str] = "hf"
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {"generate", "loglikelihood", "loglikelihood_rolling"}
    )

    def __init__(
        self,
        target: str,
        *,
        revision: str | None = None,
        dtype: str = "float32",
        device: str = "cpu",
        batch_size: int = 8,
        max_length: int | None = None,
        max_new_tokens: int | None = None,
        chat_template: bool = False,
        padding_side: str = "right",
        trust_remote_code: bool = False,
        fused_gelu: bool = True,
        loglikelihood_prefix: str = "always",
        **unknown: Any,
    ) -> None:
        if unknown:
            key = sorted(unknown)[0]
            allowed = [f.name for f in Settings.__dataclass_fields__.values()]
            raise ConfigError(
                f"hf: unknown option '{key}'.{did_you_mean(key, allowed)} "
                f"Options: {', '.join(allowed)}."
            )
        self.settings = settings(
            dict(
                revision=revision,
                dtype=dtype,
                device=device,
                batch_size=batch_size,
                max_length=max_length,
                max_new_tokens=max_new_tokens,
                chat_template=chat_template,
                padding_side=padding_side,
                trust_remote_code=trust_remote_code,
                fused_gelu=fused_gelu,
                loglikelihood_prefix=loglikelihood_prefix,
            )
        )
        self.target = target
        self.path = resolve(target, revision)
        weights = sorted(self.path.glob("*.safetensors"))
        if not weights:
            raise AssetError(
                f"hf:{target}: {self.path} has no *.safetensors weights. evalkit loads "
                "safetensors only (never pickled .bin files); convert the checkpoint with "
                "model.save_pretrained(DIR, safe_serialization=True)."
            )
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            import torch
            import transformers
        except ImportError as exc:
            raise AdapterError(f"hf: needs torch and transformers ({exc}); {_INSTALL}") from None
        self._torch = torch
        self.device = self._pick_device(self.settings.device)
        common: dict[str, Any] = {
            "local_files_only": True,
            "trust_remote_code": self.settings.trust_remote_code,
        }
        bars = transformers.utils.logging.is_progress_bar_enabled()
        transformers.utils.logging.disable_progress_bar()  # evalkit shows its own progress
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(self.path, **common)
            torch_dtype = "auto" if dtype == "auto" else getattr(torch, dtype)
            self.model = transformers.AutoModelForCausalLM.from_pretrained(
                self.path, dtype=torch_dtype, use_safetensors=True, **common
            )
        except (OSError, ValueError) as exc:
            raise AssetError(
                f"hf:{target}: cannot load the model from {self.path}: {exc}"
            ) from None
        finally:
            if bars:
                transformers.utils.logging.enable_progress_bar()
        self.model.to(self.device).eval()
        fused = fuse_gelu(self.model, transformers) if self.settings.fused_gelu else 0
        # Scoring applies the output layer to the scored positions only (see _logits).
        self._gather_head = self.model.get_output_embeddings() is not None
        self.model_max_length = self._model_max_length()
        if self.settings.max_length is not None and self.settings.max_length > (
            self.model_max_length
        ):
            raise ConfigError(
                f"hf: max_length={self.settings.max_length} exceeds the model's maximum "
                f"({self.model_max_length})."
            )
        self.max_length = self.settings.max_length or self.model_max_length
        self.max_new_tokens = self.settings.max_new_tokens or min(256, self.max_length // 2)
        if self.settings.chat_template and not getattr(self.tokenizer, "chat_template", None):
            raise ConfigError(
                f"hf:{target}: chat_template=true, but the tokenizer has no chat template."
            )
        tok = self.tokenizer
        prefix = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
        self.prefix_token_id: int | None = prefix
        pad = tok.pad_token_id if tok.pad_token_id is not None else prefix
        self.pad_token_id: int = 0 if pad is None else int(pad)
        files = [self.path / f for f in _TOKENIZER_FILES if (self.path / f).is_file()]
        self._info = {
            "kind": self.name,
            "path": str(self.path),
            "revision": revision,
            "weights_sha256": weights_sha256(weights),
            "config_sha256": sha256_files([self.path / "config.json"]),
            "tokenizer_sha256": sha256_files(files),
            "dtype": str(self.model.dtype).removeprefix("torch."),
            "device": str(self.device),
            "max_length": self.max_length,
            "max_new_tokens": self.max_new_tokens,
            "chat_template": self.settings.chat_template,
            "prefix_token_id": self.prefix_token_id,
            "loglikelihood_prefix": self.settings.loglikelihood_prefix,
            "trust_remote_code": self.settings.trust_remote_code,
            "fused_gelu": fused > 0,
            "torch": metadata.version("torch"),
            "transformers": metadata.version("transformers"),
        }

    # ------------------------------------------------------------------------------ set-up

    def _pick_device(self, device: str) -> Any:
        torch = self._torch
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            dev = torch.device(device)
        except RuntimeError as exc:
            raise ConfigError(f"hf: device={device!r}: {exc}") from None
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(f"hf: device={device!r}, but no CUDA device is available.")
        return dev

    def _model_max_length(self) -> int:
        cfg = self.model.config
        for key in ("n_positions", "max_position_embeddings", "n_ctx", "seq_length"):
            value = getattr(cfg, key, None)
            if isinstance(value, int) and value > 0:
                return value
        value = getattr(self.tokenizer, "model_max_length", None)
        if isinstance(value, int) and 0 < value < 1_000_000:
            return value
        if self.settings.max_length is not None:
            return self.settings.max_length
        raise ConfigError(
            f"hf:{self.target}: the config names no maximum length; set the max_length option."
        )

    def info(self) -> dict[str, Any]:
        return dict(self._info)

    def prepare(self, requests: Mapping[str, Sequence[GenerateRequest]]) -> None:
        """Check the window options of rolling requests before any call."""
        for task, reqs in requests.items():
            for r in reqs[:1]:
                if r.kind == "loglikelihood_rolling":
                    try:
                        self._window(r)
                    except ValueError as exc:
                        raise ConfigError(f"task '{task}': hf: {exc}") from None

    def _window(self, r: GenerateRequest) -> tuple[int, int]:
        max_length = r.option("max_length") or self.max_length
        stride = r.option("stride") or max_length
        for name, value in (("max_length", max_length), ("stride", stride)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
        if max_length > self.model_max_length:
            raise ValueError(
                f"max_length={max_length} exceeds the model's maximum ({self.model_max_length})."
            )
        if stride > max_length:
            raise ValueError(
                f"stride={stride} exceeds max_length={max_length}; tokens would go unscored."
            )
        return max_length, stride

    # ------------------------------------------------------------------------- tokenising

    def _encode(self, texts: Sequence[str]) -> list[list[int]]:
        if not texts:
            return []
        # verbose=False: texts longer than the model are expected here (they are windowed).
        out = self.tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]
        return [list(ids) for ids in out]

    def _render(self, prompt: str) -> str:
        if not self.settings.chat_template:
            return prompt
        text = self.tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
        return str(text)

    def _prefixed(self, ids: list[int], rendered: bool = False) -> list[int]:
        """``ids`` after the prefix token (a chat template may have put it there already)."""
        if self.prefix_token_id is None:
            return ids
        if rendered and self.settings.chat_template and ids and ids[0] == self.prefix_token_id:
            return ids
        return [self.prefix_token_id, *ids]

    # --------------------------------------------------------------------------- scoring

    def _score_windows(
        self, windows: Sequence[tuple[list[int], int]], greedy: bool = True
    ) -> list[tuple[float, bool] | str]:
        """``(sum of log-probabilities, all greedy)`` of each window's scored targets.

        Windows are sorted by length and batched; a batch that fails (out of memory...)
        yields its error message for each of its windows. ``greedy=False`` skips the
        greedy check (reported as False).
        """
        torch = self._torch
        out: list[tuple[float, bool] | str] = [""] * len(windows)
        left = self.settings.padding_side == "left"
        for idx in length_batches([len(w[0]) - 1 for w in windows], self.settings.batch_size):
            inputs = [windows[i][0][:-1] for i in idx]
            width = max(len(x) for x in inputs)
            ids = torch.full((len(idx), width), self.pad_token_id, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            rows: list[int] = []
            cols: list[int] = []
            targets: list[int] = []
            counts: list[int] = []
            for b, i in enumerate(idx):
                seq, k = windows[i]
                m = len(seq) - 1
                off = width - m if left else 0
                ids[b, off : off + m] = torch.tensor(seq[:-1])
                mask[b, off : off + m] = 1
                rows += [b] * k
                cols += range(off + m - k, off + m)
                targets += seq[len(seq) - k :]
                counts.append(k)
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            try:
                with torch.inference_mode():
                    picked = self._logits(ids, mask, positions, rows, cols).float()
                    tgt = torch.tensor(targets, device=picked.device)
                    nll = torch.nn.functional.cross_entropy(picked, tgt, reduction="none")
                    sums = [-float(x.sum()) for x in nll.double().split(counts)]
                    if greedy:
                        hits = picked.argmax(-1) == tgt
                        alls = [bool(x.all()) for x in hits.split(counts)]
                    else:
                        alls = [False] * len(counts)
            except RuntimeError as exc:
                for i in idx:
                    out[i] = f"hf: scoring failed: {type(exc).__name__}: {exc}"
                continue
            for j, i in enumerate(idx):
                out[i] = (sums[j], alls[j])
        return out

    def _logits(self, ids: Any, mask: Any, positions: Any, rows: list[int], cols: list[int]) -> Any:
        """Logits at the scored positions ``(rows[j], cols[j])``, one row per target.

        The output layer (``get_output_embeddings()``, the largest matrix product of a small
        model) is applied to the scored positions only, through a pre-hook that gathers them
        from its input, rather than to every position, padding included. Whatever the model
        does after that layer (scaling, soft-capping) is elementwise and still applies. A model
        whose logits do not come back in that shape is scored the plain way from then on.
        """
        torch = self._torch
        where = (torch.tensor(rows, device=self.device), torch.tensor(cols, device=self.device))
        kwargs = {
            "input_ids": ids.to(self.device),
            "attention_mask": mask.to(self.device),
            "position_ids": positions.to(self.device),
            "use_cache": False,
        }
        if self._gather_head:

            def gather(module: Any, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
                if len(args) != 1 or args[0].dim() != 3:
                    return None  # not the call shape expected: leave it alone
                picked = args[0][where]
                if len(rows) < _MIN_HEAD_ROWS:  # see _MIN_HEAD_ROWS: pad with copies
                    picked = picked[torch.arange(_MIN_HEAD_ROWS, device=picked.device) % len(rows)]
                return (picked.unsqueeze(0),)

            handle = self.model.get_output_embeddings().register_forward_pre_hook(gather)
            try:
                logits = self.model(**kwargs).logits
            finally:
                handle.remove()
            if logits.dim() == 3 and logits.shape[:2] == (1, max(len(rows), _MIN_HEAD_ROWS)):
                return logits[0, : len(rows)]
            self._gather_head = False
        return self.model(**kwargs).logits[where]

    def loglikelihood_rolling(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        """Summed NLL of each whole text, windows from ``max_length`` / ``stride`` options."""
        windows: list[tuple[list[int], int]] = []
        owners: list[int] = []
        errors: dict[int, str] = {}
        for n, (r, ids) in enumerate(
            zip(requests, self._encode([r.prompt for r in requests]), strict=True)
        ):
            try:
                max_length, stride = self._window(r)
            except ValueError as exc:
                errors[n] = f"hf: {exc}"
                continue
            for w in rolling_windows(self._prefixed(ids) if ids else ids, max_length, stride):
                windows.append(w)
                owners.append(n)
        scores = self._score_windows(windows, greedy=False)
        nll = [0.0] * len(requests)
        count = [0] * len(requests)
        for n, w, s in zip(owners, windows, scores, strict=True):
            if isinstance(s, str):
                errors[n] = s
            else:
                nll[n] -= s[0]
                count[n] += w[1]
        return [
            Generation(text=None, error=errors[n])
            if n in errors
            else Generation(text=None, outputs={"nll": nll[n], "n_tokens": count[n]})
            for n in range(len(requests))
        ]

    def loglikelihood(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        """Log-probability of each continuation given its context (``prompt``)."""
        contexts, conts = [], []
        for r in requests:
            context, cont = self._render(r.prompt), r.continuation or ""
            # Trailing context whitespace belongs to the continuation (lm-evaluation-harness).
            n_spaces = len(context) - len(context.rstrip())
            if n_spaces:
                context, cont = context[:-n_spaces], context[-n_spaces:] + cont
            contexts.append(context)
            conts.append(context + cont)
        ctx_ids, whole_ids = self._encode(contexts), self._encode(conts)
        windows: list[tuple[list[int], int]] = []
        owners: list[int] = []
        errors: dict[int, str] = {}
        n_tokens: dict[int, int] = {}
        bare = self.settings.loglikelihood_prefix == "empty_context"
        for n, (c, w) in enumerate(zip(ctx_ids, whole_ids, strict=True)):
            k = len(w) - len(c)
            # lm-evaluation-harness' rule: the prefix token only stands in for an empty context.
            head = c if (bare and c) else self._prefixed(c, rendered=True)
            seq = head + w[len(c) :]
            if k < 1:
                errors[n] = "hf: the continuation is empty after tokenisation; nothing to score."
            elif k >= len(seq):
                errors[n] = (
                    "hf: empty context and no BOS/EOS token to condition the first token on."
                )
            elif k > self.max_length:
                errors[n] = f"hf: the continuation has {k} tokens; max_length is {self.max_length}."
            else:
                windows.append((seq[-(self.max_length + 1) :], k))  # keep the context's end
                owners.append(n)
                n_tokens[n] = k
        results: dict[int, tuple[float, bool] | str] = dict(
            zip(owners, self._score_windows(windows), strict=True)
        )
        out = []
        for n in range(len(requests)):
            res = results.get(n, errors.get(n, "hf: not scored"))
            if isinstance(res, str):
                out.append(Generation(text=None, error=res))
            else:
                outputs = {"logprob": res[0], "is_greedy": res[1], "n_tokens": n_tokens[n]}
                out.append(Generation(text=None, outputs=outputs))
        return out

    # ------------------------------------------------------------------------- generating

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        """Greedy or seeded sampled completions, batched by prompt length."""
        prompts = self._encode([self._render(r.prompt) for r in requests])
        out: list[Generation] = [Generation(text=None, error="hf: not generated")] * len(requests)
        todo: list[tuple[int, list[int], int]] = []
        for n, (r, ids) in enumerate(zip(requests, prompts, strict=True)):
            budget = r.max_tokens or self.max_new_tokens
            ids = self._prefixed(ids, rendered=True)
            if budget >= self.max_length:
                out[n] = Generation(
                    text=None,
                    error=f"hf: max_tokens={budget} leaves no room for the prompt within "
                    f"max_length={self.max_length}.",
                )
            elif not ids:
                out[n] = Generation(text=None, error="hf: empty prompt and no BOS/EOS token.")
            else:
                todo.append((n, ids[-(self.max_length - budget) :], budget))
        todo.sort(key=lambda t: -len(t[1]))
        for b0 in range(0, len(todo), self.settings.batch_size):
            batch = todo[b0 : b0 + self.settings.batch_size]
            try:
                texts = self._generate_batch([requests[n] for n, _, _ in batch], batch)
            except RuntimeError as exc:
                failed = Generation(None, f"hf: generation failed: {type(exc).__name__}: {exc}")
                for n, _, _ in batch:
                    out[n] = failed
                continue
            for (n, _, _), text in zip(batch, texts, strict=True):
                out[n] = Generation(text=text)
        return out

    def _generate_batch(
        self, reqs: Sequence[GenerateRequest], batch: Sequence[tuple[int, list[int], int]]
    ) -> list[str]:
        torch = self._torch
        width = max(len(ids) for _, ids, _ in batch)
        ids = torch.full((len(batch), width), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for b, (_, seq, _) in enumerate(batch):
            ids[b, width - len(seq) :] = torch.tensor(seq)
            mask[b, width - len(seq) :] = 1
        gens = []
        for r in reqs:
            g = None
            if r.temperature > 0:
                g = torch.Generator(device=self.device)
                g.manual_seed(
                    r.seed if r.seed is not None else int.from_bytes(os.urandom(7), "big")
                )
            gens.append(g)
        eos = self.tokenizer.eos_token_id
        new: list[list[int]] = [[] for _ in batch]
        done = [False] * len(batch)
        cache, cache_arg = None, _kv_cache_name(self.model)
        step_ids, positions = ids, (mask.cumsum(-1) - 1).clamp(min=0)
        with torch.inference_mode():
            for _ in range(max(b for _, _, b in batch)):
                output = self.model(
                    input_ids=step_ids.to(self.device),
                    attention_mask=mask.to(self.device),
                    position_ids=positions.to(self.device),
                    use_cache=True,
                    **{cache_arg: cache},
                )
                cache = getattr(output, cache_arg)
                logits = output.logits[:, -1, :].float()
                chosen = []
                for b, r in enumerate(reqs):
                    row = logits[b]
                    g = gens[b]
                    if g is not None and not done[b]:
                        u = torch.rand(row.shape, generator=g, device=self.device)
                        row = row / r.temperature - torch.log(-torch.log(u.clamp_min(1e-20)))
                    token = int(row.argmax())
                    chosen.append(token)
                    if done[b]:
                        continue
                    if token == eos:
                        done[b] = True
                    else:
                        new[b].append(token)
                        done[b] = len(new[b]) >= batch[b][2] or self._stopped(new[b], r.stop)
                if all(done):
                    break
                step_ids = torch.tensor(chosen)[:, None]
                positions = positions[:, -1:] + 1
                mask = torch.cat([mask, torch.ones((len(batch), 1), dtype=torch.long)], dim=1)
        return [
            self._cut(str(self.tokenizer.decode(toks, skip_special_tokens=True)), r.stop)
            for toks, r in zip(new, reqs, strict=True)
        ]

    def _stopped(self, tokens: list[int], stop: Sequence[str]) -> bool:
        if not stop:
            return False
        text = str(self.tokenizer.decode(tokens, skip_special_tokens=True))
        return any(s in text for s in stop)

    @staticmethod
    def _cut(text: str, stop: Sequence[str]) -> str:
        cuts = [text.find(s) for s in stop if s and s in text]
        return text[: min(cuts)] if cuts else text
