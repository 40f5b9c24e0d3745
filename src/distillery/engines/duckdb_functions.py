"""Spark and Adobe Data Distiller functions DuckDB lacks, as DuckDB macros.

This is the one place where such functions are defined for DuckDB; SQLGlot passes their
names through unchanged, so the same Spark SQL text runs here and on Spark.
"""

from __future__ import annotations

MACROS: dict[str, str] = {
    # Spark's raise_error(msg) fails the query with msg.
    "raise_error": "CREATE OR REPLACE MACRO raise_error(msg) AS error(msg)",
    # A standard normal draw (Box-Muller), as Spark's randn().
    "randn": "CREATE OR REPLACE MACRO randn() AS "
             "sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())",
}


def install(con: object) -> None:
    """Define every macro on a DuckDB connection (macros are shared by its cursors)."""
    for statement in MACROS.values():
        con.execute(statement)  # type: ignore[attr-defined]
