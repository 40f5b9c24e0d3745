"""Split SQL text into statements: on top-level semicolons, keeping `$$ ... $$` blocks whole."""

from __future__ import annotations

from sqlglot.dialects.spark import Spark
from sqlglot.errors import TokenError
from sqlglot.tokens import TokenType

from distillery.errors import QueryError

_DIALECT = Spark()


def split_statements(sql: str) -> list[str]:
    """The statements of `sql`, each as its own text, without the separating semicolons."""
    try:
        tokens = _DIALECT.tokenize(sql)
    except TokenError as exc:
        raise QueryError(f"syntax error: {exc}", sqlstate="42601") from None
    statements: list[str] = []
    start = 0
    in_block = False
    previous = None
    for tok in tokens:
        if (tok.token_type == TokenType.PARAMETER and previous is not None
                and previous.token_type == TokenType.PARAMETER and previous.end + 1 == tok.start):
            in_block = not in_block
        elif tok.token_type == TokenType.SEMICOLON and not in_block:
            statements.append(sql[start:tok.start])
            start = tok.end + 1
        previous = tok
    statements.append(sql[start:])
    return [s.strip() for s in statements if s.strip()]
