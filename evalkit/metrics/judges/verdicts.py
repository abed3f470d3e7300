"""Strict reading of judge verdicts: scales, a JSON or regex parser and the failure kinds.

A judge's answer is read, never guessed at: it is either a well-formed verdict whose every
field is a value of its declared :class:`Scale`, or a counted failure of one kind:

- ``"call"``: the judge call itself failed (after the adapter's retries);
- ``"unparsed"``: the text is not one JSON object (bare, or alone in one fenced block), or the
  regex does not match;
- ``"missing:FIELD"``: the verdict lacks a required field (or holds it as JSON ``null``, or
  the regex group did not take part in the match);
- ``"out_of_scale:FIELD"``: the field's value is not a value of its scale (``3.5`` on 1-5,
  ``true`` on 1-5, ``"maybe"`` on pass/fail).

A failure is never a score: metrics count it (:data:`FAILURE_KINDS`) and leave the judgment out.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from evalkit.errors import ConfigError

__all__ = [
    "FAILURE_KINDS",
    "MAX_VERDICT_CHARS",
    "Scale",
    "Verdict",
    "VerdictParser",
    "failure_kind",
    "json_object",
    "scale_of",
]

#: The kinds of judge failure (a failure string's part before ``":"``).
FAILURE_KINDS = ("call", "unparsed", "missing", "out_of_scale")

#: The longest verdict text read (characters). A longer answer is "unparsed" without being
#: scanned: a judge that rambles for 100k characters has not given a verdict, and capping the
#: work keeps a pathological answer from costing a regex or JSON pass over megabytes.
MAX_VERDICT_CHARS = 20_000

# One fenced block and nothing else: ```json\n{...}\n``` or ```\n{...}\n``` (the body must then
# be one JSON object: a second block inside makes it unparsed).
_FENCED = re.compile(r"\A```(?:json|JSON)?\s*(.*?)\s*```\Z", re.DOTALL)
_RANGE = re.compile(r"\A\s*(-?\d+)\s*-\s*(-?\d+)\s*\Z")
_DIGITS = re.compile(r"\A\s*[+-]?[0-9]{1,9}\s*\Z")  # ASCII digits only


@dataclass(frozen=True)
class Scale:
    """The values a verdict field may take.

    Attributes:
        kind: ``"range"`` (integers ``low..high``), ``"pass_fail"`` (1 = pass, 0 = fail) or
            ``"labels"`` (one of ``labels``, valued by its index).
        low: The range's lowest value.
        high: The range's highest value.
        labels: The labels' spellings (e.g. ``("A", "B", "tie")``).

    Example:
        >>> s = Scale("range", 1, 5)
        >>> s.value(4), s.value("4"), s.value(4.0), s.value(4.5), s.value(True), s.value(6)
        (4.0, 4.0, 4.0, None, None, None)
        >>> Scale("pass_fail").value("PASS"), Scale("labels", labels=("A", "B")).value(" b ")
        (1.0, 1.0)
    """

    kind: Literal["range", "pass_fail", "labels"]
    low: int | None = None
    high: int | None = None
    labels: tuple[str, ...] = ()

    def value(self, raw: object) -> float | None:
        """The scale value of a verdict's ``raw`` field, or None when it is out of scale."""
        if self.kind == "range":
            n = _integer(raw)
            assert self.low is not None and self.high is not None  # built by scale_of
            return float(n) if n is not None and self.low <= n <= self.high else None
        if self.kind == "pass_fail":
            if isinstance(raw, bool):
                return 1.0 if raw else 0.0
            if isinstance(raw, str):
                word = raw.strip().lower()
                if word in ("pass", "fail"):
                    return 1.0 if word == "pass" else 0.0
            n = _integer(raw)
            return float(n) if n in (0, 1) else None
        if isinstance(raw, str):
            key = raw.strip().casefold()
            for i, label in enumerate(self.labels):
                if label.casefold() == key:
                    return float(i)
        return None

    def values(self) -> tuple[float, ...]:
        """Every value of an ordinal or label scale, in order (range: low..high)."""
        if self.kind == "range":
            assert self.low is not None and self.high is not None
            return tuple(float(v) for v in range(self.low, self.high + 1))
        if self.kind == "pass_fail":
            return (0.0, 1.0)
        return tuple(float(i) for i in range(len(self.labels)))

    def describe(self) -> str:
        """The scale as the signature writes it: ``"1-5"``, ``"pass_fail"``, ``"A|B|tie"``."""
        if self.kind == "range":
            return f"{self.low}-{self.high}"
        if self.kind == "pass_fail":
            return "pass_fail"
        return "|".join(self.labels)

    @property
    def is_ordinal(self) -> bool:
        """Whether the values are ordered (range and pass/fail; labels are nominal)."""
        return self.kind != "labels"


def _integer(raw: object) -> int | None:
    """An integer from an int, an integral float or a digit string; None otherwise (and bools)."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        return int(raw) if math.isfinite(raw) and raw.is_integer() else None
    if isinstance(raw, str) and _DIGITS.match(raw):
        return int(raw)
    return None


def scale_of(spec: object, where: str) -> Scale:
    """The :class:`Scale` a suite declares: ``[1, 5]``, ``"1-5"``, ``"pass_fail"`` or labels.

    Args:
        spec: ``[LOW, HIGH]`` (two integers, LOW < HIGH), ``"LOW-HIGH"``, ``"pass_fail"``, or a
            list of two or more distinct non-empty label strings.
        where: What declares it, for messages (e.g. ``"judge: criteria[0].scale"``).

    Raises:
        ConfigError: Any other value.

    Example:
        >>> scale_of([1, 5], "s").describe(), scale_of("0-10", "s").describe()
        ('1-5', '0-10')
        >>> scale_of(["A", "B", "tie"], "s").kind
        'labels'
    """
    fix = (
        "write [LOW, HIGH] (integers, e.g. [1, 5]), 'LOW-HIGH', 'pass_fail', "
        "or a list of labels such as ['A', 'B', 'tie']"
    )
    if isinstance(spec, str):
        if spec.strip().lower() in ("pass_fail", "pass/fail", "passfail"):
            return Scale("pass_fail")
        m = _RANGE.match(spec)
        if m:
            return _range(int(m.group(1)), int(m.group(2)), where, fix)
        raise ConfigError(f"{where}: unknown scale {spec!r}; {fix}.")
    if isinstance(spec, (list, tuple)):
        if len(spec) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in spec):
            return _range(int(spec[0]), int(spec[1]), where, fix)
        if len(spec) >= 2 and all(isinstance(v, str) and v.strip() for v in spec):
            labels = tuple(str(v).strip() for v in spec)
            if len({v.casefold() for v in labels}) != len(labels):
                raise ConfigError(f"{where}: scale labels {list(labels)} repeat a label; {fix}.")
            return Scale("labels", labels=labels)
    raise ConfigError(f"{where}: a scale is expected and {spec!r} is not one; {fix}.")


def _range(low: int, high: int, where: str, fix: str) -> Scale:
    if low >= high:
        raise ConfigError(f"{where}: scale {low}-{high} is empty or one value; {fix}.")
    if high - low > 1000:
        raise ConfigError(f"{where}: scale {low}-{high} has more than 1001 values; {fix}.")
    return Scale("range", low, high)


@dataclass(frozen=True)
class Verdict:
    """One judgment read: its field values, or the reason it failed.

    Attributes:
        values: Field -> scale value, or None when the judgment failed.
        failure: None, ``"call"``, ``"unparsed"``, ``"missing:FIELD"`` or ``"out_of_scale:FIELD"``.
    """

    values: dict[str, float] | None
    failure: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the judgment gave a verdict."""
        return self.failure is None


def failure_kind(failure: str) -> str:
    """The kind of a failure string (one of :data:`FAILURE_KINDS`): its part before ``":"``."""
    return failure.split(":", 1)[0]


class VerdictParser:
    """Reads judge answers into :class:`Verdict` values, strictly.

    Args:
        fields: The verdict's required fields and their scales (all must be present).
        parser: ``"json"`` (the text is exactly one JSON object, bare or alone in one fenced
            block; extra keys are ignored) or ``"regex"`` (``pattern`` searched with
            ``re.DOTALL``; its named groups hold the fields).
        pattern: The regex, with ``parser="regex"``.
        metric: The metric's name, for messages.

    Raises:
        ConfigError: No fields, a pattern with the JSON parser or none with the regex parser, a
            pattern that does not compile, or lacks a named group for a field.

    Example:
        >>> p = VerdictParser({"score": Scale("range", 1, 5)})
        >>> p.parse({"text": '```json\\n{"score": 4, "reasoning": "fine"}\\n```', "error": None})
        Verdict(values={'score': 4.0}, failure=None)
        >>> p.parse({"text": 'Score: 4', "error": None}).failure
        'unparsed'
        >>> p.parse({"text": '{"score": 7}', "error": None}).failure
        'out_of_scale:score'
        >>> r = VerdictParser({"score": Scale("range", 1, 5)}, parser="regex",
        ...                   pattern=r"Score:\\s*(?P<score>\\d+)")
        >>> r.parse({"text": "Reasoning... Score: 4", "error": None}).values
        {'score': 4.0}
    """

    def __init__(
        self,
        fields: Mapping[str, Scale],
        *,
        parser: str = "json",
        pattern: str | None = None,
        metric: str = "judge",
    ) -> None:
        if not fields:
            raise ConfigError(f"{metric}: a verdict needs at least one field.")
        self.fields = dict(fields)
        self.parser = parser
        self.metric = metric
        self.regex: re.Pattern[str] | None = None
        if parser == "json":
            if pattern is not None:
                raise ConfigError(
                    f"{metric}: `pattern` is read only with `parser: regex`; remove it or set "
                    "parser: regex."
                )
        elif parser == "regex":
            if not pattern:
                raise ConfigError(
                    f"{metric}: parser: regex needs a `pattern` with a named group per field "
                    f"({', '.join('(?P<' + f + '>...)' for f in self.fields)})."
                )
            try:
                self.regex = re.compile(pattern, re.DOTALL)
            except re.error as exc:
                raise ConfigError(
                    f"{metric}: pattern {pattern!r} is not a regex ({exc})."
                ) from None
            missing = [f for f in self.fields if f not in self.regex.groupindex]
            if missing:
                raise ConfigError(
                    f"{metric}: pattern {pattern!r} has no named group for "
                    f"{', '.join(missing)}; add {', '.join('(?P<' + f + '>...)' for f in missing)}."
                )
        else:
            raise ConfigError(f"{metric}: unknown parser {parser!r}; use 'json' or 'regex'.")
        self.pattern = pattern

    def describe(self) -> str:
        """The parser for the signature: ``"json"`` or ``"regex:<pattern SHA-256, 12 hex>"``."""
        if self.pattern is None:
            return "json"
        return "regex:" + hashlib.sha256(self.pattern.encode("utf-8")).hexdigest()[:12]

    def parse(self, judgment: Mapping[str, Any]) -> Verdict:
        """The verdict of one judgment ``{"text": str | None, "error": str | None, ...}``."""
        if judgment.get("error"):
            return Verdict(None, "call")
        text = judgment.get("text")
        if not isinstance(text, str) or len(text) > MAX_VERDICT_CHARS:
            return Verdict(None, "unparsed")
        raw = self._raw(text)
        if raw is None:
            return Verdict(None, "unparsed")
        values: dict[str, float] = {}
        for name, scale in self.fields.items():
            if name not in raw or raw[name] is None:
                return Verdict(None, f"missing:{name}")
            v = scale.value(raw[name])
            if v is None:
                return Verdict(None, f"out_of_scale:{name}")
            values[name] = v
        return Verdict(values)

    def _raw(self, text: str) -> Mapping[str, object] | None:
        """The field -> raw value mapping in ``text``, or None when it holds no verdict."""
        if self.regex is not None:
            m = self.regex.search(text)
            return None if m is None else m.groupdict()
        return json_object(text)


def json_object(text: str) -> dict[str, object] | None:
    """The one JSON object ``text`` holds (bare, or alone in one fenced block), or None.

    Example:
        >>> json_object('{"a": [1, 2]}'), json_object('a: 1'), json_object('[1]')
        ({'a': [1, 2]}, None, None)
    """
    body = text.strip()
    fenced = _FENCED.match(body)
    if fenced:
        body = fenced.group(1).strip()
    if not body.startswith("{"):
        return None
    try:
        obj = json.loads(body, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


def _no_constant(name: str) -> object:
    """JSON's ``NaN``/``Infinity`` are not JSON: a verdict holding them is unparsed."""
    raise ValueError(f"non-standard JSON constant {name}")
