"""The catalog queries of psql's describe commands and of drivers and BI tools."""

from __future__ import annotations

import psycopg
import pytest

from distillery import Platform
from distillery.sql.pgwire import ServerThread, pgtypes
from tests.pgwire.conftest import connect, dsn, psql, psql_rows


def test_psql_dt_lists_the_datasets(server: ServerThread, local: Platform) -> None:
    rows = psql_rows(server, r"\dt")
    assert sorted(r[1] for r in rows) == sorted(d.table_name for d in local.datasets())
    assert {(r[0], r[2], r[3]) for r in rows} == {("public", "table", "distillery")}


def test_psql_d_describes_a_table(server: ServerThread, local: Platform) -> None:
    result = psql(server, "-c", r"\d experience_events")
    assert result.returncode == 0, result.stderr
    lines = [line.split("|") for line in result.stdout.splitlines() if "|" in line]
    arrow = local.dataset("experience_events").schema.to_arrow()
    assert [cols[0] for cols in lines] == arrow.names
    types = {cols[0]: cols[1] for cols in lines}
    assert types["timestamp"] == "timestamp with time zone"
    assert types["eventType"] == "text" and types["web"] == "json"
    assert psql(server, "-c", r"\d+ experience_events").returncode == 0


@pytest.mark.parametrize("command", [r"\dn", r"\l", r"\du", r"\dv", r"\df", r"\dT"])
def test_other_describe_commands_answer(server: ServerThread, command: str) -> None:
    result = psql(server, "-c", command)
    assert result.returncode == 0, result.stderr


def test_psql_d_of_a_missing_table_says_so(server: ServerThread) -> None:
    result = psql(server, "-c", r"\d no_such_table")  # -q: psql fails without a message
    assert result.returncode == 1 and result.stdout == ""
    assert psql(server, "-c", r"\d profiles").returncode == 0


def test_information_schema_for_bi_tools(server: ServerThread, local: Platform) -> None:
    with connect(server) as conn:
        tables = conn.execute("SELECT table_schema, table_name, table_type FROM "
                              "information_schema.tables WHERE table_schema = 'public' "
                              "ORDER BY table_name").fetchall()
        columns = conn.execute("SELECT column_name, data_type, udt_name FROM "
                               "information_schema.columns WHERE table_name = %s "
                               "ORDER BY ordinal_position", ["profiles"]).fetchall()
    assert tables == sorted(("public", d.table_name, "BASE TABLE") for d in local.datasets())
    assert [c[0] for c in columns] == local.dataset("profiles").schema.to_arrow().names


def test_pg_type_and_regclass_lookups(server: ServerThread) -> None:
    with connect(server) as conn:
        info = psycopg.types.TypeInfo.fetch(conn, "numeric")
        assert info is not None and info.oid == pgtypes.NUMERIC
        oid = conn.execute("SELECT 'experience_events'::regclass::oid").fetchone()[0]
        names = conn.execute("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                             "WHERE attrelid = %s AND attnum > 0 ORDER BY attnum",
                             [oid]).fetchall()
    assert names[0] == ("_id", "text") and ("timestamp", "timestamp with time zone") in names


def test_a_table_database_shows_only_that_table(server: ServerThread) -> None:
    rows = psql_rows(server, r"\dt", conninfo=dsn(server, table="profiles"))
    assert [r[1] for r in rows] == ["profiles"]
    with psycopg.connect(dsn(server, table="profiles"), autocommit=True) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("prod:profiles",)


@pytest.mark.parametrize("dbname", ["nosuch:all", "prod:no_such_table", "Bad Name"])
def test_unknown_database_is_refused(server: ServerThread, dbname: str) -> None:
    with pytest.raises(psycopg.OperationalError, match="does not exist"):
        psycopg.connect(dsn(server, dbname=f"'{dbname}'"))


def test_pg_stat_activity_lists_the_sessions(server: ServerThread) -> None:
    with connect(server) as a, connect(server) as b:
        b.execute("SET application_name = 'other'")
        rows = a.execute("SELECT pid, usename, application_name, state, query FROM "
                         "pg_stat_activity WHERE usename = 'distillery'").fetchall()
        pids = {r[0] for r in rows}
        assert {a.info.backend_pid, b.info.backend_pid} <= pids
        mine = next(r for r in rows if r[0] == a.info.backend_pid)
        other = next(r for r in rows if r[0] == b.info.backend_pid)
        assert mine[3] == "active" and "pg_stat_activity" in mine[4]
        assert other[2:4] == ("other", "idle")


def test_jdbc_style_type_lookup(server: ServerThread) -> None:
    with connect(server) as conn:
        rows = conn.execute("SELECT typinput = 'pg_catalog.array_in'::regproc AS is_array, "
                            "typname FROM pg_catalog.pg_type WHERE typname IN ('_int4', 'int4') "
                            "ORDER BY typname").fetchall()
    assert rows == [(True, "_int4"), (False, "int4")]


def test_bi_tools_qualify_tables_with_public(server: ServerThread, local: Platform) -> None:
    expected = local.query("SELECT count(*) FROM profiles").scalar()
    with connect(server) as conn:
        for sql in ('SELECT count(*) FROM public.profiles',
                    'SELECT count(*) FROM "public"."profiles" AS "p"'):
            assert conn.execute(sql).fetchone() == (expected,)
