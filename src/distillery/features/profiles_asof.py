"""Profile attributes joined to each person as of the cutoff.

"As of the cutoff" means the profile dataset's latest snapshot committed at or before the
cutoff: attributes written later may describe what happened after it (a loyalty tier earned by
the very purchase the label counts). When no such snapshot exists, the caller must ask for the
current one explicitly (`as_of="latest"`); the definition records it and the leakage check
warns about it. A person with several rows in the profile dataset gets the largest value of
each attribute (merge policies belong to the profiles room, downstream of this one).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from distillery.features.definition import ProfileSource, profile_column
from distillery.features.errors import FeatureError
from distillery.features.fields import NUMERIC, identity_path, leaf
from distillery.features.sqltree import Params, aliased, arrow, in_bucket, path, served
from distillery.features.timeparse import micros
from distillery.lake import tables

if TYPE_CHECKING:
    from distillery.platform import Platform

_KINDS = {**dict.fromkeys(NUMERIC, "double"), "boolean": "boolean", "date": "date",
          "string": "string"}
_ARROW = {"double": pa.float64(), "boolean": pa.bool_(), "date": pa.float64(),
          "string": pa.string()}
DAY_US = 86_400_000_000
_P = "p"


def resolve(platform: Platform, dataset: str, attributes: list[str] | None = None,
            identity: str | None = None, as_of: str = "cutoff") -> ProfileSource:
    """Check the profile dataset and choose its attributes.

    Args:
        platform: The platform.
        dataset: The profile dataset.
        attributes: Attribute paths; default: every number, boolean, date and enumerated text
            field that is not an identity.
        identity: The person field; default: the schema's primary identity.
        as_of: "cutoff" or "latest" (see the module docstring).

    Raises:
        FeatureError: a named attribute is missing or not a single value of a usable type.
    """
    if as_of not in ("cutoff", "latest"):
        raise FeatureError(f"--profiles-as-of must be cutoff or latest, got {as_of!r}")
    record = platform.dataset(dataset)
    person = identity_path(record, identity)
    chosen: dict[str, str] = {}
    for attr in attributes if attributes is not None else _defaults(record, person):
        kind = leaf(record, attr, "profile attribute", "--profile-attribute").type
        if kind not in _KINDS:
            raise FeatureError(f"profile attribute {attr!r} of dataset {record.name!r} has type "
                               f"{kind}; use numbers, booleans, dates or text")
        chosen[attr] = _KINDS[kind]
    return ProfileSource(dataset=record.name, dataset_id=record.id, identity=person,
                         attributes=chosen, as_of=as_of)  # type: ignore[arg-type]


def _defaults(record: object, person: str) -> list[str]:
    schema = record.schema  # type: ignore[attr-defined]
    identities = {i.path for i in schema.identities} | {person}
    return [p for p, f in schema.leaves()
            if p not in identities and not p.startswith("identityMap")
            and (f.type in NUMERIC or f.type in ("boolean", "date")
                 or (f.type == "string" and f.enum))]


def snapshot_at(platform: Platform, source: ProfileSource, cutoff: datetime) -> int:
    """The profile snapshot to read for a cutoff.

    Raises:
        FeatureError: `as_of` is "cutoff" and no snapshot was committed at or before it.
    """
    record = platform.dataset(source.dataset_id)
    if source.as_of == "latest":
        return record.version
    limit_ms = micros(cutoff) // 1000
    history = tables.history(platform.lake.path(record))
    versions = [int(h["version"]) for h in history if int(h["timestamp"]) <= limit_ms]
    if not versions:
        first = min(int(h["timestamp"]) for h in history)
        when = datetime.fromtimestamp(first / 1000, UTC).isoformat()
        raise FeatureError(f"profile dataset {record.name!r} has no snapshot at or before the "
                           f"cutoff {cutoff.isoformat()} (its first is from {when}); use "
                           "--profiles-as-of latest to read its current snapshot (the leakage "
                           "check will note it)")
    return max(versions)


def attributes_for(platform: Platform, source: ProfileSource, cutoff: datetime,
                   people: pa.Array, bucket: tuple[int, int] | None = None
                   ) -> dict[str, pa.Array]:
    """Attribute columns aligned with `people` (NULL where a person has no profile).

    `bucket` (index, count) reads only the profiles of that bucket of people
    (`sqltree.in_bucket`), so a scoring stream holds one bucket's profiles at a time.
    """
    record = platform.dataset(source.dataset_id)
    version = snapshot_at(platform, source, cutoff)
    params = Params()
    person = path(source.identity, _P)
    columns = [person.copy().as_("person")]
    for i, (attr, kind) in enumerate(source.attributes.items()):
        columns.append(exp.Max(this=_value(attr, kind, cutoff, params)).as_(f"a_{i}"))
    with served(platform, record, version) as name:
        query = (exp.select(*columns).from_(aliased(name, _P))
                 .where(exp.Not(this=exp.Is(this=person.copy(), expression=exp.Null())))
                 .group_by(person.copy()))
        if bucket is not None:
            query = query.where(in_bucket(person.copy(), *bucket))
        found = arrow(platform, query, params, f"profile attributes of {record.name!r}")
    at = pc.index_in(people, value_set=found.column("person").combine_chunks().cast(pa.string()))
    out: dict[str, pa.Array] = {}
    for i, (attr, kind) in enumerate(source.attributes.items()):
        values = found.column(f"a_{i}").combine_chunks().cast(_ARROW[kind])
        out[profile_column(attr, kind)] = values.take(at)
    return out


def _value(attr: str, kind: str, cutoff: datetime, params: Params) -> exp.Expression:
    field = path(attr, _P)
    if kind == "date":
        days = params(micros(cutoff) / DAY_US, "cutoff_days")
        return exp.Sub(this=days, expression=exp.UnixDate(this=field))
    if kind == "double":
        return exp.Cast(this=field, to=exp.DataType.build("double"))
    return field


def arrow_types(source: ProfileSource) -> dict[str, pa.DataType]:
    """Column name -> Arrow type of each attribute column."""
    return {profile_column(a, k): _ARROW[k] for a, k in source.attributes.items()}
