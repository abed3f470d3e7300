"""``unsupported_facts``: numbers, dates and names in an answer that no retrieved passage has.

What counts as a fact of the answer, extracted in this order (a span taken by one kind is not
read again by the next):

1. **Dates**: ISO dates (``2021-03-03``), ``March 3, 2021``, ``3 March 2021`` and
   ``March 2021`` (English month names, full or three-letter). A date is supported when the
   context holds the same date in any of these forms (``March 2021`` by any date of that month).
2. **Numbers**: integers, decimals and percentages (``42``, ``3.14``, ``1,200``, ``45%``),
   years included. Thousands separators and needless zeros are normalised (``1,200`` =
   ``1200``, ``3.50`` = ``3.5``) and ``%`` is ignored (``45%`` is supported by "45 percent").
   A number is supported when the context holds the same number anywhere (digits inside its
   dates count).
3. **Names**: runs of capitalised words (``Eiffel Tower``, ``NASA``). The first word of a
   sentence is part of a name only when the answer also capitalises it mid-sentence (so
   "Ask Marie Curie." gives ``Marie Curie`` and "Paris is big." gives nothing, unless "Paris"
   appears mid-sentence elsewhere); a leading function word is dropped (``The``, ``However``).
   A lower-case particle between capitalised words stays in the run (``Guido van Rossum``,
   ``Charles de Gaulle``). Month and weekday names and ``I`` are never names. A name is
   supported when the context holds the same words in a row, ignoring case (``New York``'s
   first word at a sentence start is checked as ``York``).

Number words ("three") and lower-case entities are not checked: this is a cheap, precise-leaning
signal of hallucinated specifics, not a full fact checker.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, ClassVar

from pydantic import Field

from evalkit.metrics.params import MetricParams
from evalkit.metrics.rag._claims import split_sentences
from evalkit.metrics.rag._contexts import sample_contexts
from evalkit.metrics.rag._lexical import STOP_WORDS, normalise_number
from evalkit.metrics.rag._ratios import RatioMetric, clip, prediction_of
from evalkit.types import Sample, Stats

__all__ = ["UnsupportedFacts", "answer_facts", "unsupported_items"]

_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
            ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
            ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
            ("december", "dec"),
        ]
    )
    for m in names
}  # fmt: skip
#: Lower-case name particles kept inside a capitalised run (``Guido van Rossum``).
_PARTICLES = {"van", "von", "de", "der", "den", "da", "del", "di", "du", "la", "le", "bin", "al"}
_DAYS = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
_MONTH = r"(?P<{g}>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DATE = re.compile(
    r"(?P<iso>\b(?P<iy>\d{4})-(?P<im>\d{2})-(?P<id>\d{2})\b)"
    r"|\b" + _MONTH.format(g="m1") + r"\s+(?P<d1>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y1>\d{4})\b"
    r"|\b(?P<d2>\d{1,2})(?:st|nd|rd|th)?\s+" + _MONTH.format(g="m2") + r",?\s+(?P<y2>\d{4})\b"
    r"|\b" + _MONTH.format(g="m3") + r",?\s+(?P<y3>\d{4})\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?%?|(?<![\w.])\d+(?:\.\d+)?%?")
_ANY_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_CAP = re.compile(r"[A-Z][\w'’-]*|[A-Z]{2,}")
_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")


def _dates(text: str) -> tuple[list[tuple[str, tuple[int, int, int]]], str]:
    """``(span text, (year, month, day or 0))`` of each date, and the text without them."""
    found: list[tuple[str, tuple[int, int, int]]] = []
    for m in _DATE.finditer(text):
        g = m.groupdict()
        if g["iso"]:
            key = (int(g["iy"]), int(g["im"]), int(g["id"]))
        elif g["m1"]:
            key = (int(g["y1"]), _MONTHS[g["m1"].lower()], int(g["d1"]))
        elif g["m2"]:
            key = (int(g["y2"]), _MONTHS[g["m2"].lower()], int(g["d2"]))
        else:
            key = (int(g["y3"]), _MONTHS[g["m3"].lower()], 0)
        found.append((m.group(), key))
    return found, _DATE.sub(" ", text)


def _is_name_word(word: str) -> bool:
    low = word.lower()
    return low not in _MONTHS and low not in _DAYS and word != "I"


def _names(text: str) -> list[str]:
    """Capitalised runs of ``text`` by the rules of the module docstring (in order)."""
    sentences = [_WORD.findall(s) for s in split_sentences(text)]
    mid = {w for words in sentences for w in words[1:] if w[:1].isupper()}
    out: list[str] = []
    for words in sentences:
        i = 0
        while i < len(words):
            if not (words[i][:1].isupper() and _is_name_word(words[i])):
                i += 1
                continue
            j = i
            while j < len(words) and (
                (words[j][:1].isupper() and _is_name_word(words[j]))
                or (
                    words[j] in _PARTICLES
                    and j + 1 < len(words)
                    and words[j + 1][:1].isupper()
                    and _is_name_word(words[j + 1])
                )
            ):
                j += 1
            run = words[i:j]
            if i == 0 and run[0] not in mid:  # capitalised only because it starts a sentence
                run = run[1:]
            while run and run[0].lower() in STOP_WORDS:
                run = run[1:]
            if run:
                out.append(" ".join(run))
            i = j
    return out


def answer_facts(answer: str) -> dict[str, list[str]]:
    """The dates, numbers and names of an answer (see the module docstring), each once.

    Example:
        >>> answer_facts("On March 3, 2021 the Eiffel Tower hosted 1,200 guests (45%).")
        {'dates': ['March 3, 2021'], 'numbers': ['1,200', '45%'], 'names': ['Eiffel Tower']}
    """
    dates, rest = _dates(answer)
    numbers = _NUMBER.findall(rest)
    return {
        "dates": list(dict.fromkeys(d for d, _ in dates)),
        "numbers": list(dict.fromkeys(numbers)),
        "names": list(dict.fromkeys(_names(rest))),
    }


@lru_cache(maxsize=256)
def _context_index(
    context: str,
) -> tuple[frozenset[tuple[int, int, int]], frozenset[tuple[int, int]], frozenset[str], str]:
    """The dates, months, numbers and lower-cased words of a context (cached: samples often
    share their passages)."""
    days = frozenset(k for _, k in _dates(context)[0])
    months = frozenset((y, m) for y, m, _ in days)
    numbers = frozenset(normalise_number(n) for n in _ANY_NUMBER.findall(context))
    words = " " + " ".join(w.lower() for w in _WORD.findall(context)) + " "
    return days, months, numbers, words


def unsupported_items(answer: str, context: str) -> tuple[int, list[str]]:
    """The fact count of ``answer`` and its facts that ``context`` does not hold.

    Example:
        >>> unsupported_items("Paris had 2.1 million people in 2020, says INSEE.",
        ...                   "In 2020, Paris counted 2.10 million inhabitants.")
        (3, ['INSEE'])
    """
    facts = answer_facts(answer)
    days, months, ctx_numbers, ctx_words = _context_index(context)
    missing: list[str] = []
    for text in facts["dates"]:
        (y, m, d) = _dates(text)[0][0][1]
        if (y, m, d) not in days and not (d == 0 and (y, m) in months):
            missing.append(text)
    for text in facts["numbers"]:
        if normalise_number(text.rstrip("%")) not in ctx_numbers:
            missing.append(text)
    for text in facts["names"]:
        if f" {' '.join(w.lower() for w in _WORD.findall(text))} " not in ctx_words:
            missing.append(text)
    return sum(len(v) for v in facts.values()), missing


class UnsupportedFacts(RatioMetric):
    """Answers with numbers, dates or names that appear nowhere in their retrieved passages.

    For each answer, its facts (dates, numbers, capitalised names: the module docstring says
    exactly what counts) are looked up in the concatenated text of the sample's retrieved
    passages. ``unsupported_rate`` is the share of answers with at least one unsupported fact
    (lower is better), ``unsupported_per_answer`` the mean number of unsupported facts, and
    ``facts_per_answer`` (a diagnostic) the mean number of facts checked. An empty answer is a
    counted sample warning and is left out of all three. The statistic lists the unsupported
    items, so the report shows them.

    Args:
        contexts_field: Where the passages are logged (``outputs``, else a dataset field).

    Raises:
        InputError: Contexts that are not a list of passages (naming the file and line).

    References:
        The check is evalkit's own (no library computes it); it follows the entity and number
        overlap signals of Maynez et al. (2020), "On Faithfulness and Factuality in
        Abstractive Summarization", ACL, and Nan et al. (2021), "Entity-level Factual
        Consistency of Abstractive Text Summarization", EACL.

    Example:
        >>> from evalkit.types import Sample
        >>> s = Sample("q1", prediction="It opened in 1889 and cost 7.8 million francs.",
        ...            outputs={"contexts": ["Opened in 1889."]})
        >>> m = UnsupportedFacts()
        >>> m.sample_stats([s])[0]["unsupported"]
        ['7.8']
        >>> m.score([s]).details
        {'unsupported_rate': 1.0, 'unsupported_per_answer': 1.0, 'facts_per_answer': 2.0}
    """

    name: ClassVar[str] = "unsupported_facts"
    higher_is_better: ClassVar[bool] = False

    class Params(MetricParams):
        """Parameters of the fact check."""

        contexts_field: str = Field("contexts", description="where the passages are logged")

    p: Params

    def value_names(self) -> tuple[str, ...]:
        return ("unsupported_rate", "unsupported_per_answer", "facts_per_answer")

    def primary_values(self) -> tuple[str, ...]:
        return ("unsupported_rate", "unsupported_per_answer")

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        """Per sample: ``{"empty", "facts", "unsupported": [item, ...]}``."""
        out: list[Stats] = []
        for sample in batch:
            passages = sample_contexts(sample, field=self.p.contexts_field)
            answer = prediction_of(sample)
            n, missing = unsupported_items(answer, "\n".join(p.text for p in passages))
            out.append(
                {"empty": not answer.strip(), "facts": n, "unsupported": [clip(m) for m in missing]}
            )
        return out

    def columns(self, stat: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
        if stat["empty"]:
            return {k: (0.0, 0.0) for k in self.value_names()}
        bad = len(stat["unsupported"])
        return {
            "unsupported_rate": (float(bad > 0), 1.0),
            "unsupported_per_answer": (float(bad), 1.0),
            "facts_per_answer": (float(stat["facts"]), 1.0),
        }

    def sample_warnings(self, batch: Sequence[Sample]) -> list[str | None]:
        return [
            "empty answer: no facts to check (left out of unsupported_facts)"
            if not prediction_of(s).strip()
            else None
            for s in batch
        ]
