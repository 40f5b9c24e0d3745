"""Anonymous blocks, block variables and statements registered by text."""

from __future__ import annotations

import re
from typing import Any

import pytest

from distillery import Platform
from distillery.errors import QueryError
from distillery.sql.errors import ParameterError
from distillery.sql.result import Result
from distillery.sql.service import QueryService, Session


def test_variables_are_set_from_queries_and_bound_later(journeys: Platform) -> None:
    result = journeys.query("""$$ BEGIN
        SET @first = SELECT min(timestamp) FROM events;
        SET @kind = 'web.formFilledOut';
        SELECT count(*) FROM events WHERE timestamp > @first AND eventType = @kind;
    END $$""")
    assert result.scalar() == 2
    variables = journeys.sql.default_session.variables
    assert variables["kind"] == "web.formFilledOut"
    # Variables live on in the session, outside the block too.
    assert journeys.query("SELECT @kind AS k").scalar() == "web.formFilledOut"


def test_a_variable_is_a_value_never_sql(journeys: Platform) -> None:
    journeys.query("SET @v = SELECT 'x\\'; DROP TABLE events; --'")
    assert journeys.query("SELECT @v").scalar() == "x'; DROP TABLE events; --"
    assert journeys.query("SELECT count(*) FROM events WHERE eventType = @v").scalar() == 0
    assert journeys.query("SELECT count(*) FROM events").scalar() == 13


def test_an_unset_variable_is_named(journeys: Platform) -> None:
    with pytest.raises(ParameterError, match="variable @nope is not set") as info:
        journeys.query("SELECT @nope")
    assert info.value.sqlstate == "42P02"


def test_exists_flag_guards_the_insert_as_in_the_reference(journeys: Platform) -> None:
    block = """$$ BEGIN
        SET @exists = SELECT table_exists('copy');
        CREATE TABLE IF NOT EXISTS copy AS SELECT _id, eventType FROM events;
        INSERT INTO copy SELECT _id, eventType FROM events WHERE @exists = 't';
    END $$"""
    journeys.query(block)
    assert journeys.query("SELECT count(*) FROM copy").scalar() == 13
    journeys.query(block)
    assert journeys.query("SELECT count(*) FROM copy").scalar() == 26


def test_a_failing_statement_runs_the_exception_branch(journeys: Platform) -> None:
    result = journeys.query("""$$ BEGIN
        CREATE TABLE first AS SELECT 1 AS a;
        CREATE TABLE half AS SELECT eventType, CASE WHEN eventType = 'web.formFilledOut'
            THEN raise_error('boom') END AS x FROM events;
        CREATE TABLE never AS SELECT 1 AS a;
    EXCEPTION WHEN OTHER THEN
        SELECT 'ERROR';
    END $$""")
    assert result.scalar() == "ERROR"
    error = journeys.sql.default_session.last_error
    assert error is not None and "boom" in str(error)
    names = {d.name for d in journeys.datasets()}
    # The statement before the failure stays done; the failed one left nothing behind.
    assert names == {"events", "first"}


def test_without_exception_branch_the_error_propagates(journeys: Platform) -> None:
    with pytest.raises(QueryError, match="table nope does not exist"):
        journeys.query("$$ BEGIN SELECT 1; SELECT * FROM nope; CREATE TABLE z AS SELECT 1 AS a;"
                       " END $$")
    assert journeys.lake.catalog.find_dataset("z") is None


def test_blocks_run_statements_other_modules_register(journeys: Platform) -> None:
    seen: list[str] = []

    def handler(service: QueryService, session: Session, match: re.Match[str],
                params: dict[str, Any] | None) -> Result:
        seen.append(match.group(1))
        return Result.message("NOTED")

    journeys.sql.register_statement(r"NOTE\s+(\w+)", handler, writes=False)
    result = journeys.query("$$ BEGIN NOTE first; SELECT 1; NOTE second; END $$")
    assert seen == ["first", "second"] and result.status == "NOTED"


def test_malformed_blocks(journeys: Platform) -> None:
    with pytest.raises(QueryError, match="syntax error"):
        journeys.query("$$ BEGIN SELECT 1; $$")
    with pytest.raises(QueryError, match="syntax error"):
        journeys.query("SET @v = SELECT FROM WHERE (")
