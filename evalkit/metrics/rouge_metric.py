"""ROUGE-N, ROUGE-L and ROUGE-Lsum, computed per sample by Google's rouge-score package.

rouge-score is imported when a ROUGE metric is built (it imports nltk, which takes about a
second), so importing this module stays cheap.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from evalkit import __version__
from evalkit._validate import check_choice, check_type, sample_texts
from evalkit.errors import ConfigError
from evalkit.metrics.base import MeanMetric, package_version
from evalkit.types import Sample, Stats

__all__ = ["ROUGE", "split_sentences"]

# rouge-score accepts rouge1..rouge9 (its regex is rouge[0-9]$ and it refuses n = 0),
# rougeL and rougeLsum.
_ROUGE_TYPE = re.compile(r"rouge[1-9]|rougeL|rougeLsum")
_KNOWN_TYPES = [f"rouge{n}" for n in range(1, 10)] + ["rougeL", "rougeLsum"]

#: Recorded in the signature when evalkit splits sentences; bump when the splitter changes.
SPLITTER_ID = "evalkit-regex-v1"

# A sentence ends at . ! ? (repeated), optionally followed by closing quotes or brackets, then
# whitespace.
_BOUNDARY = re.compile(r"[.!?]+[\"'”’)\]]*\s+")
_LAST_WORD = re.compile(r"(\S+)[.!?]+[\"'”’)\]]*\s+$")
# Abbreviations that end in a period without ending the sentence (English; a short version of
# what Punkt learns). Single letters (initials, "U.S.") are handled separately.
_ABBREVIATIONS = frozenset(
    {
        *("mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "cf"),
        *("al", "fig", "no", "vol", "pp", "inc", "ltd", "co", "corp", "dept", "est", "approx"),
        *("jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"),
    }
)


def split_sentences(text: str) -> list[str]:
    """Split text into sentences with a small regular-expression splitter.

    This stands in for ``nltk.sent_tokenize`` (Punkt), whose model is not available offline.
    Rules: a newline always ends a sentence; otherwise a sentence ends at ``.``, ``!`` or ``?``
    (plus closing quotes or brackets) followed by whitespace, unless the word before the period
    is a common abbreviation or a single letter, or the next word starts in lower case. Results
    can differ from Punkt on unusual text; the signature says which splitter ran.

    >>> split_sentences("Dr. Smith arrived. He sat down! Did he? Yes (he did.) Done")
    ['Dr. Smith arrived.', 'He sat down!', 'Did he?', 'Yes (he did.)', 'Done']
    >>> split_sentences("Pi is 3.14 e.g. here.\\nNew line")
    ['Pi is 3.14 e.g. here.', 'New line']
    """
    sentences: list[str] = []
    for line in text.split("\n"):
        start = 0
        for match in _BOUNDARY.finditer(line):
            end = match.end()
            chunk = line[start:end]
            if chunk.rstrip().rstrip("\"'”’)]").endswith("."):
                last = _LAST_WORD.search(chunk)
                word = last.group(1).lower().lstrip("\"'“‘([") if last else ""
                if (
                    word in _ABBREVIATIONS
                    or (len(word) == 1 and word.isalpha())
                    or ("." in word and all(len(p) <= 1 for p in word.split(".")))
                ):
                    continue
            if line[end : end + 1].islower():
                continue
            sentences.append(chunk.strip())
            start = end
        tail = line[start:].strip()
        if tail:
            sentences.append(tail)
    return [s for s in sentences if s]


class ROUGE(MeanMetric):
    """ROUGE precision, recall and F-measure (Lin, 2004) as rouge-score computes them.

    For ROUGE-N, with ``overlap`` the clipped count of n-grams shared by prediction and
    reference::

        P = overlap / #prediction n-grams,  R = overlap / #reference n-grams,
        F = 2 * P * R / (P + R)

    ROUGE-L uses the longest common subsequence of tokens in place of ``overlap``; ROUGE-Lsum
    uses the summary-level union LCS over sentences (sentences are newline-separated, or
    split by :func:`split_sentences` when ``split_summaries`` is true). Tokens are rouge-score's
    default: lowercased ``[a-z0-9]+`` runs (other characters, including non-ASCII letters, are
    dropped), optionally Porter-stemmed (words longer than 3 characters).

    With several references, ``multi_ref="best"`` keeps, per ROUGE type, the reference with the
    highest F-measure (rouge-score's ``score_multi``); ``"mean"`` averages P, R and F over the
    references (the mean F is not recomputed from the mean P and R).

    The per-sample statistic is ``[P, R, F]`` for each type in ``rouge_types`` order; corpus
    values are plain means over samples, on rouge-score's 0-1 scale. rouge-score's own
    ``BootstrapAggregator`` reports as "mid" the median of (unseeded) bootstrap means, which is
    close to but not the mean; evalkit reports the mean and computes intervals separately.

    Values: for each type ``T``, ``T`` (the F-measure), ``T_precision`` and ``T_recall``; the
    first type's F-measure is the headline.

    Args:
        rouge_types: ROUGE variants, from ``rouge1``..``rouge9``, ``rougeL``, ``rougeLsum``.
        use_stemmer: Porter-stem tokens (nltk's stemmer, through rouge-score).
        split_summaries: Split sentences for ROUGE-Lsum with :func:`split_sentences`
            instead of only at newlines.
        multi_ref: ``"best"`` or ``"mean"`` over a sample's references.

    Raises:
        ConfigError: On an unknown ROUGE type or a parameter of the wrong type.

    References:
        Lin (2004), "ROUGE: A Package for Automatic Evaluation of Summaries", ACL Workshop
        Text Summarization Branches Out. rouge-score: https://github.com/google-research/
        google-research/tree/master/rouge

    Example:
        >>> from evalkit.metrics import rouge
        >>> s = rouge(["the cat sat on the mat"], [["the cat lay on the mat"]])
        >>> round(s.value, 4), round(s.details["rouge2"], 4), s.name
        (0.8333, 0.6, 'rouge1')
        >>> s.signature  # doctest: +ELLIPSIS
        'rouge|types:rouge1,rouge2,rougeL,rougeLsum|stem:no|split:newline|multi_ref:best|...'
    """

    name: ClassVar[str] = "rouge"
    higher_is_better: ClassVar[bool] = True
    reference_packages: ClassVar[tuple[str, ...]] = ("rouge-score",)

    def __init__(
        self,
        *,
        rouge_types: Sequence[str] = ("rouge1", "rouge2", "rougeL", "rougeLsum"),
        use_stemmer: bool = False,
        split_summaries: bool = False,
        multi_ref: str = "best",
    ) -> None:
        n = self.name
        check_type(n, "rouge_types", rouge_types, (list, tuple))
        types = list(rouge_types)
        if not types:
            raise ConfigError(f"{n}: rouge_types is empty; name at least one, e.g. ['rougeL'].")
        for t in types:
            check_type(n, "rouge_types[]", t, str)
            if not _ROUGE_TYPE.fullmatch(t):
                check_choice(n, "rouge_types[]", t, _KNOWN_TYPES)
        if len(set(types)) != len(types):
            raise ConfigError(f"{n}: rouge_types {types} repeats a type; list each type once.")
        check_type(n, "use_stemmer", use_stemmer, bool)
        check_type(n, "split_summaries", split_summaries, bool)
        check_type(n, "multi_ref", multi_ref, str)
        check_choice(n, "multi_ref", multi_ref, ["best", "mean"])
        super().__init__(
            rouge_types=types,
            use_stemmer=use_stemmer,
            split_summaries=split_summaries,
            multi_ref=multi_ref,
        )
        from rouge_score.rouge_scorer import RougeScorer

        # rouge-score's own splitting needs nltk's Punkt data, which is not available offline;
        # evalkit splits (split_sentences) and joins with newlines before calling it.
        self._scorer: Any = RougeScorer(types, use_stemmer=use_stemmer, split_summaries=False)
        self._types = tuple(types)

    def value_names(self) -> tuple[str, ...]:
        return tuple(name for t in self._types for name in (t, f"{t}_precision", f"{t}_recall"))

    def primary_values(self) -> tuple[str, ...]:
        """The F-measures; precision and recall are diagnostics."""
        return self._types

    def _prepare(self, text: str) -> str:
        if self.params["split_summaries"]:
            return "\n".join(split_sentences(text))
        return text

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        """``[P, R, F]`` per ROUGE type for each sample."""
        predictions, references = sample_texts(self.name, batch)
        out: list[Stats] = []
        for pred, refs in zip(predictions, references, strict=True):
            pred = self._prepare(pred)
            refs = [self._prepare(r) for r in refs]
            row: list[float] = []
            if self.params["multi_ref"] == "best":
                best = self._scorer.score_multi(refs, pred)
                for t in self._types:
                    row += [float(best[t].precision), float(best[t].recall)]
                    row.append(float(best[t].fmeasure))
            else:
                scores = [self._scorer.score(r, pred) for r in refs]
                for t in self._types:
                    for field in ("precision", "recall", "fmeasure"):
                        row.append(sum(float(getattr(s[t], field)) for s in scores) / len(scores))
            out.append(row)
        return out

    def from_totals(self, totals: np.ndarray, n: np.ndarray) -> dict[str, np.ndarray]:
        means = np.atleast_2d(totals) / np.maximum(np.asarray(n), 1)[:, None]
        values: dict[str, np.ndarray] = {}
        for i, t in enumerate(self._types):
            values[t] = means[:, 3 * i + 2]
            values[f"{t}_precision"] = means[:, 3 * i]
            values[f"{t}_recall"] = means[:, 3 * i + 1]
        return values

    def signature_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "types": ",".join(self._types),
            "stem": self.params["use_stemmer"],
            "split": SPLITTER_ID if self.params["split_summaries"] else "newline",
            "multi_ref": self.params["multi_ref"],
            "tok": "rouge-score-default",
            "rouge-score": package_version("rouge-score"),
        }
        if self.params["use_stemmer"]:
            # The Porter stemmer is nltk's; its version can change stems.
            fields["nltk"] = package_version("nltk")
        fields["evalkit"] = __version__
        return fields
