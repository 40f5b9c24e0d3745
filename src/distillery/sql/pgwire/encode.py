"""Arrow record batches as PostgreSQL DataRow messages, in text or binary format.

Results can be millions of rows, so nothing here loops over rows in Python: each column is
turned into its wire bytes with Arrow compute (text) or NumPy (binary), and the DataRow
messages of a whole batch are joined by Arrow's element-wise binary join into one buffer
(header, then length and bytes of each value). Only rare types (bytea and intervals in text,
numeric in binary) take a per-value path. Nested values become JSON with DuckDB's `to_json`,
vectorised as well.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.types as pat
from pg_mimic.arrays import format_array_literal, is_array_oid
from pg_mimic.types import encode_value, encode_value_binary

from distillery.errors import QueryError
from distillery.sql.pgwire import pgtypes
from distillery.sql.pgwire.pgtypes import ColumnType

_PG_EPOCH_DAYS = 10_957  # 2000-01-01 in days since 1970-01-01
_PG_EPOCH_MICROS = _PG_EPOCH_DAYS * 86_400 * 1_000_000
_local = threading.local()


@dataclass(frozen=True)
class Column:
    """One result column as RowDescription announces it."""

    name: str
    type: ColumnType
    format: int  # 0 text, 1 binary


@dataclass(frozen=True)
class EncodeOptions:
    """How values are written.

    Attributes:
        timezone: The session's TimeZone: timestamptz text is in local time with its offset.
        json_nested: Nested values (JSON text) are declared `json`, so drivers decode them.
        pg_arrays: Lists of scalars are PostgreSQL arrays (catalog results).
    """

    timezone: str = "UTC"
    json_nested: bool = True
    pg_arrays: bool = False


class RowEncoder:
    """Encodes the batches of one result with fixed columns and formats."""

    def __init__(self, schema: pa.Schema, formats: list[int] | None = None,
                 options: EncodeOptions | None = None) -> None:
        self.options = options or EncodeOptions()
        codes = formats or []
        self.columns = [
            Column(f.name, pgtypes.column_type(f.type, json_nested=self.options.json_nested,
                                               pg_arrays=self.options.pg_arrays),
                   _format_for(codes, i))
            for i, f in enumerate(schema)
        ]

    def encode(self, batch: pa.RecordBatch) -> bytes:
        """The DataRow messages of every row of `batch`, concatenated."""
        if batch.num_rows == 0:
            return b""
        values = [self._values(batch.column(i), col) for i, col in enumerate(self.columns)]
        return _assemble(values, batch.num_rows)

    def _values(self, array: pa.Array, column: Column) -> pa.Array:
        if column.format == 1:
            return _binary(array, column.type)
        if is_array_oid(column.type.oid):
            return _per_value(array, lambda v: format_array_literal(column.type.oid, v))
        return _text(array, self.options)


def _format_for(codes: list[int], index: int) -> int:
    # Bind sends no codes (all text), one (for every column) or one per column.
    if not codes:
        return 0
    code = codes[0] if len(codes) == 1 else codes[index]
    if code not in (0, 1):
        raise QueryError(f"invalid result format code {code}", sqlstate="22023")
    return code


# Text format ----------------------------------------------------------------------------------


def _text(array: pa.Array, options: EncodeOptions) -> pa.Array:
    """The PostgreSQL text form of every value of `array`, as a binary array."""
    kind = array.type
    if pat.is_dictionary(kind):
        return _text(array.dictionary_decode(), options)
    if isinstance(kind, pa.ExtensionType):
        return _per_value(array, lambda v: str(v))
    if pat.is_null(kind):
        return pa.nulls(len(array), pa.binary())
    if pat.is_boolean(kind):
        return pc.if_else(array, "t", "f").cast(pa.binary())
    if pat.is_floating(kind):
        return _float_text(array)
    if pat.is_integer(kind) or pat.is_decimal(kind) or pat.is_date(kind):
        return pc.cast(array, pa.string()).cast(pa.binary())
    if pat.is_string(kind) or pat.is_large_string(kind) or pat.is_string_view(kind):
        return array.cast(pa.string()).cast(pa.binary())
    if pat.is_timestamp(kind):
        return _timestamp_text(array, options.timezone)
    if pat.is_time(kind):
        return _trim_fraction(pc.cast(array, pa.string()))
    if pat.is_nested(kind):
        return _json_text(array)
    if pat.is_binary(kind) or pat.is_large_binary(kind) or pat.is_fixed_size_binary(kind):
        return _per_value(array, lambda v: "\\x" + bytes(v).hex())
    return _per_value(array, lambda v: encode_value(pgtypes.TEXT, v))


def _float_text(array: pa.Array) -> pa.Array:
    text = pc.cast(array, pa.string())
    text = pc.if_else(pc.is_nan(array), "NaN", text)
    text = pc.if_else(pc.equal(array, float("inf")), "Infinity", text)
    text = pc.if_else(pc.equal(array, float("-inf")), "-Infinity", text)
    return text.cast(pa.binary())


def _timestamp_text(array: pa.Array, timezone: str) -> pa.Array:
    # PostgreSQL keeps microseconds; a nanosecond value is cut to them.
    array = array.cast(pa.timestamp("us", tz=array.type.tz), safe=False)
    if array.type.tz is None:
        return _wall_clock(array)
    local = pc.local_timestamp(array.cast(pa.timestamp("us", tz=timezone)))
    offsets = (_int64(local) - _int64(array)) // 1_000_000
    return pc.binary_join_element_wise(_wall_clock(local), _offsets_text(offsets), b"")


def _int64(array: pa.Array) -> np.ndarray:
    return pc.fill_null(array.cast(pa.int64()), 0).to_numpy()


def _offsets_text(seconds: np.ndarray) -> pa.Array:
    """UTC offsets as PostgreSQL prints them: +00, -05, +05:30."""
    unique, index = np.unique(seconds, return_inverse=True)
    names = []
    for offset in unique.tolist():
        hours, minutes = divmod(abs(int(offset)) // 60, 60)
        sign = "-" if offset < 0 else "+"
        names.append(f"{sign}{hours:02d}" + (f":{minutes:02d}" if minutes else ""))
    return pa.array(names, pa.binary()).take(pa.array(index))


def _wall_clock(naive: pa.Array) -> pa.Array:
    # PostgreSQL prints `10:00:00.5`, not `10:00:00.500000`, and no fraction when it is zero.
    if not (_int64(naive) % 1_000_000).any():
        return pc.cast(naive.cast(pa.timestamp("s")), pa.string()).cast(pa.binary())
    return _trim_fraction(pc.cast(naive, pa.string()))


def _trim_fraction(text: pa.Array) -> pa.Array:
    text = pc.replace_substring_regex(text, r"(\.\d*[1-9])0+$", r"\1")
    return pc.replace_substring_regex(text, r"\.0+$", "").cast(pa.binary())


def _json_text(array: pa.Array) -> pa.Array:
    con = getattr(_local, "duckdb", None)
    if con is None:
        con = _local.duckdb = duckdb.connect()
    con.register("__pgwire_values", pa.table({"v": array}))
    try:
        out = con.sql("SELECT to_json(v)::VARCHAR AS j FROM __pgwire_values").to_arrow_table()
    finally:
        con.unregister("__pgwire_values")
    return out.column(0).combine_chunks().cast(pa.binary())


def _per_value(array: pa.Array, fn: Callable[[Any], str]) -> pa.Array:
    return pa.array([None if v is None else fn(v).encode() for v in array.to_pylist()],
                    pa.binary())


# Binary format --------------------------------------------------------------------------------

_FIXED = {pgtypes.INT2: ">i2", pgtypes.INT4: ">i4", pgtypes.INT8: ">i8",
          pgtypes.FLOAT4: ">f4", pgtypes.FLOAT8: ">f8"}


def _binary(array: pa.Array, column: ColumnType) -> pa.Array:
    oid = column.oid
    if pat.is_dictionary(array.type):
        array = array.dictionary_decode()
    if oid in _FIXED:
        return _fixed(array, _FIXED[oid])
    if oid == pgtypes.BOOL:
        return _fixed(array.cast(pa.uint8()), ">u1")
    if oid == pgtypes.DATE:
        return _fixed(pc.subtract(array.cast(pa.date32()).cast(pa.int32()), _PG_EPOCH_DAYS),
                      ">i4")
    if oid in (pgtypes.TIMESTAMP, pgtypes.TIMESTAMPTZ):
        micros = array.cast(pa.timestamp("us", tz=array.type.tz), safe=False).cast(pa.int64())
        return _fixed(pc.subtract(micros, _PG_EPOCH_MICROS), ">i8")
    if oid == pgtypes.TIME:
        return _fixed(array.cast(pa.time64("us")).cast(pa.int64()), ">i8")
    if oid in (pgtypes.TEXT, pgtypes.JSON):
        return _text(array, EncodeOptions())
    if oid == pgtypes.BYTEA and not isinstance(array.type, pa.ExtensionType):
        return array.cast(pa.binary())
    return _binary_per_value(array, oid)


def _binary_per_value(array: pa.Array, oid: int) -> pa.Array:
    def encode(value: Any) -> bytes:
        if oid == pgtypes.NUMERIC and not isinstance(value, Decimal):
            value = Decimal(value)
        if oid == pgtypes.INTERVAL and not isinstance(value, timedelta):
            raise ValueError("interval")
        return encode_value_binary(oid, value)

    try:
        return pa.array([None if v is None else encode(v) for v in array.to_pylist()],
                        pa.binary())
    except (ValueError, TypeError):
        raise QueryError(f"binary format is not supported for a column of type {array.type}; "
                         "ask for text format", sqlstate="0A000") from None


# Assembly -------------------------------------------------------------------------------------


def _fixed(array: pa.Array, dtype: str) -> pa.Array:
    """Fixed-width big-endian values (NULL stays NULL) as a binary array."""
    filled = pc.fill_null(array, 0) if array.null_count else array
    data = np.ascontiguousarray(filled.to_numpy(zero_copy_only=False).astype(dtype))
    width = data.dtype.itemsize
    fixed = pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), len(array),
                                                 [None, pa.py_buffer(data.tobytes())])
    if array.null_count:
        fixed = pc.if_else(array.is_valid(), fixed, pa.scalar(None, pa.binary(width)))
    return fixed.cast(pa.binary())


def _big_endian(values: np.ndarray, dtype: str) -> pa.Array:
    raw = np.ascontiguousarray(values.astype(dtype))
    width = raw.dtype.itemsize
    return pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(width), len(values), [None, pa.py_buffer(raw.tobytes())]).cast(pa.binary())


def _assemble(columns: list[pa.Array], n: int) -> bytes:
    """DataRow messages ('D', Int32 length, Int16 count, then Int32 size + bytes per value),
    joined per row by Arrow; the joined array's data buffer is the messages back to back."""
    parts: list[pa.Array] = []
    body = np.full(n, 6, dtype=np.int64)
    for values in columns:
        sizes = pc.fill_null(pc.binary_length(values), -1).to_numpy().astype(np.int64)
        body += 4 + np.maximum(sizes, 0)
        parts += [_big_endian(sizes, ">i4"), values]
    header = np.empty((n, 7), dtype=np.uint8)
    header[:, 0] = ord("D")
    header[:, 1:5] = np.asarray(body, ">i4").view(np.uint8).reshape(n, 4)
    header[:, 5:7] = np.asarray(np.full(n, len(columns)), ">i2").view(np.uint8).reshape(n, 2)
    first = pa.FixedSizeBinaryArray.from_buffers(pa.binary(7), n, [None, pa.py_buffer(
        header.tobytes())]).cast(pa.binary())
    if int(body.sum()) + n >= 2**31:
        first, parts = first.cast(pa.large_binary()), [p.cast(pa.large_binary()) for p in parts]
    joined = pc.binary_join_element_wise(first, *parts, b"", null_handling="replace",
                                         null_replacement=b"")
    width = np.int64 if pat.is_large_binary(joined.type) else np.int32
    offsets = np.frombuffer(joined.buffers()[1], dtype=width, count=n + 1,
                            offset=joined.offset * np.dtype(width).itemsize)
    start, end = int(offsets[0]), int(offsets[-1])
    return joined.buffers()[2].slice(start, end - start).to_pybytes()
