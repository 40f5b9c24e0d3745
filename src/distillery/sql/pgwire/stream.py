"""Message framing on one client socket: a tag byte, an Int32 length, the payload.

Lengths come from the client, so they are capped before anything is allocated: a startup
packet as PostgreSQL caps it (10,000 bytes), other messages at `MAX_MESSAGE` (a query text or
a Bind with large parameters fits easily).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import struct

from distillery.errors import DistilleryError

MAX_STARTUP = 10_000
MAX_MESSAGE = 256 * 1024 * 1024
_INT32 = struct.Struct("!i")


class ClientGone(DistilleryError, ConnectionError):
    """The client closed the connection (or broke the protocol badly enough to drop it)."""


class WireStream:
    """Reads and writes protocol messages on one connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer or "?")
        self.host = peer[0] if isinstance(peer, tuple) else str(peer or "?")

    async def _exactly(self, size: int) -> bytes:
        try:
            return await self.reader.readexactly(size)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            raise ClientGone("client disconnected") from None

    async def read_startup(self) -> tuple[int, bytes]:
        """The untagged first packet: (protocol code or request code, payload)."""
        header = await self._exactly(8)
        length, code = struct.unpack("!ii", header)
        if not 8 <= length <= MAX_STARTUP:
            raise ClientGone(f"invalid startup packet length {length}")
        return code, await self._exactly(length - 8)

    async def read_message(self) -> tuple[bytes, bytes]:
        """One tagged message: (tag, payload)."""
        header = await self._exactly(5)
        length = _INT32.unpack_from(header, 1)[0]
        if not 4 <= length <= MAX_MESSAGE:
            raise ClientGone(f"invalid message length {length}")
        return header[:1], await self._exactly(length - 4)

    def write(self, data: bytes) -> None:
        """Queue bytes for the client."""
        self.writer.write(data)

    async def drain(self) -> None:
        """Wait until the client has taken what was queued (backpressure for large results)."""
        try:
            await self.writer.drain()
        except (ConnectionError, OSError):
            raise ClientGone("client disconnected") from None

    async def start_tls(self, context: ssl.SSLContext) -> None:
        """Upgrade the connection to TLS (after answering an SSLRequest with 'S')."""
        await self.writer.start_tls(context)

    @property
    def tls(self) -> bool:
        """Whether the connection is encrypted."""
        return self.writer.get_extra_info("ssl_object") is not None

    async def close(self) -> None:
        """Close the socket."""
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError, ssl.SSLError):
            await self.writer.wait_closed()
