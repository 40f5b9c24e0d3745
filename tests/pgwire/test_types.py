"""Values through psycopg 3 and psycopg2: type OIDs, text and binary results, every common
parameter type bound as a value, and hostile strings that stay strings."""

from __future__ import annotations

import json
import struct
from datetime import UTC, date, datetime
from decimal import Decimal

import psycopg2
import pytest
from psycopg.types.json import Json, Jsonb

from distillery import Platform
from distillery.sql.pgwire import ServerThread, connection_info, pgtypes
from tests.pgwire import raw
from tests.pgwire.conftest import connect, dsn, psql
from tests.pgwire.raw import RawClient
from tests.pgwire.test_lexer import HOSTILE

TYPED = ("SELECT CAST(1 AS TINYINT) AS i1, CAST(2 AS SMALLINT) AS i2, CAST(3 AS INT) AS i4, "
         "CAST(4 AS BIGINT) AS i8, CAST(1.5 AS FLOAT) AS f4, CAST(2.25 AS DOUBLE) AS f8, "
         "CAST(12.345 AS DECIMAL(10, 3)) AS d, true AS b, 'text' AS s, "
         "CAST('2024-02-29' AS DATE) AS dt, CAST('2024-01-01 10:00:00' AS TIMESTAMP) AS ts, "
         "CAST('2024-01-01 10:00:00' AS TIMESTAMP_NTZ) AS tsn, "
         "named_struct('a', 1, 'm', map('k', array(1, 2))) AS nested, "
         "CAST(NULL AS INT) AS missing")
OIDS = {"i1": pgtypes.INT2, "i2": pgtypes.INT2, "i4": pgtypes.INT4, "i8": pgtypes.INT8,
        "f4": pgtypes.FLOAT4, "f8": pgtypes.FLOAT8, "d": pgtypes.NUMERIC, "b": pgtypes.BOOL,
        "s": pgtypes.TEXT, "dt": pgtypes.DATE, "ts": pgtypes.TIMESTAMPTZ,
        "tsn": pgtypes.TIMESTAMP, "nested": pgtypes.JSON, "missing": pgtypes.INT4}


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_result_types_and_values_match_in_process(server: ServerThread, local: Platform,
                                                  binary: bool) -> None:
    expected = local.query(TYPED).rows()[0]
    with connect(server) as conn:
        cur = conn.cursor(binary=binary)
        cur.execute(TYPED)
        row = cur.fetchone()
        assert {d.name: d.type_code for d in cur.description} == OIDS
    assert row is not None
    for got, want, name in zip(row, expected, OIDS, strict=True):
        if name == "nested":  # JSON, which drivers decode
            assert got == {"a": 1, "m": {"k": [1, 2]}}
        else:
            assert got == want, name


PARAMS = [
    ("int", 42), ("big int", 2**62), ("negative", -7), ("float", 1.25), ("decimal",
                                                                           Decimal("123.4500")),
    ("bool", True), ("text", "plain"), ("date", date(2024, 2, 29)),
    ("timestamptz", datetime(2024, 1, 1, 10, 30, tzinfo=UTC)),
    ("timestamp", datetime(2024, 1, 1, 10, 30)), ("bytes", b"\x00\x01\xff"),
    ("null", None), ("list", [1, 2, 3]),
]


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
@pytest.mark.parametrize(("name", "value"), PARAMS, ids=[p[0] for p in PARAMS])
def test_parameters_are_bound_as_typed_values(server: ServerThread, name: str, value: object,
                                              binary: bool) -> None:
    with connect(server) as conn:
        got = conn.execute("SELECT %s AS v", [value], binary=binary).fetchone()
    assert got == (value,)  # a list comes back as JSON, which the driver decodes


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_strings_through_psycopg3_are_values(server: ServerThread, local: Platform,
                                                     value: str) -> None:
    total = local.query("SELECT count(*) FROM experience_events").scalar()
    with connect(server) as conn:
        echoed = conn.execute("SELECT %s AS v", [value]).fetchone()
        matched = conn.execute("SELECT count(*) FROM experience_events WHERE eventType = %s",
                               [value]).fetchone()
        after = conn.execute("SELECT count(*) FROM experience_events").fetchone()
    assert echoed == (value,) and matched == (0,) and after == (total,)


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_strings_interpolated_by_psycopg2_stay_strings(server: ServerThread,
                                                               value: str) -> None:
    # psycopg2 pastes escaped literals into the text: the server must read them as PostgreSQL
    # does, or a trailing backslash would end the string early.
    with psycopg2.connect(dsn(server)) as conn, conn.cursor() as cur:
        cur.execute("SELECT %s AS v, %s AS n", (value, 7))
        assert cur.fetchall() == [(value, 7)]


def test_hostile_strings_as_psql_variables_stay_strings(server: ServerThread) -> None:
    # psql quotes :'v' with PQescapeLiteral (E'...' when there are backslashes).
    script = "".join(f"\\set v{i} '{_psql_quoted(v)}'\nSELECT :'v{i}' = {_pg_literal(v)};\n"
                     for i, v in enumerate(HOSTILE) if "\n" not in v)
    result = psql(server, stdin=script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["t"] * sum("\n" not in v for v in HOSTILE)


def _psql_quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _pg_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def test_bad_parameter_values_are_errors_and_the_session_goes_on(server: ServerThread) -> None:
    client = RawClient(server.port)
    try:
        info = connection_info(server.server.home, port=server.port)
        assert client.login(info.user, info.password)[-1][0] == b"Z"
        client.send(raw.parse("SELECT $1 + 1 AS v", oids=(pgtypes.INT4,)) +
                    raw.bind(values=(b"not a number",)) + raw.execute() + raw.sync())
        replies = client.read_until(b"Z")
        errors = [raw.error_code(p) for t, p in replies if t == b"E"]
        assert errors == ["22P02"]
        client.send(raw.parse("SELECT $1 + 1 AS v", oids=(pgtypes.INT4,)) +
                    raw.bind(values=(b"41",)) + raw.execute() + raw.sync())
        rows = [p for t, p in client.read_until(b"Z") if t == b"D"]
        assert rows == [struct.pack("!hi", 1, 2) + b"42"]
    finally:
        client.close()


def test_json_parameters_are_bound_as_json_text(server: ServerThread) -> None:
    document = {"a": [1, 2], "b": "it's \\ here"}
    with connect(server) as conn:
        for adapter in (Json, Jsonb):
            got = conn.execute("SELECT %s AS j", [adapter(document)]).fetchone()[0]
            assert json.loads(got) == document
