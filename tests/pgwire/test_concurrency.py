"""Many clients at once: a long query stalls nobody, a failing or vanishing client disturbs
nobody, and sixteen clients running mixed queries for 30 s all get correct results."""

from __future__ import annotations

import itertools
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import psycopg2
import pytest

from distillery import Platform
from distillery.sql.pgwire import ServerThread
from tests.pgwire.conftest import PSQL, connect, dsn
from tests.pgwire.test_protocol import SLOW
from tests.pgwire.test_psql_eda import CO_OCCURRENCE, FUNNEL

T = "experience_events"
BY_TYPE = f"SELECT count(*) FROM {T} WHERE eventType = %s"
TYPES = ["directMarketing.emailSent", "directMarketing.emailOpened", "web.formFilledOut",
         "web.webpagedetails.pageViews", "no.such.type"]


def wait_until(condition: Callable[[], bool], timeout: float = 30) -> bool:
    """Poll `condition` until it holds (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def active_queries(conn: psycopg.Connection, like: str) -> int:
    return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                        "AND query LIKE %s AND pid <> pg_backend_pid()", [like]).fetchone()[0]


def test_a_long_query_does_not_stall_other_clients(server: ServerThread,
                                                   local: Platform) -> None:
    expected = local.query(FUNNEL).rows()
    slow, quick = connect(server), connect(server)
    failure: list[BaseException] = []

    def run_slow() -> None:
        try:
            slow.execute(SLOW).fetchall()
        except psycopg.errors.QueryCanceled:
            pass
        except BaseException as exc:  # reported to the test thread
            failure.append(exc)

    thread = threading.Thread(target=run_slow)
    thread.start()
    try:
        assert wait_until(lambda: active_queries(quick, "%range(1000000000000)%") == 1)
        for _ in range(5):
            assert [tuple(r) for r in quick.execute(FUNNEL).fetchall()] == expected
        # The long query is still running: the quick ones did not wait for it.
        assert thread.is_alive() and active_queries(quick, "%range(1000000000000)%") == 1
    finally:
        slow.cancel_safe()
        thread.join(30)
        slow.close()
        quick.close()
    assert not failure


def test_one_session_error_or_abort_leaves_others_alone(server: ServerThread) -> None:
    with psycopg.connect(dsn(server)) as failing, connect(server) as other:
        with pytest.raises(psycopg.errors.UndefinedTable):
            failing.execute("SELECT * FROM no_such_table")
        assert other.execute("SELECT count(*) > 0 FROM experience_events").fetchone() == (True,)
        other.execute("SET TIME ZONE 'Europe/Paris'")
        assert failing.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
        failing.rollback()
        assert failing.execute("SHOW timezone").fetchone() == ("UTC",)


@pytest.mark.skipif(PSQL is None, reason="psql is not installed here: this test kills a real "
                                         "psql client mid-query")
def test_a_client_killed_mid_query_does_not_disturb_the_others(server: ServerThread,
                                                               local: Platform) -> None:
    expected = local.query(FUNNEL).rows()
    victim = subprocess.Popen([PSQL, dsn(server), "-X", "-c", SLOW.replace("t(x)", "v(x)")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with connect(server) as watcher:
        try:
            assert wait_until(lambda: active_queries(watcher, "%v(x)%") == 1)
            victim.send_signal(signal.SIGKILL)
            victim.wait(30)
            # Its query is interrupted, not left running to the end (which would take hours).
            assert wait_until(lambda: active_queries(watcher, "%v(x)%") == 0)
            assert [tuple(r) for r in watcher.execute(FUNNEL).fetchall()] == expected
        finally:
            if victim.poll() is None:
                victim.kill()


def _mixed_queries(local: Platform) -> list[tuple[str, Any, list[Any]]]:
    """(driver call, SQL, expected rows) for the soak."""
    return [
        ("select", FUNNEL, local.query(FUNNEL).rows()),
        ("select", CO_OCCURRENCE, local.query(CO_OCCURRENCE).rows()),
        *[("param", (BY_TYPE, kind),
           [(local.query(f"SELECT count(*) FROM {T} WHERE eventType = :k",
                         {"k": kind}).scalar(),)]) for kind in TYPES],
        ("binary", f"SELECT _id, timestamp FROM {T} ORDER BY _id LIMIT 500",
         local.query(f"SELECT _id, timestamp FROM {T} ORDER BY _id LIMIT 500").rows()),
        ("error", "SELECT * FROM no_such_table", []),
    ]


def _client(make: Callable[[], Any], queries: list[tuple[str, Any, list[Any]]], stop:
            threading.Event, tally: dict[str, int], failures: list[str], psycopg3: bool
            ) -> None:
    conn = make()
    try:
        for kind, sql, expected in itertools.cycle(queries):
            if stop.is_set():
                return
            try:
                got = _run(conn, kind, sql, psycopg3)
            except (psycopg.Error, psycopg2.Error) as exc:
                if kind != "error":
                    failures.append(f"{kind}: {exc}")
                continue
            if kind == "error":
                failures.append("a bad query succeeded")
            elif [tuple(r) for r in got] != expected:
                failures.append(f"wrong result for {sql!r}")
            tally["queries"] += 1
    finally:
        conn.close()


def _run(conn: Any, kind: str, sql: Any, psycopg3: bool) -> list[Any]:
    if psycopg3:
        if kind == "param":
            return conn.execute(sql[0], [sql[1]]).fetchall()
        return conn.execute(sql, binary=kind == "binary").fetchall()
    cur = conn.cursor()
    if kind == "param":
        cur.execute(sql[0], (sql[1],))
    else:
        cur.execute(sql)
    return cur.fetchall()


@pytest.mark.slow
def test_sixteen_clients_for_thirty_seconds(server: ServerThread, local: Platform) -> None:
    queries = _mixed_queries(local)
    stop, tally, failures = threading.Event(), {"queries": 0}, []

    def psycopg2_connection() -> Any:
        conn = psycopg2.connect(dsn(server))
        conn.autocommit = True
        return conn

    makers = [(lambda: connect(server), True)] * 12 + [(psycopg2_connection, False)] * 4
    threads = [threading.Thread(target=_client, args=(make, queries[i % len(queries):]
                                                      + queries[:i % len(queries)],
                                                      stop, tally, failures, is3))
               for i, (make, is3) in enumerate(makers)]
    for t in threads:
        t.start()
    time.sleep(30)
    stop.set()
    for t in threads:
        t.join(60)
    print(f"16 clients, 30 s: {tally['queries']} queries with correct results")
    assert not failures, failures[:5]
    assert tally["queries"] >= 16 and not any(t.is_alive() for t in threads)
    with connect(server) as conn:
        assert conn.execute("SELECT count(*) FROM pg_stat_activity").fetchone() == (1,)
