"""A small OpenAI-compatible HTTP server on loopback, with scripted faults, for tests and benches.

It serves ``POST /v1/completions`` (with ``echo`` and ``logprobs``), ``POST
/v1/chat/completions`` and ``GET /v1/models`` from a pluggable backend
(:class:`~evalkit.testing.backends.ScriptedBackend` by default), binds ``127.0.0.1`` on a free
port, and records every request it receives (arrival and finish times, body, status, the fault
it applied, whether its API key matched), so tests can count retries and measure backoff.

Faults, each chosen deterministically:

- ``plan``: one fault (or ``None``) per request in arrival order;
- ``per_prompt``: ``{prompt: [fault, ...]}``, one per arrival of that prompt, so concurrent
  clients see the same faults whatever the scheduling;
- ``rates``: ``{fault: probability}`` drawn from a hash of ``(fault_seed, prompt, arrival
  number of that prompt)``, at most ``max_faults_per_prompt`` times per prompt.

Fault kinds: ``429``, ``500``, ``503`` (with ``Retry-After`` when the fault sets
``retry_after``), ``400``, ``401`` (an error that echoes the ``Authorization`` header, as a
careless server might), ``slow`` (answers after ``delay_s``), ``malformed`` (a 200 whose body
is cut-off JSON), ``drop`` (closes the connection without a response), ``dribble`` (the whole
response, status line first, one byte every ``byte_interval_s``) and ``dribble_body``
(headers at once, then the body one byte every ``byte_interval_s``).

A ``401``, ``500`` or ``malformed`` fault with ``echo_key_at=N`` echoes the API key it was
sent (the token after ``Bearer``) so that the key starts exactly ``N`` characters into the
text a client shows: the ``error.message`` of a JSON 401, the body of a non-JSON
(``text/plain``) 500, or the body of a cut-off JSON 200 (the key JSON-escaped there). Tests
sweep ``N`` around a client's excerpt limits, so that every cut falls inside the key.

Server-wide modes: ``latency_s`` (a fixed delay per request), ``logprobs_mode`` (``echo``: real
prompt log-probabilities; ``generated_only``: ``echo`` is ignored, as by servers that only
return generated-token log-probabilities; ``null``: the echoed prompt's log-probabilities are
null; ``mismatch``: one log-probability fewer than tokens), ``refuse_zero_max_tokens`` (400 on
``max_tokens: 0``, like vLLM) and ``api_key`` (requests without ``Bearer KEY`` get a 401).

With ``tls`` (a server-side :class:`ssl.SSLContext`) it serves HTTPS instead.

The server stops on leaving its ``with`` block, and by itself after ``max_lifetime_s``; idle
keep-alive connections close after ``idle_timeout_s``.

>>> import json, urllib.request
>>> with OpenAIServer() as server:
...     req = urllib.request.Request(server.url + "/completions", method="POST",
...         data=json.dumps({"model": "m", "prompt": "hi there", "temperature": 0}).encode(),
...         headers={"Content-Type": "application/json"})
...     doc = json.load(urllib.request.urlopen(req, timeout=5))
>>> doc["choices"][0]["text"], len(server.requests)
('HI THERE', 1)
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler
from typing import Any

from evalkit.testing._server_api import LOGPROBS_MODES, _BadRequest, _OpenAIAPI
from evalkit.testing._server_faults import ECHO_KINDS, FAULT_KINDS, Fault, _echo_key, _error, _unit
from evalkit.testing._server_http import (
    RecordedRequest,
    _Handler,
    _HTTPServer,
    dribble,
    send,
    send_json,
)
from evalkit.testing.backends import Backend, ScriptedBackend

__all__ = [
    "ECHO_KINDS",
    "FAULT_KINDS",
    "LOGPROBS_MODES",
    "Fault",
    "OpenAIServer",
    "RecordedRequest",
]


class OpenAIServer(_OpenAIAPI):
    """An OpenAI-compatible server on ``127.0.0.1`` (see the module docstring).

    Args:
        backend: The model (default: a :class:`ScriptedBackend`).
        model: The model name it reports.
        plan: A fault (or ``None``) per request, in arrival order.
        per_prompt: Faults per arrival of each prompt.
        rates: ``{fault: probability}``.
        fault_seed: Seed of the ``rates`` draws.
        max_faults_per_prompt: Most ``rates`` faults one prompt gets.
        latency_s: Delay added to every request.
        logprobs_mode: One of :data:`LOGPROBS_MODES`.
        refuse_zero_max_tokens: Answer 400 to ``max_tokens: 0``.
        api_key: When set, requests must carry ``Authorization: Bearer API_KEY``.
        max_lifetime_s: The server stops by itself after this long.
        idle_timeout_s: Idle keep-alive connections close after this long.
        tls: Serve HTTPS with this server-side context (``url`` then starts ``https://``).
    """

    def __init__(
        self,
        backend: Backend | None = None,
        *,
        model: str = "loopback",
        plan: Sequence[Fault | str | None] = (),
        per_prompt: Mapping[str, Sequence[Fault | str | None]] | None = None,
        rates: Mapping[Fault | str, float] | None = None,
        fault_seed: int = 0,
        max_faults_per_prompt: int = 1,
        latency_s: float = 0.0,
        logprobs_mode: str = "echo",
        refuse_zero_max_tokens: bool = False,
        api_key: str | None = None,
        max_lifetime_s: float = 300.0,
        idle_timeout_s: float = 5.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        if logprobs_mode not in LOGPROBS_MODES:
            raise ValueError(f"logprobs_mode must be one of {', '.join(LOGPROBS_MODES)}.")
        self.backend: Backend = backend if backend is not None else ScriptedBackend()
        self.model = model
        #: Faults per arrival; may be replaced while serving (kind names are accepted).
        self.plan: list[Fault | str | None] = [Fault.of(f) for f in plan]
        self.per_prompt: dict[str, list[Fault | str | None]] = {
            p: [Fault.of(f) for f in fs] for p, fs in (per_prompt or {}).items()
        }
        self.rates = [(Fault.of(f), float(p)) for f, p in (rates or {}).items()]
        self.fault_seed = fault_seed
        self.max_faults_per_prompt = max_faults_per_prompt
        self.latency_s = latency_s
        self.logprobs_mode = logprobs_mode
        self.refuse_zero_max_tokens = refuse_zero_max_tokens
        self.api_key = api_key
        self.max_lifetime_s = max_lifetime_s
        self.idle_timeout_s = idle_timeout_s
        self.tls = tls
        self._lock = threading.Lock()
        self._records: list[RecordedRequest] = []
        self._seen: dict[str, int] = {}
        self._rate_faults: dict[str, int] = {}
        self._in_flight = 0
        self._max_in_flight = 0
        self._conns: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._timer: threading.Timer | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> OpenAIServer:
        """Bind ``127.0.0.1:0`` and serve in a background thread."""
        httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        httpd.owner = self
        if self.tls is not None:
            httpd.socket = self.tls.wrap_socket(
                httpd.socket, server_side=True, do_handshake_on_connect=False
            )
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        self._timer = threading.Timer(self.max_lifetime_s, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection (idempotent)."""
        with self._lock:
            httpd, self._httpd = self._httpd, None
            conns = list(self._conns)
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.cancel()
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port."""
        if self._httpd is None:
            raise RuntimeError("the server is not running; use it in a with block.")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The API root, ``http://127.0.0.1:PORT/v1`` (an adapter's ``base_url``; ``https``
        with ``tls``)."""
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}/v1"

    # -- what happened ----------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order."""
        with self._lock:
            return list(self._records)

    @property
    def max_in_flight(self) -> int:
        """The most requests handled at the same time."""
        return self._max_in_flight

    def reset(self) -> None:
        """Forget recorded requests and fault counters (the plan starts again)."""
        with self._lock:
            self._records.clear()
            self._seen.clear()
            self._rate_faults.clear()
            self._max_in_flight = self._in_flight

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    # -- faults -----------------------------------------------------------------------------

    def _choose_fault(self, rec: RecordedRequest) -> Fault | None:
        """Called with the lock held."""
        key = rec.prompt if rec.prompt is not None else json.dumps(rec.body, sort_keys=True)
        nth = self._seen.get(key, 0)
        self._seen[key] = nth + 1
        if key in self.per_prompt:
            faults = self.per_prompt[key]
            return Fault.of(faults[nth]) if nth < len(faults) else None
        if rec.index < len(self.plan):
            return Fault.of(self.plan[rec.index])
        if self.rates and self._rate_faults.get(key, 0) < self.max_faults_per_prompt:
            u, acc = _unit(self.fault_seed, key, nth), 0.0
            for fault, p in self.rates:
                acc += p
                if u < acc:
                    self._rate_faults[key] = self._rate_faults.get(key, 0) + 1
                    return fault
        return None

    # -- HTTP -------------------------------------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length > 0 else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self._lock:
            rec = RecordedRequest(len(self._records), h.path, body, time.monotonic())
            self._records.append(rec)
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            fault = self._choose_fault(rec)
        rec.fault = fault.kind if fault else None
        auth = h.headers.get("Authorization")
        if self.api_key is not None:
            rec.authorized = auth == f"Bearer {self.api_key}"
        try:
            if self.latency_s > 0:
                time.sleep(self.latency_s)
            status, doc, headers = self._respond(h, rec, fault, auth)
            rec.status = status
            if status is None:  # drop: close without a response
                h.close_connection = True
                with contextlib.suppress(OSError):
                    h.connection.shutdown(socket.SHUT_RDWR)
            elif fault is not None and fault.kind in ("dribble", "dribble_body"):
                payload = doc if isinstance(doc, bytes) else json.dumps(doc).encode("utf-8")
                dribble(h, status, payload, fault)
            elif isinstance(doc, bytes):
                send(h, status, doc, headers)
            else:
                send_json(h, status, doc, headers)
        finally:
            with self._lock:
                self._in_flight -= 1
                rec.finished_at = time.monotonic()

    def _respond(
        self, h: BaseHTTPRequestHandler, rec: RecordedRequest, fault: Fault | None, auth: Any
    ) -> tuple[int | None, Any, dict[str, str]]:
        if fault is not None and fault.echo_key_at is not None:
            return _echo_key(fault.kind, fault.echo_key_at, auth)
        if fault is not None:
            kind = fault.kind
            if kind == "drop":
                return None, None, {}
            if kind == "malformed":
                return 200, b'{"id": "cmpl-x", "choices": [{"text": "cut sh', {}
            if kind in ("429", "500", "503"):
                headers = {} if fault.retry_after is None else {"Retry-After": fault.retry_after}
                return int(kind), _error(f"scripted {kind}", "server_error"), headers
            if kind == "400":
                return 400, _error("scripted bad request"), {}
            if kind == "401":
                return 401, _error(f"Incorrect API key provided: {auth}", "auth_error"), {}
            if kind == "slow":
                time.sleep(fault.delay_s)
        if rec.authorized is False:
            return 401, _error(f"Incorrect API key provided: {auth}", "auth_error"), {}
        path = h.path.split("?", 1)[0].rstrip("/")
        try:
            if not isinstance(rec.body, dict):
                raise _BadRequest("the body must be a JSON object")
            if path == "/v1/completions":
                return 200, self._completions(rec.body), {}
            if path == "/v1/chat/completions":
                return 200, self._chat(rec.body), {}
        except _BadRequest as exc:
            return 400, _error(str(exc)), {}
        return 404, _error(f"no route {path}", "not_found"), {}

    # -- the API ----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the scripted backend until killed: ``python -m evalkit.testing``.

    Prints the API root (``http://127.0.0.1:PORT/v1``) as the first line of standard output,
    so that a parent process (a benchmark) can read it.
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m evalkit.testing")
    parser.add_argument("--latency-s", type=float, default=0.0, help="delay per request")
    parser.add_argument(
        "--max-lifetime-s", type=float, default=600.0, help="stop by itself after this long"
    )
    args = parser.parse_args(argv)
    server = OpenAIServer(latency_s=args.latency_s, max_lifetime_s=args.max_lifetime_s)
    with server:
        print(server.url, flush=True)
        thread = server._thread
        if thread is not None:
            thread.join()
