"""The PostgreSQL endpoint of a Distillery home: listening, startup, cancel, sandboxes.

One server serves every sandbox of a home: the database name a client connects to picks the
sandbox (`prod:all`, as in AEP), and all its connections share that sandbox's Platform and
Query Service (each with its own Query Service session).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import ssl
import struct
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pg_mimic import messages

from distillery.errors import ConfigError, DistilleryError, QueryError
from distillery.platform import Platform, resolve_home
from distillery.sql.pgwire.auth import LoginThrottle
from distillery.sql.pgwire.catalog import CatalogContent, CatalogEmulator, TableInfo
from distillery.sql.pgwire.connection import Connection
from distillery.sql.pgwire.credentials import CredentialStore
from distillery.sql.pgwire.session import Identity, WireSession
from distillery.sql.pgwire.settings import SERVER_VERSION
from distillery.sql.pgwire.stream import ClientGone, WireStream
from distillery.sql.pgwire.tls import ensure_certificate, server_context

log = logging.getLogger("distillery.pgwire")
PROTOCOL_3 = 3 << 16
_SANDBOX = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


@dataclass(frozen=True)
class ServerOptions:
    """How the endpoint listens and behaves.

    Attributes:
        host: Address to listen on (loopback unless told otherwise).
        port: TCP port (0 picks a free one).
        tls: Offer TLS with the home's self-signed certificate (generated on first use).
        require_tls: Refuse clients that do not use TLS.
        max_connections: Clients served at once; more are refused (53300).
        workers: Threads that run statements and encode rows (one per client at most, so
            by default no client waits for a thread).
        batch_rows: Rows per batch streamed from the engine.
    """

    host: str = "127.0.0.1"
    port: int = 5432
    tls: bool = False
    require_tls: bool = False
    max_connections: int = 100
    workers: int = 100
    batch_rows: int = 50_000


class Sandbox:
    """One sandbox as the endpoint serves it: its platform and emulated catalogs."""

    def __init__(self, home: Path, name: str) -> None:
        self.platform = Platform.open(home, name, create=False)
        self.service = self.platform.sql
        self._catalogs: dict[str, CatalogEmulator] = {}
        self._lock = threading.Lock()

    def catalog(self, database: str) -> CatalogEmulator:
        """The emulated catalog of a database name (one per scope)."""
        with self._lock:
            if database not in self._catalogs:
                self._catalogs[database] = CatalogEmulator()
            return self._catalogs[database]

    def tables(self, scope: str) -> tuple[TableInfo, ...]:
        """The datasets and views a database name shows: all, or the one it names."""
        datasets = [TableInfo(d.table_name, d.schema.to_arrow(), d.description, d.id)
                    for d in self.platform.datasets() if scope in ("all", d.table_name)]
        views = [v for v in self.service.views.names() if scope in ("all", v)]
        return (*datasets, *filter(None, (self._view(name) for name in views)))

    def _view(self, name: str) -> TableInfo | None:
        # A view's columns are what its query returns (LIMIT 0 reads no rows).
        try:
            result = self.service.execute(f"SELECT * FROM `{name}` LIMIT 0", None,
                                          self.service.session())[-1]
        except QueryError as exc:
            log.info("view %s left out of the catalog: %s", name, exc)
            return None
        return TableInfo(name, result.reader().schema, "", f"view:{name}", kind="v")

    def close(self) -> None:
        """Release the engine."""
        self.platform.close()


class PgWireServer:
    """The Query Service over the PostgreSQL wire protocol, for one Distillery home."""

    def __init__(self, home: str | Path | None = None, options: ServerOptions | None = None,
                 ) -> None:
        self.home = resolve_home(home)
        self.options = options or ServerOptions()
        self.credentials = CredentialStore(self.home)
        self.throttle = LoginThrottle()
        self.pool = ThreadPoolExecutor(self.options.workers, thread_name_prefix="pgwire")
        self.started = datetime.now(UTC).isoformat(sep=" ")
        self.port = self.options.port
        self._sandboxes: dict[str, Sandbox] = {}
        self._lock = threading.Lock()
        self._connections: dict[int, Connection] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._tls: ssl.SSLContext | None = None
        self._next_pid = 1000

    # Running ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Check the home, then listen."""
        if not (self.home / "config.yaml").exists():
            raise ConfigError(f"no Distillery home at {self.home}; run `distillery init`")
        if not self.credentials.users():
            raise ConfigError(f"no credentials in {self.credentials.users_path}; run "
                              "`distillery init` or `distillery credentials`")
        if self.options.tls or self.options.require_tls:
            self._tls = server_context(*ensure_certificate(self.home, self.options.host))
        self._server = await asyncio.start_server(self._accept, self.options.host,
                                                  self.options.port)
        self.port = self._server.sockets[0].getsockname()[1]
        if self.options.host not in ("127.0.0.1", "localhost", "::1") and self._tls is None:
            log.warning("listening on %s without TLS: logins are protected by SCRAM, but "
                        "queries and results travel in clear text (use --tls)",
                        self.options.host)
        log.info("Query Service listening on %s:%d (TLS %s)", self.options.host, self.port,
                 "required" if self.options.require_tls else "on" if self._tls else "off")

    async def serve_forever(self) -> None:
        """Serve until cancelled."""
        if self._server is None:
            await self.start()
        assert self._server is not None
        async with self._server:
            await self._server.serve_forever()

    async def close(self) -> None:
        """Stop listening, drop the clients, release the sandboxes."""
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections.values()):
            if connection.session is not None:
                connection.session.cancel()
            connection.stream.writer.close()
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.pool.shutdown(wait=True, cancel_futures=True)
        for sandbox in self._sandboxes.values():
            sandbox.close()
        self._sandboxes.clear()

    def stats(self) -> dict[str, int]:
        """Connections open and statements running now."""
        return {"connections": len(self._connections),
                "running": sum(1 for c in self._connections.values() if c.busy)}

    # Startup ----------------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stream = WireStream(reader, writer)
        pid = 0
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            startup = await self._startup(stream)
            if startup is None:
                return
            if len(self._connections) >= self.options.max_connections:
                stream.write(messages.make_error_response({
                    "S": "FATAL", "V": "FATAL", "C": "53300",
                    "M": "sorry, too many clients already"}))
                await stream.drain()
                return
            pid, secret = self._next_pid, struct.unpack("!i", os.urandom(4))[0]
            self._next_pid += 1
            connection = Connection(self, stream, pid, secret, startup)
            self._connections[pid] = connection
            await connection.run()
        except (ClientGone, asyncio.CancelledError):
            # Cancelled at shutdown: end quietly (asyncio logs a cancelled callback task).
            pass
        except Exception:
            log.exception("connection from %s failed", stream.peer)
        finally:
            self._connections.pop(pid, None)
            if task is not None:
                self._tasks.discard(task)
            await stream.close()

    async def _startup(self, stream: WireStream) -> dict[str, str] | None:
        code, payload = await stream.read_startup()
        for _ in range(2):  # a client may ask for GSS encryption, then for TLS
            if code not in (messages.SSL_REQUEST_CODE, messages.GSSENC_REQUEST_CODE):
                break
            context = self._tls if code == messages.SSL_REQUEST_CODE else None
            stream.write(b"S" if context is not None else b"N")
            await stream.drain()
            if context is not None:
                await stream.start_tls(context)
            code, payload = await stream.read_startup()
        if code == messages.CANCEL_REQUEST_CODE:
            pid, secret = messages.parse_cancel_request(payload)
            self._cancel(pid, secret)
            return None
        if code >> 16 != 3:
            stream.write(messages.make_error_response({
                "S": "FATAL", "V": "FATAL", "C": "0A000",
                "M": f"unsupported frontend protocol {code >> 16}.{code & 0xFFFF}"}))
            await stream.drain()
            return None
        startup = messages.parse_startup_message(payload)
        options = [k for k in startup if k.startswith("_pq_.")]
        if code != PROTOCOL_3 or options:
            stream.write(_negotiate_protocol(options))
        return startup

    def _cancel(self, pid: int, secret: int) -> None:
        connection = self._connections.get(pid)
        if connection is not None and connection.secret == secret:
            log.info("cancel request for backend %d", pid)
            connection.cancel()

    # Sessions ---------------------------------------------------------------------------------

    def open_session(self, database: str, user: str, role: str, pid: int) -> WireSession:
        """A session on the sandbox `database` names (`{sandbox}:all` or `{sandbox}:{table}`).

        Raises:
            QueryError: 3D000 when there is no such sandbox or table.
        """
        sandbox_name, _, scope = database.partition(":")
        scope = scope or "all"
        sandbox = self._sandbox(sandbox_name, database)
        if scope != "all" and sandbox.platform.catalog.find_dataset(scope) is None:
            raise QueryError(f'database "{database}" does not exist: sandbox {sandbox_name!r} '
                             f"has no table {scope!r}", sqlstate="3D000")
        version = (f"PostgreSQL {SERVER_VERSION} (Distillery Query Service, engine "
                   f"{sandbox.platform.engine.NAME})")
        identity = Identity(user, role, database, pid, version, self.started)
        catalog = sandbox.catalog(database)

        def content() -> CatalogContent:
            return CatalogContent(database, tuple(f"{s}:all" for s in self._sandbox_names()),
                                  tuple(self.credentials.users()), sandbox.tables(scope))

        return WireSession(sandbox.service, catalog, content, identity, self.options.batch_rows,
                           self.activity)

    def activity(self) -> list[tuple[Any, ...]]:
        """pg_stat_activity: one row per connected client."""
        return [c.activity() for c in list(self._connections.values())]

    def _sandbox(self, name: str, database: str) -> Sandbox:
        with self._lock:
            if name not in self._sandboxes:
                if not _SANDBOX.match(name) or name not in self._sandbox_names():
                    raise QueryError(f'database "{database}" does not exist; connect to '
                                     "{sandbox}:all, for example dbname=prod:all",
                                     sqlstate="3D000")
                try:
                    self._sandboxes[name] = Sandbox(self.home, name)
                except DistilleryError as exc:
                    raise QueryError(f'database "{database}" cannot be opened: {exc}',
                                     sqlstate="3D000") from None
            return self._sandboxes[name]

    def _sandbox_names(self) -> list[str]:
        root = self.home / "sandboxes"
        return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.exists() else []


def _negotiate_protocol(options: list[str]) -> bytes:
    # NegotiateProtocolVersion: we speak 3.0 and know none of the `_pq_` options.
    payload = struct.pack("!ii", PROTOCOL_3, len(options))
    payload += b"".join(o.encode() + b"\x00" for o in options)
    return b"v" + struct.pack("!i", len(payload) + 4) + payload
