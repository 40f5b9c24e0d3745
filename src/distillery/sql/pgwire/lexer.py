"""SQL text as PostgreSQL clients send it: statements, literals and `$n` placeholders.

Clients of the wire protocol write PostgreSQL's lexical syntax: psycopg2, PyGreSQL and psql
variables interpolate values as standard-conforming literals (`'it''s'`, a backslash is an
ordinary character), BI tools quote identifiers with double quotes, and the extended protocol
numbers its parameters `$1, $2, ...`. The Query Service reads Spark SQL, where `''` is not a
quote, a backslash escapes the next character and `"x"` is a string. Passing the text through
unchanged would corrupt values and open an injection path (a value ending in a backslash would
swallow its closing quote), so every literal and quoted identifier is spelled again for Spark,
and placeholders become named parameters that are bound as values, never pasted.

`$$ ... $$` delimits Data Distiller's anonymous blocks: semicolons inside one do not end the
statement, and the literals inside it are translated like any other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from distillery.errors import QueryError

PARAM_PREFIX = "pg"  # `$3` becomes the named parameter `:pg3`
_IDENT_CHAR = re.compile(r"[A-Za-z0-9_$]")
_DIGITS = re.compile(r"\d+")
_E_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


@dataclass(frozen=True)
class Token:
    """One lexical unit: `kind` is text, string, ident, param, block, comment or semicolon."""

    kind: str
    text: str
    value: str | int | None = None


def tokenize(sql: str) -> list[Token]:
    """Split `sql` into tokens; unterminated literals and comments are syntax errors."""
    tokens: list[Token] = []
    i = plain = 0
    while i < len(sql):
        token, end = _special(sql, i)
        if token is not None:
            if plain < i:
                tokens.append(Token("text", sql[plain:i]))
            tokens.append(token)
            plain = end
        i = end
    if plain < len(sql):
        tokens.append(Token("text", sql[plain:]))
    return tokens


def _special(sql: str, i: int) -> tuple[Token | None, int]:
    """The token starting at `i` if it is not plain text, with the index after it."""
    ch, nxt = sql[i], sql[i + 1:i + 2]
    prev = sql[i - 1:i]
    if ch == "-" and nxt == "-":
        end = sql.find("\n", i)
        end = len(sql) if end < 0 else end
        return Token("comment", sql[i:end]), end
    if ch == "/" and nxt == "*":
        end = _block_comment_end(sql, i)
        return Token("comment", sql[i:end]), end
    if ch in "eE" and nxt == "'" and not _IDENT_CHAR.match(sql[i - 1:i] or " "):
        value, end = _quoted(sql, i + 1, "'", escapes=True)
        return Token("string", sql[i:end], value), end
    if ch == "'":
        value, end = _quoted(sql, i, "'", escapes=False)
        return Token("string", sql[i:end], value), end
    if ch == '"':
        value, end = _quoted(sql, i, '"', escapes=False)
        if not value:
            raise QueryError("zero-length delimited identifier", sqlstate="42601")
        return Token("ident", sql[i:end], value), end
    if ch == "`":
        end = _backquoted_end(sql, i)
        return Token("text", sql[i:end]), end
    if ch == "$" and nxt == "$":
        return Token("block", "$$"), i + 2
    if ch == "$" and nxt.isdigit() and not _IDENT_CHAR.match(prev or " "):
        digits = _DIGITS.match(sql, i + 1)
        assert digits is not None
        return Token("param", "$" + digits.group(0), int(digits.group(0))), digits.end()
    if ch == ";":
        return Token("semicolon", ";"), i + 1
    return None, i + 1


def _block_comment_end(sql: str, start: int) -> int:
    # PostgreSQL block comments nest.
    depth, i = 0, start
    while i < len(sql) - 1:
        pair = sql[i:i + 2]
        if pair == "/*":
            depth, i = depth + 1, i + 2
        elif pair == "*/":
            depth, i = depth - 1, i + 2
            if depth == 0:
                return i
        else:
            i += 1
    raise QueryError("unterminated /* comment", sqlstate="42601")


def _backquoted_end(sql: str, start: int) -> int:
    i = start + 1
    while True:
        end = sql.find("`", i)
        if end < 0:
            raise QueryError("unterminated quoted identifier", sqlstate="42601")
        if sql[end + 1:end + 2] != "`":
            return end + 1
        i = end + 2


def _quoted(sql: str, start: int, quote: str, *, escapes: bool) -> tuple[str, int]:
    """The value of the literal whose opening quote is at `start`, and the index after it."""
    out: list[str] = []
    i = start + 1
    while i < len(sql):
        ch = sql[i]
        if ch == quote:
            if sql[i + 1:i + 2] == quote:
                out.append(quote)
                i += 2
                continue
            return "".join(out), i + 1
        if escapes and ch == "\\" and i + 1 < len(sql):
            text, i = _escape(sql, i)
            out.append(text)
            continue
        out.append(ch)
        i += 1
    what = "quoted string" if quote == "'" else "quoted identifier"
    raise QueryError(f"unterminated {what}", sqlstate="42601")


def _escape(sql: str, i: int) -> tuple[str, int]:
    """A backslash escape of an E'...' string (PostgreSQL's rules), and the index after it."""
    ch = sql[i + 1]
    if ch in _E_ESCAPES:
        return _E_ESCAPES[ch], i + 2
    octal = re.match(r"[0-7]{1,3}", sql[i + 1:i + 4])
    if octal:
        return chr(int(octal.group(0), 8)), i + 1 + len(octal.group(0))
    pattern = {"x": r"[0-9A-Fa-f]{1,2}", "u": r"[0-9A-Fa-f]{4}", "U": r"[0-9A-Fa-f]{8}"}.get(ch)
    if pattern is None:
        return ch, i + 2
    code = re.match(pattern, sql[i + 2:i + 10])
    if code is None or int(code.group(0), 16) > 0x10FFFF:
        raise QueryError(f"invalid hex or Unicode escape in string: \\{ch}", sqlstate="22025")
    return chr(int(code.group(0), 16)), i + 2 + len(code.group(0))


# Statements -----------------------------------------------------------------------------------


def split(sql: str) -> list[str]:
    """The statements of `sql`: split on semicolons outside literals, comments and `$$` blocks."""
    statements: list[str] = []
    current: list[str] = []
    in_block = False
    for tok in tokenize(sql):
        if tok.kind == "block":
            in_block = not in_block
        if tok.kind == "semicolon" and not in_block:
            statements.append("".join(current))
            current = []
            continue
        current.append(tok.text)
    statements.append("".join(current))
    return [s.strip() for s in statements if _has_code(s)]


def _has_code(sql: str) -> bool:
    return any(t.kind != "comment" and t.text.strip() for t in tokenize(sql))


def param_numbers(sql: str) -> list[int]:
    """The distinct `$n` placeholder numbers used by `sql`, ascending."""
    return sorted({int(t.value) for t in tokenize(sql) if t.kind == "param"})  # type: ignore[arg-type]


def strip_comments(sql: str) -> str:
    """`sql` without its comments (a space stands in for each), trimmed."""
    return "".join(" " if t.kind == "comment" else t.text for t in tokenize(sql)).strip()


# Spark spelling -------------------------------------------------------------------------------


def spark_string(value: str) -> str:
    """`value` as a Spark SQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def spark_ident(name: str) -> str:
    """`name` as a Spark SQL quoted identifier."""
    return "`" + name.replace("`", "``") + "`"


def param_name(number: int) -> str:
    """The Query Service's name for the placeholder `$number`."""
    return f"{PARAM_PREFIX}{number}"


_PUBLIC = re.compile(r'(?<![\w.`"])public\s*\.\s*(?=[A-Za-z_"`])', re.IGNORECASE)


def to_spark(sql: str) -> str:
    """One statement in PostgreSQL lexical syntax re-spelled for the Query Service (Spark).

    The catalog shows every table in schema `public`, so BI tools write `public.t` (or
    `"public"."t"`); the qualifier is dropped, as the Query Service has no schemas.
    """
    parts: list[str] = []
    tokens = tokenize(sql)
    for i, tok in enumerate(tokens):
        following = tokens[i + 1].text if i + 1 < len(tokens) else ""
        if tok.kind == "ident" and tok.value == "public" and following.lstrip().startswith("."):
            tokens[i + 1] = Token("text", following.lstrip()[1:].lstrip())
        elif tok.kind == "string":
            parts.append(spark_string(str(tok.value)))
        elif tok.kind == "ident":
            parts.append(spark_ident(str(tok.value)))
        elif tok.kind == "param":
            parts.append(":" + param_name(int(tok.value)))  # type: ignore[arg-type]
        else:
            parts.append(_PUBLIC.sub("", tok.text))
    return "".join(parts)
