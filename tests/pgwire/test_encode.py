"""Arrow batches as DataRow messages, and Bind values as Python values."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from distillery.errors import QueryError
from distillery.sql.pgwire import params, pgtypes
from distillery.sql.pgwire.encode import EncodeOptions, RowEncoder
from distillery.sql.pgwire.results import RowStream, WireResult


def data_rows(buffer: bytes) -> list[list[bytes | None]]:
    """Parse concatenated DataRow messages (and check every length field)."""
    rows, i = [], 0
    while i < len(buffer):
        assert buffer[i:i + 1] == b"D"
        length, count = struct.unpack("!ih", buffer[i + 1:i + 7])
        j, values = i + 7, []
        for _ in range(count):
            size = struct.unpack("!i", buffer[j:j + 4])[0]
            j += 4
            values.append(None if size < 0 else buffer[j:j + size])
            j += max(size, 0)
        assert j == i + 1 + length
        rows.append(values)
        i = j
    return rows


BATCH = pa.record_batch({
    "i": pa.array([1, None, -3], pa.int64()),
    "s": pa.array(["a", "bé", None]),
    "f": pa.array([0.5, float("nan"), float("-inf")]),
    "b": pa.array([True, None, False]),
    "d": pa.array([Decimal("1.50"), None, Decimal("-2.00")], pa.decimal128(5, 2)),
    "t": pa.array([datetime(2024, 1, 1, 10, 0, 0, 500000, tzinfo=UTC), None,
                   datetime(2024, 7, 1, tzinfo=UTC)], pa.timestamp("us", tz="UTC")),
    "n": pa.array([datetime(2024, 1, 1, 10), None, datetime(2024, 1, 1, 10, 0, 1, 120)]),
    "dt": pa.array([date(2024, 1, 2), None, date(1999, 12, 31)]),
    "st": pa.array([{"x": 1, "y": "z"}, None, {"x": None, "y": "q"}]),
    "by": pa.array([b"\x00\xff", None, b""]),
})


def test_text_format_matches_postgres_output() -> None:
    encoder = RowEncoder(BATCH.schema)
    assert [c.type.oid for c in encoder.columns] == [
        pgtypes.INT8, pgtypes.TEXT, pgtypes.FLOAT8, pgtypes.BOOL, pgtypes.NUMERIC,
        pgtypes.TIMESTAMPTZ, pgtypes.TIMESTAMP, pgtypes.DATE, pgtypes.JSON, pgtypes.BYTEA]
    assert encoder.columns[4].type.typmod == pgtypes.numeric_typmod(5, 2)
    assert data_rows(encoder.encode(BATCH)) == [
        [b"1", b"a", b"0.5", b"t", b"1.50", b"2024-01-01 10:00:00.5+00",
         b"2024-01-01 10:00:00", b"2024-01-02", b'{"x":1,"y":"z"}', b"\\x00ff"],
        [None, "bé".encode(), b"NaN", None, None, None, None, None, None, None],
        [b"-3", None, b"-Infinity", b"f", b"-2.00", b"2024-07-01 00:00:00+00",
         b"2024-01-01 10:00:01.00012", b"1999-12-31", b'{"x":null,"y":"q"}', b"\\x"]]


def test_timestamps_follow_the_session_time_zone() -> None:
    encoder = RowEncoder(BATCH.schema, [], EncodeOptions(timezone="Asia/Kolkata"))
    assert [r[5] for r in data_rows(encoder.encode(BATCH))] == [
        b"2024-01-01 15:30:00.5+05:30", None, b"2024-07-01 05:30:00+05:30"]


def test_binary_format_of_fixed_width_types() -> None:
    batch = BATCH.select(["i", "f", "b", "dt", "t"])
    rows = data_rows(RowEncoder(batch.schema, [1]).encode(batch))
    assert struct.unpack("!q", rows[0][0])[0] == 1 and rows[1][0] is None
    assert struct.unpack("!d", rows[0][1])[0] == 0.5
    assert rows[0][2] == b"\x01" and rows[2][2] == b"\x00"
    assert struct.unpack("!i", rows[0][3])[0] == (date(2024, 1, 2) - date(2000, 1, 1)).days
    micros = struct.unpack("!q", rows[2][4])[0]
    assert micros == int((datetime(2024, 7, 1, tzinfo=UTC)
                          - datetime(2000, 1, 1, tzinfo=UTC)).total_seconds() * 1_000_000)


def test_sliced_batches_encode_only_their_rows() -> None:
    sliced = BATCH.slice(1, 2)
    rows = data_rows(RowEncoder(sliced.schema).encode(sliced))
    assert [r[0] for r in rows] == [None, b"-3"]


def test_invalid_format_code_is_refused() -> None:
    with pytest.raises(QueryError) as info:
        RowEncoder(BATCH.schema, [2])
    assert info.value.sqlstate == "22023"


def test_row_stream_pulls_one_batch_at_a_time() -> None:
    pulled = []

    def batches() -> Iterator[pa.RecordBatch]:
        for i in range(1_000):
            pulled.append(i)
            yield pa.record_batch({"x": pa.array(range(i * 10, i * 10 + 10))})

    result = WireResult("SELECT", pa.schema([("x", pa.int64())]), batches())
    stream = RowStream(result)
    piece = stream.next_piece(25)
    assert piece is not None and piece.num_rows == 10 and pulled == [0]
    assert stream.next_piece(5).num_rows == 5 and pulled == [0, 1]
    assert stream.next_piece(0).num_rows == 5 and pulled == [0, 1]


def test_row_stream_stops_on_cancel() -> None:
    result = WireResult("SELECT", pa.schema([("x", pa.int64())]),
                        iter([pa.record_batch({"x": [1]})]))
    with pytest.raises(QueryError) as info:
        RowStream(result, cancelled=lambda: True).next_piece()
    assert info.value.sqlstate == "57014"


@pytest.mark.parametrize(("raw", "oid", "fmt", "value"), [
    (b"42", pgtypes.INT8, 0, 42),
    (struct.pack("!i", -7), pgtypes.INT4, 1, -7),
    (b"t", pgtypes.BOOL, 0, True),
    (b"1.50", pgtypes.NUMERIC, 0, Decimal("1.50")),
    (struct.pack("!d", 2.5), pgtypes.FLOAT8, 1, 2.5),
    (b"2024-01-01 10:00:00+02", pgtypes.TIMESTAMPTZ, 0,
     datetime.fromisoformat("2024-01-01T10:00:00+02:00")),
    (b"2024-01-02", pgtypes.DATE, 0, date(2024, 1, 2)),
    (b"{1,2,NULL}", 1016, 0, [1, 2, None]),
    (b"\\x00ff", pgtypes.BYTEA, 0, b"\x00\xff"),
    (b"anything", 0, 0, "anything"),
])
def test_parameters_decode_by_type(raw: bytes, oid: int, fmt: int, value: object) -> None:
    assert params.decode(raw, oid, fmt) == value


def test_parameter_of_the_wrong_type_is_22p02() -> None:
    with pytest.raises(QueryError, match='invalid input syntax for type integer: "abc"') as info:
        params.decode(b"abc", pgtypes.INT4, 0)
    assert info.value.sqlstate == "22P02"
    with pytest.raises(QueryError) as unknown:
        params.decode(b"\x00", 9999, 1)
    assert unknown.value.sqlstate == "0A000"
