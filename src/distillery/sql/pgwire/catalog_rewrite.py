"""Catalog queries as clients write them, rewritten to run on the emulated catalog.

psql, drivers and BI tools ask PostgreSQL about itself: `pg_catalog.pg_class`, `format_type`,
`'t'::regclass`, `OPERATOR(pg_catalog.~)`, `current_setting('x')`, `version()`. The queries
are parsed with SQLGlot (PostgreSQL dialect) and rewritten so that DuckDB runs them over the
tables of `catalog_schema.py`: catalog tables move to the emulation's schemas, catalog
functions become helper macros or constants, and session functions become the session's
values. What Distillery does not model (indexes, constraints, defaults) is answered as absent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp

CATALOG_SCHEMA, INFO_SCHEMA = "pgc", "infs"
_REGEX_OPS = {"~": False, "!~": True, "~*": False, "!~*": True}
_TRUE_FUNCS = {
    "pg_table_is_visible", "pg_type_is_visible", "pg_function_is_visible",
    "pg_opclass_is_visible", "pg_collation_is_visible", "pg_conversion_is_visible",
    "pg_operator_is_visible", "has_table_privilege", "has_schema_privilege",
    "has_database_privilege", "has_column_privilege", "has_any_column_privilege",
    "has_function_privilege", "has_sequence_privilege", "pg_has_role",
}
_NULL_FUNCS = {
    "pg_get_expr", "pg_get_constraintdef", "pg_get_indexdef", "pg_get_viewdef",
    "pg_get_triggerdef", "pg_get_partkeydef", "pg_get_statisticsobjdef_columns",
    "pg_get_function_result", "pg_get_function_arguments",
    "pg_get_function_identity_arguments", "pg_get_serial_sequence", "pg_get_ruledef",
    "col_description", "shobj_description", "inet_server_addr", "inet_client_addr",
    "inet_server_port", "inet_client_port",
}
_ZERO_FUNCS = {"pg_relation_size", "pg_total_relation_size", "pg_table_size",
               "pg_indexes_size", "pg_my_temp_schema", "txid_current"}
_FALSE_FUNCS = {"pg_relation_is_publishable", "pg_is_other_temp_schema", "pg_is_in_recovery"}
_MACROS = {"pg_get_userbyid": "pgw_userbyid", "format_type": "pgw_format_type",
           "obj_description": "pgw_obj_description", "to_regclass": "pgw_class_oid",
           "to_regtype": "pgw_type_oid", "to_regnamespace": "pgw_namespace_oid"}
_MACRO_ARITY = {"pgw_obj_description": 1}
_SESSION_NODES = (exp.CurrentVersion, exp.CurrentDatabase, exp.CurrentSchema, exp.CurrentUser,
                  exp.SessionUser, exp.CurrentSchemas)
_SESSION_FUNCS = {"version", "current_setting", "set_config", "current_database",
                  "current_catalog", "current_schema", "current_role", "pg_backend_pid",
                  "pg_postmaster_start_time", "pg_encoding_to_char"}
_CATALOG_HINTS = ("pg_", "information_schema", "version", "current_", "session_user",
                  "set_config", "::reg", "has_", "to_reg", "format_type", "obj_description")


@dataclass
class SessionInfo:
    """What session functions answer: the connection's user, database and settings.

    Attributes:
        user: The authenticated user name.
        database: The dbname the client connected to (`prod:all`).
        version: What `version()` returns.
        pid: The backend id reported at connect time.
        setting: Looks a setting up by lower-case name (None when unknown).
        set_setting: Changes a setting (`set_config`); runs when the statement executes.
    """

    user: str
    database: str
    version: str
    pid: int
    setting: Callable[[str], str | None]
    set_setting: Callable[[str, str], Any]
    started: str = ""
    effects: list[Callable[[], None]] = field(default_factory=list)


def parse_catalog_query(sql: str) -> exp.Query | None:
    """The statement parsed, if it is a query the catalog answers; else None.

    A query qualifies when it reads a pg_catalog or information_schema table, or reads no
    table at all and calls a session function (`SELECT version()`). Everything else is the
    Query Service's.
    """
    lowered = sql.lower()
    if not any(hint in lowered for hint in _CATALOG_HINTS):
        return None
    try:
        expr = sqlglot.parse_one(sql, read="postgres")
    except Exception:  # SQLGlot raises several types; unparsable text is not ours.
        return None
    if not isinstance(expr, exp.Query):
        return None
    tables = list(expr.find_all(exp.Table))
    if any(_catalog_table(t) for t in tables):
        return expr
    if not tables and _calls_session_function(expr):
        return expr
    return None


def _catalog_table(table: exp.Table) -> bool:
    db = (table.db or "").lower()
    if db in ("pg_catalog", "information_schema"):
        return True
    return not db and table.name.lower().startswith("pg_")


def _function_name(node: exp.Expr) -> str | None:
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower()
    if isinstance(node, exp.Func):
        return node.sql_name().lower()
    return None


def _calls_session_function(expr: exp.Expr) -> bool:
    for node in expr.walk():
        if isinstance(node, _SESSION_NODES):
            return True
        if isinstance(node, exp.Cast) and _type_name(node.to).startswith("reg"):
            return True
        name = _function_name(node)
        if name in _SESSION_FUNCS or name in _TRUE_FUNCS or name in _MACROS:
            return True
    return False


def rewrite(expr: exp.Query, session: SessionInfo) -> exp.Query:
    """`expr` rewritten to run on the emulated catalog (DuckDB); side effects of `set_config`
    are queued on `session.effects`."""
    expr = expr.copy()
    tableless = not list(expr.find_all(exp.Table))
    _unqualify_functions(expr)
    for table in list(expr.find_all(exp.Table)):
        _retarget(table)
    for operator in list(expr.find_all(exp.Operator)):
        _regex_operator(operator)
    for collate in list(expr.find_all(exp.Collate)):
        collate.replace(collate.this)
    for cast in list(expr.find_all(exp.Cast)):
        _cast(cast)
    for node in list(expr.walk()):
        if node is not expr:
            _session_function(node, session, tableless)
    return expr


def _unqualify_functions(expr: exp.Expr) -> None:
    # `pg_catalog.f(x)` parses as Dot(pg_catalog, f(x)); the function is all that matters.
    for node in list(expr.find_all(exp.Dot)):
        if (isinstance(node.this, exp.Identifier) and node.this.name.lower() == "pg_catalog"
                and isinstance(node.expression, exp.Func)):
            node.replace(node.expression)


def _retarget(table: exp.Table) -> None:
    db = (table.db or "").lower()
    if not isinstance(table.this, exp.Identifier):
        # A table function (`pg_catalog.unnest(...)`): DuckDB has it unqualified.
        if db == "pg_catalog":
            table.set("db", None)
        return
    if db == "information_schema":
        table.set("db", exp.to_identifier(INFO_SCHEMA))
    elif db == "pg_catalog" or (not db and table.name.lower().startswith("pg_")):
        table.set("db", exp.to_identifier(CATALOG_SCHEMA))
    table.set("catalog", None)


def _regex_operator(node: exp.Operator) -> None:
    operator = str(node.args.get("operator", "")).split(".")[-1].strip()
    if operator not in _REGEX_OPS:
        return
    pattern = node.expression
    if operator.endswith("*"):
        pattern = exp.Concat(expressions=[exp.Literal.string("(?i)"), pattern])
    match: exp.Expr = exp.RegexpLike(this=node.this, expression=pattern)
    node.replace(exp.Not(this=match) if _REGEX_OPS[operator] else match)


def _type_name(to: exp.Expr) -> str:
    if isinstance(to, exp.ObjectIdentifier):
        return str(to.this).lower()
    kind = to.args.get("kind") if isinstance(to, exp.DataType) else None
    if isinstance(kind, exp.Dot):
        return kind.expression.name.lower()
    if isinstance(to, exp.DataType) and to.this == exp.DataType.Type.ARRAY and to.expressions:
        return _type_name(to.expressions[0]) + "[]"
    if isinstance(kind, exp.Identifier | str):
        return str(getattr(kind, "name", kind)).lower()
    return to.sql("postgres").lower()


_REG_LOOKUPS = {"regclass": ("pgw_class_oid", "pgw_relname"),
                "regtype": ("pgw_type_oid", None),
                "regnamespace": ("pgw_namespace_oid", "pgw_nspname")}


def _cast(node: exp.Cast) -> None:
    name = _type_name(node.to)
    value = node.this
    if name in _REG_LOOKUPS:
        by_name, to_name = _REG_LOOKUPS[name]
        if isinstance(value, exp.Literal) and value.is_string:
            node.replace(exp.Anonymous(this=by_name, expressions=[value]))
        elif name == "regtype":
            node.replace(exp.Anonymous(this="pgw_format_type",
                                       expressions=[value, exp.null()]))
        else:
            node.replace(exp.Anonymous(this=to_name, expressions=[value]))
        return
    if name.startswith("reg"):
        # regproc and friends print unqualified names (pg_catalog is on the search path).
        if isinstance(value, exp.Literal) and value.is_string:
            value.replace(exp.Literal.string(str(value.this).removeprefix("pg_catalog.")))
        node.set("to", exp.DataType.build("VARCHAR"))
    elif name in ("oid", "xid", "cid", "tid"):
        node.set("to", exp.DataType.build("BIGINT"))
    elif name in ("name", "text", '"char"', "char"):
        node.set("to", exp.DataType.build("VARCHAR"))
    else:
        try:
            node.set("to", exp.DataType.build(name, dialect="postgres"))
        except Exception:  # An unknown type name: let DuckDB report it.
            return


def _session_function(node: exp.Expr, session: SessionInfo, tableless: bool) -> None:
    replacement = _session_value(node, session, tableless)
    if replacement is not None:
        node.replace(replacement)


def _session_value(node: exp.Expr, session: SessionInfo,
                   tableless: bool) -> exp.Expr | None:
    if isinstance(node, exp.CurrentVersion):
        return exp.Literal.string(session.version)
    if isinstance(node, exp.CurrentDatabase):
        return exp.Literal.string(session.database)
    if isinstance(node, exp.CurrentSchema):
        return exp.Literal.string("public")
    if isinstance(node, exp.CurrentUser | exp.SessionUser):
        return exp.Literal.string(session.user)
    if isinstance(node, exp.CurrentSchemas):
        names = ["pg_catalog", "public"] if node.this and node.this.sql() == "TRUE" else [
            "public"]
        return exp.Array(expressions=[exp.Literal.string(n) for n in names])
    if tableless and isinstance(node, exp.Column) and not node.table and node.name == "user":
        return exp.Literal.string(session.user)
    name = _function_name(node)
    if name is None:
        return None
    return _named_function(name, node, session)


def _named_function(name: str, node: exp.Expr,
                    session: SessionInfo) -> exp.Expr | None:
    args = list(node.expressions) if isinstance(node, exp.Anonymous) else [
        a for a in node.args.values() if isinstance(a, exp.Expr)]
    constant = _constant(name, session)
    if constant is not None:
        return constant
    if name == "current_setting":
        return _current_setting(args, session)
    if name == "set_config":
        return _set_config(args, session)
    if name in _MACROS:
        macro = _MACROS[name]
        return exp.Anonymous(this=macro, expressions=args[:_MACRO_ARITY.get(macro, len(args))])
    return None


def _constant(name: str, session: SessionInfo) -> exp.Expr | None:
    values: dict[str, Callable[[], exp.Expr]] = {
        "version": lambda: exp.Literal.string(session.version),
        "current_database": lambda: exp.Literal.string(session.database),
        "current_catalog": lambda: exp.Literal.string(session.database),
        "current_schema": lambda: exp.Literal.string("public"),
        "current_role": lambda: exp.Literal.string(session.user),
        "pg_backend_pid": lambda: exp.Literal.number(session.pid),
        "pg_encoding_to_char": lambda: exp.Literal.string("UTF8"),
        "pg_postmaster_start_time": lambda: exp.cast(exp.Literal.string(session.started),
                                                     "TIMESTAMPTZ"),
        "pg_size_pretty": lambda: exp.Literal.string("0 bytes"),
    }
    if name in values:
        return values[name]()
    if name in _TRUE_FUNCS:
        return exp.true()
    if name in _FALSE_FUNCS:
        return exp.false()
    if name in _NULL_FUNCS:
        return exp.null()
    if name in _ZERO_FUNCS:
        return exp.Literal.number(0)
    return None


def _literal_text(node: exp.Expr | None) -> str | None:
    if isinstance(node, exp.Literal):
        return str(node.this)
    if isinstance(node, exp.Boolean):
        return "on" if node.this else "off"
    return None


def _current_setting(args: list[exp.Expr], session: SessionInfo) -> exp.Expr | None:
    key = _literal_text(args[0] if args else None)
    if key is None:
        return None
    value = session.setting(key.lower())
    return exp.null() if value is None else exp.Literal.string(value)


def _set_config(args: list[exp.Expr], session: SessionInfo) -> exp.Expr | None:
    key = _literal_text(args[0] if args else None)
    value = _literal_text(args[1] if len(args) > 1 else None)
    if key is None or value is None:
        return None
    session.effects.append(lambda: session.set_setting(key.lower(), value))
    return exp.Literal.string(value)


def output_names(expr: exp.Query) -> list[str] | None:
    """The column names PostgreSQL gives the query's outputs, or None when a star hides them."""
    if not isinstance(expr, exp.Select):
        first = expr.find(exp.Select)
        return output_names(first) if first is not None else None
    names = []
    for item in expr.expressions:
        if isinstance(item, exp.Star) or (isinstance(item, exp.Column)
                                          and isinstance(item.this, exp.Star)):
            return None
        names.append(_output_name(item))
    return names


def _output_name(item: exp.Expr) -> str:
    return _named(item)[0]


def _named(item: exp.Expr) -> tuple[str, int]:
    """PostgreSQL's FigureColname: a name and how strongly the expression implies it (a cast
    only names its column after its type when nothing inside names it better)."""
    if isinstance(item, exp.Alias):
        return item.alias, 3
    if isinstance(item, exp.Column):
        return item.name, 2
    if isinstance(item, exp.Dot):
        return _named(item.expression)
    if isinstance(item, exp.Cast):
        name, strength = _named(item.this)
        return (name, strength) if strength > 1 else (_type_name(item.to), 1)
    if isinstance(item, exp.CurrentVersion):
        return "version", 2
    if isinstance(item, exp.CurrentUser):
        return "current_user", 2
    if isinstance(item, exp.SessionUser):
        return "session_user", 2
    function = _function_name(item)
    return (function, 2) if function is not None else ("?column?", 0)


def compile_for_duckdb(expr: exp.Query) -> str:
    """The rewritten query as DuckDB SQL."""
    return expr.sql(dialect="duckdb")
