"""What Spark needs beyond the Spark SQL text: the one place for Spark-specific tree fixes.

The Query Service speaks Spark SQL, so Spark runs almost every statement as written. Function by
function, against what the DuckDB engine adds (`duckdb_functions`) and what Distillery rewrites
for every engine (`distillery.sql.functions`):

- `randn()`, `raise_error(msg)`, `histogram_numeric(x, nb)`, `inline(array_of_structs)` and a
  window ordered by a volatile call (`ROW_NUMBER() OVER (... ORDER BY randn())`) are Spark's
  own functions and shapes: nothing to do. (Spark's `histogram_numeric` places its bins
  adaptively; the DuckDB macro uses equal-width bins, so the two engines' bins differ.)
- TIME_BETWEEN_PREVIOUS_MATCH / TIME_BETWEEN_NEXT_MATCH are rewritten once for every engine into
  `last_value`/`first_value(...) IGNORE NULLS` windows and `unix_micros`, which Spark has.

What does differ is the shape of one statement: a view. Datasets are served as temporary views
of the engine's session, and Spark refuses a permanent view over a temporary one, so every
CREATE VIEW becomes CREATE TEMPORARY VIEW (which is also what a view of one Query Service is:
it lives as long as the engine's session, and the catalog re-creates it on the next sync).
"""

from __future__ import annotations

from sqlglot import exp


def transform(tree: exp.Expression) -> exp.Expression:
    """Spark-specific rewrites of a statement about to be compiled (in place; returns it)."""
    for create in list(tree.find_all(exp.Create)):
        if str(create.args.get("kind", "")).upper() == "VIEW":
            _temporary(create)
    return tree


def _temporary(create: exp.Create) -> None:
    properties = create.args.get("properties") or exp.Properties(expressions=[])
    if not any(isinstance(p, exp.TemporaryProperty) for p in properties.expressions):
        properties.append("expressions", exp.TemporaryProperty())
    create.set("properties", properties)
