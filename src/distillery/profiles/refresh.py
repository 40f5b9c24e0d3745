"""Refreshing the unified profiles: incremental after each batch, full when it must be.

A refresh compares every profile-enabled dataset's snapshot with the one merged last time
(`ProfileState`). Only the files added since are read for new identity links; the graph is
recomputed from all links (SciPy, seconds for millions); then only the people whose identities
or fragments changed are merged again, and their rows replace the old ones. A removed file
(batch reverted or replaced, dataset overwritten or dropped), a new merge policy, new graph rules
or a new profile field make the next refresh a full one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlglot
from sqlglot import exp

from distillery.profiles import identities, store
from distillery.profiles.graph import Edges, Nodes, from_links, resolve
from distillery.profiles.memberships import memberships_query, memberships_source
from distillery.profiles.merge import (
    MEMBERSHIPS,
    PERSON,
    Fragments,
    identity_maps,
    merge_query,
    merged_fields,
    unified_schema,
)
from distillery.profiles.policies import DATASET_PRECEDENCE, MergePolicy, get_policy
from distillery.profiles.rules import DEFAULT_RULES, GraphRules
from distillery.profiles.sources import Source, batch_times, profile_sources
from distillery.profiles.sqlparts import fetch, ident, read_files, run
from distillery.profiles.state import ProfileState

# Above this share of people to merge again, all of them are merged (no rows are kept).
MERGE_ALL_SHARE = 0.5
_CHANGED = """
SELECT DISTINCT p FROM (
  SELECT o.person_id AS old_p, n.person_id AS new_p
  FROM __old AS o FULL OUTER JOIN __new AS n ON o.namespace = n.namespace AND o.id = n.id
  WHERE o.person_id IS DISTINCT FROM n.person_id
), unnest([old_p, new_p]) AS t(p) WHERE p IS NOT NULL
"""
_COMPACT = """
SELECT a_ns, a_id, b_ns, b_id, min(first_seen) AS first_seen, max(last_seen) AS last_seen
FROM __links GROUP BY a_ns, a_id, b_ns, b_id
"""


@dataclass
class RefreshResult:
    """What a refresh did.

    Attributes:
        mode: "none" (up to date), "incremental" or "full".
        reason: Why a full refresh was needed.
        datasets: Names of the datasets whose new snapshots were merged.
        identities: Identities in the graph.
        persons: People in the unified profiles.
        merged: People whose profile was merged again.
        seconds: Time taken.
    """

    mode: str
    reason: str = ""
    datasets: list[str] = field(default_factory=list)
    identities: int = 0
    persons: int = 0
    merged: int = 0
    seconds: float = 0.0


@dataclass
class _Plan:
    full: bool
    reason: str = ""
    new_files: dict[str, list[str]] = field(default_factory=dict)
    memberships: int = -1
    memberships_changed: bool = False

    @property
    def idle(self) -> bool:
        return not self.full and not any(self.new_files.values()) and \
            not self.memberships_changed


def refresh(platform: Any, *, full: bool = False, rules: GraphRules = DEFAULT_RULES
            ) -> RefreshResult:
    """Bring the identity graph and the unified profiles up to date with every
    profile-enabled dataset.

    Args:
        platform: The platform.
        full: Rebuild everything even when an incremental refresh would do.
        rules: Identity graph rules.
    """
    started = time.perf_counter()
    with store.exclusive(platform):
        sources = profile_sources(platform)
        policy = get_policy(platform.catalog)
        state = ProfileState.load(platform.catalog)
        plan = _plan(platform, state, sources, policy, rules, full)
        if plan.idle:
            return RefreshResult("none", seconds=time.perf_counter() - started)
        result = _run(platform, sources, policy, rules, plan)
        ProfileState(watermarks={s.dataset.id: s.dataset.version for s in sources},
                     policy=policy.fingerprint(), rules=repr(rules),
                     memberships=plan.memberships).save(platform.catalog)
    result.seconds = time.perf_counter() - started
    return result


def _plan(platform: Any, state: ProfileState, sources: list[Source], policy: MergePolicy,
          rules: GraphRules, full: bool) -> _Plan:
    members = memberships_source(platform)
    version = members.version if members is not None else -1
    plan = _Plan(full=True, memberships=version, memberships_changed=version != state.memberships)
    unified = store.find(platform, store.UNIFIED)
    current = {s.dataset.id for s in sources}
    if full:
        plan.reason = "asked for"
    elif unified is None or store.find(platform, store.GRAPH) is None:
        plan.reason = "first build"
        plan.full = bool(sources) or unified is not None
    elif state.policy != policy.fingerprint():
        plan.reason = f"merge policy {policy.name!r} is new"
    elif state.rules != repr(rules):
        plan.reason = "identity graph rules changed"
    elif set(state.watermarks) - current:
        plan.reason = "a profile dataset was dropped or disabled"
    elif unified.schema.to_arrow() != unified_schema(sources).to_arrow():
        plan.reason = "profile fields changed"
    else:
        plan.full = False
        for src in sources:
            new = _new_files(platform, src, state.watermarks.get(src.dataset.id))
            if new is None:
                plan.full, plan.reason = True, f"rows were removed from {src.dataset.name!r}"
                break
            plan.new_files[src.dataset.id] = new
    if plan.full:
        plan.new_files = {s.dataset.id: list(s.files) for s in sources}
    return plan


def _new_files(platform: Any, src: Source, merged: int | None) -> list[str] | None:
    """Files added since snapshot `merged`; None when files were also removed."""
    if merged is None:
        return list(src.files)
    if merged == src.dataset.version:
        return []
    before = set(platform.lake.files(src.dataset, merged)) if merged >= 0 else set()
    now = set(src.files)
    if before - now:
        return None
    return sorted(now - before)


def _run(platform: Any, sources: list[Source], policy: MergePolicy, rules: GraphRules,
         plan: _Plan) -> RefreshResult:
    mode = "full" if plan.full else "incremental"
    result = RefreshResult(mode, plan.reason,
                           [s.dataset.name for s in sources if plan.new_files.get(s.dataset.id)])
    times = batch_times(platform, sources)
    with platform.console.task(f"Refreshing unified profiles ({mode})", total=4) as task:
        if plan.full or any(plan.new_files.values()):
            graph, affected = _graph_and_affected(platform, sources, rules, plan, times, task)
        else:
            # Only audience memberships changed: no new links, so the stored graph stands,
            # and nobody's attributes change; the rows are rewritten with their memberships.
            graph, affected = _stored_graph(platform, rules), _nobody()
            task.advance(3)
        persons = pc.count_distinct(graph.column(PERSON)).as_py() if graph.num_rows else 0
        if affected is not None and affected.num_rows > MERGE_ALL_SHARE * persons:
            affected = None  # merging everyone is cheaper than sorting out who to keep
        result.merged = _write_unified(platform, sources, policy, rules, graph, affected, times)
        task.advance()
    result.identities, result.persons = graph.num_rows, persons
    return result


def _graph_and_affected(platform: Any, sources: list[Source], rules: GraphRules, plan: _Plan,
                        times: pa.Table, task: Any) -> tuple[pa.Table, pa.Table | None]:
    """New links, the graph rebuilt from all links, and who must be merged again (None:
    everyone)."""
    _write_links(platform, sources, rules, plan, times)
    task.advance()
    old = None if plan.full else _read_graph(platform)
    graph = build_graph(platform, rules)
    store.write(platform, store.GRAPH, graph, store.adhoc_schema(graph.schema, "Identity graph"))
    task.advance()
    affected = None if plan.full else _affected(platform, old, graph, sources, rules, plan,
                                                times)
    task.advance()
    return graph, affected


def _stored_graph(platform: Any, rules: GraphRules) -> pa.Table:
    """The identity graph as the last refresh wrote it (built afresh if it has no rows)."""
    files = store.files(platform, store.GRAPH)
    if not files:
        return build_graph(platform, rules)
    return fetch(platform, exp.select("*", copy=False).from_(read_files("files"), copy=False),
                 {"files": files})


def _nobody() -> pa.Table:
    return pa.table({PERSON: pa.array([], pa.string())})


def _links_query(platform: Any, sources: list[Source], rules: GraphRules, plan: _Plan,
                 times: pa.Table) -> tuple[exp.Expr | None, dict[str, Any], dict[str, pa.Table]]:
    """The links of the new files: each source's distinct identity sets are materialised and
    numbered first (one number per set, whoever reads it), then ranked and linked."""
    params: dict[str, Any] = identities.identity_params(rules)
    tables: dict[str, pa.Table] = {"__times": times}
    union: exp.Expr | None = None
    for i, src in enumerate(sources):
        new = plan.new_files.get(src.dataset.id)
        if not new:
            continue
        sets = fetch(platform, identities.distinct_sets(src, "files", "__times"),
                     {"files": new}, {"__times": times})
        tables[f"__sets_{i}"] = sets.append_column(
            "__rec", pa.array(np.arange(sets.num_rows, dtype=np.int64)))
        one = identities.links(identities.ranked_identities(src, rules, f"__sets_{i}"))
        union = one if union is None else exp.union(union, one, distinct=False, copy=False)
    if union is None:
        return None, params, tables
    # The same pair seen in several datasets is one link.
    merged = _parse(_COMPACT)
    for table in list(merged.find_all(exp.Table)):
        table.replace(exp.Subquery(this=union, alias=exp.TableAlias(this=ident("l"))))
    return merged, params, tables


def _write_links(platform: Any, sources: list[Source], rules: GraphRules, plan: _Plan,
                 times: pa.Table) -> None:
    query, params, tables = _links_query(platform, sources, rules, plan, times)
    schema = store.adhoc_schema(store.LINKS_SCHEMA, "Identity links")
    if query is None:
        if plan.full:
            store.write(platform, store.LINKS, store.LINKS_SCHEMA.empty_table(), schema)
        return
    rows = run(platform, query, params, tables)
    if plan.full:
        store.write(platform, store.LINKS, rows, schema, mode="overwrite")
        return
    table = rows.read_all()
    if table.num_rows:
        store.write(platform, store.LINKS, table, schema, mode="append")
    if store.needs_compaction(platform):
        compact = _parse(_COMPACT)
        for t in list(compact.find_all(exp.Table)):
            t.replace(exp.Table(this=read_files("links"), alias=exp.TableAlias(this=ident("l"))))
        rows = run(platform, compact, {"links": store.files(platform, store.LINKS)})
        store.write(platform, store.LINKS, rows, schema, mode="overwrite")


def build_graph(platform: Any, rules: GraphRules = DEFAULT_RULES) -> pa.Table:
    """The identity graph from every stored link: one row per identity with its person."""
    links = store.files(platform, store.LINKS)
    if not links:
        return resolve(Nodes(pa.array([], pa.string()), pa.array([], pa.string()),
                             np.array([], np.int64)),
                       Edges(*(np.array([], np.int64),) * 3), rules)
    table = fetch(platform, exp.select("a_ns", "a_id", "b_ns", "b_id", "last_seen", copy=False)
                  .from_(read_files("links"), copy=False), {"links": links})
    return resolve(*from_links(table), rules)


def _read_graph(platform: Any) -> pa.Table:
    files = store.files(platform, store.GRAPH)
    query = exp.select("namespace", "id", PERSON, copy=False).from_(read_files("files"), copy=False)
    return fetch(platform, query, {"files": files}) if files else \
        pa.table({"namespace": pa.array([], pa.string()), "id": pa.array([], pa.string()),
                  PERSON: pa.array([], pa.string())})


def _affected(platform: Any, old: pa.Table | None, graph: pa.Table, sources: list[Source],
              rules: GraphRules, plan: _Plan, times: pa.Table) -> pa.Table:
    """People whose profile must be merged again: those whose identities changed, and
    those with new record fragments."""
    changed = fetch(platform, _parse(_CHANGED), None,
                    {"__old": old, "__new": graph.select(["namespace", "id", PERSON])})
    people = set(changed.column("p").to_pylist())
    params: dict[str, Any] = identities.identity_params(rules, ranked=False)
    for i, src in enumerate(sources):
        new = plan.new_files.get(src.dataset.id)
        if src.is_events or not new:
            continue
        params[f"files_{i}"] = new
        ranked = identities.raw_identities(src, rules, f"files_{i}", "__times")
        on = exp.and_(exp.column("namespace", table="g").eq(exp.column("ns", table="r")),
                      exp.column("id", table="g").eq(exp.column("id", table="r")))
        query = (exp.select(exp.column(PERSON, table="g"), copy=False).distinct(copy=False)
                 .from_(exp.Subquery(this=ranked, alias=exp.TableAlias(this=ident("r"))),
                        copy=False)
                 .join(exp.Table(this=ident("__graph"), alias=exp.TableAlias(this=ident("g"))),
                       on=on, copy=False)
                 .where(exp.column(PERSON, table="g").is_(exp.null()).not_(), copy=False))
        found = fetch(platform, query, {**params}, {"__times": times, "__graph": graph})
        people |= set(found.column(PERSON).to_pylist())
        del params[f"files_{i}"]
    return pa.table({PERSON: pa.array(sorted(people), pa.string())})


def _write_unified(platform: Any, sources: list[Source], policy: MergePolicy,
                   rules: GraphRules, graph: pa.Table, affected: pa.Table | None,
                   times: pa.Table) -> int:
    """Write the unified profiles: kept rows of unaffected people plus the merged rows of
    the affected ones (everyone on a full refresh). Returns the number merged."""
    schema = unified_schema(sources)
    fields = merged_fields(sources)
    fragments, params = _fragments(sources, policy)
    params.update(identities.identity_params(rules, ranked=False))
    params.update(policy=policy.name, updated_at=datetime.now(UTC))
    fresh = merge_query(fragments, fields, policy, rules, times_table="__times",
                        graph_table="__graph", identity_table="__identity_maps",
                        affected_table="__affected" if affected is not None else None)
    rows: exp.Expr = fresh
    kept_only: exp.Expr | None = None
    old_files = store.files(platform, store.UNIFIED)
    if affected is not None and old_files:
        kept = (exp.select(exp.Star(**{"except": [exp.column(MEMBERSHIPS)]}), copy=False)
                .from_(read_files("unified"), copy=False)
                .where(exp.Not(this=exp.column(PERSON).isin(
                    query=exp.select(PERSON).from_(ident("__affected")))), copy=False))
        if affected.num_rows:
            rows = exp.union(kept, fresh, distinct=False, copy=False)
            rows.set("by_name", True)
        else:
            # Nobody to merge again: the merge would still read every record dataset.
            rows = kept_only = kept
            params = {}
        params["unified"] = old_files
    final, extra = _with_memberships(platform, rows, schema)
    params.update(extra)
    tables = {"__times": times, "__graph": graph}
    if rows is not kept_only:
        tables["__identity_maps"] = identity_maps(graph, affected)
    if affected is not None:
        tables["__affected"] = affected
    store.write(platform, store.UNIFIED, run(platform, final, params, tables), schema)
    return affected.num_rows if affected is not None else \
        pc.count_distinct(graph.column(PERSON)).as_py()


def _fragments(sources: list[Source], policy: MergePolicy
               ) -> tuple[list[Fragments], dict[str, Any]]:
    """The record datasets the policy merges, with their rank and files."""
    records = [s for s in sources if not s.is_events and s.files]
    if policy.kind == DATASET_PRECEDENCE:
        order = {ds_id: len(policy.datasets) - i for i, ds_id in enumerate(policy.datasets)}
        records = [s for s in records if s.dataset.id in order]
    else:
        order = {}
    frags, params = [], {}
    for i, src in enumerate(records):
        params[f"merge_{i}"] = list(src.files)
        frags.append(Fragments(src, f"merge_{i}", order.get(src.dataset.id, 0)))
    return frags, params


def _with_memberships(platform: Any, rows: exp.Expr, schema: Any
                      ) -> tuple[exp.Select, dict[str, Any]]:
    """The final rows in schema order, with each person's audience memberships."""
    names = [f.name for f in schema.fields]
    members, params = memberships_query(platform)
    query = exp.select(*(exp.column(n, table="u", quoted=True) if n != MEMBERSHIPS
                         else members.column for n in names), copy=False).from_(
        exp.Subquery(this=rows, alias=exp.TableAlias(this=ident("u"))), copy=False)
    if members.query is not None:
        query = query.join(exp.Subquery(this=members.query,
                                        alias=exp.TableAlias(this=ident("mem"))),
                           on=exp.column(PERSON, table="mem").eq(exp.column(PERSON, table="u")),
                           join_type="left", copy=False)
    return query, params


def _parse(sql: str) -> exp.Expr:
    return sqlglot.parse_one(sql, read="duckdb")
