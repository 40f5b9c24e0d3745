"""PostgreSQL types: the ones results are sent as, and how Arrow types map onto them.

One table serves both the RowDescription of every result and the emulated `pg_type` catalog,
so the type a client is told a column has is a type the catalog can describe.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.types as pat


@dataclass(frozen=True)
class PgType:
    """A PostgreSQL type as the wire and the catalog name it.

    Attributes:
        oid: pg_type.oid.
        typname: pg_type.typname (`int8`).
        display: format_type's spelling (`bigint`).
        size: typlen (-1 for variable length).
        category: typcategory (N numeric, S string, D date/time, B boolean, U user, A array).
        array_oid: The OID of the array type whose elements are this type.
    """

    oid: int
    typname: str
    display: str
    size: int
    category: str
    array_oid: int


TYPES: dict[int, PgType] = {t.oid: t for t in (
    PgType(16, "bool", "boolean", 1, "B", 1000),
    PgType(17, "bytea", "bytea", -1, "U", 1001),
    PgType(18, "char", '"char"', 1, "S", 1002),
    PgType(19, "name", "name", 64, "S", 1003),
    PgType(20, "int8", "bigint", 8, "N", 1016),
    PgType(21, "int2", "smallint", 2, "N", 1005),
    PgType(23, "int4", "integer", 4, "N", 1007),
    PgType(24, "regproc", "regproc", 4, "N", 1008),
    PgType(25, "text", "text", -1, "S", 1009),
    PgType(26, "oid", "oid", 4, "N", 1028),
    PgType(114, "json", "json", -1, "U", 199),
    PgType(700, "float4", "real", 4, "N", 1021),
    PgType(701, "float8", "double precision", 8, "N", 1022),
    PgType(1043, "varchar", "character varying", -1, "S", 1015),
    PgType(1082, "date", "date", 4, "D", 1182),
    PgType(1083, "time", "time without time zone", 8, "D", 1183),
    PgType(1114, "timestamp", "timestamp without time zone", 8, "D", 1115),
    PgType(1184, "timestamptz", "timestamp with time zone", 8, "D", 1185),
    PgType(1186, "interval", "interval", 16, "T", 1187),
    PgType(1700, "numeric", "numeric", -1, "N", 1231),
    PgType(2205, "regclass", "regclass", 4, "N", 2210),
    PgType(2206, "regtype", "regtype", 4, "N", 2211),
    PgType(2950, "uuid", "uuid", 16, "U", 2951),
    PgType(3802, "jsonb", "jsonb", -1, "U", 3807),
)}
BOOL, BYTEA, INT2, INT4, INT8, TEXT, JSON = 16, 17, 21, 23, 20, 25, 114
FLOAT4, FLOAT8, NUMERIC, DATE, TIME, TIMESTAMP, TIMESTAMPTZ = 700, 701, 1700, 1082, 1083, 1114, 1184
INTERVAL, UUID, JSONB, VARCHAR, OID, NAME = 1186, 2950, 3802, 1043, 26, 19


@dataclass(frozen=True)
class ColumnType:
    """The type one result column is sent as: its OID, type modifier and size."""

    oid: int
    typmod: int = -1

    @property
    def size(self) -> int:
        """typlen of the type (-1 for variable length and arrays)."""
        known = TYPES.get(self.oid)
        return known.size if known is not None else -1


def numeric_typmod(precision: int, scale: int) -> int:
    """PostgreSQL's atttypmod for numeric(precision, scale)."""
    return ((precision << 16) | scale) + 4


def column_type(arrow: pa.DataType, *, json_nested: bool = False,
                pg_arrays: bool = False) -> ColumnType:
    """The PostgreSQL type an Arrow column is sent as.

    Nested values (structs, maps, lists) travel as JSON text; `json_nested` (the session's
    `auto_to_json`) says whether they are declared `json`, which drivers decode into objects,
    or `text`, which they hand over as a string. With `pg_arrays` (catalog results), a list
    of scalars is a PostgreSQL array instead.
    """
    if pg_arrays and (pat.is_list(arrow) or pat.is_large_list(arrow)) and not pat.is_nested(
            arrow.value_type):
        element = column_type(arrow.value_type)
        known = TYPES.get(element.oid)
        return ColumnType(known.array_oid if known else 1009)
    if pat.is_dictionary(arrow):
        return column_type(arrow.value_type, json_nested=json_nested)
    if isinstance(arrow, pa.ExtensionType):
        if arrow.extension_name in ("arrow.uuid", "uuid"):
            return ColumnType(UUID)
        return column_type(arrow.storage_type, json_nested=json_nested)
    for test, oid in _SIMPLE:
        if test(arrow):
            return ColumnType(oid)
    if pat.is_decimal(arrow):
        return ColumnType(NUMERIC, numeric_typmod(arrow.precision, arrow.scale))
    if pat.is_timestamp(arrow):
        return ColumnType(TIMESTAMPTZ if arrow.tz else TIMESTAMP)
    if pat.is_nested(arrow):
        return ColumnType(JSON if json_nested else TEXT)
    return ColumnType(TEXT)


_SIMPLE = (
    (pat.is_boolean, BOOL),
    (lambda t: t in (pa.int8(), pa.int16(), pa.uint8()), INT2),
    (lambda t: t in (pa.int32(), pa.uint16()), INT4),
    (lambda t: t in (pa.int64(), pa.uint32()), INT8),
    (lambda t: t == pa.uint64(), NUMERIC),
    (lambda t: t in (pa.float16(), pa.float32()), FLOAT4),
    (pat.is_float64, FLOAT8),
    (lambda t: pat.is_string(t) or pat.is_large_string(t) or pat.is_string_view(t), TEXT),
    (lambda t: pat.is_binary(t) or pat.is_large_binary(t) or pat.is_binary_view(t)
     or pat.is_fixed_size_binary(t), BYTEA),
    (pat.is_date, DATE),
    (pat.is_time, TIME),
    (lambda t: pat.is_duration(t) or pat.is_interval(t), INTERVAL),
    (pat.is_null, TEXT),
)


def display_name(oid: int, typmod: int = -1) -> str:
    """format_type(oid, typmod): the name psql shows for a column's type."""
    known = TYPES.get(oid)
    if known is None:
        element = next((t for t in TYPES.values() if t.array_oid == oid), None)
        return f"{element.display}[]" if element is not None else "unknown"
    if oid == NUMERIC and typmod >= 4:
        precision, scale = (typmod - 4) >> 16, (typmod - 4) & 0xFFFF
        return f"numeric({precision},{scale})"
    return known.display
