"""``trec_run:PATH``: score an existing run file (TREC, JSONL or JSON) in a retrieval suite.

Queries are joined to the dataset by id (the sample id is the query id). A dataset query that
the run lacks is answered ``{"ranking": [], "missing": True}``, and the ranking metrics'
``missing`` parameter decides whether it counts as zero (default, trec_eval ``-c``) or is left
out. A run query that no task asks for is an error naming the file and line, because a
mis-typed id would otherwise vanish unnoticed; ``--model-arg unknown_queries=ignore`` (e.g.
with ``--limit``) allows them.

A run file is scored as trec_eval scores it: each query keeps its first ``depth`` documents in
evaluation order (score descending, then doc id descending), 1000 by default, trec_eval's
``-M 1000``. Set another depth with ``--model-arg depth=N``. The task's ``retrieval.depth`` is
how many documents ``bm25:`` and ``dense:`` retrieve from the corpus; it does not cut a run file
(it reaches the adapter as 100 whether or not the suite wrote it, so an explicit value cannot be
told from the default): to judge a run file at a retriever's depth, pass the same
``--model-arg depth=N``. The depth is part of :meth:`TrecRunAdapter.info` (the record's model
identity). When rankings are cut, one warning line per task says how many (``N of M queries had
rankings cut at depth D (longest L)``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from evalkit._validate import check_choice
from evalkit.adapters._truncation import warn_truncated
from evalkit.adapters.base import REPLAY_BATCH_SIZE, ModelAdapter
from evalkit.data.retrieval import CheckedRanking, Run
from evalkit.errors import AdapterError, ConfigError, InputError
from evalkit.types import GenerateRequest, Generation

#: Documents a query keeps by default: trec_eval's ``-M`` (``max_num_docs_per_topic``).
TREC_EVAL_DEPTH = 1000


class TrecRunAdapter(ModelAdapter):
    """Replay a ranked run file for ``retrieve`` requests.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "bm25.run"
        >>> _ = path.write_text("q1 Q0 d1 1 2.5 bm25\\nq1 Q0 d2 2 1.5 bm25\\n")
        >>> adapter = TrecRunAdapter(str(path))
        >>> adapter.retrieve([GenerateRequest("", sample_id="q1", kind="retrieve")])[0].outputs
        {'ranking': [('d1', 2.5), ('d2', 1.5)]}
    """

    name: ClassVar[str] = "trec_run"
    capabilities: ClassVar[frozenset[str]] = frozenset({"retrieve"})
    cacheable: ClassVar[bool] = False
    replay_batch_size: ClassVar[int | None] = REPLAY_BATCH_SIZE

    def __init__(
        self, target: str, *, unknown_queries: str = "error", depth: int = TREC_EVAL_DEPTH
    ) -> None:
        check_choice("trec_run", "unknown_queries", unknown_queries, ("error", "ignore"))
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise ConfigError(f"trec_run: depth must be an integer >= 1, got {depth!r}.")
        self.depth = depth
        if not target:
            raise InputError("trec_run: name the run file: --model trec_run:PATH.")
        self.path = Path(target)
        self.unknown_queries = unknown_queries
        self.run = Run.load(self.path)
        self.sha256 = hashlib.sha256(self.path.read_bytes()).hexdigest()

    def prepare(self, requests: Mapping[str, Sequence[GenerateRequest]]) -> None:
        for task, reqs in requests.items():
            lengths = [len(self.run[r.sample_id]) if r.sample_id in self.run else 0 for r in reqs]
            warn_truncated(task, lengths, self.depth)
        if self.unknown_queries == "ignore":
            return
        asked = {r.sample_id for reqs in requests.values() for r in reqs}
        unknown = [q for q in self.run if q not in asked]
        if unknown:
            raise InputError(
                f"{self.run.where(unknown[0])}: query '{unknown[0]}' is not a sample of any task "
                f"({len(unknown)} of {len(self.run)} run queries are unknown); fix the ids, or "
                "pass --model-arg unknown_queries=ignore (for example with --limit)."
            )

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        raise AdapterError("trec_run: a run file ranks documents; it cannot generate text.")

    def retrieve(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        out = []
        for r in requests:
            if r.sample_id not in self.run:
                out.append(Generation(text=None, outputs={"ranking": [], "missing": True}))
                continue
            scores = self.run[r.sample_id]
            # (doc, score) tuples in evaluation order: tuples of a str and a float are left
            # alone by the garbage collector, where a million [doc, score] lists are not.
            top = self.run.ranking(r.sample_id)[: self.depth]
            # The run was checked when loaded: the metrics take its mapping as it is.
            kept = scores if len(top) == len(scores) else dict(top)
            out.append(Generation(text=None, outputs={"ranking": CheckedRanking(top, kept)}))
        return out

    def info(self) -> dict[str, Any]:
        return {
            "kind": self.name,
            "path": str(self.path),
            "sha256": self.sha256,
            "run_name": self.run.name,
            "depth": self.depth,
        }
