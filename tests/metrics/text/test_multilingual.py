"""Text in other scripts: ROUGE's tokenizers and warnings, BLEU/TER CJK warnings, sacrebleu's
language-specific tokenizers, and the warning counts in a run's record and HTML report.

rouge-score's default tokenizer keeps only ``[a-z0-9]``: Chinese, Thai or Hindi text has no
tokens and scores 0 whatever it says. evalkit keeps that default for parity, flags samples that
lose most of their letters (``Metric.sample_warnings``), and offers ``tokenizer: unicode``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sacrebleu
from sacrebleu.metrics import BLEU as SacreBLEU

from evalkit._validate import as_samples
from evalkit.metrics import bleu, chrf, rouge, ter
from evalkit.metrics.text._rouge_impl import UNICODE_TOKENIZER_ID, make_tokenizer
from evalkit.metrics.text.bleu import BLEU
from evalkit.metrics.text.chrf import CHRF
from evalkit.metrics.text.rouge import ROUGE
from evalkit.metrics.text.ter import TER
from evalkit.report.html.run import render_html
from evalkit.runner import run_suite
from evalkit.store import RESULTS, SAMPLES, load_run
from tests.conftest import write_jsonl

# (prediction, reference) pairs in several scripts; each prediction differs a little from its
# reference, so partial scores are meaningful.
TEXTS: dict[str, tuple[str, str]] = {
    "chinese": ("东京是日本的首都。", "东京是日本的首都和最大城市。"),
    "japanese": ("東京は日本の首都です。", "東京は日本の首都である。"),
    "korean": ("서울은 한국의 수도입니다", "서울은 대한민국의 수도입니다"),
    "thai": ("กรุงเทพเป็นเมืองหลวงของไทย", "กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย"),
    "hindi": ("दिल्ली भारत की राजधानी है", "नई दिल्ली भारत की राजधानी है"),
    "russian": ("Москва столица России", "Москва является столицей России"),
    "arabic": ("القاهرة عاصمة مصر", "القاهرة هي عاصمة مصر"),
    "greek": ("Η Αθήνα είναι η πρωτεύουσα", "Η Αθήνα είναι πρωτεύουσα της Ελλάδας"),
}
NON_LATIN = list(TEXTS)


# ----------------------------------------------------------------------- ROUGE tokenizers


@pytest.mark.parametrize("script", NON_LATIN)
def test_default_tokenizer_scores_non_latin_text_zero_and_warns(script: str) -> None:
    pred, ref = TEXTS[script]
    metric = ROUGE()
    samples = as_samples("rouge", [pred, pred], [[ref], [pred]])
    values = metric.aggregate(metric.sample_stats(samples))
    # Even the identical pair scores 0: every character is dropped (rouge-score's behaviour).
    assert all(v == 0.0 for v in values.values())
    warnings = metric.sample_warnings(samples)
    assert all(w is not None and "tokenizer: unicode" in w for w in warnings)
    assert "prediction and a reference" in (warnings[0] or "")


@pytest.mark.parametrize("script", NON_LATIN)
@pytest.mark.parametrize("use_stemmer", [False, True])
def test_unicode_tokenizer_scores_identical_text_one(script: str, use_stemmer: bool) -> None:
    pred, ref = TEXTS[script]
    same = rouge([pred], [[pred]], tokenizer="unicode", use_stemmer=use_stemmer)
    assert all(v == pytest.approx(1.0, abs=1e-15) for v in same.details.values())
    partial = rouge([pred], [[ref]], tokenizer="unicode", use_stemmer=use_stemmer)
    assert 0.2 < partial.value < 1.0
    assert ROUGE(tokenizer="unicode").sample_warnings(as_samples("rouge", [pred], [[ref]])) == [
        None
    ]


def test_unicode_tokenizer_tokens() -> None:
    tok = make_tokenizer("unicode", use_stemmer=False)
    # Han and kana: one token per character; digits and Latin words stay whole.
    assert tok("2024年に東京へ") == ["2024", "年", "に", "東", "京", "へ"]
    # Devanagari vowel signs and viramas are marks: they stay inside their word.
    assert tok("नई दिल्ली") == ["नई", "दिल्ली"]
    # Thai has no spaces: one token per character, combining vowels attached.
    assert tok("กรุงเทพ") == ["ก", "รุ", "ง", "เ", "ท", "พ"]
    # Korean separates words with spaces: words stay whole.
    assert tok("서울은 수도") == ["서울은", "수도"]
    # casefold and NFKC: ß matches SS, full-width letters match ASCII, é composed or not.
    assert tok("Straße ＡＢＣ café") == tok("STRASSE abc cafe\u0301")
    assert tok("¡Hola, mundo! — ok?") == ["hola", "mundo", "ok"]
    stem = make_tokenizer("unicode", use_stemmer=True)
    # Porter stemming applies to ASCII words only.
    assert stem("running runners läuft") == ["run", "runner", "läuft"]


def test_unicode_tokenizer_equals_default_on_plain_ascii_words() -> None:
    """On lowercase ASCII words separated by spaces both tokenizers agree, with and without the
    stemmer, so switching tokenizer changes nothing for such text."""
    text = "the runners were running quickly over 3 hills"
    for stemmer in (False, True):
        assert make_tokenizer("unicode", stemmer)(text) == make_tokenizer("default", stemmer)(text)


def test_signature_names_the_tokenizer() -> None:
    assert "|tok:rouge-score-default|" in ROUGE().signature()
    assert f"|tok:{UNICODE_TOKENIZER_ID}|" in ROUGE(tokenizer="unicode").signature()


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("plain ASCII text, with punctuation!", False),
        ("?!... ,;:", False),  # no letters at all: nothing to lose, a faithful 0
        ("", False),
        ("naïve café in Zürich", False),  # one letter in a word is lost, not most
        ("Ελληνικά", True),
        ("GPU 加速计算很快", True),  # 3 of 9 letters and digits survive
        ("GPU加速", False),  # 3 of 5 survive
    ],
)
def test_warning_threshold(text: str, flagged: bool) -> None:
    samples = as_samples("rouge", [text], [["reference words"]])
    assert (ROUGE().sample_warnings(samples)[0] is not None) is flagged


def test_reference_only_warning() -> None:
    samples = as_samples("rouge", ["in english"], [["english", "на русском"]])
    message = ROUGE().sample_warnings(samples)[0]
    assert message is not None and "a reference" in message and "prediction" not in message


# ------------------------------------------------------------------- BLEU, chrF and TER


def test_bleu_warns_on_cjk_with_13a_only() -> None:
    samples = as_samples(
        "bleu",
        [TEXTS["chinese"][0], "plain text", TEXTS["korean"][0], "plain", "Ελληνικά"],
        [[TEXTS["chinese"][1]], ["plain text"], [TEXTS["korean"][1]], ["日本"], ["Ελληνικά"]],
    )
    warnings = BLEU().sample_warnings(samples)
    assert [w is not None for w in warnings] == [True, False, True, True, False]
    assert "tokenize='13a'" in (warnings[0] or "")
    assert BLEU(tokenize="intl").sample_warnings(samples)[0] is not None
    for ok in ({"tokenize": "zh"}, {"tokenize": "char"}, {"trg_lang": "zh"}):
        assert BLEU.build(ok).sample_warnings(samples) == [None] * 5
    assert CHRF().sample_warnings(samples) == [None] * 5  # character n-grams need no words
    assert TER().sample_warnings(samples)[0] is not None
    assert TER(normalized=True, asian_support=True).sample_warnings(samples) == [None] * 5


def _multilingual() -> tuple[list[str], list[list[str]]]:
    preds = [p for p, _ in TEXTS.values()] + ["Mixed 中文 and English, 2024年."]
    refs = [[r] for _, r in TEXTS.values()] + [["Mixed 中文 and English in 2024."]]
    return preds, refs


@pytest.mark.parametrize("tokenize", ["13a", "zh", "char", "intl", "none"])
def test_bleu_tokenizers_equal_sacrebleu_on_multilingual_text(tokenize: str) -> None:
    preds, refs = _multilingual()
    want = sacrebleu.corpus_bleu(preds, [[r[0] for r in refs]], tokenize=tokenize).score
    assert bleu(preds, refs, tokenize=tokenize).value == pytest.approx(want, abs=1e-9, rel=0)


def test_chrf_and_ter_equal_sacrebleu_on_multilingual_text() -> None:
    preds, refs = _multilingual()
    streams = [[r[0] for r in refs]]
    assert chrf(preds, refs).value == pytest.approx(
        sacrebleu.corpus_chrf(preds, streams).score, abs=1e-9, rel=0
    )
    kw: dict[str, Any] = {"normalized": True, "asian_support": True}
    assert ter(preds, refs, **kw).value == pytest.approx(
        sacrebleu.corpus_ter(preds, streams, **kw).score, abs=1e-9, rel=0
    )


@pytest.mark.parametrize(
    ("tokenize", "module", "script"),
    [("ja-mecab", "MeCab", "japanese"), ("ko-mecab", "mecab_ko", "korean")],
)
def test_mecab_tokenizers_equal_sacrebleu(tokenize: str, module: str, script: str) -> None:
    """Only where sacrebleu's optional MeCab packages are installed ('sacrebleu[ja]',
    'sacrebleu[ko]'); without them BLEU(tokenize=...) is an AssetError (tested in parity)."""
    pytest.importorskip(module)
    pred, ref = TEXTS[script]
    preds, refs = [pred, ref], [[ref], [pred]]
    want = SacreBLEU(tokenize=tokenize).corpus_score(preds, [[r[0] for r in refs]]).score
    got = bleu(preds, refs, tokenize=tokenize)
    assert got.value == pytest.approx(want, abs=1e-9, rel=0)
    assert BLEU(tokenize=tokenize).sample_warnings(as_samples("bleu", preds, refs)) == [None] * 2


# ------------------------------------------------------- warnings in the record and the report


def test_run_counts_warnings_and_the_report_shows_them(tmp_path: Path) -> None:
    rows = [
        {"id": "zh", "prompt": TEXTS["chinese"][0], "answer": TEXTS["chinese"][1]},
        {"id": "th", "prompt": TEXTS["thai"][0], "answer": TEXTS["thai"][1]},
        {"id": "en", "prompt": "the cat sat on the mat", "answer": "the cat sat on a mat"},
    ]
    write_jsonl(tmp_path / "data.jsonl", rows)
    (tmp_path / "s.yaml").write_text(
        "name: multilingual\n"
        "bootstrap: {resamples: 50}\n"
        "tasks:\n"
        "  - name: default\n"
        "    dataset: {path: data.jsonl, id: id, references: answer}\n"
        '    prompt: "{prompt}"\n'
        "    metrics: [rouge, bleu]\n"
        "  - name: unicode\n"
        "    dataset: {path: data.jsonl, id: id, references: answer}\n"
        '    prompt: "{prompt}"\n'
        "    metrics: [{rouge: {tokenizer: unicode}}, {bleu: {tokenize: zh}}]\n",
        encoding="utf-8",
    )
    outcome = run_suite(tmp_path / "s.yaml", "scripted:echo", tmp_path / "run")
    assert outcome.exit_code == 0
    header = json.loads((outcome.path / RESULTS).read_text(encoding="utf-8"))
    counts = header["tasks"][0]["warnings"]
    assert sum(counts["rouge"].values()) == 2  # zh and th
    assert sum(counts["bleu"].values()) == 1  # zh only: Thai is not CJK
    assert header["tasks"][1]["warnings"] == {}  # the unicode tokenizer and zh flag nothing
    rouge1 = {r["task"]: r["value"] for r in header["results"] if r["metric"] == "rouge1"}
    assert rouge1["unicode"] > rouge1["default"] + 0.3  # zh and th score 0 by default
    lines = [json.loads(x) for x in (outcome.path / SAMPLES).read_text().splitlines()]
    by_id = {ln["id"]: ln for ln in lines if ln["task"] == "default"}
    assert "rouge" in by_id["zh"]["warnings"] and "bleu" in by_id["zh"]["warnings"]
    assert "warnings" not in by_id["en"]

    html = (outcome.path / "report.html").read_text(encoding="utf-8")
    assert "Warnings:" in html and "tokenizer: unicode" in html

    # Messages are data: a hostile one is escaped, never markup.
    header["tasks"][0]["warnings"] = {"rouge": {"<script>alert(1)</script> & co": 4}}
    (outcome.path / RESULTS).write_text(json.dumps(header), encoding="utf-8")
    page = render_html(load_run(outcome.path))
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in page
