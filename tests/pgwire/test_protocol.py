"""The protocol as drivers use it: prepared statements, portals and cursors, session commands,
errors with their SQLSTATE after which the session goes on, cancel, and streaming."""

from __future__ import annotations

import json
import struct
import threading

import psycopg
import psycopg2
import pytest

from distillery import Platform
from distillery.sql.pgwire import ServerThread, connection_info, pgtypes
from tests.pgwire import raw
from tests.pgwire.conftest import connect, dsn
from tests.pgwire.raw import RawClient

HUGE = "SELECT x FROM range(10000000000) t(x)"  # never materialised: only streamed
SLOW = "SELECT sum(x) AS s FROM range(1000000000000) t(x)"


@pytest.fixture
def client(server: ServerThread) -> RawClient:
    info = connection_info(server.server.home, port=server.port)
    c = RawClient(server.port)
    assert c.login(info.user, info.password)[-1][0] == b"Z"
    yield c
    c.close()


@pytest.mark.parametrize(("sql", "sqlstate"), [
    ("SELECT FROM WHERE (", "42601"),
    ("SELECT * FROM no_such_table", "42P01"),
    ("SELECT no_such_column FROM experience_events", "42703"),
    ("SELECT raise_error('boom')", None),
    ("SELECT 'unterminated", "42601"),
    ("SHOW no_such_setting", "42704"),
    ("FETCH 5 FROM no_such_cursor", "34000"),
    ("EXECUTE no_such_statement", "26000"),
    ("COPY experience_events TO STDOUT", "0A000"),
])
def test_errors_carry_sqlstate_and_the_session_goes_on(server: ServerThread, sql: str,
                                                       sqlstate: str | None) -> None:
    with connect(server) as conn:
        with pytest.raises(psycopg.Error) as info:
            conn.execute(sql).fetchall()
        assert info.value.sqlstate is not None
        if sqlstate is not None:
            assert info.value.sqlstate == sqlstate
        assert "boom" in str(info.value) or sqlstate is not None
        assert conn.execute("SELECT 1 + 1").fetchone() == (2,)


def test_failed_transaction_refuses_until_rollback(server: ServerThread) -> None:
    with psycopg.connect(dsn(server)) as conn:  # not autocommit: psycopg sends BEGIN
        with pytest.raises(psycopg.errors.UndefinedTable):
            conn.execute("SELECT * FROM no_such_table")
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            conn.execute("SELECT 1")
        conn.rollback()
        assert conn.execute("SELECT 1").fetchone() == (1,)
        conn.commit()


def test_psycopg2_transactions_and_errors(server: ServerThread) -> None:
    conn = psycopg2.connect(dsn(server))
    try:
        cur = conn.cursor()
        with pytest.raises(psycopg2.errors.SyntaxError):
            cur.execute("SELECT FROM WHERE (")
        conn.rollback()
        cur.execute("SELECT count(*) FROM experience_events WHERE eventType = %s",
                    ("directMarketing.emailSent",))
        assert cur.fetchone()[0] > 0
        conn.commit()
    finally:
        conn.close()


def test_several_statements_in_one_query(server: ServerThread, client: RawClient) -> None:
    client.send(raw.query("SELECT 1 AS a; SELECT 'x' AS b; SELECT 2 AS c"))
    replies = client.read_until(b"Z")
    assert [p.split(b"\0")[0] for t, p in replies if t == b"C"] == [b"SELECT 1"] * 3
    client.send(raw.query("SELECT 1 AS a; SELECT * FROM no_such_table; SELECT 3"))
    replies = client.read_until(b"Z")
    assert [t for t, _ in replies] == [b"T", b"D", b"C", b"E", b"Z"]
    client.send(raw.query(" -- nothing but a comment\n"))
    assert [t for t, _ in client.read_until(b"Z")] == [b"I", b"Z"]


def test_execute_with_a_row_limit_suspends_the_portal(client: RawClient) -> None:
    # A result of ten billion rows: only what is asked for is ever computed.
    client.send(raw.parse(HUGE) + raw.bind() + raw.describe(b"P") + raw.execute(max_rows=5)
                + raw.sync())
    replies = client.read_until(b"Z")
    tags = [t for t, _ in replies]
    assert tags == [b"1", b"2", b"T", b"D", b"D", b"D", b"D", b"D", b"s", b"Z"]


def test_error_in_a_pipeline_skips_to_sync(client: RawClient) -> None:
    client.send(raw.parse("SELECT * FROM no_such_table") + raw.bind() + raw.execute()
                + raw.parse("SELECT 1") + raw.bind() + raw.execute() + raw.sync()
                + raw.query("SELECT 2 AS two"))
    first = client.read_until(b"Z")
    # Tables are resolved when the statement runs: Parse and Bind succeed, Execute fails,
    # and everything up to Sync is skipped.
    assert [t for t, _ in first] == [b"1", b"2", b"E", b"Z"]
    assert raw.error_code(first[2][1]) == "42P01"
    second = client.read_until(b"Z")
    assert [t for t, _ in second] == [b"T", b"D", b"C", b"Z"]


def test_statement_describe_reports_parameters_and_columns(client: RawClient) -> None:
    client.send(raw.parse("SELECT eventType, count(*) AS n FROM experience_events "
                          "WHERE eventType = $1 GROUP BY 1", name="s1", oids=(25,))
                + raw.describe(b"S", "s1") + raw.sync())
    replies = client.read_until(b"Z")
    tags = [t for t, _ in replies]
    assert tags == [b"1", b"t", b"T", b"Z"]
    params = replies[1][1]
    assert struct.unpack("!hi", params) == (1, 25)
    columns = replies[2][1]
    assert columns.startswith(struct.pack("!h", 2) + b"eventType\0")


def test_prepared_statements_psycopg(server: ServerThread, local: Platform) -> None:
    expected = local.query("SELECT count(*) FROM experience_events WHERE eventType = "
                           "'directMarketing.emailOpened'").scalar()
    with connect(server) as conn:
        for _ in range(3):
            got = conn.execute("SELECT count(*) FROM experience_events WHERE eventType = %s",
                               ["directMarketing.emailOpened"], prepare=True).fetchone()
            assert got == (expected,)


def test_sql_prepare_execute_deallocate(server: ServerThread) -> None:
    with connect(server) as conn:
        conn.execute("PREPARE plus (int, int) AS SELECT $1 + $2 AS total")
        assert conn.execute("EXECUTE plus(40, 2)").fetchone() == (42,)
        assert conn.execute("EXECUTE plus(%s, %s)", [1, 2]).fetchone() == (3,)
        with pytest.raises(psycopg.errors.SyntaxError):
            conn.execute("EXECUTE plus(1)")
        with pytest.raises(psycopg.errors.DuplicatePreparedStatement):
            conn.execute("PREPARE plus AS SELECT 1")
        conn.execute("DEALLOCATE plus")
        with pytest.raises(psycopg.errors.InvalidSqlStatementName):
            conn.execute("EXECUTE plus(1, 2)")


def test_sql_cursors_declare_fetch_move_close(server: ServerThread) -> None:
    with psycopg.connect(dsn(server)) as conn:
        conn.execute(f"DECLARE c CURSOR FOR {HUGE}")
        assert conn.execute("FETCH 3 FROM c").fetchall() == [(0,), (1,), (2,)]
        assert conn.execute("MOVE FORWARD 10 IN c").statusmessage == "MOVE 10"
        assert conn.execute("FETCH NEXT FROM c").fetchall() == [(13,)]
        with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState):
            conn.execute("FETCH BACKWARD 1 FROM c")
        conn.rollback()
        conn.execute(f"DECLARE c CURSOR WITH HOLD FOR {HUGE}")
        conn.commit()  # WITH HOLD outlives the transaction
        assert conn.execute("FETCH 2 FROM c").fetchall() == [(0,), (1,)]
        conn.execute("CLOSE c")
        with pytest.raises(psycopg.errors.InvalidCursorName):
            conn.execute("FETCH 1 FROM c")
        conn.rollback()


def test_server_side_cursors_of_both_drivers_stream(server: ServerThread) -> None:
    with psycopg.connect(dsn(server)) as conn, conn.cursor(name="big") as cur:
        cur.execute(HUGE)
        assert cur.fetchmany(4) == [(0,), (1,), (2,), (3,)]
    conn2 = psycopg2.connect(dsn(server))
    try:
        cur2 = conn2.cursor(name="big2")
        cur2.itersize = 1000
        cur2.execute("SELECT x FROM range(25000) t(x)")
        assert sum(1 for _ in cur2) == 25_000
    finally:
        conn2.close()


def test_large_result_streams_whole(server: ServerThread) -> None:
    with connect(server) as conn:
        cur = conn.execute("SELECT x, x * 2 AS y FROM range(300000) t(x)")
        count = total = 0
        while batch := cur.fetchmany(50_000):
            count += len(batch)
            total += sum(r[1] for r in batch)
    assert count == 300_000 and total == 2 * sum(range(300_000))


def test_set_show_reset_and_session_functions(server: ServerThread) -> None:
    with connect(server) as conn:
        conn.execute("SET TIME ZONE 'Asia/Kolkata'")
        assert conn.info.parameter_status("TimeZone") == "Asia/Kolkata"
        assert conn.execute("SHOW timezone").fetchone() == ("Asia/Kolkata",)
        text = conn.execute("SELECT CAST(CAST('2024-01-01 00:00:00' AS TIMESTAMP) AS STRING), "
                            "CAST('2024-01-01 00:00:00' AS TIMESTAMP)", binary=False)
        assert text.fetchone()[1].utcoffset().total_seconds() == 5.5 * 3600
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            conn.execute("SET TimeZone = 'Mars/Olympus'")
        conn.execute("RESET timezone")
        assert conn.execute("SELECT current_setting('TimeZone')").fetchone() == ("UTC",)
        conn.execute("SET application_name TO 'notebook'")
        assert conn.execute("SELECT current_setting('application_name'), current_user, "
                            "current_database()").fetchone() == \
            ("notebook", "distillery", "prod:all")
        assert conn.execute("SELECT version()").fetchone()[0].startswith("PostgreSQL 15")
        names = {r[0] for r in conn.execute("SHOW ALL").fetchall()}
        assert {"timezone", "search_path", "client_encoding"} <= names


def test_nested_values_are_json_and_auto_to_json_makes_them_text(server: ServerThread,
                                                                   local: Platform) -> None:
    sql = "SELECT _tenant FROM experience_events ORDER BY _id LIMIT 1"
    expected = local.query(sql).scalar()
    with connect(server) as conn:
        cur = conn.execute(sql)
        assert cur.description[0].type_code == pgtypes.JSON
        assert cur.fetchone() == (expected,)  # decoded by the driver
        conn.execute("SET auto_to_json = true")
        cur = conn.execute(sql)
        assert cur.description[0].type_code == pgtypes.TEXT
        assert json.loads(cur.fetchone()[0]) == expected


def test_explain_returns_the_plan(server: ServerThread) -> None:
    with connect(server) as conn:
        cur = conn.execute("EXPLAIN SELECT eventType, count(*) FROM experience_events GROUP BY 1")
        assert cur.description[0].name == "QUERY PLAN"
        assert len(cur.fetchall()) > 1


def test_cancel_interrupts_and_the_session_goes_on(server: ServerThread) -> None:
    with connect(server) as conn:
        timer = threading.Timer(0.5, conn.cancel_safe)
        timer.start()
        with pytest.raises(psycopg.errors.QueryCanceled, match="canceling statement"):
            conn.execute(SLOW).fetchall()
        timer.join()
        assert conn.execute("SELECT 7").fetchone() == (7,)
