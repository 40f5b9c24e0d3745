"""PostgreSQL text as clients send it, re-spelled for the Query Service (Spark SQL)."""

from __future__ import annotations

import pytest

from distillery import Platform
from distillery.errors import QueryError
from distillery.sql.pgwire import lexer

HOSTILE = [
    "it's",
    "x'; DROP TABLE events; --",
    "back\\slash",
    "ends with a backslash\\",
    "\\'; SELECT 1; --",
    "$1 $$ $name :pg1 ? %s",
    "/* not a comment */ -- nor this",
    "line\nbreak\ttab",
    "quote \" double",
    "emoji \U0001f600 and accents éà",
]


def pg_literal(value: str) -> str:
    """How psycopg2 and psql write a string (standard_conforming_strings = on)."""
    return "'" + value.replace("'", "''") + "'"


def test_split_keeps_literals_comments_and_blocks_whole() -> None:
    sql = ("SELECT 'a;b'; SELECT \"x;y\" FROM t -- c;\n; "
           "$$ BEGIN SELECT 1; SELECT 2; END $$; /* x; /* nested; */ */ SELECT $1")
    assert lexer.split(sql) == [
        "SELECT 'a;b'", 'SELECT "x;y" FROM t -- c;', "$$ BEGIN SELECT 1; SELECT 2; END $$",
        "/* x; /* nested; */ */ SELECT $1"]
    assert lexer.split(" ;; -- only a comment\n") == []


def test_placeholders_become_named_parameters_outside_literals() -> None:
    spark = lexer.to_spark("SELECT $1, $12, '$3', a$1, $name, $$ x $$ FROM t WHERE c = $2")
    assert spark == "SELECT :pg1, :pg12, '$3', a$1, $name, $$ x $$ FROM t WHERE c = :pg2"
    assert lexer.param_numbers("SELECT $2, $1, $2, '$3' -- $4") == [1, 2]


def test_identifiers_and_escape_strings() -> None:
    assert lexer.to_spark('SELECT "Col""x" FROM `t`') == "SELECT `Col\"x` FROM `t`"
    assert lexer.to_spark(r"SELECT E'a\nb\'c\\d\x41\u00e9'") == \
        "SELECT 'a\nb\\'c\\\\dAé'"


@pytest.mark.parametrize("value", HOSTILE)
def test_postgres_literals_keep_their_value_in_spark(platform: Platform, value: str) -> None:
    # What a client interpolates must reach the engine as exactly that value, one statement.
    statements = lexer.split(f"SELECT {pg_literal(value)} AS v")
    assert len(statements) == 1
    assert platform.query(lexer.to_spark(statements[0])).scalar() == value


@pytest.mark.parametrize("bad", ["SELECT 'open", 'SELECT "open', "SELECT /* open",
                                 'SELECT ""', r"SELECT E'\u12'"])
def test_malformed_text_is_a_syntax_error(bad: str) -> None:
    with pytest.raises(QueryError) as info:
        lexer.to_spark(bad)
    assert info.value.sqlstate in ("42601", "22025")


def test_the_public_schema_qualifier_is_dropped() -> None:
    assert lexer.to_spark('SELECT * FROM public.t JOIN "public"."u" ON t.public = 1') == \
        "SELECT * FROM t JOIN `u` ON t.public = 1"
    assert lexer.to_spark("SELECT 'public.t'") == "SELECT 'public.t'"
