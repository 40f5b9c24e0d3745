"""Running the endpoint in the background: for tests, notebooks and benchmarks.

`distillery serve` runs the server on the main thread's event loop; here it gets its own loop
in a daemon thread, so the caller's code (psycopg, pandas, a test) keeps running beside it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from distillery.sql.pgwire.server import PgWireServer, ServerOptions


class ServerThread:
    """A server on its own event loop in a background thread (tests, notebooks, benchmarks).

    Example:
        with ServerThread(PgWireServer(home, ServerOptions(port=0))) as running:
            psycopg.connect(host="127.0.0.1", port=running.port, ...)
    """

    def __init__(self, server: PgWireServer) -> None:
        self.server = server
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="pgwire-server", daemon=True)

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return self.server.port

    def start(self, timeout: float = 60) -> ServerThread:
        """Start listening; raise what prevented it."""
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("the PostgreSQL endpoint did not start")
        if self._error is not None:
            raise self._error
        return self

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.server.start())
        except BaseException as exc:  # handed to the thread that called start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self.server.close())
        self._loop.close()

    def stop(self) -> None:
        """Stop the server and wait for its thread."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(60)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def running(home: str | Path, **options: Any) -> Iterator[ServerThread]:
    """A server for `home` listening on a free port while the block runs."""
    with ServerThread(PgWireServer(home, ServerOptions(**{"port": 0, **options}))) as thread:
        yield thread
