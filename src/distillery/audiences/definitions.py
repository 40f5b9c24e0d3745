"""Audience definitions: names, TTLs, defaults, and the compiled SQL of a rule audience.

A rule audience reads a profile table (any table with the fields the rule names and an
identity field); its events, when the rule uses `xEvent`, come from an events table joined on
the events' identity field. Defaults come from the datasets' identity descriptors.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from distillery.audiences import pql
from distillery.audiences.compile import EventsSource, RuleCompiler
from distillery.audiences.errors import AudienceError
from distillery.audiences.fields import TableFields, table_fields
from distillery.audiences.store import AudienceRecord
from distillery.lake import xdm
from distillery.lake.catalog import now_iso

if TYPE_CHECKING:
    from distillery.platform import Platform

# The unified profile table when the profiles step has built it, else the ingested profiles.
DEFAULT_PROFILE_TABLES = ("unified_profiles", "profiles")
DEFAULT_EVENT_TABLES = ("experience_events", "events")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


def check_name(name: str) -> str:
    """An audience name: letters, digits and '_', starting with a letter or '_'."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise AudienceError(f"audience name {name!r} is invalid: use letters, digits and '_', "
                            "starting with a letter or '_' (at most 128 characters)")
    return name


def check_ttl(ttl_days: Any) -> int | None:
    """A TTL in whole days (None: memberships never expire)."""
    if ttl_days is None:
        return None
    try:
        days = int(ttl_days)
    except (TypeError, ValueError):
        raise AudienceError(f"ttl_days must be a whole number of days, got {ttl_days!r}") from None
    if days < 1 or str(days) != str(ttl_days).strip():
        raise AudienceError(f"ttl_days must be a whole number of days >= 1, got {ttl_days!r}")
    return days


def check_schedule(schedule: str | None) -> str | None:
    """A cron expression or interval (as dataflows accept), or None."""
    if schedule is None:
        return None
    from distillery.flows import schedule as schedules

    return schedules.check(schedule)


def default_table(platform: Platform, candidates: tuple[str, ...], what: str) -> str:
    """The first candidate table that exists; AudienceError says how to name one."""
    for name in candidates:
        if platform.catalog.find_dataset(name) is not None:
            return name
    raise AudienceError(f"no {what} table given and none of {list(candidates)} exists; "
                        f"name the {what} table explicitly")


def identity_of(fields: TableFields, identity: str | None, namespace: str | None,
                tenant: str | None = None) -> tuple[str, str]:
    """The identity field and namespace: given, else the dataset's primary identity, else
    the reference's `_{tenant}.userid` (ECID) when the table has it (the unified profile
    table carries it as a merged attribute, without an identity descriptor)."""
    descriptor = fields.dataset.schema.primary_identity if fields.dataset else None
    if descriptor is None and identity is None and tenant is not None:
        fallback = xdm.userid_identity(tenant)
        if fields.has(fallback.path):
            descriptor = fallback
    path = identity or (descriptor.path if descriptor else None)
    if path is None:
        raise AudienceError(f"table {fields.table!r} has no primary identity; give the identity "
                            "field explicitly (identity=PATH)")
    path = fields.resolve(path, "identity field")
    if namespace is None and descriptor is not None and descriptor.path.lower() == path.lower():
        namespace = descriptor.namespace
    if not namespace:
        raise AudienceError(f"give the identity namespace of field {path!r} (e.g. ECID, Email)")
    return path, namespace


def uses_events(ast: Any) -> bool:
    """Whether a rule reads events."""
    return any(isinstance(n, pql.EventExists | pql.EventCount) for n in pql.walk(ast))


def new_rule_audience(platform: Platform, name: str, rule: str, *, source: str | None = None,
                      identity: str | None = None, namespace: str | None = None,
                      events: str | None = None, events_identity: str | None = None,
                      ttl_days: int | None = None, schedule: str | None = None,
                      description: str = "") -> AudienceRecord:
    """A checked rule audience (not yet stored): the rule compiles against its tables."""
    check_name(name)
    table = source or default_table(platform, DEFAULT_PROFILE_TABLES, "profile")
    fields = table_fields(platform, table)
    ident, ns = identity_of(fields, identity, namespace, platform.tenant)
    ast = pql.parse(rule, platform.tenant)
    options: dict[str, Any] = {}
    if uses_events(ast) or events:
        ev_table = events or default_table(platform, DEFAULT_EVENT_TABLES, "events")
        ev_fields = table_fields(platform, ev_table)
        ev_ident, _ = identity_of(ev_fields, events_identity, ns, platform.tenant)
        options = {"events": ev_fields.table, "events_identity": ev_ident}
    stamp = now_iso()
    rec = AudienceRecord(id=uuid.uuid4().hex[:24], name=name, kind="rule", expression=rule,
                         source=fields.table, identity=ident, namespace=ns,
                         description=description, ttl_days=check_ttl(ttl_days),
                         schedule=check_schedule(schedule), options=options,
                         created_at=stamp, updated_at=stamp)
    compiler(platform, rec)  # refuse a rule that does not fit its tables now, not later
    return rec


def compiler(platform: Platform, audience: AudienceRecord) -> tuple[RuleCompiler, Any]:
    """The compiler of a rule audience against its tables as they are now, and its AST."""
    fields = table_fields(platform, audience.source)
    events = None
    if audience.options.get("events"):
        events = EventsSource(table_fields(platform, audience.options["events"]),
                              audience.options["events_identity"])
    comp = RuleCompiler(pql.expand(audience.expression, platform.tenant), fields,
                        audience.identity, events)
    ast = pql.parse(audience.expression, platform.tenant)
    comp.condition(ast)
    return comp, ast


def members_query(platform: Platform, audience: AudienceRecord) -> tuple[exp.Select, set]:
    """SELECT DISTINCT person_id of the people who qualify now, and the fields it reads."""
    if audience.kind == "rule":
        comp, ast = compiler(platform, audience)
        return comp.members(ast), comp.used
    from distillery.audiences.fields import path_expr

    ident = path_expr(None, audience.identity)
    query = (exp.select(exp.alias_(exp.cast(ident, exp.DataType.build("varchar")), "person_id"))
             .distinct().from_(exp.Table(this=exp.to_identifier(audience.source, quoted=True)))
             .where(exp.Not(this=exp.Is(this=ident, expression=exp.Null()))))
    return query, {(audience.source, audience.identity)}
