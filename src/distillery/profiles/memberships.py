"""The hook for audience memberships: joined into every unified profile when they exist.

Audiences are evaluated downstream of profiles, so this module only reads what the audience
step writes: the dataset `audience_memberships` (or any dataset tagged
`{"audience_memberships": true}`), one row per person per evaluation job, with

- `person_id`: a unified profile id (`ECID:...`), or an identity value, with its `namespace`
  when known (the audience's primary identity);
- `audience` and/or `audience_id`, `status` (realized, existing, exited), and `job` (the
  evaluation number; rows of each audience's latest job count, all rows when absent).

Each profile lists its memberships in `audienceMemberships` (audience, status). A dataset
without those columns is reported and ignored, never half-joined.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp

from distillery.lake.catalog import DatasetRecord
from distillery.profiles.merge import MEMBERSHIP_FIELD, MEMBERSHIPS, PERSON
from distillery.profiles.sqlparts import duckdb_type, read_files

DATASET = "audience_memberships"
TAG = "audience_memberships"

# __rows: person_id, namespace, audience, status, job of the membership dataset.
_RESOLVE = """
WITH latest AS (
  SELECT person_id, namespace, audience, status FROM (
    SELECT *, max(job) OVER (PARTITION BY audience) AS last_job FROM __rows
  ) WHERE job = last_job
), resolved AS (
  SELECT g.person_id, l.audience, l.status FROM latest AS l
  JOIN __graph AS g ON g.id = l.person_id AND (l.namespace IS NULL OR g.namespace = l.namespace)
  WHERE g.person_id IS NOT NULL
  UNION
  SELECT l.person_id, l.audience, l.status FROM latest AS l
  WHERE l.person_id IN (SELECT person_id FROM __graph)
)
SELECT person_id,
       list({'audience': audience, 'status': status} ORDER BY audience) AS audienceMemberships
FROM resolved GROUP BY person_id
"""


@dataclass
class Memberships:
    """The memberships subquery (None without a usable dataset) and the column to select."""

    query: exp.Expr | None
    column: exp.Expr


def memberships_source(platform: Any) -> DatasetRecord | None:
    """The audience memberships dataset, if the audience step has written one."""
    for ds in platform.lake.datasets():
        if ds.name == DATASET or ds.tags.get(TAG):
            return ds
    return None


def memberships_query(platform: Any) -> tuple[Memberships, dict[str, Any]]:
    """Per person, the list of (audience, status) of each audience's latest evaluation, and
    the parameters it binds. Needs the graph as the table `__graph`."""
    empty = Memberships(None, exp.cast(exp.null(), duckdb_type(
        MEMBERSHIP_FIELD.arrow_type())).as_(MEMBERSHIPS))
    ds = memberships_source(platform)
    if ds is None or ds.version < 0:
        return empty, {}
    files = platform.lake.files(ds)
    columns = set(ds.schema.to_arrow().names)
    if not files:
        return empty, {}
    if PERSON not in columns or "status" not in columns or \
            not {"audience", "audience_id"} & columns:
        platform.console.note(f"audience memberships dataset {ds.name!r} is ignored: it needs "
                              "columns person_id, status and audience (or audience_id)")
        return empty, {}
    query = sqlglot.parse_one(_RESOLVE, read="duckdb")
    rows = _rows(columns)
    for table in list(query.find_all(exp.Table)):
        if table.name == "__rows":
            table.replace(exp.Subquery(this=rows, alias=exp.TableAlias(
                this=exp.to_identifier("__rows"))))
    return Memberships(query, exp.column(MEMBERSHIPS, table="mem")), {"memberships": files}


def _rows(columns: set[str]) -> exp.Select:
    """The membership rows with every column the resolution reads (absent ones filled)."""
    def have(name: str, fallback: exp.Expr) -> exp.Expr:
        return exp.column(name) if name in columns else fallback

    names = [exp.column(c) for c in ("audience", "audience_id") if c in columns]
    audience = names[0] if len(names) == 1 else exp.func("coalesce", *names)
    return exp.select(
        exp.cast(exp.column(PERSON), "VARCHAR").as_(PERSON),
        exp.cast(have("namespace", exp.null()), "VARCHAR").as_("namespace"),
        exp.cast(audience, "VARCHAR").as_("audience"),
        exp.cast(exp.column("status"), "VARCHAR").as_("status"),
        have("job", exp.Literal.number(0)).as_("job"), copy=False,
    ).from_(read_files("memberships"), copy=False)
