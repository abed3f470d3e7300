r"""METEOR as nltk computes it (``nltk.translate.meteor_score.meteor_score``), faster.

nltk aligns a tokenized hypothesis to each reference in three greedy stages and scores the
alignment; evalkit re-implements those stages step for step (the same order, the same
tie-breaking, the same floating-point formula), so its numbers are nltk's exactly, and adds
what a harness scoring thousands of samples needs:

- WordNet is loaded once per process (:func:`evalkit.assets.wordnet.wordnet`, offline);
- each token's lowercased form and Porter stem, and each word's WordNet synonym set, are
  computed once per process and remembered (nltk recomputes them for every pair);
- a hypothesis is tokenized and stemmed once for all of its references.

The alignment stages (nltk 3.10's ``_enum_align_words``), applied to the tokens that the
previous stages left unmatched:

1. *exact*: hypothesis words from last to first each take the last unmatched reference
   position holding the same lowercased word;
2. *stem*: the same on Porter stems (nltk's ``PorterStemmer()``, NLTK extensions mode);
3. *synonym*: hypothesis stems from last to first each take the last unmatched reference
   position whose stem is the hypothesis stem or a WordNet synonym of it (a lemma name,
   without multi-word lemmas, of any synset of ``wordnet.synsets(stem)``).

nltk matches synonyms on the *stems* left over from stage 2, not on the words (so ``big`` and
``large`` do not match: ``large`` stems to ``larg``); evalkit keeps that, because the number is
nltk's.

Tokenizers (:data:`TOKENIZERS`; nltk's ``meteor_score`` takes tokens, so the tokenizer decides
the number):

- ``wordpunct`` (default): nltk's ``wordpunct_tokenize``, the regular expression
  ``\w+|[^\w\s]+`` (runs of word characters, and runs of other non-space characters);
- ``whitespace``: ``str.split()``;
- ``word_tokenize``: exactly ``nltk.word_tokenize(text)`` (English): Punkt splits the text into
  sentences, then nltk's improved Treebank tokenizer (``NLTKWordTokenizer``) splits each
  sentence. This is what Hugging Face ``evaluate``'s ``meteor`` applies to predictions and
  references, so it reproduces most published nltk-based METEOR numbers. It needs nltk's
  English Punkt model (see :func:`require_punkt`), which evalkit never downloads;
- ``treebank``: ``NLTKWordTokenizer().tokenize(text)`` over the whole text, no model needed.

``treebank`` differs from ``word_tokenize`` only where Punkt ends a sentence before the end of
the text, because three of ``NLTKWordTokenizer``'s rules are anchored at the start or the end of
its input, and ``word_tokenize`` applies them to each sentence while ``treebank`` applies them
once to the whole text:

- a period is split off only at the very end of the input (optionally followed by closing
  quotes or brackets), so ``treebank`` keeps the period of a sentence inside the text attached
  to its word: ``"He left. She stayed."`` is ``He | left. | She | stayed | .`` with
  ``treebank`` and ``He | left | . | She | stayed | .`` with ``word_tokenize``;
- a ``"`` that opens the input becomes the opening-quote token (two backquotes), as does one
  after a space or an opening bracket, so a quote opening a sentence right after a newline is
  the closing-quote token (two apostrophes) with ``treebank`` and an opening one with
  ``word_tokenize``;
- a comma or colon that ends the input is split off even before a digit.

Where Punkt finds no boundary (abbreviations such as ``Mr.``, a single sentence), and for
sentences ending in ``?`` or ``!`` (split off either way), the tokens are the same.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from evalkit._validate import sample_texts
from evalkit._version import __version__
from evalkit.assets.wordnet import wordnet, wordnet_version
from evalkit.errors import AssetError, InputError
from evalkit.metrics.base import MeanMetric, package_version
from evalkit.metrics.params import MetricParams
from evalkit.types import Sample, Stats

if TYPE_CHECKING:  # pragma: no cover
    from nltk.corpus.reader.wordnet import WordNetCorpusReader
    from nltk.tokenize import NLTKWordTokenizer

__all__ = ["METEOR", "PUNKT_RESOURCE", "TOKENIZERS", "meteor_sentence", "require_punkt", "tokenize"]

#: The Punkt model that nltk 3.10's ``sent_tokenize`` (and so ``word_tokenize``) loads for
#: English, under a folder of ``nltk.data.path``. nltk 3.10 no longer reads the older pickled
#: model ``tokenizers/punkt/english.pickle``.
PUNKT_RESOURCE = "tokenizers/punkt_tab/english/"

_PUNKT_HINT = (
    "evalkit never downloads it: on a machine with network run "
    "`python -m nltk.downloader -d DIR punkt_tab`, copy DIR (it holds "
    "tokenizers/punkt_tab/english/) to this machine and set NLTK_DATA to it, "
    "or use tokenize=treebank, which needs no model."
)


def require_punkt(needed_by: str = "meteor") -> None:
    """Check that nltk can load its English Punkt model, as ``sent_tokenize`` loads it.

    nltk looks for :data:`PUNKT_RESOURCE` under each folder of ``nltk.data.path`` (which starts
    with the folders of ``$NLTK_DATA`` as set when nltk was imported); nothing is downloaded.

    Args:
        needed_by: Named in the error message (the metric that needs Punkt).

    Raises:
        AssetError: When the model, or one of its files, is not found or cannot be read; the
            message names the folders searched and how to install the model offline.
    """
    import nltk.data
    from nltk.tokenize.punkt import PunktTokenizer

    try:
        PunktTokenizer("english")
    except LookupError:
        searched = ", ".join(str(p) for p in nltk.data.path) or "(none)"
        raise AssetError(
            f"{needed_by}: tokenize=word_tokenize needs nltk's English Punkt model "
            f"{PUNKT_RESOURCE}, which is not under any folder of nltk's data path "
            f"(nltk.data.path, from $NLTK_DATA and nltk's defaults: {searched}). {_PUNKT_HINT}"
        ) from None
    except (OSError, ValueError) as exc:
        raise AssetError(
            f"{needed_by}: tokenize=word_tokenize needs nltk's English Punkt model, but nltk "
            f"could not read it: {type(exc).__name__}: {exc}. {_PUNKT_HINT}"
        ) from exc


@functools.cache
def _nltk_word_tokenizer() -> NLTKWordTokenizer:
    from nltk.tokenize import NLTKWordTokenizer

    return NLTKWordTokenizer()


def _treebank(text: str) -> list[str]:
    """``NLTKWordTokenizer().tokenize(text)`` over the whole text (no sentence splitting)."""
    tokens: list[str] = _nltk_word_tokenizer().tokenize(text)
    return tokens


def _word_tokenize(text: str) -> list[str]:
    """Exactly ``nltk.word_tokenize(text)``: Punkt sentences, then ``NLTKWordTokenizer``."""
    from nltk.tokenize import word_tokenize

    try:
        tokens: list[str] = word_tokenize(text)
    except LookupError:
        require_punkt()  # raises the AssetError that explains the missing model
        raise
    return tokens


#: The tokenizers by name (see the module docstring): ``wordpunct`` is nltk's
#: ``wordpunct_tokenize`` (``WordPunctTokenizer``, the regular expression ``\w+|[^\w\s]+``),
#: ``whitespace`` is ``str.split()``, ``treebank`` is nltk's ``NLTKWordTokenizer`` over the
#: whole text, and ``word_tokenize`` is ``nltk.word_tokenize`` (needs the Punkt model).
_WORDPUNCT = re.compile(r"\w+|[^\w\s]+")
TOKENIZERS: dict[str, Callable[[str], list[str]]] = {
    "wordpunct": _WORDPUNCT.findall,
    "whitespace": str.split,
    "treebank": _treebank,
    "word_tokenize": _word_tokenize,
}

#: Entries kept in each per-process memo before it is cleared (bounds memory on huge or
#: adversarial vocabularies; a cleared memo only costs recomputation).
_MEMO_LIMIT = 1 << 20


def tokenize(text: str, method: str = "wordpunct") -> list[str]:
    """Split ``text`` into tokens with one of :data:`TOKENIZERS`.

    >>> tokenize("Isn't it 3.14, (roughly)?")
    ['Isn', "'", 't', 'it', '3', '.', '14', ',', '(', 'roughly', ')?']
    >>> tokenize("Isn't it 3.14?", "whitespace")
    ["Isn't", 'it', '3.14?']
    >>> tokenize('He left. She said "no, thanks."', "treebank")
    ['He', 'left.', 'She', 'said', '``', 'no', ',', 'thanks', '.', "''"]
    >>> tokenize("It isn't.", "treebank")
    ['It', 'is', "n't", '.']
    """
    return TOKENIZERS[method](text)


class _Aligner:
    """nltk's METEOR alignment and score, with per-process memos of stems and synonyms."""

    def __init__(self, reader: WordNetCorpusReader) -> None:
        from nltk.stem.porter import PorterStemmer

        self.reader = reader
        self.stemmer = PorterStemmer()  # nltk's default: NLTK_EXTENSIONS mode
        self._forms: dict[str, tuple[str, str]] = {}
        self._synonyms: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()

    def forms(self, tokens: Sequence[str]) -> tuple[list[str], list[str]]:
        """Lowercased tokens (nltk's ``preprocess=str.lower``) and their Porter stems."""
        memo = self._forms
        try:
            pairs = [memo[t] for t in tokens]
        except KeyError:
            if len(memo) > _MEMO_LIMIT:
                memo.clear()
            pairs = [memo.get(t) or self._new_forms(t) for t in tokens]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    def _new_forms(self, token: str) -> tuple[str, str]:
        low = token.lower()
        pair = self._forms[token] = (low, self.stemmer.stem(low))
        return pair

    def synonyms(self, word: str) -> frozenset[str]:
        """``word`` and the single-word lemma names of its WordNet synsets (nltk's set)."""
        syns = self._synonyms.get(word)
        if syns is None:
            # nltk's reader seeks and reads shared file handles: one lookup at a time.
            with self._lock:
                names = {
                    lemma.name()
                    for synset in self.reader.synsets(word)
                    for lemma in synset.lemmas()
                    if lemma.name().find("_") < 0
                }
                names.add(word)
                syns = frozenset(names)
                if len(self._synonyms) > _MEMO_LIMIT:
                    self._synonyms.clear()
                self._synonyms[word] = syns
        return syns

    def score(
        self,
        hyp: list[str],
        hyp_stems: list[str],
        ref: list[str],
        ref_stems: list[str],
        alpha: float,
        beta: float,
        gamma: float,
    ) -> float:
        """nltk's ``single_meteor_score`` on lowercased tokens and their stems."""
        n_hyp, n_ref = len(hyp), len(ref)
        if n_hyp == 0 or n_ref == 0:
            return 0.0  # nltk: ZeroDivisionError -> 0.0
        match = [-1] * n_hyp  # hypothesis position -> reference position
        used = [False] * n_ref

        # Stage 1, exact: positions ascending, so pop() takes the last unused one (nltk's
        # _match_enums).
        positions: dict[str, list[int]] = {}
        for j, w in enumerate(ref):
            p = positions.get(w)
            if p is None:
                positions[w] = [j]
            else:
                p.append(j)
        left = n_ref
        for i in range(n_hyp - 1, -1, -1):
            p = positions.get(hyp[i])
            if p:
                j = p.pop()
                match[i] = j
                used[j] = True
                left -= 1

        # Stage 2, stems of what is left; the same dictionary then serves stage 3, whose
        # candidates are the stems still unmatched after stage 2 (nltk passes the stemmed
        # leftovers on).
        if left:
            positions = {}
            for j in range(n_ref):
                if not used[j]:
                    s = ref_stems[j]
                    p = positions.get(s)
                    if p is None:
                        positions[s] = [j]
                    else:
                        p.append(j)
            pending = []
            for i in range(n_hyp - 1, -1, -1):
                if match[i] < 0:
                    p = positions.get(hyp_stems[i])
                    if p:
                        j = p.pop()
                        match[i] = j
                        left -= 1
                    else:
                        pending.append(i)  # descending, as nltk's reverse scan

            # Stage 3, WordNet synonyms: the highest unused reference position whose stem is
            # a synonym (nltk's _enum_wordnetsyn_match).
            for i in pending:
                if not left:
                    break
                syns = self.synonyms(hyp_stems[i])
                best_j = -1
                best: list[int] | None = None
                if len(syns) <= len(positions):
                    for s in syns:
                        p = positions.get(s)
                        if p and p[-1] > best_j:
                            best_j, best = p[-1], p
                else:
                    for s, p in positions.items():
                        if p and p[-1] > best_j and s in syns:
                            best_j, best = p[-1], p
                if best is not None:
                    best.pop()
                    match[i] = best_j
                    left -= 1

        # Chunks over matches sorted by hypothesis position (nltk's _count_chunks).
        matches = 0
        chunks = 1
        prev_i = prev_j = -2
        for i in range(n_hyp):
            j = match[i]
            if j < 0:
                continue
            if matches and not (i == prev_i + 1 and j == prev_j + 1):
                chunks += 1
            matches += 1
            prev_i, prev_j = i, j
        if matches == 0:
            return 0.0  # nltk: 0/0 in fmean -> ZeroDivisionError -> 0.0
        # nltk's single_meteor_score, operation for operation (same rounding).
        precision = float(matches) / n_hyp
        recall = float(matches) / n_ref
        fmean = (precision * recall) / (alpha * precision + (1 - alpha) * recall)
        frag_frac = float(chunks) / matches
        penalty = gamma * frag_frac**beta
        return float((1 - penalty) * fmean)


_aligners: dict[int, _Aligner] = {}
_aligners_lock = threading.Lock()


def _aligner(needed_by: str = "meteor") -> _Aligner:
    """The aligner over this process's WordNet reader (readers are cached, so ids are stable)."""
    reader = wordnet(needed_by)
    with _aligners_lock:
        aligner = _aligners.get(id(reader))
        if aligner is None:
            aligner = _aligners[id(reader)] = _Aligner(reader)
        return aligner


def meteor_sentence(
    hypothesis: Sequence[str],
    references: Sequence[Sequence[str]],
    *,
    alpha: float = 0.9,
    beta: float = 3.0,
    gamma: float = 0.5,
) -> float:
    """nltk's ``meteor_score(references, hypothesis)`` on pre-tokenized text, with evalkit's
    WordNet and memos: the best score over the references, 0.0 for an empty side.

    >>> hyp = "It is a guide to action which ensures that the military always obeys the "
    >>> hyp += "commands of the party"
    >>> ref = "It is a guide to action that ensures that the military will forever heed Party "
    >>> ref += "commands"
    >>> round(meteor_sentence(hyp.split(), [ref.split(), ["a"]]), 4)  # nltk's doctest value
    0.6944
    >>> meteor_sentence([], [["a"]]), meteor_sentence(["a"], [[]])
    (0.0, 0.0)
    """
    aligner = _aligner()
    hyp, hyp_stems = aligner.forms(hypothesis)
    best = 0.0
    for i, ref_tokens in enumerate(references):
        ref, ref_stems = aligner.forms(ref_tokens)
        value = aligner.score(hyp, hyp_stems, ref, ref_stems, alpha, beta, gamma)
        best = value if i == 0 else max(best, value)
    return best


def _check_nonempty_references(
    metric: str, batch: Sequence[Sample], references: Sequence[Sequence[str]]
) -> None:
    """Refuse a sample whose references are all empty or whitespace, as the data loader does.

    >>> _check_nonempty_references("meteor", [Sample(id="7")], [["", " "]])
    Traceback (most recent call last):
    ...
    evalkit.errors.InputError: meteor: sample '7' has only empty references; give at least \
one non-empty reference (evalkit run refuses such samples too).
    """
    for sample, refs in zip(batch, references, strict=True):
        if not any(r.strip() for r in refs):
            raise InputError(
                f"{metric}: sample '{sample.id}' has only empty references; give at least one "
                "non-empty reference (evalkit run refuses such samples too)."
            )


class METEOR(MeanMetric):
    """METEOR (Banerjee & Lavie, 2005) exactly as nltk's ``meteor_score`` computes it.

    With ``m`` the number of aligned unigrams between the tokenized prediction (``h`` tokens)
    and a reference (``r`` tokens), ``chunks`` the fewest runs of matches that are adjacent
    in both, and the parameters of Lavie & Agarwal (2007)::

        P = m / h,   R = m / r,   Fmean = P * R / (alpha * P + (1 - alpha) * R)
        Penalty = gamma * (chunks / m) ** beta
        METEOR = Fmean * (1 - Penalty)

    (``alpha=0.9, beta=3, gamma=0.5`` give the original 2005 formula
    ``Fmean = 10 P R / (R + 9 P)`` and ``Penalty = 0.5 (chunks / m)^3``.) Unigrams are aligned
    in nltk's three stages: exact lowercased words, then Porter stems, then WordNet synonyms
    (see the module docstring). A sample scores the maximum over its references; the corpus
    value is the mean of sample scores (as nltk and Hugging Face ``evaluate`` report it).

    Empty text: a prediction with no tokens scores 0 (nltk's rule: its ``ZeroDivisionError``
    becomes 0.0) and :meth:`sample_warnings` flags it; an empty reference among non-empty ones
    scores 0 against that reference, as in nltk. A sample whose references are *all* empty or
    whitespace is refused with an ``InputError`` (nltk would score 0), as evalkit's data
    loader and the other text-overlap metrics refuse it: such a sample is almost always a
    wrong field mapping. Even a prediction equal to its reference scores below 1: one chunk
    of ``m`` matches leaves a penalty of ``gamma / m ** beta``.

    This is nltk's METEOR, not the Java METEOR 1.5 of Denkowski & Lavie (2014), which has a
    paraphrase stage, weights each stage's matches, separates function and content words
    (``delta``), chooses among alignments by fewest crossings, uses other default parameters
    (``alpha=0.85, beta=0.2, gamma=0.6`` for English) and computes the corpus score from
    pooled statistics. Hugging Face ``evaluate``'s ``meteor`` calls nltk after
    ``nltk.word_tokenize`` on each prediction and reference and reports the mean of sample
    scores: ``tokenize="word_tokenize"`` reproduces its numbers (with the same WordNet 3.0).

    Values: ``meteor`` in ``[0, 1]``. Per-sample statistic: ``[score]``.

    Args:
        alpha: Weight of precision against recall in ``Fmean``, in ``[0, 1]`` (nltk's name
            and default).
        beta: Shape of the fragmentation penalty, ``>= 0``.
        gamma: Maximum fragmentation penalty, in ``[0, 1]``.
        tokenize: ``"wordpunct"`` (default: nltk's ``wordpunct_tokenize``, runs of word
            characters and runs of punctuation), ``"whitespace"`` (``str.split``),
            ``"word_tokenize"`` (``nltk.word_tokenize``, as Hugging Face ``evaluate``'s
            ``meteor``; needs nltk's English Punkt model locally) or ``"treebank"`` (nltk's
            ``NLTKWordTokenizer`` over the whole text: ``word_tokenize`` without Punkt's
            sentence splitting, equal to it except around sentence-final periods and quotes
            inside the text, see the module docstring). nltk's ``meteor_score`` takes tokens,
            so the tokenizer is part of the metric and of its signature.

    Raises:
        ConfigError: On a parameter of the wrong type or out of range.
        AssetError: When WordNet is missing, or with ``tokenize="word_tokenize"`` when nltk's
            English Punkt model is missing (at construction, before any model call).
        InputError: From :meth:`sample_stats`, on a sample whose references are all empty.

    References:
        Banerjee & Lavie (2005), "METEOR: An Automatic Metric for MT Evaluation with Improved
        Correlation with Human Judgments", ACL Workshop on Intrinsic and Extrinsic Evaluation
        Measures for MT and/or Summarization. Lavie & Agarwal (2007), "METEOR: An Automatic
        Metric for MT Evaluation with High Levels of Correlation with Human Judgments", WMT.
        nltk: ``nltk.translate.meteor_score``.

    Example:
        >>> from evalkit._validate import as_samples
        >>> samples = as_samples(
        ...     "meteor",
        ...     ["The cat sat on the mat.", "A fast car"],
        ...     [["The cat is sitting on the mat."], ["the quick cars", "a red car"]],
        ... )
        >>> metric = METEOR()
        >>> [round(s[0], 4) for s in metric.sample_stats(samples)]
        [0.8757, 0.625]
        >>> round(metric.score(samples).value, 4)
        0.7504
        >>> metric.signature()  # doctest: +ELLIPSIS
        'meteor|alpha:0.9|beta:3.0|gamma:0.5|tok:wordpunct|case:lower|stem:porter|wordnet:3.0|...'
    """

    name: ClassVar[str] = "meteor"
    higher_is_better: ClassVar[bool] = True
    reference_packages: ClassVar[tuple[str, ...]] = ("nltk",)

    class Params(MetricParams):
        """METEOR's parameters (nltk's names and defaults, and the tokenizer)."""

        alpha: float = Field(
            0.9, ge=0, le=1, allow_inf_nan=False, description="weight of precision in Fmean"
        )
        beta: float = Field(
            3.0, ge=0, allow_inf_nan=False, description="shape of the fragmentation penalty"
        )
        gamma: float = Field(
            0.5, ge=0, le=1, allow_inf_nan=False, description="maximum fragmentation penalty"
        )
        tokenize: Literal["wordpunct", "whitespace", "word_tokenize", "treebank"] = Field(
            "wordpunct",
            description=(
                "nltk's wordpunct_tokenize, str.split, nltk.word_tokenize (Hugging Face "
                "evaluate's; needs the Punkt model), or NLTKWordTokenizer without Punkt"
            ),
        )

    p: Params

    def setup(self) -> None:
        self._tokenize = TOKENIZERS[self.p.tokenize]
        if self.p.tokenize == "word_tokenize":
            require_punkt(self.name)  # refuse now, not at the first sample
        # Fails here, before any model call, when WordNet is missing (cheap: no loading).
        self._wordnet_version = wordnet_version(self.name)

    def value_names(self) -> tuple[str, ...]:
        return ("meteor",)

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        """``[score]`` per sample: nltk's METEOR, the best over the sample's references."""
        predictions, references = sample_texts(self.name, batch)
        _check_nonempty_references(self.name, batch, references)
        if not predictions:
            return []
        aligner = _aligner(self.name)
        alpha, beta, gamma = self.p.alpha, self.p.beta, self.p.gamma
        tok = self._tokenize
        out: list[Stats] = []
        for pred, refs in zip(predictions, references, strict=True):
            hyp, hyp_stems = aligner.forms(tok(pred))
            best = 0.0
            for ref_text in refs:
                ref, ref_stems = aligner.forms(tok(ref_text))
                value = aligner.score(hyp, hyp_stems, ref, ref_stems, alpha, beta, gamma)
                if value > best:
                    best = value
            out.append([best])
        return out

    def sample_warnings(self, batch: Sequence[Sample]) -> list[str | None]:
        """Flag predictions scored 0 only because they have no tokens."""
        predictions, _ = sample_texts(self.name, batch)
        tok = self._tokenize
        message = f"prediction has no tokens (tokenize={self.p.tokenize}); METEOR scores it 0"
        return [None if tok(pred) else message for pred in predictions]

    def signature_fields(self) -> dict[str, Any]:
        p = self.p
        return {
            "alpha": p.alpha,
            "beta": p.beta,
            "gamma": p.gamma,
            "tok": p.tokenize,
            "case": "lower",
            "stem": "porter",
            "wordnet": self._wordnet_version,
            "nltk": package_version("nltk"),
            "evalkit": __version__,
        }
