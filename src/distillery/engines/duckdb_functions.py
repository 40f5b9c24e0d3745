"""Spark and Adobe Data Distiller functions DuckDB lacks: macros, and AST fixes for DuckDB.

This is the one place where such functions are defined for DuckDB. Macros keep the Spark name,
so SQLGlot passes the call through unchanged and the same Spark SQL text runs here and on Spark.
Where a macro cannot express the function (it produces rows, not a value), `transform` rewrites
the statement's tree just before it is compiled for DuckDB.

Functions whose semantics are Adobe's own (TIME_BETWEEN_PREVIOUS_MATCH, ...) are not here: they
are rewritten once, for every engine, in `distillery.sql.functions`.
"""

from __future__ import annotations

from sqlglot import exp

MACROS: dict[str, str] = {
    # Spark's raise_error(msg) fails the query with msg.
    "raise_error": "CREATE OR REPLACE MACRO raise_error(msg) AS error(msg)",
    # A standard normal draw (Box-Muller), as Spark's randn().
    "randn": "CREATE OR REPLACE MACRO randn() AS "
             "sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())",
    # histogram_numeric(x, nb): Spark returns at most nb (x, y) bins. Spark places its bins
    # adaptively; here they are nb equal-width bins between min and max, of which only the
    # non-empty ones are returned, in order. The argument is evaluated several times, so a
    # volatile argument (rand()) gives inconsistent bins; materialise it in a subquery first.
    "__histogram_bins": "CREATE OR REPLACE MACRO __histogram_bins(lo, hi, nb, hist) AS "
                        "list_transform(map_entries(hist), lambda e: {"
                        "'x': CASE WHEN hi = lo THEN lo ELSE lo + (e.key + 0.5) * (hi - lo) / nb "
                        "END, 'y': CAST(e.value AS DOUBLE)})",
    "histogram_numeric": "CREATE OR REPLACE MACRO histogram_numeric(v, nb) AS __histogram_bins("
                         "min(CAST(v AS DOUBLE)), max(CAST(v AS DOUBLE)), nb, list_aggregate("
                         "list_transform(list(CAST(v AS DOUBLE)) FILTER (WHERE v IS NOT NULL), "
                         "lambda x: CASE WHEN max(CAST(v AS DOUBLE)) = min(CAST(v AS DOUBLE)) "
                         "THEN 0 ELSE least(CAST(floor((x - min(CAST(v AS DOUBLE))) * nb / "
                         "(max(CAST(v AS DOUBLE)) - min(CAST(v AS DOUBLE)))) AS BIGINT), nb - 1) "
                         "END), 'histogram'))",
}

# Spark SQL runs in UTC in the reference; DuckDB would otherwise use the machine's zone.
SETTINGS: tuple[str, ...] = ("SET GLOBAL TimeZone = 'UTC'",)


def install(con: object) -> None:
    """Define every macro on a DuckDB connection (macros are shared by its cursors)."""
    for statement in (*SETTINGS, *MACROS.values()):
        con.execute(statement)  # type: ignore[attr-defined]


_VOLATILE = (exp.Rand, exp.Randn, exp.Uuid)


def transform(tree: exp.Expression) -> exp.Expression:
    """Rewrite Spark SQL DuckDB has under another shape (in place; returns the tree).

    - `inline(array_of_structs)` makes one row per element and one column per struct field;
      DuckDB spells that `UNNEST(array, max_depth => 2)`.
    - A window ordered by a volatile call (`ROW_NUMBER() OVER (... ORDER BY randn())`, the
      reference's random row per user) is refused by DuckDB; the call moves into the FROM
      table as a column drawn once per row, which is what Spark evaluates too.
    """
    for index, window in enumerate(list(tree.find_all(exp.Window))):
        _materialise_volatile_order(window, f"__volatile_{index}")
    for node in list(tree.find_all(exp.Inline)):
        unnest = exp.Explode(this=node.this, expressions=[
            exp.Kwarg(this=exp.var("max_depth"), expression=exp.Literal.number(2))])
        if node is tree:
            return unnest
        node.replace(unnest)
    return tree


def _materialise_volatile_order(window: exp.Window, name: str) -> None:
    order = window.args.get("order")
    select = window.find_ancestor(exp.Select)
    if order is None or select is None or select.args.get("joins"):
        return
    source = select.args.get("from_")
    table = source.this if source is not None else None
    volatile = [o for o in order.expressions if o.this.find(*_VOLATILE)]
    if not volatile or not isinstance(table, exp.Table | exp.Subquery):
        return
    alias = table.alias_or_name or "__v"
    inner = table.copy()
    inner.set("alias", None)
    columns = [exp.alias_(o.this.copy(), f"{name}_{i}") for i, o in enumerate(volatile)]
    drawn = exp.select(exp.Star(), *columns).from_(inner)
    table.replace(exp.Subquery(this=drawn, alias=exp.TableAlias(this=exp.to_identifier(alias))))
    for i, ordered in enumerate(volatile):
        ordered.set("this", exp.column(f"{name}_{i}", table=alias))
    hidden = [exp.column(f"{name}_{i}") for i in range(len(volatile))]
    for star in select.expressions:
        if isinstance(star, exp.Star):
            star.set("except_", [*(star.args.get("except_") or []), *hidden])
