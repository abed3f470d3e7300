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
import functools
import http.client
import json
import logging
import random
import socket
import ssl
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

# The transport's parts, importable from here as before the split: redaction, retry settings
# and failure types, per-attempt deadlines, response reading.
from evalkit.adapters._http_deadline import (
    _Deadline,
    _DeadlineResponse,
    _dropped,
    _resolve,
)
from evalkit.adapters._http_redact import MALFORMED_CHARS as MALFORMED_CHARS
from evalkit.adapters._http_redact import MESSAGE_CHARS as MESSAGE_CHARS
from evalkit.adapters._http_redact import MIN_PIECE as MIN_PIECE
from evalkit.adapters._http_redact import REDACTED as REDACTED
from evalkit.adapters._http_redact import excerpt, redact
from evalkit.adapters._http_response import read_response
from evalkit.adapters._http_retry import RequestFailed, RetryPolicy, _Attempt
from evalkit.adapters._http_retry import parse_retry_after as parse_retry_after

__all__ = ["JSONClient", "RequestFailed", "RetryPolicy", "excerpt", "redact"]

log = logging.getLogger("evalkit.http")


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
        return read_response(resp, body, self.secrets)

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
