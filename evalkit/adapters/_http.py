"""JSON over HTTP with bounded retries: the transport of the HTTP model adapters.

Standard library only (``http.client``): one keep-alive connection per worker thread, a
per-attempt deadline, and retries with exponential backoff and full jitter that honour
``Retry-After``.

The deadline (``timeout_s``) bounds an attempt's whole life, not each socket operation: name
resolution, connect, TLS handshake, sending, the response headers and the body share one
monotonic deadline, and every blocking read or write is given only the time left. A server
that dribbles one byte at a time cannot hold a request past ``timeout_s`` (plus scheduling
noise, a few milliseconds). :meth:`JSONClient.abort` abandons requests in flight at once
(for Ctrl-C): their sockets are shut down and backoff waits end.

What is retried (each retry counts against ``max_attempts``):

- HTTP 429 and every 5xx status, waiting ``Retry-After`` (delta-seconds or an HTTP date; also
  ``retry-after-ms``) when the server sends it, else the jittered backoff;
- transient transport failures: timeouts, refused or dropped connections, a response cut short,
  and a 2xx response whose body is not JSON (a proxy or server that died mid-write).

Every other status (400, 401, 404, 422...) fails at once: asking again gets the same answer.

Secrets (the API key) are never stored here: the caller passes a function that returns the
headers for each request and one that returns the strings to redact. Every text that came
from a server is redacted *before* it is cut to an excerpt, and every message this module
produces (errors and log lines) goes through :func:`redact`, which hides every piece of 8 or
more characters of a secret (so a key cut at any point stays hidden) and any echoed
``Authorization`` or ``Bearer`` credential.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import email.utils
import functools
import http.client
import io
import ipaddress
import json
import logging
import math
import random
import re
import select
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

log = logging.getLogger("evalkit.http")

#: What replaces a secret in messages.
REDACTED = "[REDACTED]"
#: The shortest piece of a secret that is redacted: a key cut anywhere leaves at most 7 of
#: its characters on either side of the cut, too few to guess the rest or to use it.
MIN_PIECE = 8
#: How much of a response body is read for an error message, redacted, then cut.
_SCAN_CHARS = 65536
#: Excerpt lengths: a server's error message, and the start of a malformed 2xx body.
MESSAGE_CHARS = 300
MALFORMED_CHARS = 80

# A credential after "Authorization:" (with an optional scheme word such as Bearer or Basic),
# and a token after "Bearer": an echoed header other than the key itself (a proxy's token).
_AUTH_VALUE = re.compile(
    r"""(?i)(\bauthorization\b["']?\s*[:=]\s*["']?(?:[a-z]+\s+)?)(?!\[REDACTED\])[^\s"',;}]+"""
)
_BEARER_TOKEN = re.compile(r"""(?i)(\bbearer\s+)(?!\[REDACTED\])[^\s"'<>,;)\]}]{8,}""")


def _forms(secret: str) -> set[str]:
    """The spellings a server may echo a secret in: as is, JSON-escaped, URL-quoted."""
    escaped = json.dumps(secret)[1:-1]
    return {
        secret,
        escaped,
        escaped.replace("/", "\\/"),
        urllib.parse.quote(secret, safe=""),
    }


def _spans(text: str, secret: str) -> list[tuple[int, int]]:
    """Where ``text`` holds ``secret`` or any piece of it of :data:`MIN_PIECE` characters."""
    if len(secret) <= MIN_PIECE:
        pieces = {secret}
    else:
        # Every piece of the secret of MIN_PIECE or more characters is a run of overlapping
        # MIN_PIECE-grams of it, so marking each gram's occurrences covers them all.
        pieces = {secret[i : i + MIN_PIECE] for i in range(len(secret) - MIN_PIECE + 1)}
    spans = []
    for piece in pieces:
        at = text.find(piece)
        while at != -1:
            spans.append((at, at + len(piece)))
            at = text.find(piece, at + 1)
    return spans


def _replace(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each run of overlapping or touching spans replaced by one marker."""
    merged: list[list[int]] = []
    for start, stop in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], stop)
        else:
            merged.append([start, stop])
    out, pos = [], 0
    for start, stop in merged:
        out += [text[pos:start], REDACTED]
        pos = stop
    out.append(text[pos:])
    return "".join(out)


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every piece of a secret and every echoed credential replaced.

    Each secret, and each run of :data:`MIN_PIECE` (8) or more characters of it, is replaced
    by ``[REDACTED]``, as is its JSON-escaped or URL-quoted form; so is the value after
    ``Authorization:`` and a token after ``Bearer``. Secrets shorter than 4 characters are
    ignored: replacing them would garble messages without protecting anything.

    >>> redact("bad key sk-1234567890abcdef given", ["sk-1234567890abcdef"])
    'bad key [REDACTED] given'
    >>> redact("cut: 7890abcdef", ["sk-1234567890abcdef"])  # a piece left by a cut
    'cut: [REDACTED]'
    >>> redact("Authorization: Basic dXNlcjpwYXNz", [])
    'Authorization: Basic [REDACTED]'
    """
    spans: list[tuple[int, int]] = []
    for secret in secrets:
        if secret and len(secret) >= 4:
            for form in _forms(secret):
                spans.extend(_spans(text, form))
    if spans:
        text = _replace(text, spans)
    text = _AUTH_VALUE.sub(lambda m: m.group(1) + REDACTED, text)
    return _BEARER_TOKEN.sub(lambda m: m.group(1) + REDACTED, text)


def excerpt(text: str, secrets: Iterable[str], limit: int = MESSAGE_CHARS) -> str:
    """The first ``limit`` characters of ``text`` once redacted (redaction comes first).

    Cutting first would leave part of a secret that straddles the cut for redaction to miss;
    redacting the whole text first cannot.

    >>> excerpt("key=sk-1234567890abcdef", ["sk-1234567890abcdef"], limit=12)
    'key=[REDACTE'
    """
    return redact(text[:_SCAN_CHARS], secrets)[:limit]


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


def _server_message(body: bytes, secrets: Iterable[str], limit: int = MESSAGE_CHARS) -> str:
    """The redacted error text of a failed response: OpenAI's ``error.message`` or the body."""
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
            return excerpt(text, secrets, limit).strip()
    raw = body[: _SCAN_CHARS * 4].decode("utf-8", "replace")
    return excerpt(raw, secrets, limit).strip()


class _Deadline:
    """One attempt's deadline on the monotonic clock."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left (> 0).

        Raises:
            TimeoutError: The deadline has passed.
        """
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError
        return left


class _DeadlineReader(io.RawIOBase):
    """A socket's raw reader that gives each ``recv`` only the time left before a deadline.

    ``http.client`` reads the status line, the headers and the body through a buffered
    reader over this; a socket timeout alone would restart with every byte received.
    """

    def __init__(self, sock: socket.socket, deadline: _Deadline) -> None:
        super().__init__()
        self._sock = sock
        # An unbuffered socket file counts as a reference to the socket, so a connection
        # closed under a response (``will_close``) keeps its socket until the body is read.
        self._raw = sock.makefile("rb", buffering=0)
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        self._sock.settimeout(self._deadline.remaining())
        return self._raw.readinto(buffer)

    def fileno(self) -> int:
        return self._sock.fileno()

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


class _DeadlineSocket:
    """What ``http.client.HTTPResponse`` needs of a socket: a file that keeps the deadline."""

    def __init__(self, sock: socket.socket, deadline: _Deadline) -> None:
        self._sock = sock
        self._deadline = deadline

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, self._deadline))


class _DeadlineResponse(http.client.HTTPResponse):
    """An HTTP response whose every read keeps to the attempt's deadline."""

    def __init__(
        self,
        sock: socket.socket,
        debuglevel: int = 0,
        method: str | None = None,
        url: str | None = None,
        *,
        deadline: _Deadline,
    ) -> None:
        super().__init__(
            cast(socket.socket, _DeadlineSocket(sock, deadline)), debuglevel, method, url
        )


def _resolve(host: str, port: int, deadline: _Deadline) -> list[Any]:
    """``getaddrinfo`` within the deadline (it has no timeout of its own)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:  # a literal address: nothing to look up, nothing can block
        return socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)
    found: list[Any] = []

    def look_up() -> None:
        try:
            found.append(socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM))
        except OSError as exc:
            found.append(exc)

    # A slow resolver is left to finish on its own in a daemon thread; the attempt moves on.
    worker = threading.Thread(target=look_up, name="evalkit-http-resolve", daemon=True)
    worker.start()
    worker.join(deadline.remaining())
    if not found:
        raise TimeoutError
    if isinstance(found[0], OSError):
        raise found[0]
    return cast(list[Any], found[0])


class JSONClient:
    """POST JSON to one server with retries; thread-safe, one connection per thread.

    Args:
        base_url: ``http(s)://host[:port][/prefix]``; request paths are appended to it.
        headers: Returns the headers of each request (called per attempt, so a secret never
            has to be stored on this object).
        secrets: Returns the strings to redact from every message.
        policy: Timeouts and retries.
        sleep: The wait function (tests may pass their own); by default a wait that
            :meth:`abort` ends early.
        rng: The jitter source.
    """

    def __init__(
        self,
        base_url: str,
        *,
        headers: Callable[[], Mapping[str, str]],
        secrets: Callable[[], Iterable[str]] = lambda: (),
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
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
        self._init_runtime()

    def _init_runtime(self) -> None:
        """The per-process state (threads, locks, sockets, TLS): never pickled."""
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set[http.client.HTTPConnection] = set()
        self._aborted = threading.Event()
        self._tls: ssl.SSLContext | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for name in ("_local", "_lock", "_open", "_aborted", "_tls"):
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_runtime()

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

    def abort(self) -> None:
        """Abandon every request of this client now (for Ctrl-C), from any thread.

        Requests in flight fail at once (their sockets are shut down), backoff waits end,
        and every later :meth:`post` fails without sending: each is recorded as a failed
        call ("aborted"), never as an answer. The client stays aborted.
        """
        self._aborted.set()
        with self._lock:
            conns = list(self._open)
        for conn in conns:
            sock = conn.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    @property
    def aborted(self) -> bool:
        """Whether :meth:`abort` was called."""
        return self._aborted.is_set()

    def _wait(self, seconds: float) -> None:
        if self.sleep is not None:
            self.sleep(seconds)
        else:
            self._aborted.wait(seconds)

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            context = ssl.create_default_context()
            context.set_alpn_protocols(["http/1.1"])
            self._tls = context
        return self._tls

    def _open_socket(self, deadline: _Deadline) -> socket.socket:
        """Resolve, connect (and shake hands over TLS) within the deadline."""
        port = self.port or (443 if self.scheme == "https" else 80)
        last: OSError | None = None
        for family, kind, proto, _, address in _resolve(self.host, port, deadline):
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(deadline.remaining())
                sock.connect(address)
            except TimeoutError:
                sock.close()
                raise
            except OSError as exc:  # refused on this address: try the next one
                sock.close()
                last = exc
                continue
            # Small requests on a keep-alive connection: do not let Nagle's algorithm wait
            # for delayed ACKs.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.scheme != "https":
                return sock
            try:
                tls = self._tls_context().wrap_socket(
                    sock, server_hostname=self.host, do_handshake_on_connect=False
                )
                # One timeout covers the whole handshake (CPython's ssl keeps a deadline).
                tls.settimeout(deadline.remaining())
                tls.do_handshake()
            except BaseException:
                sock.close()
                raise
            return tls
        raise last or OSError(f"no address found for {self.host}")

    def _exchange(
        self, conn: http.client.HTTPConnection, path: str, payload: bytes, deadline: _Deadline
    ) -> tuple[http.client.HTTPResponse, bytes]:
        """Send one request and read its whole response, every step within the deadline."""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        headers.update(self.headers())
        if conn.sock is None:
            conn.sock = self._open_socket(deadline)
        if self._aborted.is_set():
            raise ConnectionAbortedError("the client was aborted")
        sock = cast(socket.socket, conn.sock)
        # The request goes out in one sendall (http.client joins headers and a bytes body),
        # and a socket timeout bounds a whole sendall.
        sock.settimeout(deadline.remaining())
        conn.response_class = cast(
            type[http.client.HTTPResponse],
            functools.partial(_DeadlineResponse, deadline=deadline),
        )
        conn.request("POST", self.prefix + path, body=payload, headers=headers)
        resp = conn.getresponse()
        chunks = []
        while chunk := resp.read(65536):
            chunks.append(chunk)
        return resp, b"".join(chunks)

    def _attempt(self, path: str, payload: bytes) -> Any:
        timeout = self.policy.timeout_s
        deadline = _Deadline(timeout)
        conn = self._connection()
        try:
            resp, body = self._exchange(conn, path, payload, deadline)
            if resp.will_close:
                self._discard()
        except TimeoutError:
            self._discard()
            raise _Attempt(f"timed out after {timeout:g} s", transient=True) from None
        except (http.client.HTTPException, ConnectionError, OSError) as exc:
            self._discard()
            kind = type(exc).__name__
            # A malformed status line or header is server text: redact, then cut.
            detail = excerpt(str(exc), self.secrets(), 200) or "no response"
            raise _Attempt(
                f"connection failed or dropped ({kind}: {detail})", transient=True
            ) from None
        except ValueError as exc:  # an invalid header value: never echo it (it may be the key)
            self._discard()
            raise _Attempt(
                f"the request could not be sent ({type(exc).__name__}: invalid header or URL)",
                transient=False,
            ) from None
        status = resp.status
        if 200 <= status < 300:
            try:
                return json.loads(body)
            except ValueError:
                text = body[: _SCAN_CHARS * 4].decode("utf-8", "replace")
                shown = excerpt(text, self.secrets(), MALFORMED_CHARS)
                raise _Attempt(
                    f"malformed JSON in an HTTP {status} response ({shown!r})",
                    transient=True,
                    status=status,
                ) from None
        reason = excerpt(resp.reason or "", self.secrets(), 80)
        server_text = _server_message(body, self.secrets())
        message = f"HTTP {status} {reason}: {server_text}".rstrip(": ")
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

        Each attempt lasts at most ``policy.timeout_s`` in all (see the module docstring).

        Raises:
            RequestFailed: A non-retryable status, the last transient failure once
                ``max_attempts`` are spent, or :meth:`abort`; the message says which, and is
                redacted.
        """
        payload = json.dumps(body).encode("utf-8")
        policy = self.policy
        last: _Attempt | None = None
        for attempt in range(1, policy.max_attempts + 1):
            if self._aborted.is_set():
                raise RequestFailed(
                    f"POST {self.prefix}{path}: aborted (the run was interrupted) after "
                    f"{attempt - 1} attempt(s)",
                    last.status if last else None,
                    attempt - 1,
                )
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
            self._wait(wait)
        if last is None:  # pragma: no cover - max_attempts >= 1 is checked by the adapters
            raise RequestFailed("no attempt was made (max_attempts < 1)", None, 0)
        raise RequestFailed(
            f"{message} (transient; gave up after {policy.max_attempts} attempt(s))",
            last.status,
            policy.max_attempts,
        )
