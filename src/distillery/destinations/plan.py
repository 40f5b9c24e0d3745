"""What an activation would send: the audience's current members with the mapped identities
and attributes, whether each refused marketing, and a fingerprint of what is sent about them.

One SQLGlot query joins the current evaluation's members to the audience's table (attributes)
and to the consent table; the fingerprint (md5 of the sent values) lets the next run send only
the people whose data changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl
from sqlglot import exp

from distillery.audiences import definitions, members
from distillery.audiences.fields import TableFields, kind_of, path_expr, table_fields
from distillery.audiences.store import AudienceRecord, JobRecord
from distillery.destinations import governance
from distillery.destinations.base import PERSON, AudienceMapping, Destination
from distillery.errors import ConfigError

if TYPE_CHECKING:
    from distillery.platform import Platform

OPTED_OUT = "__opted_out"
FINGERPRINT = "__fingerprint"
_NAMESPACE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
_SEPARATOR = "\x1f"


@dataclass
class Plan:
    """The query that selects what an activation sends, and what it depends on."""

    audience: AudienceRecord
    job: JobRecord
    query: exp.Select
    identity_columns: list[str]
    attribute_columns: list[str]
    uses: list[governance.FieldUse] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        """Output columns sent to the destination (without the status)."""
        return self.identity_columns + self.attribute_columns


def build(platform: Platform, audience: AudienceRecord, job: JobRecord,
          destination: Destination, mapping: AudienceMapping) -> Plan:
    """The plan of one activation (checks identities and attributes against the tables)."""
    table = table_fields(platform, audience.source)
    consent = governance.consent_source(platform, audience, destination.spec.consent_channel,
                                        table)
    selected: list[exp.Expr] = [exp.alias_(exp.column(members.ID, "m"), PERSON)]
    uses = [governance.FieldUse(table.table, audience.identity,
                                f"sent as {audience.namespace}")]
    id_cols, id_exprs = _identities(audience, table, mapping.identities, uses)
    attr_cols, attr_exprs = _attributes(table, mapping.attributes, uses)
    _check_unique(destination.name, id_cols + attr_cols)
    for name, expr in zip(id_cols + attr_cols, id_exprs + attr_exprs, strict=True):
        selected.append(exp.alias_(expr, name, quoted=True))
    consent_alias = "p" if consent.fields.table == table.table else "c"
    selected.append(exp.alias_(governance.opted_out(consent_alias,
                                                    destination.spec.consent_channel),
                               OPTED_OUT))
    selected.append(exp.alias_(_fingerprint(id_exprs[1:] + attr_exprs), FINGERPRINT))
    query = exp.select(*selected).from_(exp.alias_(members.table(), "m", table=True))
    query = query.join(_join(table, audience.identity, "p"))
    if consent_alias == "c":
        query = query.join(_join(consent.fields, consent.identity, "c"))
    query = query.where(exp.and_(
        exp.EQ(this=exp.column("job", "m"), expression=exp.Placeholder(this="job")),
        exp.NEQ(this=exp.column("status", "m"), expression=exp.Literal.string("exited"))))
    uses += _definition_uses(platform, audience)
    return Plan(audience, job, query, id_cols, attr_cols, uses, {"job": job.number})


def current_rows(platform: Platform, plan: Plan) -> pl.DataFrame:
    """Run the plan: one row per current member (the first when the table repeats a person)."""
    table = platform.sql.select(platform.sql.session(), plan.query, plan.params).arrow()
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    if frame.height == frame[PERSON].n_unique():
        return frame
    return frame.unique(subset=PERSON, keep="first")


def _identities(audience: AudienceRecord, table: TableFields, wanted: list[str],
                uses: list[governance.FieldUse]) -> tuple[list[str], list[exp.Expr]]:
    """The primary identity first (as its namespace), then the other chosen identities."""
    cols = [audience.namespace]
    exprs: list[exp.Expr] = [exp.column(members.ID, "m")]
    for item in wanted:
        namespace, _, path = item.partition("=")
        namespace, path = namespace.strip(), path.strip()
        if not _NAMESPACE.match(namespace):
            raise ConfigError(f"identity {item!r}: {namespace!r} is not a namespace name")
        if namespace.lower() == audience.namespace.lower() and not path:
            continue
        if path:
            real = table.resolve(path, f"identity field for {namespace}")
            exprs.append(path_expr("p", real))
            uses.append(governance.FieldUse(table.table, real, f"sent as {namespace}"))
        elif table.has("identityMap"):
            exprs.append(_identity_map("p", namespace))
            uses.append(governance.FieldUse(table.table, table.resolve("identityMap"),
                                            f"sent as {namespace}"))
        else:
            raise ConfigError(f"identity {namespace!r}: table {table.table!r} has no "
                              "identityMap; give its field as NAMESPACE=field.path")
        cols.append(namespace)
    return cols, exprs


def _attributes(table: TableFields, wanted: list[str],
                uses: list[governance.FieldUse]) -> tuple[list[str], list[exp.Expr]]:
    cols, exprs = [], []
    for item in wanted:
        alias, _, path = item.rpartition("=") if "=" in item else ("", "", item)
        real = table.resolve(path.strip(), "attribute")
        if kind_of(table.types[real]) == "nested":
            raise ConfigError(f"attribute {real!r} is a {table.types[real]}; map its fields "
                              "one by one")
        cols.append(alias.strip() or real)
        exprs.append(path_expr("p", real))
        uses.append(governance.FieldUse(table.table, real, f"sent as {alias.strip() or real}"))
    return cols, exprs


def _definition_uses(platform: Platform, audience: AudienceRecord) -> list[governance.FieldUse]:
    if audience.kind != "rule":
        return []
    _, used = definitions.members_query(platform, audience)
    return [governance.FieldUse(t, p, "in the audience definition") for t, p in sorted(used)]


def _identity_map(alias: str, namespace: str) -> exp.Expr:
    column = path_expr(alias, "identityMap")
    first = exp.Bracket(this=exp.Bracket(this=column,
                                         expressions=[exp.Literal.string(namespace)]),
                        expressions=[exp.Literal.number(0)])
    return exp.Dot(this=first, expression=exp.to_identifier("id", quoted=True))


def _fingerprint(values: list[exp.Expr]) -> exp.Expr:
    if not values:
        return exp.Literal.string("")
    parts = [exp.Coalesce(this=exp.cast(v, exp.DataType.build("varchar")),
                          expressions=[exp.Literal.string("\x00")]) for v in values]
    return exp.MD5(this=exp.ConcatWs(expressions=[exp.Literal.string(_SEPARATOR), *parts]))


def _join(table: TableFields, identity: str, alias: str) -> exp.Expr:
    source = exp.alias_(exp.Table(this=exp.to_identifier(table.table, quoted=True)), alias,
                        table=True)
    key = exp.cast(path_expr(alias, identity), exp.DataType.build("varchar"))
    return exp.Join(this=source, side="LEFT",
                    on=exp.EQ(this=key, expression=exp.column(members.ID, "m")))


def _check_unique(destination: str, columns: list[str]) -> None:
    seen: set[str] = set()
    for c in columns:
        if c.lower() in seen or c == PERSON:
            raise ConfigError(f"destination {destination!r}: column {c!r} is mapped twice; "
                              "give one of them an alias (alias=field.path)")
        seen.add(c.lower())
