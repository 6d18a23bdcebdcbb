"""Network faults made in the test: a listener that never answers, and a proxy that can stop passing bytes.

Both keep their TCP connections open (the kernel still acknowledges), as a paused or overloaded
database server does, which is the case client-side timeouts must cover.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType
from typing import Self


class SilentListener:
    """Accepts TCP connections on 127.0.0.1 and never sends a byte."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self._accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            self._accepted.append(conn)

    def close(self) -> None:
        """Stop listening and drop every connection."""
        _shut(self._server)
        for conn in self._accepted:
            _shut(conn)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FreezableProxy:
    """A TCP proxy from 127.0.0.1 to `host:port` that `freeze` makes silent, keeping every connection open."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = False
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def freeze(self) -> None:
        """Stop passing bytes either way; connections stay open and new ones are accepted."""
        self._flowing.clear()

    def close(self) -> None:
        """Close every connection (anything waiting on them fails) and stop listening."""
        self._closed = True
        self._flowing.set()
        _shut(self._server)
        for sock in list(self._sockets):
            _shut(sock)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
                upstream = socket.create_connection(self._target)
            except OSError:
                return
            self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if data:
                self._flowing.wait()
            if not data or self._closed:
                _shut(sink)
                return
            try:
                sink.sendall(data)
            except OSError:
                _shut(source)
                return

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
