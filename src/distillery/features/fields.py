"""Fields of the datasets features are computed from, checked against their schemas, and the
stable column names features get."""

from __future__ import annotations

import re

from distillery.features.errors import FeatureError
from distillery.lake.catalog import DatasetRecord
from distillery.lake.schema import Field

NUMERIC = ("int", "integer", "long", "short", "byte", "float", "double", "number")
TIMESTAMPS = ("timestamp", "date-time")
_SLUG = re.compile(r"[^A-Za-z0-9]+")


def leaf(dataset: DatasetRecord, dotted: str, role: str, option: str) -> Field:
    """The scalar field at `dotted` in a dataset's schema.

    Args:
        dataset: The dataset.
        dotted: The dotted field path.
        role: What the field is used as, for the error message ("identity", "measure", ...).
        option: The option that named it, for the error message.

    Raises:
        FeatureError: the path is not a scalar field of the schema.
    """
    fields = dict(dataset.schema.leaves())
    found = fields.get(dotted)
    if found is None:
        scalars = [p for p, f in fields.items() if f.type not in ("struct", "array", "map")]
        raise FeatureError(f"{role} field {dotted!r} ({option}) is not a field of dataset "
                           f"{dataset.name!r}; scalar fields are: {', '.join(scalars[:40])}")
    if found.type in ("struct", "array", "map"):
        raise FeatureError(f"{role} field {dotted!r} ({option}) of dataset {dataset.name!r} is "
                           f"a {found.type}, not a single value")
    return found


def check_featurizable(dataset: DatasetRecord) -> None:
    """Raise FeatureError for a dataset tagged `featurize: false` (the synthetic ground truth:
    features made from it would carry the answer)."""
    if dataset.tags.get("featurize") is False:
        raise FeatureError(f"dataset {dataset.name!r} is marked not to be featurized (tag "
                           "featurize=false, e.g. synthetic ground truth); build training sets "
                           "from the events dataset")


def identity_path(dataset: DatasetRecord, given: str | None) -> str:
    """The person identity field: `given`, else the schema's primary identity.

    Raises:
        FeatureError: no identity was given and the schema has no primary identity.
    """
    if given:
        leaf(dataset, given, "identity", "--identity")
        return given
    primary = dataset.schema.primary_identity
    if primary is None:
        raise FeatureError(f"dataset {dataset.name!r} has no primary identity; name the person "
                           "field with --identity PATH (e.g. _tenant.userid)")
    return primary.path


def identity_namespace(dataset: DatasetRecord, dotted: str) -> str | None:
    """The identity namespace of a field, if an identity descriptor marks it."""
    return next((i.namespace for i in dataset.schema.identities if i.path == dotted), None)


def check_timestamp(dataset: DatasetRecord, dotted: str) -> None:
    """Raise FeatureError unless `dotted` is a timestamp field of the dataset."""
    found = leaf(dataset, dotted, "timestamp", "--timestamp")
    if found.type not in TIMESTAMPS:
        raise FeatureError(f"timestamp field {dotted!r} of dataset {dataset.name!r} has type "
                           f"{found.type}, not timestamp")


def check_event_type(dataset: DatasetRecord, dotted: str) -> None:
    """Raise FeatureError unless `dotted` is a text field of the dataset."""
    found = leaf(dataset, dotted, "event type", "--event-type")
    if found.type != "string":
        raise FeatureError(f"event type field {dotted!r} of dataset {dataset.name!r} has type "
                           f"{found.type}, not string")


def check_measure(dataset: DatasetRecord, dotted: str) -> None:
    """Raise FeatureError unless `dotted` is a numeric field of the dataset."""
    found = leaf(dataset, dotted, "measure", "--measure")
    if found.type not in NUMERIC:
        raise FeatureError(f"measure {dotted!r} of dataset {dataset.name!r} has type "
                           f"{found.type}; a measure must be numeric (an order value, a "
                           "quantity)")


def default_measures(dataset: DatasetRecord) -> list[str]:
    """Numeric measures worth summing when none are named: the order value of XDM commerce."""
    fields = dict(dataset.schema.leaves())
    wanted = ("commerce.order.priceTotal",)
    return [p for p in wanted if p in fields and fields[p].type in NUMERIC]


def slug(text: str) -> str:
    """A name part of letters, digits and `_` (`commerce.purchases` -> `commerce_purchases`)."""
    return _SLUG.sub("_", text).strip("_") or "blank"


def slugs(values: list[str]) -> dict[str, str]:
    """A stable, unique slug per value; values whose slugs clash (also when they differ only in
    case, which SQL engines do not tell apart) get a numbered suffix in sorted order."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for value in sorted(values):
        base = slug(value)
        name, n = base, 2
        while name.lower() in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name.lower())
        out[value] = name
    return out
