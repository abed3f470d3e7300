"""One attempt's deadline over name resolution, connect and every socket read.

A socket timeout alone restarts with every byte received; these wrappers give each blocking
call only the time left before the attempt's deadline, so a server that dribbles one byte at a
time cannot hold a request past ``timeout_s``.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import select
import socket
import threading
import time
from typing import Any, cast


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
