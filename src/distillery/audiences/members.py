"""The membership dataset: one row per person per evaluation, with the status against the
evaluation before (realized = entered, existing, exited). It is a dataset like any other:

    SELECT audience, status, count(*) FROM audience_memberships WHERE job = 12 GROUP BY 1, 2

A person is identified by `namespace` and `person_id` (their identity value in the
audience's namespace), which is how the profiles step joins memberships into unified
profiles. A person who exited appears once with status `exited` and is absent from later
evaluations until they qualify again (then `realized`). The current membership of an audience
is its highest `job`: a job's rows are written as its last step, so only successful
evaluations have rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from distillery.lake.catalog import DatasetRecord
from distillery.lake.schema import Field, FieldGroup, Schema

if TYPE_CHECKING:
    from distillery.platform import Platform

MEMBERSHIPS = "audience_memberships"
STATUSES = ("realized", "existing", "exited")
# The identity value; with `namespace`, what the profiles step joins on (through the
# identity graph) to list memberships in unified profiles.
ID = "person_id"
PERSON = "person_id"

SCHEMA = Schema(
    title="Audience memberships", cls="adhoc",
    field_groups=(FieldGroup("membership", (
        Field("audience_id", "string", required=True),
        Field("audience", "string"),
        Field("job", "long", required=True, description="Evaluation job number."),
        Field("job_id", "string"),
        Field("person_id", "string", required=True,
              description="The person's identity value in the audience's namespace."),
        Field("namespace", "string", description="The identity namespace (ECID, Email)."),
        Field("status", "string", required=True, enum=STATUSES),
        Field("evaluated_at", "timestamp"),
    )),),
    description="Audience membership per evaluation: realized (entered), existing, exited.",
)


def dataset(platform: Platform) -> DatasetRecord:
    """The membership dataset, created on first use."""
    return platform.create_dataset(MEMBERSHIPS, SCHEMA, exist_ok=True,
                                   description=SCHEMA.description)


def table() -> exp.Expr:
    """The membership table, for SQLGlot trees."""
    return exp.Table(this=exp.to_identifier(MEMBERSHIPS, quoted=True))


def of_job(param: str = "job", *, with_exited: bool = False,
           columns: tuple[str, ...] = ()) -> exp.Select:
    """SELECT id AS person_id[, columns] FROM memberships WHERE job = :param
    [AND status <> 'exited']."""
    cond: exp.Expr = exp.EQ(this=exp.column("job"), expression=exp.Placeholder(this=param))
    if not with_exited:
        cond = exp.and_(cond, exp.NEQ(this=exp.column("status"),
                                      expression=exp.Literal.string("exited")))
    person = exp.alias_(exp.column(ID), PERSON)
    return exp.select(person, *(exp.column(c) for c in columns)).from_(table()).where(cond)
