"""A RAG task's retrieval step: each sample's passages, before its generator is asked.

For a task with a ``retriever:``, the retriever adapter ranks the corpus for every sample's
query (the ``query`` template over the dataset fields); the top ``k`` passages are shown to the
generator as the prompt field ``{passages}`` (each through the ``passage`` template, joined by
``separator``) and kept as the sample's ``contexts`` field (``[{"id", "text"}]``, best first),
which the context and grounding metrics read (:mod:`evalkit.metrics.rag`). The whole ranking
(``depth`` documents, default ``k``) is kept too, so that ranking metrics of the task (nDCG,
MAP, recall@k) score the retriever on the same samples. Retrievers are
local and deterministic (BM25, a dense index with its own embedding cache, a run file), so
rankings are not kept in the response cache; the generator's calls are, keyed by the prompt
that holds the passages. A failed retrieval fails the run with the sample's file and line: a
generator asked without its passages would be scored as if it had them.
"""

from __future__ import annotations

import dataclasses
import hashlib

from evalkit.data.retrieval.corpus import load_corpus
from evalkit.data.samples import Dataset
from evalkit.errors import AdapterError, ConfigError
from evalkit.executors.base import call_adapter
from evalkit.registry import build_adapter
from evalkit.suite import Task
from evalkit.types import RETRIEVED_RANKING, GenerateRequest, Sample, evolve

__all__ = ["CONTEXTS", "PASSAGES", "with_passages"]

#: The prompt field that holds the rendered passages.
PASSAGES = "passages"
#: The sample field that holds the retrieved passages (what the RAG metrics read).
CONTEXTS = "contexts"


def with_passages(task: Task, dataset: Dataset) -> Dataset:
    """``dataset`` with each sample's retrieved passages (unchanged without a retriever).

    Raises:
        ConfigError: The retriever cannot serve ``retrieve`` requests.
        AdapterError: A retrieval failed (naming the sample's file and line).
    """
    r = task.spec.retriever
    if r is None:
        return dataset
    adapter = build_adapter(r.model)
    if "retrieve" not in adapter.capabilities:
        raise ConfigError(
            f"task '{task.name}': the retriever {r.model} cannot rank documents (it offers "
            f"{', '.join(sorted(adapter.capabilities))}); use bm25:, dense:PATH or trec_run:FILE."
        )
    corpus = load_corpus(r.corpus)
    text_of = dict(zip(corpus.ids, corpus.texts, strict=True))
    sha = hashlib.sha256(corpus.path.read_bytes()).hexdigest()
    options = (("corpus", r.corpus), ("corpus_sha256", sha), ("depth", r.depth or r.k))
    requests = [
        GenerateRequest(
            prompt=r.query.format_map(s.inputs),
            task=task.name,
            sample_id=s.id,
            kind="retrieve",
            options=options,
        )
        for s in dataset.samples
    ]
    rankings = call_adapter(adapter, None, adapter.info(), requests)
    samples: list[Sample] = []
    for s, g in zip(dataset.samples, rankings, strict=True):
        if g.error is not None or "ranking" not in g.outputs:
            raise AdapterError(
                f"{s.where or s.id}: the retriever {r.model} failed for this sample's query "
                f"({g.error or 'no ranking'}); nothing was generated."
            )
        top = [str(doc) for doc, _ in g.outputs["ranking"][: r.k]]
        contexts = [{"id": d, "text": text_of.get(d, "")} for d in top]
        shown = r.separator.join(
            r.passage.format(id=c["id"], text=c["text"], rank=i)
            for i, c in enumerate(contexts, start=1)
        )
        inputs = {**s.inputs, PASSAGES: shown, CONTEXTS: contexts}
        inputs[RETRIEVED_RANKING] = g.outputs["ranking"]
        samples.append(evolve(s, inputs=inputs))
    return dataclasses.replace(dataset, samples=tuple(samples))
