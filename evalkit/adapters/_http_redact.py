"""Secret redaction for everything the HTTP transport says: errors, log lines, excerpts.

Every text that came from a server is redacted *before* it is cut to an excerpt, and every
message :mod:`evalkit.adapters._http` produces goes through :func:`redact`, which hides every
piece of 8 or more characters of a secret (so a key cut at any point stays hidden) and any
echoed ``Authorization`` or ``Bearer`` credential.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterable

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
