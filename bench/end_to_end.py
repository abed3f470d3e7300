"""Benchmark: ``evalkit run`` end to end, against the loop a user would write instead.

The other benchmarks time evalkit's functions; users run suites, whose samples go through the
runner, the record, the bootstrap and the reports. This one generates a suite, its data and a
predictions (or TREC run) file of ``size`` samples in a temporary folder, and times, each in a
fresh Python process (so that peak memory is each case's own):

- ``evalkit run (in process)``: :func:`evalkit.runner.run_suite`, timed inside the process
  after the imports; its :attr:`~evalkit.runner.RunOutcome.timings` give the share of each
  stage (load, adapter, scoring, record, aggregate, bootstrap, reports);
- ``evalkit run (CLI)``: ``python -m evalkit run SUITE --model SPEC --out DIR -q``, timed from
  outside: what a user waits for, interpreter start and imports included;
- ``evalkit functions``: the functional twins (``evalkit.metrics.exact_match``, ``bleu``,
  ``chrf``, ``ter``, ``rouge``, ``evalkit.metrics.retrieval.ranking.evaluate``) on the lists
  read from the same files, for the runner's overhead over evalkit's own code;
- ``peer loop``: what a user writes without evalkit: read the JSONL, call sacrebleu's
  ``corpus_bleu/chrf/ter``, a ``rouge_score`` loop, ``pytrec_eval`` or a plain SQuAD exact
  match / F1 loop, and write a CSV.

Families (``--families``):

- ``em``: exact match on a predictions file: the runner's own per-sample overhead;
- ``text``: BLEU + chrF + TER + ROUGE (rouge1, rouge2, rougeL) on a predictions file
  (``bench/text_overlap.py``'s corpus);
- ``retrieval``: nDCG@10 + MRR + Recall@10 + MAP from a TREC run file (``--depth`` documents a
  query, drawn from a 1,000-document collection) and a TREC qrels file;
- ``mix``: a quickstart-shaped suite: translate (BLEU, chrF, TER), summarize (ROUGE) and qa
  (exact match, token F1), a third of the samples each.

Every case's numbers must equal the run's (to 1e-9) before its time is reported. Columns:
seconds, samples per second, peak RSS of the process (``resource.getrusage``) and its growth
over the process after imports, ``x peer`` (the peer loop's time over this case's: above 1,
this case is faster) and ``x functions`` (this case's time over the functional twins': the
runner's overhead factor; 1.0 is none). ``--bootstrap 0,1000`` runs each suite with the
intervals off and on.

Usage::

    python bench/end_to_end.py [--sizes 1000,10000,100000] [--families em,text,retrieval,mix]
                               [--bootstrap 1000] [--depth 20] [--json PATH]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import resource
import string
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import REPO_ROOT, load_average, machine_info, parity_diff

__all__ = ["FAMILIES", "Result", "make_suite", "run", "run_case"]

FAMILIES = ("em", "text", "retrieval", "mix")
CASES = ("run", "cli", "functions", "peer")
LABELS = {
    "run": "evalkit run (in process)",
    "cli": "evalkit run (CLI)",
    "functions": "evalkit functions",
    "peer": "peer loop",
}
SEED = 20241203
N_DOCS = 1000
TOLERANCE = 1e-9
_WORDS = [
    "the",
    "cat",
    "sat",
    "on",
    "a",
    "mat",
    "with",
    "two",
    "dogs",
    "and",
    "an",
    "old",
    "bird",
    "over",
    "red",
    "hills",
    "near",
    "blue",
    "water",
]


# -- data ------------------------------------------------------------------------------------


def _jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def _qa_rows(n: int, rng: random.Random, prefix: str) -> tuple[list[dict[str, Any]], list[str]]:
    rows, preds = [], []
    for i in range(n):
        answer = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 4)))
        rows.append({"id": f"{prefix}{i}", "question": f"question {i}?", "answers": [answer]})
        r = rng.random()
        if r < 0.5:
            preds.append(answer)
        elif r < 0.7:
            preds.append(f"The {answer.upper()}.")  # equal after SQuAD normalisation
        else:
            preds.append(" ".join(rng.choice(_WORDS) for _ in range(3)))
    return rows, preds


def _text_rows(n: int, prefix: str, field_name: str) -> tuple[list[dict[str, Any]], list[str]]:
    from text_overlap import corpus

    preds, refs = corpus(n)
    rows = [
        {"id": f"{prefix}{i}", "source": f"text {i}", field_name: ref} for i, ref in enumerate(refs)
    ]
    return rows, preds


_TASK = """  - name: {name}
    dataset: {{path: {path}, id: id, {refs}}}
    prompt: "{prompt}"
    metrics:
{metrics}
"""


def make_suite(family: str, size: int, folder: Path, bootstrap: int, depth: int = 20) -> str:
    """Write the suite, data and model file of one family into ``folder``; the model spec.

    >>> d = Path(tempfile.mkdtemp())
    >>> make_suite("em", 3, d, 0)
    'predictions:preds.jsonl'
    >>> sorted(p.name for p in d.iterdir())
    ['preds.jsonl', 'qa.jsonl', 'suite.yaml']
    """
    rng = random.Random(SEED)
    tasks: list[str] = []
    preds: list[dict[str, Any]] = []
    spec = "predictions:preds.jsonl"

    def add(name: str, rows: list[dict[str, Any]], outs: list[str], refs: str, prompt: str,
            metrics: Sequence[str]) -> None:  # fmt: skip
        _jsonl(folder / f"{name}.jsonl", rows)
        preds.extend(
            {"task": name, "id": r["id"], "prediction": p} for r, p in zip(rows, outs, strict=True)
        )
        body = "\n".join(f"      - {m}" for m in metrics)
        tasks.append(
            _TASK.format(name=name, path=f"{name}.jsonl", refs=refs, prompt=prompt, metrics=body)
        )

    if family == "em":
        rows, outs = _qa_rows(size, rng, "q")
        add("qa", rows, outs, "references: answers", "Question: {question}", ["exact_match"])
    elif family == "text":
        rows, outs = _text_rows(size, "t", "reference")
        add("translate", rows, outs, "references: reference", "Translate: {source}",
            ["bleu", "chrf", "ter", "rouge: {rouge_types: [rouge1, rouge2, rougeL]}"])  # fmt: skip
    elif family == "mix":
        third = max(1, size // 3)
        rows, outs = _text_rows(third, "t", "reference")
        add("translate", rows, outs, "references: reference", "Translate: {source}",
            ["bleu", "chrf", "ter"])  # fmt: skip
        rows, outs = _text_rows(third, "s", "summary")
        add("summarize", rows, outs, "references: summary", "Summarize:\\n{source}\\n",
            ["rouge: {rouge_types: [rouge1, rouge2, rougeL]}"])  # fmt: skip
        rows, outs = _qa_rows(size - 2 * third, rng, "q")
        add("qa", rows, outs, "references: answers", "Question: {question}",
            ["exact_match", "token_f1"])  # fmt: skip
    elif family == "retrieval":
        _retrieval_files(size, folder, rng, depth)
        tasks.append(
            _TASK.format(
                name="search",
                path="queries.jsonl",
                refs="qrels_file: qrels.trec",
                prompt="{query}",
                metrics="\n".join(
                    f"      - {m}" for m in ["ndcg: {k: [10]}", "mrr", "recall: {k: [10]}", "map"]
                ),
            )
        )
        spec = "trec_run:run.trec"
    else:
        raise ValueError(f"unknown family {family!r}; choose from {', '.join(FAMILIES)}.")
    if preds:
        _jsonl(folder / "preds.jsonl", preds)
    header = f"name: e2e-{family}\nseed: 0\nbootstrap: {{resamples: {bootstrap}}}\ntasks:\n"
    (folder / "suite.yaml").write_text(header + "".join(tasks), encoding="utf-8")
    return spec


def _retrieval_files(n: int, folder: Path, rng: random.Random, depth: int) -> None:
    """Queries, TREC qrels (1-5 graded documents, most of them retrieved) and a TREC run.

    The run ranks ``depth`` documents a query, drawn from a collection of :data:`N_DOCS`.
    """
    _jsonl(folder / "queries.jsonl", [{"id": f"q{i}", "query": f"query {i}"} for i in range(n)])
    with open(folder / "run.trec", "w") as run, open(folder / "qrels.trec", "w") as qrels:
        for i in range(n):
            docs = rng.sample(range(N_DOCS), depth)
            # Distinct scores: tied scores are ordered by doc id, the same in both tools.
            scores = sorted(rng.sample(range(1, 10 * depth), depth), reverse=True)
            for rank, (d, s) in enumerate(zip(docs, scores, strict=True), start=1):
                run.write(f"q{i} Q0 d{d} {rank} {s / 10:.1f} bench\n")
            # About two thirds of the judged documents are retrieved (as bench/retrieval.py).
            judged = {rng.choice(docs) if rng.random() < 2 / 3 else rng.randrange(N_DOCS)
                      for _ in range(rng.randint(1, 5))}  # fmt: skip
            for d in sorted(judged):
                qrels.write(f"q{i} 0 d{d} {rng.randint(1, 3)}\n")


# -- the cases (each runs in its own process) ----------------------------------------------


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _pairs(folder: Path, task: str, ref_field: str) -> tuple[list[str], list[list[str]]]:
    """(predictions, references per sample) of one task, joined by id as a user would."""
    by_id = {
        r["id"]: r["prediction"]
        for r in _read_jsonl(folder / "preds.jsonl")
        if r.get("task") == task
    }
    rows = _read_jsonl(folder / f"{task}.jsonl")
    refs = [r[ref_field] if isinstance(r[ref_field], list) else [r[ref_field]] for r in rows]
    return [by_id[r["id"]] for r in rows], refs


def _trec(path: Path, run: bool) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    with open(path) as fh:
        for line in fh:
            cols = line.split()
            if run:
                out.setdefault(cols[0], {})[cols[2]] = float(cols[4])
            else:
                out.setdefault(cols[0], {})[cols[2]] = int(cols[3])
    return out


def _squad_normalize(text: str) -> str:
    """SQuAD v1.1's answer normalisation: lower case, no punctuation, articles or extra spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


_PUNCT = frozenset(string.punctuation)


def _squad_f1(pred: str, ref: str) -> float:
    p, r = _squad_normalize(pred).split(), _squad_normalize(ref).split()
    if not p or not r:
        return float(p == r)
    common = sum((Counter(p) & Counter(r)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(r)
    return 2 * precision * recall / (precision + recall)


def _write_csv(path: Path, rows: dict[str, float]) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["metric", "value"])
        writer.writerows(rows.items())


_ROUGE = ("rouge1", "rouge2", "rougeL")
_MEASURES = {"ndcg@10": "ndcg_cut_10", "mrr": "recip_rank", "recall@10": "recall_10", "map": "map"}
_TEXT = {"translate": "reference", "summarize": "summary"}


def _peer(family: str, folder: Path) -> dict[str, float]:
    out: dict[str, float] = {}
    tasks = _tasks(family)
    for task, metrics in tasks.items():
        prefix = "" if len(tasks) == 1 else f"{task}/"
        if task == "search":
            import pytrec_eval

            qrels, run = _trec(folder / "qrels.trec", False), _trec(folder / "run.trec", True)
            names = {"ndcg_cut.10", "recip_rank", "recall.10", "map"}
            per_query = pytrec_eval.RelevanceEvaluator(qrels, names).evaluate(run)
            n = len(qrels)  # queries the run lacks count as 0 (trec_eval -c)
            for ours, theirs in _MEASURES.items():
                out[prefix + ours] = sum(v[theirs] for v in per_query.values()) / n
            continue
        preds, refs = _pairs(folder, task, _TEXT.get(task, "answers"))
        if "bleu" in metrics:
            import sacrebleu

            streams = [[r[0] for r in refs]]
            out[prefix + "bleu"] = sacrebleu.corpus_bleu(preds, streams).score
            out[prefix + "chrf"] = sacrebleu.corpus_chrf(preds, streams).score
            out[prefix + "ter"] = sacrebleu.corpus_ter(preds, streams).score
        if "rouge" in metrics:
            from rouge_score import rouge_scorer

            scorer = rouge_scorer.RougeScorer(list(_ROUGE))
            scores = [scorer.score(r[0], p) for p, r in zip(preds, refs, strict=True)]
            for t in _ROUGE:
                out[prefix + t] = sum(s[t].fmeasure for s in scores) / len(scores)
        if "exact_match" in metrics:
            em = [
                max(float(_squad_normalize(p) == _squad_normalize(x)) for x in r)
                for p, r in zip(preds, refs, strict=True)
            ]
            out[prefix + "exact_match"] = sum(em) / len(em)
            with open(folder / f"peer_{task}.csv", "w", newline="") as fh:
                csv.writer(fh).writerows(enumerate(em))
        if "token_f1" in metrics:
            f1 = [max(_squad_f1(p, x) for x in r) for p, r in zip(preds, refs, strict=True)]
            out[prefix + "token_f1"] = sum(f1) / len(f1)
    _write_csv(folder / "peer.csv", out)
    return out


def _functions(family: str, folder: Path) -> dict[str, float]:
    import evalkit.metrics as m

    out: dict[str, float] = {}
    tasks = _tasks(family)
    for task, metrics in tasks.items():
        prefix = "" if len(tasks) == 1 else f"{task}/"
        if task == "search":
            from evalkit.metrics.retrieval.ranking import evaluate

            qrels, run = _trec(folder / "qrels.trec", False), _trec(folder / "run.trec", True)
            for k, v in evaluate(qrels, run, list(_MEASURES)).items():
                out[prefix + k] = v
            continue
        preds, refs = _pairs(folder, task, _TEXT.get(task, "answers"))
        for name in ("bleu", "chrf", "ter"):
            if name in metrics:
                out[prefix + name] = getattr(m, name)(preds, refs).value
        if "rouge" in metrics:
            details = m.rouge(preds, refs, rouge_types=list(_ROUGE)).details
            out.update({prefix + t: details[t] for t in _ROUGE})
        if "exact_match" in metrics:
            out[prefix + "exact_match"] = m.exact_match(preds, refs).value
        if "token_f1" in metrics:
            out[prefix + "token_f1"] = m.token_f1(preds, refs).value
    _write_csv(folder / "functions.csv", out)
    return out


def _tasks(family: str) -> dict[str, tuple[str, ...]]:
    tasks: dict[str, dict[str, tuple[str, ...]]] = {
        "em": {"qa": ("exact_match",)},
        "text": {"translate": ("bleu", "chrf", "ter", "rouge")},
        "retrieval": {"search": ()},
        "mix": {
            "translate": ("bleu", "chrf", "ter"),
            "summarize": ("rouge",),
            "qa": ("exact_match", "token_f1"),
        },
    }
    return tasks[family]


def _values(header: dict[str, Any], family: str) -> dict[str, float]:
    rows = header["results"]
    several = len({r["task"] for r in rows}) > 1
    return {(f"{r['task']}/" if several else "") + r["metric"]: r["value"] for r in rows}


def _rss_mb() -> float:
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    scale = 1 / 1024 if sys.platform != "darwin" else 1 / 1024**2
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def worker(case: str, family: str, folder: Path, spec: str) -> dict[str, Any]:
    """One case in this process: ``{values, seconds, rss_mb, base_rss_mb, timings}``."""
    import evalkit.metrics
    from evalkit.runner import run_suite

    if family in ("text", "mix"):
        import rouge_score.rouge_scorer  # noqa: F401
        import sacrebleu  # noqa: F401
    if family == "retrieval":
        import pytrec_eval  # noqa: F401

        import evalkit.metrics.retrieval.ranking  # noqa: F401
    base = _rss_mb()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    if case == "run":
        outcome = run_suite(folder / "suite.yaml", spec, folder / "out-run")
        # getattr: an evalkit from before the stage timings runs too (a "before" column).
        values, timings = _values(outcome.header, family), getattr(outcome, "timings", {})
    elif case == "functions":
        values = _functions(family, folder)
    elif case == "peer":
        values = _peer(family, folder)
    else:
        raise ValueError(f"unknown case {case!r}")
    seconds = time.perf_counter() - started
    return {
        "values": values,
        "seconds": seconds,
        "rss_mb": _rss_mb(),
        "base_rss_mb": base,
        "timings": timings,
    }


def _env() -> dict[str, str]:
    """The environment of a case's process: this checkout's evalkit first on the path."""
    paths = [str(REPO_ROOT), str(Path(__file__).resolve().parent)]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def _cli(folder: Path, spec: str) -> dict[str, Any]:
    out = folder / "out-cli"
    cmd = [sys.executable, "-m", "evalkit", "run", "suite.yaml", "--model", spec, "--out"]
    started = time.perf_counter()
    proc = subprocess.Popen(
        [*cmd, str(out), "-q"],
        cwd=folder,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"evalkit run exited {proc.returncode}: {err[-2000:]}")
    header = json.loads((out / "results.json").read_text(encoding="utf-8"))
    scale = 1 / 1024 if sys.platform != "darwin" else 1 / 1024**2
    return {
        "values": _values(header, ""),
        "seconds": seconds,
        "rss_mb": usage.ru_maxrss * scale,
        "base_rss_mb": None,
        "timings": {},
    }


def run_case(case: str, family: str, folder: Path, spec: str) -> dict[str, Any]:
    """Run one case in a fresh process (the CLI case: ``evalkit run`` itself)."""
    if case == "cli":
        return _cli(folder, spec)
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", case, family, str(folder), spec],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=folder,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{case} {family}: worker failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# -- the table -------------------------------------------------------------------------------


@dataclass
class Result:
    """One case of one suite: time, rate, memory, ratios, stage shares and parity."""

    family: str
    size: int
    bootstrap: int
    case: str
    seconds: float
    samples_per_s: float
    rss_mb: float
    rss_growth_mb: float | None
    vs_peer: float | None = None
    vs_functions: float | None = None
    parity: float | None = None
    timings: dict[str, float] = field(default_factory=dict)
    values: dict[str, float] = field(default_factory=dict)


def run(
    sizes: Sequence[int],
    families: Sequence[str] = FAMILIES,
    bootstraps: Sequence[int] = (1000,),
    cases: Sequence[str] = CASES,
    depth: int = 20,
    progress: Any = None,
) -> list[Result]:
    """Generate each suite, run every case on it, check parity; the results, in order.

    Raises:
        RuntimeError: A case's numbers differ from the run's by more than 1e-9.
    """
    results: list[Result] = []
    for size in sizes:
        for family in families:
            for boot in bootstraps:
                with tempfile.TemporaryDirectory(prefix=f"e2e-{family}-") as tmp:
                    folder = Path(tmp)
                    spec = make_suite(family, size, folder, boot, depth)
                    raw: dict[str, dict[str, Any]] = {}
                    for case in cases:
                        if progress is not None:
                            progress(f"end_to_end: {family} n={size} bootstrap={boot} {case} ...")
                        raw[case] = run_case(case, family, folder, spec)
                results.extend(_rows(family, size, boot, raw))
    return results


def _rows(family: str, size: int, boot: int, raw: dict[str, dict[str, Any]]) -> list[Result]:
    first = next(iter(raw.values()))["values"]
    peer = raw.get("peer", {}).get("seconds")
    twin = raw.get("functions", {}).get("seconds")
    rows = []
    for case, r in raw.items():
        diff = parity_diff(first, r["values"])
        if not diff <= TOLERANCE:
            raise RuntimeError(
                f"{family} n={size}: {case} differs from {next(iter(raw))} by {diff:.3g}: "
                f"{first} vs {r['values']}"
            )
        s = r["seconds"]
        base = r["base_rss_mb"]
        rows.append(
            Result(
                family=family,
                size=size,
                bootstrap=boot,
                case=case,
                seconds=s,
                samples_per_s=size / s,
                rss_mb=r["rss_mb"],
                rss_growth_mb=None if base is None else r["rss_mb"] - base,
                vs_peer=None if peer is None or case == "peer" else peer / s,
                vs_functions=None if twin is None or case == "functions" else s / twin,
                parity=diff,
                timings=r["timings"],
                values=r["values"],
            )
        )
    return rows


def format_results(results: Sequence[Result]) -> str:
    """The table: one line per case, then the stage shares of each in-process run.

    >>> r = Result("em", 10, 0, "run", 0.5, 20.0, 80.0, 2.0, 2.0, 1.5, 0.0,
    ...            {"load": 0.25, "scoring": 0.25, "total": 0.5})
    >>> table = format_results([r]).splitlines()
    >>> table[1].split()  # doctest: +NORMALIZE_WHITESPACE
    ['em', '10', '0', 'evalkit', 'run', '(in', 'process)', '0.500', '20', '80', 'MB', '2.0',
     'MB', '2.00', '1.50', '0']
    >>> table[-1]
    'em n=10 boot=0: load 50.0, scoring 50.0'
    """
    header = ["family", "size", "boot", "case", "seconds", "samples/s", "peak RSS"]
    header += ["RSS growth", "x peer", "x functions", "parity"]
    lines = [header]
    for r in results:
        lines.append(
            [
                r.family,
                str(r.size),
                str(r.bootstrap),
                LABELS[r.case],
                f"{r.seconds:.3f}",
                f"{r.samples_per_s:,.0f}",
                f"{r.rss_mb:.0f} MB",
                "-" if r.rss_growth_mb is None else f"{r.rss_growth_mb:.1f} MB",
                "-" if r.vs_peer is None else f"{r.vs_peer:.2f}",
                "-" if r.vs_functions is None else f"{r.vs_functions:.2f}",
                "-" if r.parity is None else f"{r.parity:.3g}",
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    ]
    shares = [r for r in results if r.timings]
    if shares:
        out += ["", "stage shares of `evalkit run (in process)` (percent of its time):"]
        for r in shares:
            total = r.timings.get("total") or sum(r.timings.values())
            parts = [
                f"{k} {100 * v / total:.1f}" for k, v in r.timings.items() if k != "total" and v
            ]
            out.append(f"{r.family} n={r.size} boot={r.bootstrap}: " + ", ".join(parts))
    return "\n".join(out)


def _ints(text: str) -> list[int]:
    try:
        values = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give comma-separated integers.") from None
    if not values or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: give integers >= 0.")
    return values


def _names(choices: Sequence[str]) -> Any:
    def parse(text: str) -> list[str]:
        names = [s.strip() for s in text.split(",") if s.strip()]
        bad = [n for n in names if n not in choices]
        if bad or not names:
            raise argparse.ArgumentTypeError(f"{text!r}: choose from {', '.join(choices)}.")
        return names

    return parse


def main(argv: Sequence[str] | None = None) -> list[Result]:
    """The command line (see the module docstring)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--worker"]:
        case, family, folder, spec = argv[1:5]
        print(json.dumps(worker(case, family, Path(folder), spec)))
        return []
    parser = argparse.ArgumentParser(prog="bench/end_to_end.py", description=__doc__)
    parser.add_argument("--sizes", type=_ints, default=[1000, 10000, 100000])
    parser.add_argument("--families", type=_names(FAMILIES), default=list(FAMILIES))
    parser.add_argument("--cases", type=_names(CASES), default=list(CASES))
    parser.add_argument(
        "--bootstrap", type=_ints, default=[1000], help="resamples, comma-separated (0: off)"
    )
    parser.add_argument("--depth", type=int, default=20, help="documents a query in the run")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    info = machine_info(["evalkit", "sacrebleu", "rouge-score", "pytrec-eval-terrier", "numpy"])
    before = load_average()
    results = run(
        args.sizes,
        args.families,
        args.bootstrap,
        args.cases,
        args.depth,
        progress=lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    after = load_average()
    print(
        f"\nend_to_end: Python {info['python']} on {info['platform']}, {info['cpu_count']} CPUs; "
        f"evalkit git {info['git']}; load average {before} before, {after} after"
    )
    print(", ".join(f"{k} {v}" for k, v in info["versions"].items()))
    print("x peer = peer loop seconds / case seconds (>1: faster than the peer); "
          "x functions = case seconds / functional twins' seconds (runner overhead)\n")  # fmt: skip
    print(format_results(results))
    if args.json:
        payload: dict[str, Any] = {"machine": info, "load_average": [before, after]}
        payload["results"] = [asdict(r) for r in results]
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return results


if __name__ == "__main__":
    main()
