"""Strict verdict parsing: every failure kind, JSON corner cases, regex verdicts and scales."""

from __future__ import annotations

from typing import Any

import pytest

from evalkit.errors import ConfigError
from evalkit.metrics.judges.verdicts import (
    FAILURE_KINDS,
    MAX_VERDICT_CHARS,
    Scale,
    Verdict,
    VerdictParser,
    failure_kind,
    scale_of,
)

R15 = Scale("range", 1, 5)
PF = Scale("pass_fail")
AB = Scale("labels", labels=("A", "B", "tie"))


def j(text: str | None, error: str | None = None) -> dict[str, Any]:
    return {"text": text, "error": error, "cached": False}


def parse(text: str | None, fields: dict[str, Scale] | None = None, **kw: Any) -> Verdict:
    return VerdictParser(fields or {"score": R15}, **kw).parse(j(text))


# --- scales ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        (1, 1.0),
        (5, 5.0),
        (4.0, 4.0),
        ("4", 4.0),
        (" 4 ", 4.0),
        ("+3", 3.0),
        (0, None),
        (6, None),
        (4.5, None),
        (True, None),
        (False, None),
        ("4.0", None),
        ("four", None),
        ("", None),
        (float("nan"), None),
        (float("inf"), None),
        (None, None),
        ([4], None),
        ({"v": 4}, None),
        ("٤", None),  # an Arabic-Indic digit is not a verdict digit
    ],
)
def test_range_values(raw: object, want: float | None) -> None:
    assert R15.value(raw) == want


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        (True, 1.0),
        (False, 0.0),
        ("pass", 1.0),
        ("FAIL", 0.0),
        (" Pass ", 1.0),
        (1, 1.0),
        (0, 0.0),
        (1.0, 1.0),
        ("1", 1.0),
        (2, None),
        (0.5, None),
        ("yes", None),
        (None, None),
    ],
)
def test_pass_fail_values(raw: object, want: float | None) -> None:
    assert PF.value(raw) == want


def test_label_values() -> None:
    assert [AB.value(v) for v in ("A", " b ", "TIE", "C", 0, None)] == [
        0.0,
        1.0,
        2.0,
        None,
        None,
        None,
    ]
    # casefold: unicode labels match case-insensitively
    assert Scale("labels", labels=("Straße", "Ärger")).value("ÄRGER") == 1.0


def test_scale_values_and_describe() -> None:
    assert R15.values() == (1.0, 2.0, 3.0, 4.0, 5.0)
    assert PF.values() == (0.0, 1.0)
    assert AB.values() == (0.0, 1.0, 2.0)
    assert (R15.describe(), PF.describe(), AB.describe()) == ("1-5", "pass_fail", "A|B|tie")
    assert R15.is_ordinal and PF.is_ordinal and not AB.is_ordinal


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        ([1, 5], R15),
        ((1, 5), R15),
        ("1-5", R15),
        (" 0 - 10 ", Scale("range", 0, 10)),
        ("-2-2", Scale("range", -2, 2)),
        ("pass_fail", PF),
        ("PASS_FAIL", PF),
        (["A", "B", "tie"], AB),
    ],
)
def test_scale_of(spec: object, want: Scale) -> None:
    assert scale_of(spec, "judge: criteria[0].scale") == want


@pytest.mark.parametrize(
    "spec",
    [
        [5, 1],
        [3, 3],
        "5-1",
        "1..5",
        "good",
        5,
        None,
        [1, 2, 3],
        [True, 5],
        [1.0, 5.0],
        ["A"],
        ["A", "a"],
        ["A", ""],
        [0, 5000],
        {"low": 1},
    ],
)
def test_scale_of_rejects(spec: object) -> None:
    with pytest.raises(ConfigError, match=r"judge: criteria\[0\]\.scale: .*\[1, 5\]"):
        scale_of(spec, "judge: criteria[0].scale")


# --- JSON verdicts --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '{"score": 4}',
        '  \n{"score": 4}\n  ',
        '{"score": "4"}',
        '{"score": 4.0}',
        '{"score": 4, "reasoning": "clear and correct"}',
        '{"reasoning": {"nested": [1, 2]}, "score": 4}',
        '```json\n{"score": 4}\n```',
        '```JSON\n{"score": 4}\n```',
        '```\n{"score": 4}\n```',
        '```json {"score": 4}```',
        '\n\n```json\n  {"score": 4}  \n```\n',
        '{"score": 4, "reasoning": "très bien ✓ — 很好"}',
    ],
)
def test_json_accepted(text: str) -> None:
    assert parse(text) == Verdict({"score": 4.0}, None)


@pytest.mark.parametrize(
    "text",
    [
        "4",
        "Score: 4",
        '"score": 4',
        '{"score": 4',
        "{'score': 4}",  # Python, not JSON
        '[{"score": 4}]',
        '"{\\"score\\": 4}"',
        'The verdict: {"score": 4}',
        '{"score": 4} I hope this helps.',
        '{"score": 4}\n{"score": 5}',
        '```json\n{"score": 4}\n```\nExplanation: good.',
        'Here it is:\n```json\n{"score": 4}\n```',
        '```json\n{"score": 4}\n```\n```json\n{"score": 5}\n```',
        '```python\n{"score": 4}\n```',
        '{"score": NaN}',
        '{"score": Infinity}',
        "",
        "   ",
        "[" * 5000 + "]" * 5000,
        "{" * 19000,
    ],
)
def test_json_unparsed(text: str) -> None:
    assert parse(text) == Verdict(None, "unparsed")


def test_text_none_is_unparsed() -> None:
    assert parse(None).failure == "unparsed"


@pytest.mark.parametrize("error", ["HTTP 429 after 5 attempts", "timeout"])
def test_call_failure_wins_over_text(error: str) -> None:
    p = VerdictParser({"score": R15})
    assert p.parse(j(None, error)) == Verdict(None, "call")
    assert p.parse(j('{"score": 4}', error)).failure == "call"


@pytest.mark.parametrize(
    ("text", "failure"),
    [
        ("{}", "missing:score"),
        ('{"Score": 4}', "missing:score"),  # keys are exact
        ('{"score": null}', "missing:score"),
        ('{"score": 0}', "out_of_scale:score"),
        ('{"score": 6}', "out_of_scale:score"),
        ('{"score": 4.5}', "out_of_scale:score"),
        ('{"score": true}', "out_of_scale:score"),
        ('{"score": false}', "out_of_scale:score"),
        ('{"score": "four"}', "out_of_scale:score"),
        ('{"score": [4]}', "out_of_scale:score"),
        ('{"score": 1e400}', "out_of_scale:score"),
        ('{"score": 100000000000000000000000000000000000}', "out_of_scale:score"),
    ],
)
def test_json_field_failures(text: str, failure: str) -> None:
    assert parse(text) == Verdict(None, failure)


def test_several_fields_first_failure_in_declared_order() -> None:
    fields = {"accuracy": R15, "fluency": R15, "safe": PF}
    p = VerdictParser(fields)
    ok = p.parse(j('{"safe": "PASS", "fluency": 3, "accuracy": 5}'))
    assert ok.values == {"accuracy": 5.0, "fluency": 3.0, "safe": 1.0} and ok.ok
    assert p.parse(j('{"accuracy": 5, "safe": true}')).failure == "missing:fluency"
    assert p.parse(j('{"accuracy": 9, "safe": true}')).failure == "out_of_scale:accuracy"
    assert p.parse(j('{"accuracy": 5, "fluency": 2, "safe": "maybe"}')).failure == (
        "out_of_scale:safe"
    )


def test_labels_and_unicode_field_names() -> None:
    p = VerdictParser({"winner": AB, "qualité": R15})
    assert p.parse(j('{"winner": "tie", "qualité": 2}')).values == {"winner": 2.0, "qualité": 2.0}
    assert p.parse(j('{"winner": "C", "qualité": 2}')).failure == "out_of_scale:winner"


def test_huge_text_is_capped() -> None:
    p = VerdictParser({"score": R15})
    pad = " " * (MAX_VERDICT_CHARS - len('{"score": 4}'))
    assert p.parse(j('{"score": 4}' + pad)).ok  # exactly at the cap: read
    huge = '{"score": 4, "reasoning": "' + "x" * 5_000_000 + '"}'
    # valid JSON, but past the cap: not read at all
    assert p.parse(j(huge)).failure == "unparsed"
    # a catastrophic pattern over 10 MB would never return if the text were searched
    r = VerdictParser({"score": R15}, parser="regex", pattern=r"(a+)+(?P<score>\d)")
    assert r.parse(j("a" * 10_000_000)).failure == "unparsed"


# --- regex verdicts -------------------------------------------------------------------------


def test_regex_named_groups() -> None:
    p = VerdictParser(
        {"score": R15, "safe": PF},
        parser="regex",
        pattern=r"Score:\s*(?P<score>\d+).*?Safe:\s*(?P<safe>pass|fail)",
    )
    assert p.parse(j("Reasoning...\nScore: 4\nmore\nSafe: fail")).values == {
        "score": 4.0,
        "safe": 0.0,
    }
    assert p.parse(j("Score: 9\nSafe: pass")).failure == "out_of_scale:score"
    assert p.parse(j("no verdict here")).failure == "unparsed"
    assert p.parse(j(None, "boom")).failure == "call"


def test_regex_optional_group_missing() -> None:
    p = VerdictParser({"score": R15}, parser="regex", pattern=r"verdict(?: (?P<score>\d))?")
    assert p.parse(j("verdict")).failure == "missing:score"
    assert p.parse(j("verdict 2")).values == {"score": 2.0}


def test_regex_first_match_wins_and_dotall() -> None:
    p = VerdictParser({"score": R15}, parser="regex", pattern=r"\[\[(?P<score>\d+)\]\]")
    assert p.parse(j("a\n[[3]] then [[5]]")).values == {"score": 3.0}
    d = VerdictParser({"score": R15}, parser="regex", pattern=r"begin(.*)end (?P<score>\d)")
    assert d.parse(j("begin\nline\nend 2")).values == {"score": 2.0}


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"parser": "regex"}, r"needs a `pattern`.*\(\?P<score>"),
        ({"parser": "regex", "pattern": "(unclosed"}, "is not a regex"),
        ({"parser": "regex", "pattern": r"(?P<grade>\d)"}, r"no named group for score"),
        ({"parser": "json", "pattern": r"(?P<score>\d)"}, "only with `parser: regex`"),
        ({"parser": "xml"}, "unknown parser 'xml'"),
    ],
)
def test_parser_config_errors(kw: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        VerdictParser({"score": R15}, metric="judge", **kw)


def test_no_fields() -> None:
    with pytest.raises(ConfigError, match="at least one field"):
        VerdictParser({})


def test_describe() -> None:
    assert VerdictParser({"score": R15}).describe() == "json"
    d = VerdictParser({"score": R15}, parser="regex", pattern=r"(?P<score>\d)").describe()
    assert d.startswith("regex:") and len(d) == len("regex:") + 12
    other = VerdictParser({"score": R15}, parser="regex", pattern=r"(?P<score>\d+)").describe()
    assert d != other


def test_failure_kinds() -> None:
    assert FAILURE_KINDS == ("call", "unparsed", "missing", "out_of_scale")
    assert [failure_kind(f) for f in ("call", "unparsed", "missing:a", "out_of_scale:b")] == list(
        FAILURE_KINDS
    )
