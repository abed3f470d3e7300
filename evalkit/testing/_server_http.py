"""The loopback server's HTTP layer: request records, the handler, and how bytes go out."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from evalkit.testing._server_faults import Fault, _error

if TYPE_CHECKING:
    from evalkit.testing.openai_server import OpenAIServer


@dataclass
class RecordedRequest:
    """What the server saw of one request and what it did.

    Attributes:
        index: Arrival number, from 0.
        path: The request path.
        body: The decoded JSON body (``None`` when it was not JSON).
        received_at: ``time.monotonic()`` when the body was read.
        finished_at: ``time.monotonic()`` when the response was sent (or the connection cut).
        status: The HTTP status sent; ``None`` for a dropped connection.
        fault: The fault kind applied, if any.
        authorized: Whether the ``Authorization`` header matched (``None`` without an API key).
    """

    index: int
    path: str
    body: Any
    received_at: float
    finished_at: float | None = None
    status: int | None = None
    fault: str | None = None
    authorized: bool | None = None

    @property
    def prompt(self) -> str | None:
        """The completion prompt, or the last user message of a chat request."""
        return _prompt_of(self.body)


def _prompt_of(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    if isinstance(body.get("prompt"), str):
        return str(body["prompt"])
    messages = body.get("messages")
    if isinstance(messages, list):
        users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
        if users and isinstance(users[-1].get("content"), str):
            return str(users[-1]["content"])
    return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.owner.idle_timeout_s)
        if isinstance(self.connection, ssl.SSLSocket):
            # Shake hands here, in this connection's thread, not in the accept loop.
            self.connection.do_handshake()
        # Headers and body go out in two writes; without TCP_NODELAY, Nagle's algorithm holds
        # the body until the client's delayed ACK (40 ms on Linux) on keep-alive connections.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.owner._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.owner._track(self.connection, add=False)

    def do_POST(self) -> None:
        self.server.owner._handle(self)

    def do_GET(self) -> None:
        owner = self.server.owner
        if self.path.rstrip("/") == "/v1/models":
            send_json(self, 200, {"object": "list", "data": [{"id": owner.model}]})
        else:
            send_json(self, 404, _error(f"no route {self.path}", "not_found"))

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the server records requests instead


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    # socketserver's default listen backlog of 5 drops connections (1 s SYN retries) when
    # clients open many at once; real servers listen with a larger one.
    request_queue_size = 128
    owner: OpenAIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up (timeouts, drops) is expected here


def send(
    h: BaseHTTPRequestHandler,
    status: int,
    payload: bytes,
    headers: Mapping[str, str] | None = None,
) -> None:
    headers = {"Content-Type": "application/json", **(headers or {})}
    try:
        h.send_response(status)
        h.send_header("Content-Length", str(len(payload)))
        for k, v in headers.items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(payload)
        h.wfile.flush()
    except OSError:
        h.close_connection = True  # the client gave up (timed out) already


def dribble(h: BaseHTTPRequestHandler, status: int, payload: bytes, fault: Fault) -> None:
    """Send a response one byte at a time: from the status line, or the body only."""
    head = (
        f"HTTP/1.1 {status} {h.responses.get(status, ('',))[0]}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    ).encode("latin-1")
    if fault.kind == "dribble_body":
        h.wfile.write(head)
        head = b""
    h.close_connection = True  # a half-sent response cannot be followed by another
    try:
        for i in range(len(head + payload)):
            h.wfile.write((head + payload)[i : i + 1])
            h.wfile.flush()
            time.sleep(fault.byte_interval_s)
    except OSError:
        pass  # the client gave up: what this fault is for


def send_json(
    h: BaseHTTPRequestHandler,
    status: int,
    doc: Any,
    headers: Mapping[str, str] | None = None,
) -> None:
    send(h, status, json.dumps(doc).encode("utf-8"), headers)
