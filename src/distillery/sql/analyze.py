"""`ANALYZE TABLE` in Data Distiller's forms, parsed from tokens (SQLGlot knows only Spark's):

    ANALYZE TABLE t [FILTERCONTEXT (cond)] COMPUTE STATISTICS
        [FOR COLUMNS (a, b.c) | FOR ALL COLUMNS] [AS alias]
    ANALYZE TABLE t [FILTERCONTEXT (cond)] TABLESAMPLE [FILTERCONTEXT (cond)]
        SAMPLERATE r [REPEATABLE (seed)]

and `SHOW STATISTICS [FOR name]`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError
from sqlglot.tokens import Token, TokenType

from distillery.errors import QueryError, UnknownTableError
from distillery.sql import samples, stats
from distillery.sql.preprocess import prepare, tokenize
from distillery.sql.result import Result

if TYPE_CHECKING:
    from distillery.sql.service import QueryService, Session

ANALYZE_PATTERN = r"^\s*ANALYZE\s+TABLE\s+"
SHOW_STATISTICS_PATTERN = r"^\s*SHOW\s+STATISTICS\b\s*(?:FOR\s+(?P<name>[A-Za-z_][\w]*))?\s*;?\s*$"


@dataclass
class AnalyzeStatement:
    """The parts of one ANALYZE TABLE statement."""

    table: str
    condition: exp.Expression | None = None
    mode: str = ""  # "statistics" or "sample"
    columns: list[str] | None = None
    alias: str | None = None
    rate: float | None = None
    seed: int | None = None


def parse(text: str) -> AnalyzeStatement:
    """Parse ANALYZE TABLE text; a malformed statement is a syntax error naming the spot."""
    toks = tokenize(text.rstrip().rstrip(";"))
    i = 2
    name, i = _name(toks, i)
    stmt = AnalyzeStatement(table=name)
    while i < len(toks):
        word = toks[i].text.upper()
        if word == "FILTERCONTEXT":
            inner, i = _parenthesized(text, toks, i + 1, "FILTERCONTEXT")
            stmt.condition = _condition(inner)
        elif word == "COMPUTE" and _word(toks, i + 1) == "STATISTICS":
            stmt.mode, i = "statistics", i + 2
        elif word == "FOR" and _word(toks, i + 1) == "ALL":
            i += 3  # FOR ALL COLUMNS: the default
        elif word == "FOR" and _word(toks, i + 1) == "COLUMNS":
            inner, i = _parenthesized(text, toks, i + 2, "FOR COLUMNS")
            stmt.columns = _columns(inner)
        elif word == "AS" and i + 1 < len(toks):
            stmt.alias, i = toks[i + 1].text, i + 2
        elif word == "TABLESAMPLE":
            stmt.mode, i = "sample", i + 1
        elif word == "SAMPLERATE":
            stmt.rate, i = _number(toks, i + 1, "SAMPLERATE")
        elif word == "REPEATABLE":
            inner, i = _parenthesized(text, toks, i + 1, "REPEATABLE")
            stmt.seed = int(_number(tokenize(inner), 0, "REPEATABLE")[0])
        else:
            raise QueryError(f"syntax error in ANALYZE TABLE at {toks[i].text!r}: expected "
                             "FILTERCONTEXT, COMPUTE STATISTICS or TABLESAMPLE SAMPLERATE",
                             sqlstate="42601")
    if not stmt.mode:
        raise QueryError("ANALYZE TABLE needs COMPUTE STATISTICS or TABLESAMPLE SAMPLERATE r",
                         sqlstate="42601")
    if stmt.mode == "sample" and stmt.rate is None:
        raise QueryError("ANALYZE TABLE ... TABLESAMPLE needs SAMPLERATE r", sqlstate="42601")
    return stmt


def run_analyze(service: QueryService, session: Session, match: re.Match[str],
                params: dict[str, Any] | None) -> Result:
    """Run ANALYZE TABLE (statistics, or a sample: the latter writes a dataset)."""
    stmt = parse(match.string)
    ds = service.lake.catalog.find_dataset(stmt.table)
    if ds is None:
        raise UnknownTableError(f"table {stmt.table} does not exist in sandbox "
                                f"{service.sandbox!r}; SHOW TABLES lists what does")
    service.sync()
    if stmt.mode == "sample":
        service.check_writable(session, match.string)
        assert stmt.rate is not None
        return samples.create_sample(service, session, ds, stmt.rate, stmt.seed,
                                     stmt.condition, params)
    return stats.compute(service, session, ds, stmt.columns, stmt.condition, stmt.alias, params)


def run_show_statistics(service: QueryService, session: Session, match: re.Match[str],
                        params: dict[str, Any] | None) -> Result:
    """SHOW STATISTICS [FOR name]."""
    return stats.show(service, match.group("name"))


def _word(toks: list[Token], i: int) -> str:
    return toks[i].text.upper() if i < len(toks) else ""


def _name(toks: list[Token], i: int) -> tuple[str, int]:
    if i >= len(toks) or toks[i].token_type not in (TokenType.VAR, TokenType.IDENTIFIER):
        raise QueryError("ANALYZE TABLE needs a table name", sqlstate="42601")
    name = toks[i].text
    i += 1
    while i + 1 < len(toks) and toks[i].token_type == TokenType.DOT:
        name, i = toks[i + 1].text, i + 2  # db.t: only the table name matters
    return name, i


def _parenthesized(text: str, toks: list[Token], i: int, clause: str) -> tuple[str, int]:
    """The text between the parenthesis at token i and its match; the index after it."""
    if i >= len(toks) or toks[i].token_type != TokenType.L_PAREN:
        raise QueryError(f"{clause} needs parentheses: {clause} (...)", sqlstate="42601")
    depth = 0
    for j in range(i, len(toks)):
        depth += {TokenType.L_PAREN: 1, TokenType.R_PAREN: -1}.get(toks[j].token_type, 0)
        if depth == 0:
            return text[toks[i].end + 1:toks[j].start], j + 1
    raise QueryError(f"{clause}: unbalanced parentheses", sqlstate="42601")


def _condition(text: str) -> exp.Expression:
    try:
        return cast(exp.Expression, sqlglot.parse_one(prepare(text), read="spark"))
    except ParseError as exc:
        detail = exc.errors[0].get("description", exc) if exc.errors else exc
        raise QueryError(f"syntax error in FILTERCONTEXT: {detail}", sqlstate="42601") from None


def _columns(text: str) -> list[str]:
    names: list[str] = []
    current: list[str] = []
    for tok in tokenize(text):
        if tok.token_type == TokenType.COMMA:
            names.append(".".join(current))
            current = []
        elif tok.token_type != TokenType.DOT:
            current.append(tok.text)
    names.append(".".join(current))
    if not all(names):
        raise QueryError("FOR COLUMNS lists column names separated by commas", sqlstate="42601")
    return names


def _number(toks: list[Token], i: int, clause: str) -> tuple[float, int]:
    """The number at token i (with its sign) and the index after it."""
    sign = 1.0
    if i < len(toks) and toks[i].token_type == TokenType.DASH:
        sign, i = -1.0, i + 1
    if i < len(toks) and toks[i].token_type == TokenType.NUMBER:
        return sign * float(toks[i].text), i + 1
    raise QueryError(f"{clause} needs a number", sqlstate="42601")
