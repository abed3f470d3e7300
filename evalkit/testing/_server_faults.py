"""The loopback server's scripted faults, and the responses that echo an API key."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

FAULT_KINDS = (
    "429",
    "500",
    "503",
    "400",
    "401",
    "slow",
    "malformed",
    "drop",
    "dribble",
    "dribble_body",
)
#: The kinds that can echo the API key (``Fault.echo_key_at``).
ECHO_KINDS = ("401", "500", "malformed")


@dataclass(frozen=True)
class Fault:
    """One scripted fault.

    Attributes:
        kind: One of :data:`FAULT_KINDS`.
        retry_after: The ``Retry-After`` header value sent with a 429/500/503 (seconds or an
            HTTP date); ``None`` sends none.
        delay_s: How long a ``slow`` response waits before answering.
        byte_interval_s: The wait between two bytes of a ``dribble`` or ``dribble_body``
            response.
        echo_key_at: For ``401``, ``500`` and ``malformed``: echo the API key starting this
            many characters into the shown text (see the module docstring); ``None`` echoes
            nothing new.
    """

    kind: str
    retry_after: str | None = None
    delay_s: float = 1.0
    byte_interval_s: float = 0.25
    echo_key_at: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {self.kind!r}; kinds: {', '.join(FAULT_KINDS)}.")
        if self.echo_key_at is not None and (self.kind not in ECHO_KINDS or self.echo_key_at < 0):
            raise ValueError(
                f"echo_key_at needs a fault of kind {', '.join(ECHO_KINDS)} and a value >= 0."
            )

    @classmethod
    def of(cls, spec: Fault | str | None) -> Fault | None:
        """A fault from a ``Fault``, a kind name or ``None``."""
        return spec if spec is None or isinstance(spec, Fault) else cls(spec)


def _unit(*parts: object) -> float:
    """A uniform number in [0, 1) from a hash of ``parts`` (deterministic across runs)."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def _error(message: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind}}


def _filler(lead: str, n: int) -> str:
    """Exactly ``n`` characters: ``lead`` then dots (cut short when ``n < len(lead)``)."""
    return (lead + "." * n)[:n]


def _echo_key(kind: str, at: int, auth: Any) -> tuple[int, Any, dict[str, str]]:
    """A fault response that echoes the API key at offset ``at`` of the shown text."""
    text = auth if isinstance(auth, str) else ""
    key = text[len("Bearer ") :] if text.startswith("Bearer ") else text
    if kind == "401":  # JSON, as OpenAI answers: the client shows error.message
        message = _filler("Incorrect API key provided: ", at) + key + ". Check your key."
        return 401, _error(message, "invalid_api_key"), {}
    if kind == "500":  # a proxy's plain-text page: the client shows the body
        body = _filler("upstream error for request with token ", at) + key + " (trace 7f3a)"
        return 500, body.encode("utf-8"), {"Content-Type": "text/plain; charset=utf-8"}
    # malformed: a 200 cut off mid-JSON, so the client shows the body; JSON escapes the key
    escaped = json.dumps(key)[1:-1]
    body = _filler('{"id": "cmpl-x", "choices": [{"text": "', at) + escaped + '", "fini'
    return 200, body.encode("utf-8"), {}
