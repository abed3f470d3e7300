"""``trec_run:PATH``: score an existing run file (TREC, JSONL or JSON) in a retrieval suite.

Queries are joined to the dataset by id (the sample id is the query id). A dataset query that
the run lacks is answered ``{"ranking": [], "missing": True}``, and the ranking metrics'
``missing`` parameter decides whether it counts as zero (default, trec_eval ``-c``) or is left
out. A run query that no task asks for is an error naming the file and line, because a
mis-typed id would otherwise vanish unnoticed; ``--model-arg unknown_queries=ignore`` (e.g.
with ``--limit``) allows them.

Like every retrieval adapter, it returns at most the task's ``retrieval.depth`` documents per
query (default 100), in evaluation order, so that systems compared in one suite are judged at
the same depth; set the depth to the run's (1000 for TREC runs) to score the whole file as
trec_eval does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from evalkit._validate import check_choice
from evalkit.adapters.base import ModelAdapter
from evalkit.data.retrieval import Run
from evalkit.errors import AdapterError, InputError
from evalkit.types import GenerateRequest, Generation


class TrecRunAdapter(ModelAdapter):
    """Replay a ranked run file for ``retrieve`` requests.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "bm25.run"
        >>> _ = path.write_text("q1 Q0 d1 1 2.5 bm25\\nq1 Q0 d2 2 1.5 bm25\\n")
        >>> adapter = TrecRunAdapter(str(path))
        >>> adapter.retrieve([GenerateRequest("", sample_id="q1", kind="retrieve")])[0].outputs
        {'ranking': [['d1', 2.5], ['d2', 1.5]]}
    """

    name: ClassVar[str] = "trec_run"
    capabilities: ClassVar[frozenset[str]] = frozenset({"retrieve"})
    cacheable: ClassVar[bool] = False

    def __init__(self, target: str, *, unknown_queries: str = "error") -> None:
        check_choice("trec_run", "unknown_queries", unknown_queries, ("error", "ignore"))
        if not target:
            raise InputError("trec_run: name the run file: --model trec_run:PATH.")
        self.path = Path(target)
        self.unknown_queries = unknown_queries
        self.run = Run.load(self.path)
        self.sha256 = hashlib.sha256(self.path.read_bytes()).hexdigest()

    def prepare(self, requests: Mapping[str, Sequence[GenerateRequest]]) -> None:
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
            depth = r.option("depth")
            ranking = self.run.ranking(r.sample_id)
            if isinstance(depth, int):
                ranking = ranking[:depth]
            out.append(Generation(text=None, outputs={"ranking": [[d, s] for d, s in ranking]}))
        return out

    def info(self) -> dict[str, Any]:
        return {
            "kind": self.name,
            "path": str(self.path),
            "sha256": self.sha256,
            "run_name": self.run.name,
        }
