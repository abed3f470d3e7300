"""Reading a response: decoded JSON on 2xx, else a redacted, classified failed attempt."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Iterable
from typing import Any

from evalkit.adapters._http_redact import _SCAN_CHARS, MALFORMED_CHARS, MESSAGE_CHARS, excerpt
from evalkit.adapters._http_retry import _Attempt, parse_retry_after


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


def read_response(
    resp: http.client.HTTPResponse, body: bytes, secrets: Callable[[], Iterable[str]]
) -> Any:
    """The decoded JSON of a 2xx response; any other outcome raises a failed attempt.

    HTTP 429 and 5xx statuses, and a 2xx body that is not JSON, are transient (retried, 429 and
    5xx after ``Retry-After`` or ``retry-after-ms`` when the server sends one); every other
    status is not. Every server text in a message is redacted with ``secrets()``, then cut.

    Raises:
        _Attempt: The failed attempt, with its status and any wait the server asked for.
    """
    status = resp.status
    if 200 <= status < 300:
        try:
            return json.loads(body)
        except ValueError:
            text = body[: _SCAN_CHARS * 4].decode("utf-8", "replace")
            shown = excerpt(text, secrets(), MALFORMED_CHARS)
            raise _Attempt(
                f"malformed JSON in an HTTP {status} response ({shown!r})",
                transient=True,
                status=status,
            ) from None
    reason = excerpt(resp.reason or "", secrets(), 80)
    server_text = _server_message(body, secrets())
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
