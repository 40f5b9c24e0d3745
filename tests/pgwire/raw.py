"""A minimal PostgreSQL protocol client, for what drivers do not let a test do on purpose:
send SQL before logging in, Execute with a row limit, pipeline an error before Sync."""

from __future__ import annotations

import socket
import struct

from scramp import ScramClient

Message = tuple[bytes, bytes]


def message(tag: bytes, body: bytes = b"") -> bytes:
    """A frontend message: tag, Int32 length, body."""
    return tag + struct.pack("!i", len(body) + 4) + body


class RawClient:
    """One socket to the server; messages are sent and read by hand."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.sock = socket.create_connection((host, port), timeout=30)
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def startup(self, user: str, database: str) -> None:
        body = struct.pack("!i", 3 << 16)
        for key, value in (("user", user), ("database", database)):
            body += key.encode() + b"\0" + value.encode() + b"\0"
        body += b"\0"
        self.send(struct.pack("!i", len(body) + 4) + body)

    def read(self) -> Message:
        """The next message, or (b"", b"") when the server closed the connection."""
        while len(self.buffer) < 5 or len(self.buffer) < 1 + struct.unpack(
                "!i", self.buffer[1:5])[0]:
            chunk = self.sock.recv(65536)
            if not chunk:
                return b"", b""
            self.buffer += chunk
        length = struct.unpack("!i", self.buffer[1:5])[0]
        tag, payload = self.buffer[:1], self.buffer[5:1 + length]
        self.buffer = self.buffer[1 + length:]
        return tag, payload

    def read_until(self, tags: bytes) -> list[Message]:
        """Messages up to and including the first whose tag is in `tags`."""
        seen = []
        while True:
            message = self.read()
            seen.append(message)
            if message[0] in tags or message[0] == b"":
                return seen

    def login(self, user: str, password: str, database: str = "prod:all") -> list[Message]:
        """Startup and SCRAM-SHA-256; the messages up to ReadyForQuery (or an error)."""
        self.startup(user, database)
        tag, payload = self.read()
        assert tag == b"R" and struct.unpack("!i", payload[:4])[0] == 10, (tag, payload)
        client = ScramClient(["SCRAM-SHA-256"], user, password)
        first = client.get_client_first().encode()
        self.send(b"p" + struct.pack("!i", 4 + len("SCRAM-SHA-256") + 1 + 4 + len(first))
                  + b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first)
        tag, payload = self.read()
        if tag != b"R":
            return [(tag, payload)]
        client.set_server_first(payload[4:].decode())
        final = client.get_client_final().encode()
        self.send(b"p" + struct.pack("!i", 4 + len(final)) + final)
        return self.read_until(b"ZE")


def query(sql: str) -> bytes:
    return message(b"Q", sql.encode() + b"\0")


def parse(sql: str, name: str = "", oids: tuple[int, ...] = ()) -> bytes:
    body = name.encode() + b"\0" + sql.encode() + b"\0" + struct.pack("!h", len(oids))
    body += b"".join(struct.pack("!i", oid) for oid in oids)
    return message(b"P", body)


def bind(portal: str = "", statement: str = "", values: tuple[bytes, ...] = ()) -> bytes:
    body = portal.encode() + b"\0" + statement.encode() + b"\0" + struct.pack("!h", 0)
    body += struct.pack("!h", len(values))
    for value in values:
        body += struct.pack("!i", len(value)) + value
    body += struct.pack("!h", 0)
    return message(b"B", body)


def describe(kind: bytes, name: str = "") -> bytes:
    return message(b"D", kind + name.encode() + b"\0")


def execute(portal: str = "", max_rows: int = 0) -> bytes:
    return message(b"E", portal.encode() + b"\0" +
                             struct.pack("!i", max_rows))


def sync() -> bytes:
    return message(b"S")


def error_code(payload: bytes) -> str:
    """The SQLSTATE of an ErrorResponse payload."""
    for field in payload.split(b"\0"):
        if field[:1] == b"C":
            return field[1:].decode()
    return ""
