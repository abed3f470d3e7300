"""Retry settings, backoff with full jitter, ``Retry-After`` parsing and failure types."""

from __future__ import annotations

import datetime as _dt
import email.utils
import math
import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait for one response and how to retry.

    Attributes:
        timeout_s: Deadline of one attempt (connect, send, response headers and body).
        max_attempts: Attempts per request, the first included.
        backoff_base_s: Base of the exponential backoff.
        backoff_max_s: Cap of one backoff wait; a ``Retry-After`` above it ends the retries.
    """

    timeout_s: float = 60.0
    max_attempts: int = 5
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """The wait after failed attempt ``attempt`` (1-based): "full jitter".

        ``uniform(0, min(backoff_max_s, backoff_base_s * 2 ** (attempt - 1)))``, the variant
        that spreads competing clients best (Brooker, "Exponential Backoff And Jitter", AWS
        Architecture Blog, 2015).

        >>> p = RetryPolicy(backoff_base_s=1.0, backoff_max_s=3.0)
        >>> all(0 <= p.backoff(5, random.Random(i)) <= 3.0 for i in range(100))
        True
        """
        cap = min(self.backoff_max_s, self.backoff_base_s * 2.0 ** (attempt - 1))
        return rng.uniform(0.0, cap)


def parse_retry_after(value: str | None, now: _dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP date (RFC 9110).

    Returns ``None`` for a missing or unreadable value; a date in the past gives 0.

    >>> parse_retry_after("3")
    3.0
    >>> now = _dt.datetime(2024, 1, 1, 12, 0, 0, tzinfo=_dt.timezone.utc)
    >>> parse_retry_after("Mon, 01 Jan 2024 12:00:02 GMT", now)
    2.0
    >>> parse_retry_after("soon") is None
    True
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)  # RFC 9110 says integer; servers also send "1.5"
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=_dt.timezone.utc)
        now = now or _dt.datetime.now(_dt.timezone.utc)
        return max(0.0, (when - now).total_seconds())
    return max(0.0, seconds) if math.isfinite(seconds) else None


class RequestFailed(Exception):
    """A request that failed for good; ``str()`` is safe to record (secrets redacted).

    Attributes:
        status: The last HTTP status, or ``None`` when no response came.
        attempts: Attempts made.
    """

    def __init__(self, message: str, status: int | None = None, attempts: int = 1) -> None:
        super().__init__(message)
        self.status = status
        self.attempts = attempts


class _Attempt(Exception):
    """One failed attempt (internal)."""

    def __init__(
        self,
        message: str,
        *,
        transient: bool,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient
        self.status = status
        self.retry_after = retry_after
