"""One client connection: login, then the simple and extended query protocols.

Nothing the client sends reaches the Query Service before the SCRAM exchange succeeds. After
that, a reader task takes messages off the socket while the command loop works through them,
so a client that disconnects mid-query is noticed at once and its query interrupted. Every
statement and every batch of rows is computed in a worker thread; the event loop only moves
bytes, so other clients are served while a long query runs.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from pg_mimic import messages
from pg_mimic.messages import FieldSpec

from distillery.errors import (
    AlreadyExistsError,
    ConfigError,
    DistilleryError,
    IngestionError,
    NotFoundError,
    QueryError,
    SchemaError,
)
from distillery.sql.pgwire import lexer
from distillery.sql.pgwire.auth import scram_login
from distillery.sql.pgwire.encode import RowEncoder
from distillery.sql.pgwire.results import RowStream, WireResult
from distillery.sql.pgwire.session import WireSession
from distillery.sql.pgwire.stream import ClientGone, WireStream

if TYPE_CHECKING:
    from distillery.sql.pgwire.server import PgWireServer

log = logging.getLogger("distillery.pgwire")
T = TypeVar("T")
_SQLSTATES: list[tuple[type[Exception], str]] = [
    (NotFoundError, "42704"), (AlreadyExistsError, "42P07"), (SchemaError, "42804"),
    (IngestionError, "22000"), (ConfigError, "22023"), (DistilleryError, "XX000"),
]


def error_fields(exc: Exception) -> dict[str, str]:
    """An exception as ErrorResponse fields (severity, SQLSTATE, message)."""
    if isinstance(exc, QueryError):
        code = exc.sqlstate
    else:
        code = next((c for cls, c in _SQLSTATES if isinstance(exc, cls)), "XX000")
    message = str(exc) or type(exc).__name__
    if code == "57014":
        message = "canceling statement due to user request"
    return {"S": "ERROR", "V": "ERROR", "C": code, "M": message}


class Connection:
    """The protocol state machine of one client."""

    def __init__(self, server: PgWireServer, stream: WireStream, pid: int, secret: int,
                 startup: dict[str, str]) -> None:
        self.server = server
        self.stream = stream
        self.pid, self.secret = pid, secret
        self.startup = startup
        self.session: WireSession | None = None
        self.busy = False
        self.active = False  # a statement runs or streams rows (pg_stat_activity's state)
        self.query = ""
        self.started = datetime.now(UTC)
        self.query_start: datetime | None = None
        self._queue: asyncio.Queue[tuple[bytes, bytes] | None] = asyncio.Queue(maxsize=64)
        self._encoders: dict[str, RowEncoder] = {}

    # Lifecycle --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Serve the client until it leaves."""
        reader: asyncio.Task[None] | None = None
        try:
            self.session = await self._login()
            if self.session is None:
                return
            reader = asyncio.create_task(self._read_loop())
            await self._command_loop()
        except ClientGone:
            pass
        finally:
            if reader is not None:
                reader.cancel()
            if self.session is not None:
                self.session.cancel()
                await self._call(self.session.close)

    def cancel(self) -> None:
        """A CancelRequest for this connection arrived."""
        if self.session is not None and self.busy:
            self.session.cancel()

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        self.busy = True
        try:
            return await loop.run_in_executor(self.server.pool, functools.partial(fn, *args))
        finally:
            self.busy = False

    async def _login(self) -> WireSession | None:
        user = self.startup.get("user", "")
        if not user:
            await self._fatal("28000", "no user name in the startup packet")
            return None
        if self.server.options.require_tls and not self.stream.tls:
            await self._fatal("28000", "this server accepts TLS connections only "
                                              "(connect with sslmode=require)")
            return None
        verifier = await scram_login(self.stream, user, self.server.credentials)
        if verifier is None:
            count, delay = self.server.throttle.failed(self.stream.host)
            log.warning("failed login for user %r from %s (%d recent failures from this "
                        "host; answering after %.2f s)", user, self.stream.peer, count, delay)
            await asyncio.sleep(delay)
            await self._fatal("28P01", f'password authentication failed for user "{user}"')
            return None
        self.server.throttle.succeeded(self.stream.host)
        database = self.startup.get("database") or user
        try:
            session = await self._call(self.server.open_session, database, user,
                                       verifier.role, self.pid)
        except QueryError as exc:
            await self._fatal(exc.sqlstate, str(exc))
            return None
        self._apply_startup_options(session)
        self.stream.write(messages.make_authentication_ok())
        for name, value in session.settings.reported().items():
            self.stream.write(messages.make_parameter_status(name, value))
        self.stream.write(messages.make_backend_key_data(self.pid, self.secret))
        self.stream.write(messages.make_ready_for_query(b"I"))
        await self.stream.drain()
        log.info("%s connected as %r (%s) to %r", self.stream.peer, user, verifier.role,
                 database)
        return session

    def _apply_startup_options(self, session: WireSession) -> None:
        # Settings come as startup parameters, or in `options` as `-c name=value` (PGOPTIONS).
        settings = {k: v for k, v in self.startup.items()
                    if k in ("application_name", "client_encoding", "DateStyle", "TimeZone")}
        settings |= dict(re.findall(r"(?:-c\s*|--)([\w.]+)=(\S+)",
                                    self.startup.get("options", "")))
        for name, value in settings.items():
            try:
                session.set_setting(name, value)
            except QueryError as exc:
                log.info("ignored startup setting %s: %s", name, exc)

    async def _fatal(self, code: str, message: str) -> None:
        self.stream.write(messages.make_error_response(
            {"S": "FATAL", "V": "FATAL", "C": code, "M": message}))
        await self.stream.drain()

    async def _read_loop(self) -> None:
        try:
            while True:
                tag, payload = await self.stream.read_message()
                await self._queue.put((tag, payload))
                if tag == b"X":
                    return
        except ClientGone:
            # The client is gone: whatever it was running is of no use to anyone.
            if self.session is not None:
                self.session.cancel()
        finally:
            await self._queue.put(None)

    # Command loop -----------------------------------------------------------------------------

    async def _command_loop(self) -> None:
        skipping = False  # after an extended-protocol error, messages are ignored until Sync
        while True:
            item = await self._queue.get()
            if item is None or item[0] == b"X":
                return
            tag, payload = item
            if not (skipping and tag not in (b"S", b"Q")):
                skipping = await self._handle(tag, payload) and tag != b"Q"
            if tag in (b"S", b"Q"):
                skipping = False
                self.stream.write(messages.make_ready_for_query(self._session.tx.encode()))
            await self.stream.drain()

    @property
    def _session(self) -> WireSession:
        assert self.session is not None
        return self.session

    async def _handle(self, tag: bytes, payload: bytes) -> bool:
        """Handle one message; True when it failed (the error has been sent)."""
        self.active = tag in (b"Q", b"E", b"D")
        try:
            await self._dispatch(tag, payload)
            return False
        except ClientGone:
            raise
        except Exception as exc:
            self._send_error(exc)
            return True
        finally:
            self.active = False

    def _running(self, sql: str) -> None:
        self.query, self.query_start = sql, datetime.now(UTC)

    def activity(self) -> tuple[Any, ...]:
        """This connection as a pg_stat_activity row."""
        session = self.session
        state = "active" if self.active else {"I": "idle", "T": "idle in transaction",
                                              "E": "idle in transaction (aborted)"}.get(
            session.tx if session is not None else "I", "idle")
        host, _, port = self.stream.peer.rpartition(":")
        ident = session.identity if session is not None else None
        return (None, ident.database if ident else None, self.pid, None, None,
                ident.user if ident else None,
                session.settings.get("application_name") if session is not None else None,
                host, None, int(port) if port.isdigit() else None, self.started, None,
                self.query_start, self.query_start, None, None, state, None, None, None,
                self.query, "client backend")

    def _send_error(self, exc: Exception) -> None:
        fields = error_fields(exc)
        if not isinstance(exc, DistilleryError):
            log.exception("internal error in %s", self.stream.peer, exc_info=exc)
        self._session.failed()
        self.stream.write(messages.make_error_response(fields))

    async def _dispatch(self, tag: bytes, payload: bytes) -> None:
        session = self._session
        if tag == b"Q":
            await self._simple(messages.parse_query(payload))
        elif tag == b"P":
            parsed = messages.parse_parse(payload)
            session.parse(parsed.statement_name, parsed.sql, parsed.param_oids)
            self.stream.write(messages.make_parse_complete())
        elif tag == b"B":
            bound = messages.parse_bind(payload)
            session.bind(bound.portal_name, bound.statement_name, bound.param_format_codes,
                         bound.params, bound.result_format_codes)
            self._encoders.pop(bound.portal_name, None)
            self.stream.write(messages.make_bind_complete())
        elif tag == b"D":
            await self._describe(messages.parse_describe(payload))
        elif tag == b"E":
            parsed = messages.parse_execute(payload)
            await self._execute(parsed.portal_name, parsed.max_rows)
        elif tag == b"C":
            await self._close(messages.parse_close(payload))
        elif tag == b"S":
            session.sync()
        elif tag == b"H":
            await self.stream.drain()
        else:
            raise QueryError(f"unsupported protocol message {tag!r}", sqlstate="08P01")

    # Simple query protocol --------------------------------------------------------------------

    async def _simple(self, sql: str) -> None:
        statements = lexer.split(sql)
        if not statements:
            self.stream.write(messages.make_empty_query_response())
            return
        for text in statements:
            self._running(text)
            self._session.begin_statement()
            for result in await self._call(self._session.run, text, []):
                await self._send(result, self._encoder(result, []), self._session.stream(result))

    def _encoder(self, result: WireResult, formats: list[int]) -> RowEncoder | None:
        if result.schema is None:
            return None
        return RowEncoder(result.schema, [1] if result.binary else formats,
                          self._session.encode_options(result))

    async def _send(self, result: WireResult, encoder: RowEncoder | None, rows: RowStream,
                    *, describe: bool = True, limit: int = 0, first: bool = True) -> None:
        """Send a result: notices, RowDescription, rows, then the tag (or PortalSuspended)."""
        if first:
            for severity, code, message in result.notices:
                self.stream.write(messages.make_notice_response(
                    {"S": severity, "V": severity, "C": code, "M": message}))
        if encoder is not None:
            if describe:
                self.stream.write(row_description(encoder))
            if await self._stream_rows(rows, encoder, limit):
                self.stream.write(messages.make_portal_suspended())
                return
        tag = f"{result.tag} {rows.sent}" if result.counted and encoder is not None \
            else result.tag
        self.stream.write(messages.make_command_complete(tag))
        for name, value in result.parameter_status.items():
            self.stream.write(messages.make_parameter_status(name, value))

    async def _stream_rows(self, rows: RowStream, encoder: RowEncoder, limit: int) -> bool:
        """Send rows until the result ends (False) or `limit` rows went out (True)."""
        sent = 0
        while limit <= 0 or sent < limit:
            data, count = await self._call(_next_chunk, rows, encoder,
                                           limit - sent if limit > 0 else 0)
            if count == 0:
                return False
            self.stream.write(data)
            await self.stream.drain()
            sent += count
        return True

    # Extended query protocol ------------------------------------------------------------------

    async def _describe(self, parsed: Any) -> None:
        session = self._session
        if parsed.kind == messages.TARGET_STATEMENT:
            statement = session.statement(parsed.name)
            schema = await self._call(session.describe_statement, parsed.name)
            self.stream.write(messages.make_parameter_description(
                [oid or 25 for oid in statement.param_oids]))
            if schema is None:
                self.stream.write(messages.make_no_data())
            else:
                self.stream.write(row_description(RowEncoder(schema, [],
                                                             session.encode_options())))
            return
        cursor = session.cursors.get(parsed.name)
        if parsed.name not in session.portals and cursor is not None:
            # A cursor opened by DECLARE is a portal too (psycopg describes it by name).
            self.stream.write(row_description(RowEncoder(
                cursor.schema, [1] if cursor.binary else [], session.encode_options())))
            return
        await self._start(parsed.name)
        encoder = self._portal_encoder(parsed.name)
        self.stream.write(row_description(encoder) if encoder is not None
                          else messages.make_no_data())

    async def _start(self, name: str) -> Any:
        self._session.begin_statement()
        return await self._call(self._session.start_portal, name)

    def _portal_encoder(self, name: str) -> RowEncoder | None:
        if name not in self._encoders:
            portal = self._session.portal(name)
            assert portal.result is not None
            if portal.result.schema is None:
                return None
            formats = [1] if portal.result.binary else portal.formats
            options = replace(portal.options, pg_arrays=portal.result.catalog)
            self._encoders[name] = RowEncoder(portal.result.schema, formats, options)
        return self._encoders[name]

    async def _execute(self, name: str, max_rows: int) -> None:
        portal = self._session.portal(name)
        self._running(portal.statement.sql)
        first = portal.result is None
        portal = await self._start(name)
        if not portal.statement.sql:
            self.stream.write(messages.make_empty_query_response())
            return
        assert portal.result is not None and portal.stream is not None
        await self._send(portal.result, self._portal_encoder(name), portal.stream,
                         describe=False, limit=max_rows, first=first)

    async def _close(self, parsed: Any) -> None:
        if parsed.kind == messages.TARGET_STATEMENT:
            self._session.statements.pop(parsed.name, None)
        else:
            self._session.close_portal(parsed.name)
            self._encoders.pop(parsed.name, None)
        self.stream.write(messages.make_close_complete())


def _next_chunk(rows: RowStream, encoder: RowEncoder, limit: int) -> tuple[bytes, int]:
    piece = rows.next_piece(limit)
    if piece is None:
        return b"", 0
    return encoder.encode(piece), piece.num_rows


def row_description(encoder: RowEncoder) -> bytes:
    """The RowDescription message of an encoder's columns."""
    return messages.make_row_description([
        FieldSpec(name=c.name, oid=c.type.oid, type_size=c.type.size,
                  type_modifier=c.type.typmod, format_code=c.format)
        for c in encoder.columns])
