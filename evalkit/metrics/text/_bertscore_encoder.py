"""BERTScore's encoder: bert-score's tokenisation, model loading, layer truncation, embedding.

:class:`Tokenizer` is bert-score's ``sent_encode`` over a batch; :func:`load_model` loads a
local model and drops the layers after ``num_layers`` as bert-score's ``get_model`` does (both
are loaded once per process). :func:`embed` returns the last hidden states with padding rules
that make each text's embeddings independent of the rest of the batch:

- each text is padded only to its own length rounded up to a multiple of ``_BUCKET`` (8) and
  encoded with the texts of that padded length (bert-score sorts by word count and pads each
  batch of 64 texts to its longest, which on code-like text about doubles the tokens it
  computes);
- every forward pass has at least ``_MIN_ROWS`` (64) token rows, short batches being filled with
  copies, because CPU matrix kernels round a row differently only when the matrix is small.

So sharded or resumed runs get identical statistics.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evalkit.assets.encoders import model_config
from evalkit.errors import AssetError, ConfigError

__all__ = ["Tokenizer", "embed", "load_model", "load_tokenizer"]

#: Texts are padded to their length rounded up to a multiple of this, and encoded with the
#: texts of the same padded length: few forward passes, little padding (bert-score pads every
#: batch of 64 texts to its longest text, sorted by word count rather than tokens).
_BUCKET = 8
#: The fewest token rows (texts x length) per forward pass. Measured with torch 2.13 on x86 CPUs:
#: from 16 rows on, each row's output is bitwise the same whatever the other rows, their number
#: and the thread count (1, 2 or 4); below that, matrix products of a single short text round
#: differently. 64 leaves a margin and costs little (only short texts are ever filled up).
_MIN_ROWS = 64


@dataclass
class Tokenizer:
    """bert-score's ``sent_encode`` over a batch of texts."""

    tokenizer: Any
    max_length: int
    prefix_space: bool
    special_only: list[int]
    cls_id: int | None
    sep_id: int | None
    pad_id: int

    def encode(self, texts: Sequence[str]) -> list[tuple[list[int], int]]:
        """For each text, its token ids and its untruncated length."""
        stripped = [t.strip() for t in texts]
        todo = [i for i, s in enumerate(stripped) if s]
        out: list[tuple[list[int], int]] = [(list(self.special_only), len(self.special_only))] * (
            len(texts)
        )
        if self.prefix_space:
            ids = [
                self.tokenizer.encode(
                    stripped[i],
                    add_special_tokens=True,
                    add_prefix_space=True,
                    max_length=self.max_length,
                    truncation=True,
                )
                for i in todo
            ]
        elif todo:
            ids = self.tokenizer(
                [stripped[i] for i in todo],
                add_special_tokens=True,
                max_length=self.max_length,
                truncation=True,
            )["input_ids"]
        else:
            ids = []
        for i, row in zip(todo, ids, strict=True):
            row = list(row)
            full = len(row)
            if full >= self.max_length:  # maybe truncated: count the whole text once
                kwargs: dict[str, Any] = {"add_prefix_space": True} if self.prefix_space else {}
                full = len(
                    self.tokenizer(
                        stripped[i],
                        add_special_tokens=True,
                        truncation=False,
                        verbose=False,
                        **kwargs,
                    )["input_ids"]
                )
            out[i] = (row, full)
        return out


_load_lock = threading.Lock()
_TOKENIZERS: dict[str, Tokenizer] = {}
_MODELS: dict[tuple[str, int, str], Any] = {}


@contextmanager
def _quiet_progress() -> Iterator[None]:
    """Hide transformers' weight-loading progress bar (restored afterwards)."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _require_transformers(needed_by: str) -> None:
    """Raise an :class:`AssetError` naming the fix when torch or transformers is missing."""
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        raise AssetError(
            f"{needed_by} needs torch and transformers ({exc.name} is missing); "
            "pip install torch==2.13.0 && pip install 'evalkit[hf]'."
        ) from None


def load_tokenizer(folder: Path) -> Tokenizer:
    """The tokenizer of the model in ``folder``, loaded once per process (offline)."""
    key = str(folder)
    with _load_lock:
        if key in _TOKENIZERS:
            return _TOKENIZERS[key]
        _require_transformers("bertscore")
        from transformers import AutoTokenizer, GPT2Tokenizer, RobertaTokenizer

        # use_fast=False is bert-score's default (transformers 5 has one tokenizer class either
        # way). local_files_only: never reach for the network.
        tok = AutoTokenizer.from_pretrained(key, use_fast=False, local_files_only=True)
        limit = int(tok.model_max_length)
        cfg_limit = _config_max_positions(folder)
        if cfg_limit is not None and limit > cfg_limit:
            # Tokenizers without a declared limit report a huge sentinel; bert-score would then
            # feed over-long inputs and crash. Bound it by the model's positions.
            limit = cfg_limit
        special_only = list(tok("", add_special_tokens=True)["input_ids"])
        made = Tokenizer(
            tokenizer=tok,
            max_length=limit,
            prefix_space=isinstance(tok, (GPT2Tokenizer, RobertaTokenizer)),
            special_only=special_only,
            cls_id=tok.cls_token_id,
            sep_id=tok.sep_token_id,
            pad_id=tok.pad_token_id if tok.pad_token_id is not None else 0,
        )
        _TOKENIZERS[key] = made
        return made


def _config_max_positions(folder: Path) -> int | None:
    """``max_position_embeddings`` from the model's config, when it is a positive integer."""
    value = model_config(folder).get("max_position_embeddings")
    return value if isinstance(value, int) and value > 0 else None


def _truncate_layers(model: Any, num_layers: int) -> None:
    """Drop the layers after ``num_layers``, following bert-score's ``get_model`` case by case."""
    import torch

    def keep(layers: Any) -> Any:
        return torch.nn.ModuleList(list(layers[:num_layers]))

    if hasattr(model, "n_layers"):  # xlm
        model.n_layers = num_layers
    elif hasattr(model, "layer"):  # xlnet
        model.layer = keep(model.layer)
    elif hasattr(model, "encoder"):
        if hasattr(model.encoder, "albert_layer_groups"):  # albert
            model.encoder.config.num_hidden_layers = num_layers
        elif hasattr(model.encoder, "block"):  # t5 encoder
            model.encoder.block = keep(model.encoder.block)
        else:  # bert, roberta, electra, deberta...
            model.encoder.layer = keep(model.encoder.layer)
    elif hasattr(model, "transformer"):  # distilbert
        model.transformer.layer = keep(model.transformer.layer)
    elif hasattr(model, "layers"):  # bart encoder
        model.layers = keep(model.layers)
    else:
        raise ConfigError(
            f"bertscore: cannot select layer {num_layers} of a {type(model).__name__}; "
            "bert-score supports BERT, RoBERTa, XLNet, XLM, ALBERT, T5, DistilBERT and BART-like "
            "encoders."
        )


def load_model(folder: Path, num_layers: int, device: str) -> Any:
    """The model in ``folder`` truncated to ``num_layers``, on ``device``; loaded once per process.

    Raises:
        ConfigError: When ``device`` is CUDA and no CUDA device is available, or the layers of
            the model cannot be selected.
    """
    key = (str(folder), num_layers, device)
    with _load_lock:
        if key in _MODELS:
            return _MODELS[key]
        _require_transformers("bertscore")
        import torch
        from transformers import AutoModel

        dev = torch.device(device)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(f"bertscore: device={device!r}, but no CUDA device is available.")
        with _quiet_progress():
            model = AutoModel.from_pretrained(str(folder), local_files_only=True)
        model.eval()
        if hasattr(model, "decoder") and hasattr(model, "encoder"):  # as bert-score does
            model = model.encoder
        _truncate_layers(model, num_layers)
        model.to(dev)
        _MODELS[key] = model
        return model


def embed(
    model: Any,
    ids: Sequence[list[int]],
    batch_size: int,
    pad_id: int,
    num_threads: int | None = None,
) -> list[np.ndarray]:
    """Last hidden states (float32, one ``(tokens, width)`` array per text).

    Each text is padded to its own bucket length (its length rounded up to ``_BUCKET``) and
    encoded with the texts of the same bucket, in batches of at least ``_MIN_ROWS`` token rows,
    so its output depends on nothing else in the batch.

    Args:
        model: A model from :func:`load_model`.
        ids: Token ids per text (from :meth:`Tokenizer.encode`).
        batch_size: Texts per forward pass at most (memory only: the numbers do not change).
        pad_id: The token id that pads short texts (masked out).
        num_threads: torch's CPU threads while encoding (restored afterwards); default: torch's.
    """
    import torch

    device = next(model.parameters()).device
    buckets: dict[int, list[int]] = {}
    for i, row in enumerate(ids):
        buckets.setdefault(-(-len(row) // _BUCKET) * _BUCKET, []).append(i)
    out: list[np.ndarray] = [np.empty(0)] * len(ids)
    threads = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    try:
        with torch.inference_mode():
            for width in sorted(buckets):
                members = buckets[width]
                for start in range(0, len(members), batch_size):
                    chunk = members[start : start + batch_size]
                    rows = [ids[i] for i in chunk]
                    # Small matrices take other CPU kernels whose rounding depends on the row
                    # count: fill short batches up to _MIN_ROWS token rows with copies.
                    rows += [rows[0]] * max(0, -(-_MIN_ROWS // width) - len(rows))
                    x = torch.full((len(rows), width), pad_id, dtype=torch.long)
                    mask = torch.zeros((len(rows), width), dtype=torch.long)
                    for j, row in enumerate(rows):
                        x[j, : len(row)] = torch.tensor(row, dtype=torch.long)
                        mask[j, : len(row)] = 1
                    hidden = model(x.to(device), attention_mask=mask.to(device))[0]
                    arr = hidden.detach().to("cpu", torch.float32).numpy()
                    for j, i in enumerate(chunk):
                        out[i] = arr[j, : len(ids[i])]
    finally:
        if num_threads is not None:
            torch.set_num_threads(threads)
    return out
