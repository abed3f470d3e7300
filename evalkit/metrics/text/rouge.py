"""ROUGE-N, ROUGE-L and ROUGE-Lsum with rouge-score's numbers, computed by evalkit.

The default path reproduces Google's rouge-score package (``RougeScorer``) exactly, with a
faster implementation (:mod:`evalkit.metrics.text._rouge_impl`: memoised stems, bit-parallel LCS)
and, for large batches, forked worker processes (:mod:`evalkit.metrics._parallel`);
``tests/parity/test_rouge_parity.py`` keeps rouge-score itself as the reference. nltk (for the
Porter stemmer) is imported only when a stemming ROUGE metric is built.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar, Literal, Self

import numpy as np
from pydantic import Field, field_validator, model_validator

from evalkit._validate import sample_texts
from evalkit._version import __version__
from evalkit.metrics._parallel import map_chunks
from evalkit.metrics.base import MeanMetric, package_version
from evalkit.metrics.params import MetricParams
from evalkit.metrics.text import _rouge_impl as impl
from evalkit.metrics.text._checks import check_nonempty_references
from evalkit.types import Sample, Stats

__all__ = ["ROUGE", "split_sentences"]

# rouge-score accepts rouge1..rouge9 (its regex is rouge[0-9]$ and it refuses n = 0),
# rougeL and rougeLsum.
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


class _Doc:
    """One text, tokenised once: tokens, sentence tokens (ROUGE-Lsum) and n-gram counts."""

    __slots__ = ("_counts", "sentences", "tokens")

    def __init__(self, text: str, tokenize: impl.Tokenizer, need_tokens: bool, need_sents: bool):
        self.sentences: list[list[str]] = []
        if need_sents:
            # rouge-score: sentences are the non-empty lines.
            self.sentences = [tokenize(s) for s in text.split("\n") if len(s)]
            # Lines are separated by a character the tokenizers drop, so the text's tokens
            # are the lines' tokens in order.
            self.tokens = [t for s in self.sentences for t in s]
        else:
            self.tokens = tokenize(text) if need_tokens else []
        self._counts: dict[int, Any] = {}

    def counts(self, n: int) -> Any:
        c = self._counts.get(n)
        if c is None:
            c = self._counts[n] = impl.ngram_counts(self.tokens, n)
        return c


#: Below this many samples ROUGE is computed in-process (no worker pool).
PARALLEL_MIN_SAMPLES = 1000

_WARN = (
    "rouge: the default tokenizer keeps only a-z and 0-9 and dropped most letters of {} "
    "(non-Latin script or accents), so the score says little about the text; set tokenizer: "
    "unicode to score such text."
)
_WARN_PREDICTION = _WARN.format("the prediction")
_WARN_REFERENCE = _WARN.format("a reference")
_WARN_BOTH = _WARN.format("the prediction and a reference")
_WARNINGS = {
    (True, False): _WARN_PREDICTION,
    (False, True): _WARN_REFERENCE,
    (True, True): _WARN_BOTH,
}


def _mostly_dropped(text: str) -> bool:
    """Whether rouge-score's tokenizer drops more than half of the letters and digits of text.

    Punctuation and symbols do not count (ROUGE is about words), so a prediction of only
    punctuation is not flagged: it has no words, and its zero score is faithful.

    >>> _mostly_dropped("Hello, world!"), _mostly_dropped("naïve café"), _mostly_dropped("北京")
    (False, False, True)
    """
    if text.isascii():
        return False  # ASCII letters and digits all survive
    total = sum(1 for c in text if c.isalnum())
    if total == 0:
        return False
    kept = sum(len(w) for w in impl._ASCII_WORD.findall(text.lower()))
    return 2 * kept < total


class ROUGE(MeanMetric):
    """ROUGE precision, recall and F-measure (Lin, 2004) as rouge-score computes them.

    For ROUGE-N, with ``overlap`` the clipped count of n-grams shared by prediction and
    reference::

        P = overlap / #prediction n-grams,  R = overlap / #reference n-grams,
        F = 2 * P * R / (P + R)

    ROUGE-L uses the longest common subsequence of tokens in place of ``overlap``; ROUGE-Lsum
    uses the summary-level union LCS over sentences (sentences are newline-separated, or
    split by :func:`split_sentences` when ``split_summaries`` is true).

    Tokenizers:

    - ``"default"``: rouge-score's, for parity: lowercased ``[a-z0-9]+`` runs; every other
      character, including non-ASCII letters, is dropped, optionally Porter-stemmed (words
      longer than 3 characters). Chinese, Thai or Hindi text has no tokens at all and scores
      0 whatever it says; :meth:`sample_warnings` flags samples that lose more than half of
      their letters and digits, and runs count them per task.
    - ``"unicode"`` (evalkit's, not rouge-score's): NFKC-normalised, casefolded words of
      Unicode word characters (letters, marks, digits); characters of scripts written without
      spaces (Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar) are one token each, with
      their combining marks; only ASCII words are stemmed. Identical texts in any script
      score 1. The signature says ``tok:evalkit-unicode-v1``.

    With several references, ``multi_ref="best"`` keeps, per ROUGE type, the reference with the
    highest F-measure (rouge-score's ``score_multi``; the first on ties); ``"mean"`` averages
    P, R and F over the references (the mean F is not recomputed from the mean P and R).

    Degenerate input (never an error, except references that are all empty):

    - an empty, whitespace-only or punctuation-only prediction has no tokens: P = R = F = 0;
    - a sample whose references are all empty or whitespace is refused with an InputError
      (``evalkit run``'s loader refuses it too); an empty reference next to non-empty ones
      scores 0 against the prediction, as in rouge-score;
    - a one-word prediction has no bigrams: ROUGE-2 is 0 (ROUGE-1 and ROUGE-L still count
      the word).

    The per-sample statistic is ``[P, R, F]`` for each type in ``rouge_types`` order; corpus
    values are plain means over samples, on rouge-score's 0-1 scale. rouge-score's own
    ``BootstrapAggregator`` reports as "mid" the median of (unseeded) bootstrap means, which is
    close to but not the mean; evalkit reports the mean and computes intervals separately.

    Values: for each type ``T``, ``T`` (the F-measure), ``T_precision`` and ``T_recall``; the
    first type's F-measure is the headline.

    Args:
        rouge_types: ROUGE variants, from ``rouge1``..``rouge9``, ``rougeL``, ``rougeLsum``.
        use_stemmer: Porter-stem tokens (nltk's stemmer, as rouge-score uses it).
        split_summaries: Split sentences for ROUGE-Lsum with :func:`split_sentences`
            instead of only at newlines.
        multi_ref: ``"best"`` or ``"mean"`` over a sample's references.
        tokenizer: ``"default"`` (rouge-score's) or ``"unicode"`` (see above).

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
        >>> rouge(["东京是首都"], [["东京是首都"]]).value  # every character dropped
        0.0
        >>> rouge(["东京是首都"], [["东京是首都"]], tokenizer="unicode").value
        1.0
    """

    name: ClassVar[str] = "rouge"
    higher_is_better: ClassVar[bool] = True
    reference_packages: ClassVar[tuple[str, ...]] = ("rouge-score",)

    class Params(MetricParams):
        """ROUGE's parameters (rouge-score's names and defaults, and evalkit's additions)."""

        rouge_types: Sequence[str] = Field(
            ("rouge1", "rouge2", "rougeL", "rougeLsum"),
            validate_default=True,
            description="ROUGE variants: rouge1..rouge9, rougeL, rougeLsum",
        )
        use_stemmer: bool = Field(False, description="Porter-stem tokens (nltk's stemmer)")
        split_summaries: bool = Field(
            False, description="split sentences for rougeLsum (not only at newlines)"
        )
        multi_ref: Literal["best", "mean"] = Field(
            "best", description="best or mean over a sample's references"
        )
        tokenizer: Literal["default", "unicode"] = Field(
            "default", description="rouge-score's (a-z, 0-9) or evalkit's Unicode tokenizer"
        )

        @field_validator("rouge_types")
        @classmethod
        def _as_list(cls, types: Sequence[str]) -> list[str]:
            return list(types)

        @model_validator(mode="after")
        def _known_types(self) -> Self:
            types = self.rouge_types
            if not types:
                raise ValueError("rouge_types is empty; name at least one, e.g. ['rougeL']")
            for t in types:
                if t not in _KNOWN_TYPES:
                    choices = ", ".join(repr(c) for c in _KNOWN_TYPES)
                    raise ValueError(f"rouge_types[]={t!r} is not allowed; choose one of {choices}")
            if len(set(types)) != len(types):
                raise ValueError(f"rouge_types {types} repeats a type; list each type once")
            return self

    p: Params

    def setup(self) -> None:
        self._types = tuple(self.p.rouge_types)
        self._tokenize = impl.make_tokenizer(self.p.tokenizer, self.p.use_stemmer)
        self._need_sents = "rougeLsum" in self._types
        self._need_tokens = any(t != "rougeLsum" for t in self._types)

    def value_names(self) -> tuple[str, ...]:
        return tuple(name for t in self._types for name in (t, f"{t}_precision", f"{t}_recall"))

    def primary_values(self) -> tuple[str, ...]:
        """The F-measures; precision and recall are diagnostics."""
        return self._types

    def _doc(self, text: str) -> _Doc:
        if self.p.split_summaries:
            text = "\n".join(split_sentences(text))
        return _Doc(text, self._tokenize, self._need_tokens, self._need_sents)

    def _score(self, ref: _Doc, pred: _Doc) -> list[impl.ScoreTriple]:
        """One reference against the prediction, per ROUGE type (rouge-score's ``score``)."""
        out: list[impl.ScoreTriple] = []
        for t in self._types:
            if t == "rougeL":
                out.append(impl.score_lcs(ref.tokens, pred.tokens))
            elif t == "rougeLsum":
                out.append(impl.score_summary_lcs(ref.sentences, pred.sentences))
            else:
                k = int(t[5:])
                out.append(
                    impl.score_ngrams(
                        ref.counts(k), len(ref.tokens), pred.counts(k), len(pred.tokens), k
                    )
                )
        return out

    def _pair_stats(self, pairs: Sequence[tuple[str, list[str]]]) -> list[Stats]:
        out: list[Stats] = []
        best = self.p.multi_ref == "best"
        for pred_text, refs in pairs:
            pred = self._doc(pred_text)
            scores = [self._score(self._doc(r), pred) for r in refs]
            row: list[float] = []
            for k in range(len(self._types)):
                if best:
                    # np.argmax over the F-measures in rouge-score: the first maximum.
                    pick = scores[0][k]
                    for s in scores[1:]:
                        if s[k][2] > pick[2]:
                            pick = s[k]
                    row += [float(pick[0]), float(pick[1]), float(pick[2])]
                else:
                    for field in range(3):
                        row.append(sum(float(s[k][field]) for s in scores) / len(scores))
            out.append(row)
        return out

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        """``[P, R, F]`` per ROUGE type for each sample (worker processes for large batches)."""
        predictions, references = sample_texts(self.name, batch)
        check_nonempty_references(self.name, batch, references)
        pairs = list(zip(predictions, references, strict=True))
        return map_chunks(self._pair_stats, pairs, min_items=PARALLEL_MIN_SAMPLES)

    def sample_warnings(self, batch: Sequence[Sample]) -> list[str | None]:
        """With the default tokenizer, a warning for samples whose prediction or a reference
        loses more than half of its letters and digits (see :func:`_mostly_dropped`)."""
        if self.p.tokenizer != "default":
            return [None] * len(batch)
        out: list[str | None] = []
        for s in batch:
            pred = isinstance(s.prediction, str) and _mostly_dropped(s.prediction)
            ref = any(isinstance(r, str) and _mostly_dropped(r) for r in s.references)
            out.append(_WARNINGS.get((pred, ref)))
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
        unicode = self.p.tokenizer == "unicode"
        fields: dict[str, Any] = {
            "types": ",".join(self._types),
            "stem": self.p.use_stemmer,
            "split": SPLITTER_ID if self.p.split_summaries else "newline",
            "multi_ref": self.p.multi_ref,
            "tok": impl.UNICODE_TOKENIZER_ID if unicode else "rouge-score-default",
            "rouge-score": package_version("rouge-score"),
        }
        if self.p.use_stemmer:
            # The Porter stemmer is nltk's; its version can change stems.
            fields["nltk"] = package_version("nltk")
        fields["evalkit"] = __version__
        return fields
