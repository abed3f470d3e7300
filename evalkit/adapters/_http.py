"""JSON over HTTP with bounded retries: the transport of the HTTP model adapters.

Standard library only (``http.client``): one keep-alive connection per worker thread, a
per-request deadline, and retries with exponential backoff and full jitter that honour
``Retry-After``.

What is retried (each retry counts against ``max_attempts``):

- HTTP 429 and every 5xx status, waiting ``Retry-After`` (delta-seconds or an HTTP date; also
  ``retry-after-ms``) when the server sends it, else the jittered backoff;
- transient transport failures: timeouts, refused or dropped connections, a response cut short,
  and a 2xx response whose body is not JSON (a proxy or server that died mid-write).

Every other status (400, 401, 404, 422...) fails at once: asking again gets the same answer.

Secrets (the API key) are never stored here: the caller passes a function that returns the
headers for each request and one that returns the strings to redact, and every message this
module produces (errors and log lines) goes through :func:`redact`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import email.utils
import http.client
import json
import logging
import math
import random
import select
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

log = logging.getLogger("evalkit.http")

#: What replaces a secret in messages.
REDACTED = "[REDACTED]"


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each secret replaced by ``[REDACTED]``.

    Secrets shorter than 4 characters are ignored: replacing them would garble messages
    without protecting anything.

    >>> redact("bad key sk-123456 given", ["sk-123456"])
    'bad key [REDACTED] given'
    """
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return text


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


def _dropped(sock: socket.socket) -> bool:
    """Whether an idle keep-alive socket was closed by the server (it reads as ready)."""
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable)
    except (OSError, ValueError):
        return True


def _server_message(body: bytes, limit: int = 300) -> str:
    """The error text of a failed response: OpenAI's ``error.message`` or the body's start."""
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        err = doc.get("error", doc.get("detail", doc.get("message")))
        if isinstance(err, dict):
            err = err.get("message", err)
        if err is not None:
            text = err if isinstance(err, str) else json.dumps(err)
            return text[:limit]
    return body[:limit].decode("utf-8", "replace").strip()


class JSONClient:
    """POST JSON to one server with retries; thread-safe, one connection per thread.

    Args:
        base_url: ``http(s)://host[:port][/prefix]``; request paths are appended to it.
        headers: Returns the headers of each request (called per attempt, so a secret never
            has to be stored on this object).
        secrets: Returns the strings to redact from every message.
        policy: Timeouts and retries.
        sleep: The wait function (tests may pass their own).
        rng: The jitter source.
    """

    def __init__(
        self,
        base_url: str,
        *,
        headers: Callable[[], Mapping[str, str]],
        secrets: Callable[[], Iterable[str]] = lambda: (),
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        url = urllib.parse.urlsplit(base_url)
        self.scheme = url.scheme
        self.host = url.hostname or ""
        self.port = url.port
        self.prefix = url.path.rstrip("/")
        self.headers = headers
        self.secrets = secrets
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        self.rng = rng or random.Random()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set[http.client.HTTPConnection] = set()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_local"] = None
        state["_lock"] = None
        state["_open"] = set()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._local = threading.local()
        self._lock = threading.Lock()

    def _redact(self, text: str) -> str:
        return redact(text, self.secrets())

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is not None and conn.sock is not None and _dropped(conn.sock):
            conn.close()  # the server closed the idle keep-alive connection
            conn = None
        if conn is None:
            cls = (
                http.client.HTTPSConnection
                if self.scheme == "https"
                else http.client.HTTPConnection
            )
            conn = cls(self.host, self.port, timeout=self.policy.timeout_s)
            self._local.conn = conn
        with self._lock:
            self._open.add(conn)
        return conn

    def _discard(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            with self._lock:
                self._open.discard(conn)
        self._local.conn = None

    def close(self) -> None:
        """Close every idle keep-alive connection (call when no request is in flight)."""
        with self._lock:
            conns, self._open = list(self._open), set()
        for conn in conns:
            conn.close()

    def _attempt(self, path: str, payload: bytes) -> Any:
        timeout = self.policy.timeout_s
        deadline = time.monotonic() + timeout

        def remaining() -> float:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            return left

        conn = self._connection()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        headers.update(self.headers())
        try:
            fresh = conn.sock is None
            if fresh:
                conn.timeout = remaining()
                conn.connect()
            sock = cast(socket.socket, conn.sock)
            if fresh:
                # Small requests on a keep-alive connection: do not let Nagle's algorithm
                # wait for delayed ACKs.
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(remaining())
            conn.request("POST", self.prefix + path, body=payload, headers=headers)
            sock.settimeout(remaining())
            resp = conn.getresponse()
            chunks = []
            while True:
                sock.settimeout(remaining())
                chunk = resp.read(65536)
                if not chunk:
                    break
                chunks.append(chunk)
            if resp.will_close:
                self._discard()
        except TimeoutError:
            self._discard()
            raise _Attempt(f"timed out after {timeout:g} s", transient=True) from None
        except (http.client.HTTPException, ConnectionError, OSError) as exc:
            self._discard()
            kind = type(exc).__name__
            detail = str(exc) or "no response"
            raise _Attempt(
                f"connection failed or dropped ({kind}: {detail})", transient=True
            ) from None
        except ValueError as exc:  # an invalid header value: never echo it (it may be the key)
            self._discard()
            raise _Attempt(
                f"the request could not be sent ({type(exc).__name__}: invalid header or URL)",
                transient=False,
            ) from None
        body = b"".join(chunks)
        status = resp.status
        if 200 <= status < 300:
            try:
                return json.loads(body)
            except ValueError:
                excerpt = body[:80].decode("utf-8", "replace")
                raise _Attempt(
                    f"malformed JSON in an HTTP {status} response ({excerpt!r})",
                    transient=True,
                    status=status,
                ) from None
        message = f"HTTP {status} {resp.reason}: {_server_message(body)}".rstrip(": ")
        if status == 429 or 500 <= status < 600:
            wait = None
            ms = resp.getheader("retry-after-ms")
            if ms is not None:
                try:
                    wait = max(0.0, float(ms) / 1000.0)
                except ValueError:
                    wait = None
            if wait is None:
                wait = parse_retry_after(resp.getheader("Retry-After"))
            raise _Attempt(message, transient=True, status=status, retry_after=wait)
        raise _Attempt(message, transient=False, status=status)

    def post(self, path: str, body: Mapping[str, Any]) -> Any:
        """POST ``body`` as JSON to ``base_url + path`` and return the decoded response.

        Raises:
            RequestFailed: A non-retryable status, or the last transient failure once
                ``max_attempts`` are spent; the message says which, and is redacted.
        """
        payload = json.dumps(body).encode("utf-8")
        policy = self.policy
        last: _Attempt | None = None
        for attempt in range(1, policy.max_attempts + 1):
            try:
                return self._attempt(path, payload)
            except _Attempt as failure:
                last = failure
            message = self._redact(f"POST {self.prefix}{path}: {last.message}")
            if not last.transient:
                raise RequestFailed(f"{message} (not retried)", last.status, attempt)
            if attempt == policy.max_attempts:
                break
            if last.retry_after is not None:
                if last.retry_after > policy.backoff_max_s:
                    raise RequestFailed(
                        f"{message}; the server asks to retry after {last.retry_after:g} s, "
                        f"more than backoff_max_s={policy.backoff_max_s:g}: gave up after "
                        f"{attempt} attempt(s)",
                        last.status,
                        attempt,
                    )
                # At least what the server asked for, plus a little jitter so that clients
                # told the same time do not all come back at once.
                with self._lock:
                    wait = last.retry_after + self.rng.uniform(0.0, policy.backoff_base_s)
            else:
                with self._lock:
                    wait = policy.backoff(attempt, self.rng)
            log.info(
                "%s; retry %d of %d in %.2f s",
                message,
                attempt + 1,
                policy.max_attempts,
                wait,
            )
            self.sleep(wait)
        if last is None:  # pragma: no cover - max_attempts >= 1 is checked by the adapters
            raise RequestFailed("no attempt was made (max_attempts < 1)", None, 0)
        raise RequestFailed(
            f"{message} (transient; gave up after {policy.max_attempts} attempt(s))",
            last.status,
            policy.max_attempts,
        )
