"""The identities of each record, as SQL over a dataset's Parquet files.

A record's identities come from its identity descriptor fields (primary first) and its XDM
identityMap. Junk values and values that do not fit their namespace are dropped, duplicates
removed, and at most `max_per_record` kept. Each kept identity row also names the record's
anchor (its first identity): identities seen together are linked through it.

A record is keyed by one integer, `__rec` = file index * 2**40 + row number in the file (the
file index comes from the times table): grouping and windowing on one BIGINT is several times
cheaper than on a (file name, row) pair.

Every query here is a SQLGlot tree; values (file lists, limits, junk words) are bound
parameters, never text pasted into SQL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from distillery.profiles.rules import NAMESPACE_PATTERNS, GraphRules
from distillery.profiles.sources import Source
from distillery.profiles.sqlparts import ident, parquet_files, path

# Identity rows of one record set (`__raw`): cleaned, ranked, limited, with the anchor.
_RANKED = """
SELECT __rec, __first, __time, ns, id, pos, k, a_ns, a_id FROM (
  SELECT *, row_number() OVER w AS k, first_value(ns) OVER w AS a_ns,
         first_value(id) OVER w AS a_id
  FROM (
    SELECT __rec, ns, id, min(pos) AS pos, min(__first) AS __first, max(__time) AS __time
    FROM __raw GROUP BY __rec, ns, id
  )
  WINDOW w AS (PARTITION BY __rec ORDER BY pos, ns, id)
) WHERE k <= $max_per_record
"""

# The links of a set of identity rows: each identity with its record's anchor.
_LINKS = """
SELECT a_ns, a_id, ns AS b_ns, id AS b_id, min(__first) AS first_seen,
       max(__time) AS last_seen
FROM __ranked GROUP BY a_ns, a_id, ns, id
"""

# Descriptor identities come before identityMap entries; in the map, primary ones first, then
# by namespace priority.
_MAP_OFFSET = 100


def identity_params(rules: GraphRules, *, ranked: bool = True) -> dict[str, object]:
    """The bound values an identity query needs (`ranked`: one of `ranked_identities`)."""
    params: dict[str, object] = {"junk": [j.strip().lower() for j in rules.junk]}
    if ranked:
        params["max_per_record"] = rules.max_per_record
    return params


def distinct_sets(src: Source, files_param: str, times_table: str) -> exp.Select:
    """The distinct identity sets of the files' records (descriptor values `__d0`, ... and
    the identityMap `__imap`), with when each was first and last seen (`__first`, `__time`).

    Ten million events of a million people are a million sets: everything after this works
    on sets, not events. The caller materialises the sets and numbers them (`__rec`) before
    ranking, so that every reader of a set sees the same number.
    """
    view = _file_view(src, files_param, times_table)
    keys = [value.as_(f"__d{i}") for i, (_, value) in enumerate(view.descriptors)]
    if view.identity_map is not None:
        keys.append(view.identity_map.as_("__imap"))
    table, on = times_join(times_table)
    time = _record_time(src, "f")
    return (exp.select(*keys, exp.func("min", time).as_("__first"),
                       exp.func("max", time.copy()).as_("__time"), copy=False)
            .from_(parquet_files(files_param, "f"), copy=False)
            .join(table, on=on, join_type="inner", copy=False)
            .group_by(*(k.this.copy() for k in keys), copy=False))


def ranked_identities(src: Source, rules: GraphRules, sets_table: str) -> exp.Select:
    """Kept identity rows of the identity sets in the table `sets_table` (see
    `distinct_sets`, plus a `__rec` number per set): __rec, __first, __time, ns, id, pos,
    k (1 = the anchor), a_ns, a_id.
    """
    raw = _identities(_set_view(src, sets_table), rules)
    return _substitute(sqlglot.parse_one(_RANKED, read="duckdb"), "__raw", raw)


def links(ranked: exp.Expr) -> exp.Select:
    """Distinct links (anchor, identity) with when they were first and last seen."""
    return _substitute(sqlglot.parse_one(_LINKS, read="duckdb"), "__ranked", ranked)


def _substitute(query: exp.Expr, name: str, sub: exp.Expr) -> exp.Select:
    """Replace the table `name` in `query` with the subquery `sub`."""
    for table in list(query.find_all(exp.Table)):
        if table.name == name:
            table.replace(exp.Subquery(this=sub.copy(), alias=exp.TableAlias(this=ident(name))))
    return query  # type: ignore[return-value]


def _record_time(src: Source, alias: str) -> exp.Expr:
    batch_time = exp.column("batch_time", table="__t")
    if src.time_field is None:
        return batch_time
    own = exp.cast(path(src.time_field, alias), "TIMESTAMPTZ")
    return exp.func("coalesce", own, batch_time)


def record_key(alias: str = "f", times_alias: str = "__t") -> exp.Expr:
    """The record's key: file index * 2**40 + row number in the file."""
    return exp.Add(this=exp.Mul(this=exp.column("file_idx", table=times_alias),
                                expression=exp.Literal.number(1 << 40)),
                   expression=exp.column("file_row_number", table=alias))


def times_join(times_table: str, alias: str = "f") -> tuple[exp.Table, exp.Expr]:
    """The times table as `__t` and the condition joining it to the files' rows."""
    return (exp.Table(this=ident(times_table), alias=exp.TableAlias(this=ident("__t"))),
            exp.EQ(this=exp.column("file", table="__t"),
                   expression=exp.column("filename", table=alias)))


@dataclass(frozen=True)
class _View:
    """Records of a source: a query giving __rec, __first and __time per record (`base`), the
    descriptor identities (namespace, value) and the identityMap, as expressions over it."""

    base: Callable[[], exp.Select]
    descriptors: list[tuple[str, exp.Expr]]
    identity_map: exp.Expr | None


def _file_view(src: Source, files_param: str, times_table: str) -> _View:
    """Every row of the files is a record, keyed by file index and row number."""
    def base() -> exp.Select:
        table, on = times_join(times_table)
        time = _record_time(src, "f")
        return (exp.select(record_key().as_("__rec"), time.as_("__first"),
                           time.copy().as_("__time"), copy=False)
                .from_(parquet_files(files_param, "f"), copy=False)
                .join(table, on=on, join_type="inner", copy=False))

    return _View(base, [(d.namespace, exp.cast(path(d.path, "f"), "VARCHAR"))
                        for d in src.identities],
                 path("identityMap", "f") if src.has_identity_map else None)


def _set_view(src: Source, sets_table: str) -> _View:
    """Each row of a materialised table of identity sets is a record."""
    def base() -> exp.Select:
        return exp.select("__rec", "__first", "__time", copy=False).from_(
            exp.Table(this=ident(sets_table), alias=exp.TableAlias(this=ident("d"))),
            copy=False)

    return _View(base, [(d.namespace, exp.column(f"__d{i}", table="d"))
                        for i, d in enumerate(src.identities)],
                 exp.column("__imap", table="d") if src.has_identity_map else None)


def _usable(value: exp.Expr) -> exp.Expr:
    """Whether an identity value is present and not junk (the `junk` parameter)."""
    return exp.and_(value.is_(exp.null()).not_(),
                    exp.Not(this=exp.func("list_contains", exp.Placeholder(this="junk"),
                                          exp.func("lower", exp.func("trim", value.copy())))))


def raw_identities(src: Source, rules: GraphRules, files_param: str,
                   times_table: str) -> exp.Select:
    """Every usable identity of every record (file row): __rec, __first, __time, ns, id, pos.
    Junk values, nulls and values that break their namespace's pattern are left out (the
    `junk` parameter)."""
    return _identities(_file_view(src, files_param, times_table), rules)


def _identities(view: _View, rules: GraphRules) -> exp.Select:
    parts: list[exp.Select] = []
    for position, (namespace, value) in enumerate(view.descriptors):
        parts.append(view.base().select(
            exp.Literal.string(namespace).as_("ns"), value.copy().as_("id"),
            exp.Literal.number(position).as_("pos"), copy=False))
    if view.identity_map is not None:
        parts.append(_identity_map(view, rules))
    if not parts:
        raise ValueError("a profile dataset has no identities")
    raw: exp.Expr = parts[0]
    for part in parts[1:]:
        raw = exp.union(raw, part, distinct=False, copy=False)
    rows = exp.Subquery(this=raw, alias=exp.TableAlias(this=ident("r")))
    usable = exp.and_(_usable(exp.column("id")), _fits_namespace())
    return exp.select("*", copy=False).from_(rows, copy=False).where(usable, copy=False)


def _identity_map(view: _View, rules: GraphRules) -> exp.Select:
    """One row per identityMap entry. Unnesting in the select list, one level per query: a
    lateral join over UNNEST is orders of magnitude slower in DuckDB."""
    assert view.identity_map is not None
    entries = view.base().select(
        exp.Unnest(expressions=[exp.func("map_entries", view.identity_map.copy())]).as_("e"),
        copy=False)
    entry = exp.column("e")
    items = exp.select("__rec", "__first", "__time",
                       exp.Dot(this=entry, expression=exp.to_identifier("key")).as_("ns"),
                       exp.Unnest(expressions=[exp.Dot(this=entry.copy(),
                                                       expression=exp.to_identifier("value"))]
                                  ).as_("u"), copy=False) \
        .from_(exp.Subquery(this=entries, alias=exp.TableAlias(this=ident("m"))), copy=False)
    item = exp.column("u")
    primary = exp.func("coalesce", exp.Dot(this=item, expression=exp.to_identifier("primary")),
                       exp.false())
    rank = exp.Case(this=exp.column("ns"), ifs=[
        exp.If(this=exp.Literal.string(n), true=exp.Literal.number(i))
        for i, n in enumerate(rules.priority)
    ], default=exp.Literal.number(len(rules.priority)))
    pos = exp.Add(this=exp.Literal.number(_MAP_OFFSET), expression=exp.Add(
        this=exp.Mul(this=rank, expression=exp.Literal.number(2)),
        expression=exp.cast(exp.Not(this=primary), "INTEGER")))
    return exp.select("__rec", "__first", "__time", "ns",
                      exp.Dot(this=item.copy(), expression=exp.to_identifier("id")).as_("id"),
                      pos.as_("pos"), copy=False) \
        .from_(exp.Subquery(this=items, alias=exp.TableAlias(this=ident("i"))), copy=False)


def _fits_namespace() -> exp.Expr:
    """False for values that break their namespace's pattern (an ECID is 38 digits)."""
    return exp.Case(this=exp.column("ns"), ifs=[
        exp.If(this=exp.Literal.string(ns),
               true=exp.func("regexp_full_match", exp.column("id"), exp.Literal.string(pattern)))
        for ns, pattern in NAMESPACE_PATTERNS.items()
    ], default=exp.true())
