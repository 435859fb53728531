"""A loopback TCP proxy that can cut a connection after N bytes from the server.

Tests put it between a client and a real server to prove what happens when the network drops
in the middle of a reply (an IMAP FETCH half received), which no mock can show honestly.
"""

from __future__ import annotations

import socket
import threading
from contextlib import suppress


class CuttingProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.host, self.port = "127.0.0.1", self._listener.getsockname()[1]
        self._budget: int | None = None
        self._skip = 0
        # When set, nothing more from the server reaches the client, not even its hang-up:
        # a server (or the route to it) that vanished without a reset.
        self.silent = False
        self._lock = threading.Lock()
        self.cuts = 0
        self._sockets: list[socket.socket] = []
        self._servers: set[socket.socket] = set()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def start(self) -> CuttingProxy:
        self._thread.start()
        return self

    def cut_after(self, nbytes: int | None, *, skip: int = 0) -> None:
        """Cut the next connection once it has received `nbytes` from the server (None: never);
        with `skip`, that many connections are let through first."""
        with self._lock:
            self._budget, self._skip = nbytes, skip

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self._sockets += [client, server]
            self._servers.add(server)
            with self._lock:
                if self._skip:
                    budget, self._skip = None, self._skip - 1
                else:
                    budget, self._budget = self._budget, None
            threading.Thread(target=self._pump, args=(client, server, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, budget), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, budget: int | None) -> None:
        hang_up = True
        try:
            while True:
                data = src.recv(8192)
                if self.silent and src in self._servers:
                    # A server gone quiet: its bytes never arrive, and neither does its close.
                    if not data:
                        hang_up = False
                        return
                    continue
                if not data:
                    break
                if budget is not None:
                    if len(data) >= budget:
                        dst.sendall(data[:budget])
                        self.cuts += 1
                        break
                    budget -= len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst) if hang_up else ():
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with suppress(OSError):
                    sock.close()

    def stop_all_connections(self) -> None:
        """Drop every open connection at once, as a server restart or NAT timeout does."""
        sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with suppress(OSError):
                sock.close()

    def stop(self) -> None:
        with suppress(OSError):
            self._listener.close()
        for sock in self._sockets:
            with suppress(OSError):
                sock.close()
