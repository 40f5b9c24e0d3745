"""The merge: profile fragments of each person become one row, attribute by attribute.

Vectorised in the engine: every record of every record dataset is resolved to its person (its
highest-priority identity in the graph), its attributes are flattened to one column per leaf,
and one GROUP BY person takes, per leaf, `arg_max(value, key)` over the fragments that have a
value, where the key orders fragments by the merge policy (time first for timestampOrdered,
dataset precedence first for dataSetPrecedence). A newer fragment without a value therefore
never erases an older value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from distillery.lake import xdm
from distillery.lake.schema import Field, FieldGroup, Schema
from distillery.profiles.errors import ProfileError
from distillery.profiles.identities import raw_identities, record_key, times_join
from distillery.profiles.policies import DATASET_PRECEDENCE, MergePolicy
from distillery.profiles.rules import GraphRules
from distillery.profiles.sources import Source
from distillery.profiles.sqlparts import duckdb_type, ident, param, parquet_files, path, struct

PERSON = "person_id"
MEMBERSHIPS = "audienceMemberships"
MEMBERSHIP_FIELD = Field(MEMBERSHIPS, "array", items=Field("membership", "struct", fields=(
    Field("audience", "string"), Field("status", "string"))),
    description="Audience memberships (from the audience memberships dataset, when present).")
_RESERVED = {PERSON, "identityMap", MEMBERSHIPS, "mergePolicy", "updatedAt"}
# Fragment times are clamped to [1970, ~2041] microseconds (2**51), below the dataset rank.
_TIME_LIMIT = (1 << 51) - 1

@dataclass(frozen=True)
class Fragments:
    """A record dataset taking part in the merge.

    Attributes:
        source: The dataset.
        files_param: The parameter holding the files to read.
        rank: Precedence (higher wins under dataSetPrecedence; ties broken by time).
    """

    source: Source
    files_param: str
    rank: int


def unified_schema(sources: Sequence[Source]) -> Schema:
    """The schema of the unified profiles: person id, identities, the merged attribute fields
    of every record dataset, memberships, policy and refresh time."""
    fields = merged_fields(sources)
    clash = sorted(_RESERVED & {f.name for f in fields})
    if clash:
        raise ProfileError(f"profile datasets use the reserved field name(s) {clash}")
    top = (Field(PERSON, "string", required=True, description="The person's id."),
           xdm.IDENTITY_MAP, *fields, MEMBERSHIP_FIELD,
           Field("mergePolicy", "string"), Field("updatedAt", "timestamp"))
    return Schema(title="Unified profiles", cls="adhoc",
                  field_groups=(FieldGroup("unified", top),),
                  description="One row per person, merged from every profile-enabled dataset.")


def merged_fields(sources: Sequence[Source]) -> tuple[Field, ...]:
    """Attribute fields of all record datasets, same-named structs merged.

    Raises:
        ProfileError: two datasets give one field different types.
    """
    merged: dict[str, tuple[Field, str]] = {}
    for src in sources:
        if src.is_events:
            continue
        for f in src.dataset.schema.fields:
            if f.name == "identityMap":
                continue
            if f.name in merged:
                first, origin = merged[f.name]
                merged[f.name] = (_merge(first, f, origin, src.dataset.name, f.name), origin)
            else:
                merged[f.name] = (f, src.dataset.name)
    return tuple(f for f, _ in merged.values())


def _merge(a: Field, b: Field, origin: str, other: str, where: str) -> Field:
    if a.type == "struct" and b.type == "struct":
        children = {c.name: c for c in a.fields}
        for c in b.fields:
            children[c.name] = (_merge(children[c.name], c, origin, other, f"{where}.{c.name}")
                                if c.name in children else c)
        return Field(a.name, "struct", fields=tuple(children.values()),
                     description=a.description or b.description)
    if a.arrow_type() != b.arrow_type():
        raise ProfileError(f"profile field {where!r} is {a.type} in dataset {origin!r} but "
                           f"{b.type} in dataset {other!r}; profiles cannot merge them")
    return a if a.enum == b.enum else Field(a.name, a.type, description=a.description)


def leaves(fields: Sequence[Field], prefix: str = "") -> list[str]:
    """Dotted paths of the merged attributes (structs are walked; arrays are one value)."""
    out = []
    for f in fields:
        dotted = f"{prefix}{f.name}"
        if f.type == "struct":
            out += leaves(f.fields, dotted + ".")
        else:
            out.append(dotted)
    return out


def identity_maps(graph: pa.Table, affected: pa.Table | None = None) -> pa.Table:
    """Each person's identities as an XDM identityMap: (person_id, identityMap), one row per
    person of the graph (only those in `affected`, when given).

    Namespaces are the map's keys in order; each holds its ids in order, the one naming the
    person marked primary. As DuckDB list aggregates with ORDER BY this was half the time of
    a full merge; here it is one stable sort of person codes, since `build_graph` returns
    the identities sorted by namespace and id already (other input is sorted first).
    """
    rows = graph.select([PERSON, "namespace", "id"]).filter(pc.is_valid(graph.column(PERSON)))
    if affected is not None:
        rows = rows.filter(pc.is_in(rows.column(PERSON), value_set=affected.column(PERSON)))
    rows = rows.combine_chunks()
    if not _sorted(rows):
        rows = rows.sort_by([("namespace", "ascending"), ("id", "ascending")])
    codes = pc.dictionary_encode(rows.column(PERSON)).combine_chunks().indices
    rows = rows.take(pa.array(np.argsort(codes.to_numpy(), kind="stable"))).combine_chunks()
    person, namespace, ids = (rows.column(c).chunk(0) if rows.num_rows else
                              pa.array([], pa.string()) for c in (PERSON, "namespace", "id"))
    new_person = _starts(person)
    groups = np.flatnonzero(new_person | _starts(namespace))  # first row of each namespace
    people = np.flatnonzero(new_person)  # first row of each person
    primary = pc.equal(pc.binary_join_element_wise(namespace, ids, ":"), person)
    entries = pa.StructArray.from_arrays(
        [ids, pa.nulls(len(ids), pa.string()), primary],
        names=["id", "authenticatedState", "primary"])
    lists = pa.ListArray.from_arrays(_offsets(groups, len(ids)), entries)
    maps = pa.MapArray.from_arrays(_offsets(np.searchsorted(groups, people), len(groups)),
                                   namespace.take(pa.array(groups)), lists)
    return pa.table({PERSON: person.take(pa.array(people)),
                     "identityMap": maps.cast(xdm.IDENTITY_MAP.arrow_type())})


def _sorted(rows: pa.Table) -> bool:
    """Whether the rows are sorted by (namespace, id)."""
    if rows.num_rows < 2:
        return True
    ns, ids = rows.column("namespace").chunk(0), rows.column("id").chunk(0)
    ns_a, ns_b, id_a, id_b = ns[:-1], ns[1:], ids[:-1], ids[1:]
    ordered = pc.or_(pc.less(ns_a, ns_b), pc.and_(pc.equal(ns_a, ns_b), pc.less_equal(id_a, id_b)))
    return bool(pc.all(ordered).as_py())


def _starts(values: pa.Array) -> np.ndarray:
    """Where each run of equal values begins."""
    out = np.ones(len(values), dtype=bool)
    if len(values) > 1:
        out[1:] = pc.not_equal(values[1:], values[:-1]).to_numpy(zero_copy_only=False)
    return out


def _offsets(starts: np.ndarray, end: int) -> pa.Array:
    return pa.array(np.append(starts, end).astype(np.int32), pa.int32())


def merge_query(fragments: Sequence[Fragments], fields: Sequence[Field], policy: MergePolicy,
                rules: GraphRules, *, times_table: str, graph_table: str, identity_table: str,
                affected_table: str | None) -> exp.Select:
    """One row per person of `identity_table` (see `identity_maps`: the graph's people, only
    those in `affected_table` when given): its identityMap and merged attributes, shaped as
    `fields`, plus the policy name and time.

    Bound parameters: every fragment's files parameter, `junk`, `max_per_record`, `policy`,
    `updated_at`.
    """
    query = (exp.select(exp.column(PERSON, table="p"),
                        exp.column("identityMap", table="p"), copy=False)
             .from_(exp.Table(this=ident(identity_table), alias=exp.TableAlias(this=ident("p"))),
                    copy=False))
    # Leaves of datasets the policy leaves out stay in the schema, as NULL.
    names = [n for n in leaves(fields)
             if any(n in {p for p, _ in f.source.attribute_leaves()} for f in fragments)]
    if names:
        merged = _merged(fragments, names, policy, rules, times_table, graph_table,
                         affected_table)
        query = query.join(exp.Subquery(this=merged, alias=exp.TableAlias(this=ident("m"))),
                           using=[PERSON], join_type="left", copy=False)
    query = query.select(*(_nested(f, "", set(names)).as_(f.name) for f in fields), copy=False)
    return query.select(exp.cast(exp.null(), _sql_type(MEMBERSHIP_FIELD)).as_(MEMBERSHIPS),
                        exp.cast(param("policy"), "VARCHAR").as_("mergePolicy"),
                        exp.cast(param("updated_at"), "TIMESTAMPTZ").as_("updatedAt"), copy=False)


def _sql_type(f: Field) -> exp.DataType:
    return duckdb_type(f.arrow_type())


def _nested(f: Field, prefix: str, merged: set[str]) -> exp.Expr:
    """A field of the output from the merged leaves (typed NULL where none was merged)."""
    dotted = f"{prefix}{f.name}"
    if f.type != "struct":
        return exp.column(dotted, table="m", quoted=True) if dotted in merged else \
            exp.cast(exp.null(), _sql_type(f))
    return struct({c.name: _nested(c, dotted + ".", merged) for c in f.fields})


def _merged(fragments: Sequence[Fragments], names: list[str], policy: MergePolicy,
            rules: GraphRules, times_table: str, graph_table: str,
            affected_table: str | None) -> exp.Select:
    union: exp.Expr | None = None
    for frag in fragments:
        one = _fragment_rows(frag, names, policy, rules, times_table, graph_table,
                             affected_table)
        if union is None:
            union = one
        else:
            union = exp.union(union, one, distinct=False, copy=False)
            union.set("by_name", True)
    # arg_max skips NULL values, so a fragment without a value never wins an attribute.
    aggregates = [exp.func("arg_max", exp.column(n, quoted=True), exp.column("__key")
                           ).as_(ident(n)) for n in names]
    return (exp.select(exp.column(PERSON), *aggregates, copy=False)
            .from_(exp.Subquery(this=union, alias=exp.TableAlias(this=ident("u"))), copy=False)
            .group_by(exp.column(PERSON), copy=False))


def _order_key(policy: MergePolicy, rank: int, time: exp.Expr) -> exp.Expr:
    """One BIGINT per fragment ordering it by the policy (the largest wins): its time in
    microseconds, below its dataset's rank under dataSetPrecedence. An integer key keeps the
    per-attribute arg_max cheap in time and memory."""
    micros = exp.func("greatest", exp.func("least", exp.func("epoch_us", time),
                                           exp.Literal.number(_TIME_LIMIT)),
                      exp.Literal.number(0))
    if policy.kind != DATASET_PRECEDENCE:
        return micros
    return exp.Add(this=exp.Literal.number(rank * (_TIME_LIMIT + 1)), expression=micros)


def _fragment_rows(frag: Fragments, names: list[str], policy: MergePolicy, rules: GraphRules,
                   times_table: str, graph_table: str, affected_table: str | None
                   ) -> exp.Select:
    """One dataset's records with their person, order key and attribute leaves."""
    src = frag.source
    resolved = _resolve_records(frag, rules, times_table, graph_table, affected_table)
    own = {p for p, _ in src.attribute_leaves()}
    batch_time = exp.column("batch_time", table="__t")
    time = batch_time if src.time_field is None else exp.func(
        "coalesce", exp.cast(path(src.time_field, "f"), "TIMESTAMPTZ"), batch_time)
    columns = [path(n, "f").as_(ident(n)) for n in names if n in own]
    times, on_time = times_join(times_table)
    return (exp.select(exp.column(PERSON, table="rp").as_(PERSON),
                       _order_key(policy, frag.rank, time).as_("__key"), *columns, copy=False)
            .from_(parquet_files(frag.files_param, "f"), copy=False)
            .join(times, on=on_time, join_type="inner", copy=False)
            .join(exp.Subquery(this=resolved, alias=exp.TableAlias(this=ident("rp"))),
                  on=exp.EQ(this=exp.column("__rec", table="rp"), expression=record_key()),
                  join_type="inner", copy=False))


def _resolve_records(frag: Fragments, rules: GraphRules, times_table: str, graph_table: str,
                     affected_table: str | None) -> exp.Select:
    """Each record's person: that of its highest-priority identity present in the graph."""
    identities = raw_identities(frag.source, rules, frag.files_param, times_table)
    on_identity = exp.and_(
        exp.EQ(this=exp.column("namespace", table="g"), expression=exp.column("ns", table="r")),
        exp.EQ(this=exp.column("id", table="g"), expression=exp.column("id", table="r")))
    query = (exp.select("__rec", exp.func("arg_min", exp.column(PERSON, table="g"),
                                          exp.column("pos", table="r")).as_(PERSON),
                        copy=False)
             .from_(exp.Subquery(this=identities, alias=exp.TableAlias(this=ident("r"))),
                    copy=False)
             .join(exp.Table(this=ident(graph_table), alias=exp.TableAlias(this=ident("g"))),
                   on=on_identity, join_type="inner", copy=False)
             .where(exp.column(PERSON, table="g").is_(exp.null()).not_(), copy=False)
             .group_by("__rec", copy=False))
    if affected_table:
        query = query.where(exp.column(PERSON, table="g").isin(
            query=exp.select(PERSON).from_(ident(affected_table))), copy=False)
    return query
