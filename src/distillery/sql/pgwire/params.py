"""Bind parameters: wire bytes (text or binary, by type OID) to Python values bound by the engine.

A parameter whose type the client left open (OID 0, as psycopg does for `str`) stays a string.
A value that does not parse as its declared type is the client's error (22P02), reported like
PostgreSQL reports it.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from pg_mimic.arrays import is_array_oid, parse_array_literal
from pg_mimic.types import decode_binary_param

from distillery.errors import QueryError
from distillery.sql.pgwire import pgtypes

_PG_EPOCH = datetime(2000, 1, 1)
_PG_EPOCH_DATE = date(2000, 1, 1)
_TRUE = {"t", "true", "y", "yes", "on", "1"}
_FALSE = {"f", "false", "n", "no", "off", "0"}
_ARRAY_ELEMENT = {t.array_oid: t.oid for t in pgtypes.TYPES.values()}


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(text)


def _float(text: str) -> float:
    return float({"infinity": "inf", "-infinity": "-inf"}.get(text.strip().lower(), text))


def _timestamptz(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip())
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _bytea(text: str) -> bytes:
    if text.startswith("\\x"):
        return bytes.fromhex(text[2:])
    return text.encode()


_FROM_TEXT: dict[int, Callable[[str], Any]] = {
    pgtypes.BOOL: _bool,
    pgtypes.INT2: int, pgtypes.INT4: int, pgtypes.INT8: int, pgtypes.OID: int,
    pgtypes.FLOAT4: _float, pgtypes.FLOAT8: _float,
    pgtypes.NUMERIC: Decimal,
    pgtypes.DATE: lambda t: date.fromisoformat(t.strip()),
    pgtypes.TIME: lambda t: time.fromisoformat(t.strip()),
    pgtypes.TIMESTAMP: lambda t: datetime.fromisoformat(t.strip()),
    pgtypes.TIMESTAMPTZ: _timestamptz,
    pgtypes.UUID: lambda t: str(uuid.UUID(t.strip())),
    pgtypes.BYTEA: _bytea,
}

_FROM_BINARY: dict[int, Callable[[bytes], Any]] = {
    pgtypes.BOOL: lambda b: b != b"\x00",
    pgtypes.INT2: lambda b: struct.unpack("!h", b)[0],
    pgtypes.INT4: lambda b: struct.unpack("!i", b)[0],
    pgtypes.INT8: lambda b: struct.unpack("!q", b)[0],
    pgtypes.OID: lambda b: struct.unpack("!I", b)[0],
    pgtypes.FLOAT4: lambda b: struct.unpack("!f", b)[0],
    pgtypes.FLOAT8: lambda b: struct.unpack("!d", b)[0],
    pgtypes.BYTEA: bytes,
    pgtypes.DATE: lambda b: _PG_EPOCH_DATE + timedelta(days=struct.unpack("!i", b)[0]),
    pgtypes.TIMESTAMP: lambda b: _PG_EPOCH + timedelta(microseconds=struct.unpack("!q", b)[0]),
    pgtypes.TIMESTAMPTZ: lambda b: (_PG_EPOCH + timedelta(microseconds=struct.unpack("!q", b)[0])
                                    ).replace(tzinfo=UTC),
    pgtypes.UUID: lambda b: str(uuid.UUID(bytes=b)),
}


def decode(value: bytes | None, oid: int, fmt: int) -> Any:
    """One parameter as the Python value the engine binds.

    Raises:
        QueryError: The bytes are not a valid value of type `oid` (22P02), or the client sent
            a binary value of a type this server cannot read (0A000).
    """
    if value is None:
        return None
    try:
        if fmt == 1:
            return _binary(value, oid)
        return from_text(value.decode("utf-8"), oid)
    except QueryError:
        raise
    except (ValueError, InvalidOperation, struct.error, UnicodeDecodeError, OverflowError):
        name = pgtypes.TYPES[oid].display if oid in pgtypes.TYPES else f"OID {oid}"
        shown = value[:60].decode("utf-8", "replace")
        raise QueryError(f'invalid input syntax for type {name}: "{shown}"',
                         sqlstate="22P02") from None


def from_text(text: str, oid: int) -> Any:
    """A parameter in text format, parsed as type `oid` (unknown types stay strings)."""
    if is_array_oid(oid):
        element = _ARRAY_ELEMENT.get(oid, pgtypes.TEXT)
        return _map_nested(parse_array_literal(text), lambda t: from_text(t, element))
    parse = _FROM_TEXT.get(oid)
    return parse(text) if parse is not None else text


def _binary(value: bytes, oid: int) -> Any:
    parse = _FROM_BINARY.get(oid)
    if parse is not None:
        return parse(value)
    if oid in (pgtypes.TEXT, pgtypes.VARCHAR, pgtypes.NAME, 1042, 0, 705):
        return value.decode("utf-8")
    try:
        text = decode_binary_param(oid, value)
    except ValueError:
        raise QueryError(f"binary format is not supported for parameters of type OID {oid}; "
                         "send it as text", sqlstate="0A000") from None
    if is_array_oid(oid):
        element = _ARRAY_ELEMENT.get(oid, pgtypes.TEXT)
        return _map_nested(text, lambda t: from_text(t, element))
    return from_text(text, oid)


def _map_nested(value: Any, fn: Callable[[str], Any]) -> Any:
    if isinstance(value, list):
        return [_map_nested(v, fn) for v in value]
    return None if value is None else fn(value)
