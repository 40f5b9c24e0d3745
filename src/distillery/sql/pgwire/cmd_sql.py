"""Session commands over statements: PREPARE/EXECUTE/DEALLOCATE, cursors, EXPLAIN.

Cursors keep their result streaming in the engine; FETCH pulls the next rows, so a notebook
can walk a result of any size (psycopg2's named cursors do exactly this). Cursors go forward
only, as PostgreSQL's NO SCROLL cursors do.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from sqlglot import exp

from distillery.errors import QueryError
from distillery.sql.pgwire import lexer
from distillery.sql.pgwire.results import Cursor, WireResult

if TYPE_CHECKING:
    from distillery.sql.pgwire.session import WireSession

Match = re.Match[str]
NAME = r'(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)'


def unquote(name: str) -> str:
    """An identifier's name: quoted ones keep their case, others fold to lower case."""
    if name.startswith('"'):
        return name[1:-1].replace('""', '"')
    return name.lower()


# PREPARE / EXECUTE / DEALLOCATE ---------------------------------------------------------------


def prepare(session: WireSession, match: Match, values: list[Any]) -> list[WireResult]:
    """PREPARE name [(types)] AS statement (shares names with protocol-level statements)."""
    name = unquote(match.group("name"))
    if not name:
        raise QueryError("a prepared statement needs a name", sqlstate="42601")
    session.parse(name, match.group("statement"), [])
    return [WireResult.message("PREPARE")]


def execute(session: WireSession, match: Match, values: list[Any]) -> list[WireResult]:
    """EXECUTE name [(arguments)]: the arguments are evaluated, then bound as values."""
    name = unquote(match.group("name"))
    statement = session.statement(name)
    arguments = _evaluate(session, match.group("args"), values)
    if len(arguments) != len(statement.param_oids):
        raise QueryError(f'wrong number of parameters for prepared statement "{name}": '
                         f"expected {len(statement.param_oids)}, got {len(arguments)}",
                         sqlstate="42601")
    return session.run(statement.sql, arguments)


def _evaluate(session: WireSession, text: str | None, values: list[Any]) -> list[Any]:
    if text is None or not text.strip():
        return []
    results = session.service_query(f"SELECT {text}", values)
    table = pa.Table.from_batches(list(results[-1].batches or ()), results[-1].schema)
    return [table.column(i)[0].as_py() for i in range(table.num_columns)]


def deallocate(session: WireSession, match: Match, values: list[Any]) -> list[WireResult]:
    """DEALLOCATE [PREPARE] name | ALL."""
    target = match.group("name")
    if target.upper() == "ALL":
        session.statements = {k: v for k, v in session.statements.items() if k == ""}
        return [WireResult.message("DEALLOCATE ALL")]
    name = unquote(target)
    session.statement(name)
    del session.statements[name]
    return [WireResult.message("DEALLOCATE")]


# Cursors --------------------------------------------------------------------------------------


def declare(session: WireSession, match: Match, values: list[Any]) -> list[WireResult]:
    """DECLARE name [BINARY] [NO SCROLL] CURSOR [WITH[OUT] HOLD] FOR query."""
    name = unquote(match.group("name"))
    options = match.group("options").upper().split()
    if "SCROLL" in options and "NO" not in options:
        raise QueryError("scrollable cursors are not supported; cursors go forward only",
                         sqlstate="0A000")
    if name in session.cursors:
        raise QueryError(f'cursor "{name}" already exists', sqlstate="42P03")
    results = session.run(match.group("query"), values)
    result = results[-1]
    if not result.has_rows or result.schema is None:
        raise QueryError("DECLARE CURSOR needs a query that returns rows", sqlstate="42601")
    hold = (match.group("hold") or "").upper() == "WITH"
    session.cursors[name] = Cursor(session.stream(result), result.schema, hold,
                                   "BINARY" in options)
    return [WireResult.message("DECLARE CURSOR")]


def _cursor(session: WireSession, name: str) -> Cursor:
    key = unquote(name)
    if key not in session.cursors:
        raise QueryError(f'cursor "{key}" does not exist', sqlstate="34000")
    return session.cursors[key]


def _count(direction: str | None) -> int:
    """How many rows a FETCH/MOVE direction asks for (0 = all); any other way is refused."""
    words = (direction or "NEXT").upper().split()
    if words in (["NEXT"], ["FORWARD"]):
        return 1
    if words in (["ALL"], ["FORWARD", "ALL"]):
        return 0
    number = words[-1] if words[0] == "FORWARD" and len(words) == 2 else words[0]
    if len(words) <= 2 and re.fullmatch(r"\+?\d+", number) and (len(words) == 1
                                                                or words[0] == "FORWARD"):
        if int(number) == 0:
            raise QueryError("FETCH 0 (the current row again) is not supported",
                             sqlstate="0A000")
        return int(number)
    raise QueryError("cursor can only scan forward", sqlstate="55000")


def fetch(session: WireSession, match: Match, values: list[Any]) -> list[WireResult]:
    """FETCH [direction] [FROM | IN] name: the next rows, streamed."""
    cursor = _cursor(session, match.group("name"))
    limit = _count(match.group("direction"))

    def pieces() -> Any:
        taken = 0
        while limit == 0 or taken < limit:
            piece = cursor.stream.next_piece(limit - taken if limit else 0)
            if piece is None:
                return
            taken += piece.num_rows
            yield piece

    return [WireResult("FETCH", cursor.schema, pieces(), binary=cursor.binary)]


def move(session: WireSession, match: Match, values: list[Any]) -> list[WireResult]:
    """MOVE [direction] [FROM | IN] name: skip rows."""
    cursor = _cursor(session, match.group("name"))
    limit = _count(match.group("direction"))
    moved = 0
    while limit == 0 or moved < limit:
        piece = cursor.stream.next_piece(limit - moved if limit else 0)
        if piece is None:
            break
        moved += piece.num_rows
    return [WireResult.message(f"MOVE {moved}")]


def close(session: WireSession, match: Match, values: list[Any]) -> list[WireResult]:
    """CLOSE name | ALL."""
    target = match.group("name")
    if target.upper() == "ALL":
        for cursor in session.cursors.values():
            cursor.stream.close()
        session.cursors.clear()
        return [WireResult.message("CLOSE CURSOR ALL")]
    cursor = _cursor(session, target)
    cursor.stream.close()
    del session.cursors[unquote(target)]
    return [WireResult.message("CLOSE CURSOR")]


# EXPLAIN --------------------------------------------------------------------------------------


def explain(session: WireSession, match: Match, values: list[Any]) -> list[WireResult]:
    """EXPLAIN [ANALYZE] query: the engine's plan, one line per row."""
    options = (match.group("options") or "").upper()
    analyze = bool(match.group("analyze")) or "ANALYZE" in options
    query = match.group("query")
    service = session.service
    statements = service.parse(lexer.to_spark(query))
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise QueryError("EXPLAIN works on queries (SELECT, WITH, VALUES) only",
                         sqlstate="0A000")
    # The statement as SELECT would run it (snapshots, samples and Adobe functions resolved).
    tree, bound = service.prepare(session.qs, statements[0], session.bind_values(query, values))
    sql = ("EXPLAIN ANALYZE " if analyze else "EXPLAIN ") + tree.sql(
        dialect=service.engine.DIALECT)
    try:
        plan = service.engine.reader(sql, bound, cursor=session.qs.cursor()).read_all()
    except QueryError:
        raise
    except Exception as exc:  # the engine's own error types: translated with their SQLSTATE
        raise service.translate(exc) from None
    lines = [line for value in plan.column(plan.num_columns - 1).to_pylist()
             for line in str(value).splitlines()]
    return [WireResult.of_table(pa.table({"QUERY PLAN": lines}), "EXPLAIN", counted=False)]
