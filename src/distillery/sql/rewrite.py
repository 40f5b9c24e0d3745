"""From a parsed Data Distiller query to the tree an engine runs.

`resolve` works on a copy of the user's tree and:

1. refuses what reaches outside the sandbox: file-reading functions (`read_csv`, `glob`, ...),
   file names used as tables, and tables that are not datasets, views, CTEs or statistics;
2. replaces the tables Distillery serves itself: `t SNAPSHOT ...` (the dataset's files at those
   versions), `history_meta('t')`, `sample_meta('t')`, statistics by alias or id;
3. replaces `table_exists('t')` by TRUE or FALSE and the TIME_BETWEEN_* window functions by
   standard window SQL (`distillery.sql.functions`);
4. lets the engine rewrite what it spells differently (`Engine.transform`, when it has one).

`bind` then collects the placeholders the tree still holds and their values, so that only the
parameters a statement uses are sent to the engine, and a missing one is named.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlglot import exp

from distillery.errors import QueryError, UnknownTableError
from distillery.sql import samples, snapshots, stats
from distillery.sql.errors import ForbiddenError, ParameterError, WrongObjectTypeError
from distillery.sql.functions import rewrite_time_between
from distillery.sql.preprocess import PARAM_PREFIX, SNAPSHOT_FUNCTION, VAR_PREFIX
from distillery.sql.values import inline_table

if TYPE_CHECKING:
    from distillery.sql.service import QueryService

_TABLE_FUNCTIONS = {"range", "generate_series", "unnest", "explode", "inline", "posexplode"}
_META = {"history_meta", "sample_meta"}
_FORBIDDEN = {"glob", "query", "query_table", "getenv", "sniff_csv", "delta_scan",
              "iceberg_scan", "iceberg_metadata", "iceberg_snapshots", "duckdb_secrets",
              "which_secret", "load_extension"}
_FORBIDDEN_PREFIXES = ("read_", "parquet_", "write_", "pragma_")


def resolve(service: QueryService, tree: exp.Expression,
            values: dict[str, Any] | None = None) -> exp.Expression:
    """The engine-ready copy of `tree` (see the module docstring)."""
    tree = tree.copy()
    values = values or {}
    _guard(tree)
    known = _known_tables(service, tree)
    for table in list(tree.find_all(exp.Table)):
        _resolve_table(service, table, known, values)
    for select in list(tree.find_all(exp.Select)):
        _meta_select(service, select)
    for call in list(tree.find_all(exp.Anonymous)):
        if call.name.lower() == "table_exists":
            call.replace(exp.Boolean(this=_exists(service, call)))
    tree = rewrite_time_between(tree)
    return service.engine.transform(tree)


def bind(tree: exp.Expression, values: dict[str, Any]) -> dict[str, Any]:
    """The values of the placeholders `tree` uses; a placeholder without one is an error."""
    bound: dict[str, Any] = {}
    for node in tree.find_all(exp.Placeholder):
        name = node.name
        if not name:
            raise ParameterError("positional parameters (?) are not supported; name them "
                                 "(:name or $name)")
        if name not in values:
            if name.startswith(VAR_PREFIX):
                variable = name[len(VAR_PREFIX):]
                raise ParameterError(f"variable @{variable} is not set; SET @{variable} = "
                                     "SELECT ... first")
            name = name.removeprefix(PARAM_PREFIX)
            raise ParameterError(f"no value given for parameter ${name} (:{name})")
        bound[name] = values[name]
    return bound


def function_name(node: exp.Expression) -> str:
    """The lower-case name of a function call node."""
    return node.name.lower() if isinstance(node, exp.Anonymous) else node.key.lower()


def _guard(tree: exp.Expression) -> None:
    for node in tree.find_all(exp.ReadCSV, exp.ReadParquet, exp.Anonymous):
        name = "read_csv" if isinstance(node, exp.ReadCSV) else \
            "read_parquet" if isinstance(node, exp.ReadParquet) else node.name.lower()
        if name in _FORBIDDEN or name.startswith(_FORBIDDEN_PREFIXES):
            raise ForbiddenError(f"function {name} reaches outside the sandbox and is not "
                                 "available in the Query Service; ingest files as datasets")


def _known_tables(service: QueryService, tree: exp.Expression) -> set[str]:
    names = {d.table_name.lower() for d in service.lake.datasets()}
    names |= {v.lower() for v in service.views.names()}
    names |= {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    # Tables other modules serve on the engine themselves are fair game; files are not.
    names |= {n.lower() for n in service.engine.tables()}
    return names


def _resolve_table(service: QueryService, table: exp.Table, known: set[str],
                   values: dict[str, Any]) -> None:
    source = table.this
    if isinstance(source, exp.Anonymous):
        name = source.name.lower()
        if name == SNAPSHOT_FUNCTION:
            _snapshot(service, table, source, values)
        elif name in _META:
            table_name = _table_argument(source)
            rows, columns = _meta_rows(service, name, table_name)
            table.replace(inline_table(rows, columns, table.alias or name))
        elif name not in _TABLE_FUNCTIONS:
            raise ForbiddenError(f"table function {name} is not available in the Query Service")
        return
    if not isinstance(source, exp.Identifier):
        raise ForbiddenError(f"{table.sql('spark')[:80]} is not a table of this sandbox")
    name = source.name.lower()
    if table.args.get("db") or table.args.get("catalog"):
        # `db.t`: AEP's `{sandbox}:all` database; only the table name matters here.
        table.set("db", None)
        table.set("catalog", None)
    if name in known:
        if table.args.get("version") is not None:
            _version(service, table)
        return
    found = stats.lookup(service, name)
    if found is not None:
        rows, columns = found
        table.replace(inline_table(rows, columns, table.alias or name))
        return
    raise UnknownTableError(f"table {source.name} does not exist in sandbox "
                            f"{service.sandbox!r}; SHOW TABLES lists what does")


def _snapshot(service: QueryService, table: exp.Table, call: exp.Anonymous,
              values: dict[str, Any]) -> None:
    args = call.expressions
    name, kind = args[0].name, args[1].name
    ds = service.lake.catalog.find_dataset(name)
    if ds is None:
        if name.lower() in {v.lower() for v in service.views.names()}:
            raise WrongObjectTypeError(f"SNAPSHOT reads a dataset's snapshots; {name} is a "
                                       "view")
        raise UnknownTableError(f"table {name} does not exist in sandbox "
                                f"{service.sandbox!r}; SHOW TABLES lists what does")
    bounds = [_value(a, values) for a in args[2:]]
    files = snapshots.snapshot_files(service.lake, ds, kind, bounds)
    alias = table.alias or name
    table.replace(_files_table(service, ds.table_name, files, alias))


def _version(service: QueryService, table: exp.Table) -> None:
    """Spark's `t VERSION AS OF n`: the same as `t SNAPSHOT AS OF n`."""
    version = table.args["version"]
    if str(version.this).upper() != "VERSION":
        raise QueryError("TIMESTAMP AS OF is not supported; use SNAPSHOT AS OF a snapshot id "
                         "(history_meta lists them)", sqlstate="0A000")
    ds = service.lake.catalog.dataset(table.name)
    files = snapshots.snapshot_files(service.lake, ds, "as_of", [version.expression.name])
    table.replace(_files_table(service, ds.table_name, files, table.alias or table.name))


def _files_table(service: QueryService, table_name: str, files: list[str],
                 alias: str) -> exp.Expression:
    alias_node = exp.TableAlias(this=exp.to_identifier(alias))
    if not files:
        # No rows at those snapshots: the dataset's own (typed) table, filtered to nothing.
        empty = exp.select("*").from_(exp.to_table(table_name, quoted=True)).where(exp.false())
        return exp.Subquery(this=empty, alias=alias_node)
    return exp.Table(this=service.engine.scan(files), alias=alias_node)


def _value(node: exp.Expression, values: dict[str, Any]) -> Any:
    if isinstance(node, exp.Placeholder):
        bind(node, values)
        return values[node.name]
    if isinstance(node, exp.Neg):
        return -int(node.this.name)
    return node.name


def _table_argument(call: exp.Anonymous) -> str:
    args = call.expressions
    if len(args) != 1 or not (isinstance(args[0], exp.Literal) and args[0].is_string):
        raise QueryError(f"{call.name} takes one quoted table name, as {call.name}('t')",
                         sqlstate="42883")
    return args[0].name


def _meta_rows(service: QueryService, function: str,
               table_name: str) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    ds = service.lake.catalog.find_dataset(table_name)
    if ds is None:
        raise UnknownTableError(f"table {table_name} does not exist in sandbox "
                                f"{service.sandbox!r}; SHOW TABLES lists what does")
    if function == "history_meta":
        return snapshots.history(service.lake, ds), snapshots.HISTORY_COLUMNS
    return samples.sample_rows(service, ds), samples.SAMPLE_COLUMNS


def _meta_select(service: QueryService, select: exp.Select) -> None:
    """`SELECT history_meta('t')` (AEP's spelling) stands for the rows of that function."""
    if select.args.get("from_") or select.args.get("from") or len(select.expressions) != 1:
        return
    call = select.expressions[0].unalias()
    if not (isinstance(call, exp.Anonymous) and call.name.lower() in _META):
        return
    rows, columns = _meta_rows(service, call.name.lower(), _table_argument(call))
    # Keep the SELECT itself, so that its WHERE, ORDER BY and LIMIT still apply.
    select.set("expressions", [exp.Star()])
    select.from_(inline_table(rows, columns, call.name.lower()), copy=False)


def _exists(service: QueryService, call: exp.Anonymous) -> bool:
    name = _table_argument(call)
    return service.lake.catalog.find_dataset(name) is not None or \
        name.lower() in {v.lower() for v in service.views.names()}
