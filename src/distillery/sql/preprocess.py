"""Token-level rewrites of Data Distiller text that SQLGlot cannot parse as Spark SQL.

Run on each statement's text before parsing:

- `t SNAPSHOT SINCE s | AS OF s | BETWEEN s AND e` becomes the table function
  `__snapshot('t', 'since', s[, e])`, resolved against the dataset's Delta versions later
  (`distillery.sql.snapshots`). Bounds are numbers, quoted numbers, HEAD, TAIL, `@variables`
  or `$parameters`.
- `@name` (a block variable) becomes the placeholder `:__var_name`; `$name` and `${name}` (query
  template parameters) become `:__p_name` (bound to the parameter `name`). Values are bound
  when the statement runs, never pasted into the text.

Only tokens are rewritten, so text inside string literals is never touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlglot.dialects.spark import Spark
from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType

from distillery.errors import QueryError
from distillery.sql.split import split_statements

VAR_PREFIX = "__var_"
PARAM_PREFIX = "__p_"  # `$from` cannot become `:from`: SQLGlot reads FROM as a keyword
SNAPSHOT_FUNCTION = "__snapshot"
_DIALECT = Spark()
_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NAME_TOKENS = (TokenType.VAR, TokenType.IDENTIFIER)
_TABLE_LEADS = (TokenType.FROM, TokenType.JOIN, TokenType.COMMA)


def tokenize(sql: str) -> list[Token]:
    """Spark SQL tokens of `sql`; an unterminated string or comment is a syntax error."""
    try:
        return list(_DIALECT.tokenize(sql))
    except TokenError as exc:
        raise QueryError(f"syntax error: {exc}", sqlstate="42601") from None


def _adjacent(a: Token, b: Token) -> bool:
    return a.end + 1 == b.start


def _reference(toks: list[Token], i: int) -> tuple[str, str, int] | None:
    """The `@name`, `$name` or `${name}` starting at token i: (sigil, name, next index)."""
    tok = toks[i]
    if tok.token_type != TokenType.PARAMETER or tok.text not in ("@", "$") or i + 1 >= len(toks):
        return None
    nxt = toks[i + 1]
    if not _adjacent(tok, nxt):
        return None
    if i > 0 and toks[i - 1].text == "$" and _adjacent(toks[i - 1], tok):
        return None  # the second `$` of a `$$` block delimiter
    if _WORD.match(nxt.text):
        return tok.text, nxt.text, i + 2
    if (tok.text == "$" and nxt.token_type == TokenType.L_BRACE and i + 3 < len(toks)
            and _WORD.match(toks[i + 2].text) and toks[i + 3].token_type == TokenType.R_BRACE):
        return "$", toks[i + 2].text, i + 4
    return None


def _placeholder(sigil: str, name: str) -> str:
    return f":{VAR_PREFIX}{name}" if sigil == "@" else f":{PARAM_PREFIX}{name}"


def template_parameters(sql: str) -> list[str]:
    """Names of the `$name` parameters in `sql`, in order of first use."""
    toks = tokenize(sql)
    names: list[str] = []
    for i in range(len(toks)):
        ref = _reference(toks, i)
        if ref and ref[0] == "$" and ref[1] not in names:
            names.append(ref[1])
    return names


@dataclass
class _Edit:
    start: int
    end: int  # inclusive, as SQLGlot's token offsets
    text: str


def prepare(sql: str) -> str:
    """`sql` with SNAPSHOT clauses, `@variables` and `$parameters` rewritten (see module)."""
    toks = tokenize(sql)
    edits: list[_Edit] = []
    i = 0
    while i < len(toks):
        if toks[i].text.upper() == "SNAPSHOT" and _snapshot_kind(toks, i) is not None \
                and _follows_table(toks, i):
            edit, i = _snapshot(toks, i)
            edits = [e for e in edits if e.end < edit.start]
            edits.append(edit)
            continue
        ref = _reference(toks, i)
        if ref:
            sigil, name, nxt = ref
            edits.append(_Edit(toks[i].start, toks[nxt - 1].end, _placeholder(sigil, name)))
            i = nxt
            continue
        i += 1
    for edit in reversed(edits):
        sql = sql[:edit.start] + edit.text + sql[edit.end + 1:]
    return sql


def _snapshot_kind(toks: list[Token], i: int) -> str | None:
    nxt = toks[i + 1].text.upper() if i + 1 < len(toks) else ""
    if nxt in ("SINCE", "BETWEEN"):
        return nxt.lower()
    if nxt == "AS" and i + 2 < len(toks) and toks[i + 2].text.upper() == "OF":
        return "as_of"
    return None


def _table_start(toks: list[Token], i: int) -> int:
    """Index of the first token of the (dotted) name that ends at token i - 1."""
    first = i - 1
    while first >= 2 and toks[first - 1].token_type == TokenType.DOT \
            and toks[first - 2].token_type in _NAME_TOKENS:
        first -= 2
    return first


def _follows_table(toks: list[Token], i: int) -> bool:
    """Whether the SNAPSHOT keyword at token i follows a table in FROM or JOIN (a column that
    happens to be called `snapshot` does not)."""
    if i > 0 and toks[i - 1].token_type == TokenType.R_PAREN:
        raise QueryError("SNAPSHOT works on a table, not on a view or subquery: write "
                         "FROM table SNAPSHOT ...", sqlstate="42601")
    if i == 0 or toks[i - 1].token_type not in _NAME_TOKENS:
        return False
    first = _table_start(toks, i)
    return first > 0 and toks[first - 1].token_type in _TABLE_LEADS


def _snapshot(toks: list[Token], i: int) -> tuple[_Edit, int]:
    """Rewrite `<table> SNAPSHOT ...` whose SNAPSHOT keyword is token i."""
    first = _table_start(toks, i)
    table = toks[i - 1].text
    kind = _snapshot_kind(toks, i)
    j = i + (3 if kind == "as_of" else 2)
    start, j = _bound(toks, j, kind or "")
    args = [start]
    if kind == "between":
        if j >= len(toks) or toks[j].token_type != TokenType.AND:
            raise QueryError("SNAPSHOT BETWEEN needs two bounds: BETWEEN start AND end",
                             sqlstate="42601")
        end, j = _bound(toks, j + 1, kind)
        args.append(end)
    quoted = "'" + table.replace("'", "''") + "'"
    text = f"{SNAPSHOT_FUNCTION}({quoted}, '{kind}', {', '.join(args)})"
    return _Edit(toks[first].start, toks[j - 1].end, text), j


def _bound(toks: list[Token], j: int, kind: str) -> tuple[str, int]:
    """One snapshot bound starting at token j, as SQL text, and the index after it."""
    if j < len(toks):
        tok = toks[j]
        if tok.token_type == TokenType.NUMBER:
            return tok.text, j + 1
        if tok.token_type == TokenType.DASH and j + 1 < len(toks) \
                and toks[j + 1].token_type == TokenType.NUMBER:
            return "-" + toks[j + 1].text, j + 2
        if tok.token_type == TokenType.STRING:
            return "'" + tok.text.replace("'", "''") + "'", j + 1
        if tok.text.upper() in ("HEAD", "TAIL"):
            return f"'{tok.text.upper()}'", j + 1
        if tok.token_type == TokenType.COLON and j + 1 < len(toks) \
                and _WORD.match(toks[j + 1].text):
            return f":{toks[j + 1].text}", j + 2
        ref = _reference(toks, j)
        if ref:
            return _placeholder(ref[0], ref[1]), ref[2]
    keyword = kind.replace("_", " ").upper()
    raise QueryError(f"SNAPSHOT {keyword} expects a snapshot id, HEAD, TAIL, an @variable or a "
                     "$parameter", sqlstate="42601")


def split_block(text: str) -> tuple[list[str], list[str]] | None:
    """The statements of an anonymous block `$$ BEGIN ...; [EXCEPTION WHEN OTHER THEN ...;]
    END $$` and of its exception branch; None when `text` is not a block."""
    toks = tokenize(text)
    if (len(toks) < 6 or [t.text for t in toks[:2]] != ["$", "$"]
            or toks[2].text.upper() != "BEGIN" or [t.text for t in toks[-2:]] != ["$", "$"]
            or toks[-3].text.upper() != "END"):
        return None
    body_start, body_end = toks[2].end + 1, toks[-3].start
    handler_at = None
    for k in range(3, len(toks) - 6):
        words = [t.text.upper() for t in toks[k:k + 4]]
        if words[0] == "EXCEPTION" and words[1] == "WHEN" and words[2] in ("OTHER", "OTHERS") \
                and words[3] == "THEN":
            handler_at = k
            break
    if handler_at is None:
        return split_statements(text[body_start:body_end]), []
    main = text[body_start:toks[handler_at].start]
    handler = text[toks[handler_at + 3].end + 1:body_end]
    return split_statements(main), split_statements(handler)
