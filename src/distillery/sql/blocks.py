"""Anonymous blocks and block variables.

    $$ BEGIN
        SET @exists = SELECT table_exists('t');
        CREATE TABLE IF NOT EXISTS t AS SELECT ...;
        INSERT INTO t SELECT ... WHERE @exists = 't';
    EXCEPTION WHEN OTHER THEN
        SELECT 'ERROR';
    END $$

Statements run in order, each through the whole Query Service (so statements other modules
register, such as CREATE MODEL, work inside blocks too). The first failing statement stops the
block; its error is kept on the session (`Session.last_error`) and the EXCEPTION branch runs
instead of the rest; without one, the error propagates. Each statement is atomic: a failed
CREATE TABLE AS or INSERT leaves no dataset and no rows behind. Statements that succeeded
before the failure stay done, as in AEP (a block is not a transaction).

`SET @v = SELECT ...` (or `SET @v = expression`) stores the first value of the first row in the
session; later statements use `@v`, bound as a parameter value, never pasted into SQL text.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from distillery.errors import QueryError
from distillery.sql.preprocess import split_block
from distillery.sql.result import Result

if TYPE_CHECKING:
    from distillery.sql.service import QueryService, Session

BLOCK_PATTERN = r"^\s*\$\$\s*BEGIN\b"
SET_VARIABLE_PATTERN = r"^\s*SET\s+@(?P<name>[A-Za-z_]\w*)\s*=\s*(?P<value>.+?)\s*;?\s*$"
_CANCELLED = "57014"


def run_block(service: QueryService, session: Session, match: re.Match[str],
              params: dict[str, Any] | None) -> Result:
    """Run an anonymous block; return the result of the last statement that ran."""
    parts = split_block(match.string.strip())
    if parts is None:
        raise QueryError("syntax error: an anonymous block is $$ BEGIN stmt; ... [EXCEPTION "
                         "WHEN OTHER THEN stmt; ...] END $$", sqlstate="42601")
    body, handler = parts
    session.last_error = None
    last = Result.message("BLOCK")
    try:
        last = _run_all(service, session, body, params, last)
    except Exception as exc:
        error = exc if isinstance(exc, QueryError) else service.translate(exc)
        if not handler or error.sqlstate == _CANCELLED:
            raise
        session.last_error = error
        last = _run_all(service, session, handler, params, last)
    return last


def _run_all(service: QueryService, session: Session, statements: list[str],
             params: dict[str, Any] | None, last: Result) -> Result:
    for text in statements:
        results = service.execute(text, params, session)
        if results:
            last = results[-1]
    return last


def run_set_variable(service: QueryService, session: Session, match: re.Match[str],
                     params: dict[str, Any] | None) -> Result:
    """SET @name = SELECT ... | expression."""
    statements = service.parse(match.group("value"))
    if len(statements) != 1:
        raise QueryError(f"SET @{match.group('name')} takes one query or expression",
                         sqlstate="42601")
    value = statements[0]
    query = value if isinstance(value, exp.Query) else exp.select(value)
    session.variables[match.group("name")] = service.select(session, query, params).scalar()
    return Result.message("SET")
