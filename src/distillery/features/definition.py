"""`FeatureDefinition`: everything needed to compute a training set's features again.

A training set stores its definition as JSON in its dataset's tags (`feature_definition`), so
scoring computes exactly the same columns, from the same fields, with the same names, at any
later cutoff: `FeatureDefinition.from_dataset(platform, "my_training_set")`.

The event types are fixed here when the set is built; scoring produces a column for each of them
even when a type no longer occurs, and ignores types that are new.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlglot import exp

from distillery.features import conversion as conv
from distillery.features.errors import FeatureError
from distillery.features.fields import slug, slugs
from distillery.features.sqltree import Params
from distillery.lake.catalog import DatasetRecord, now_iso

if TYPE_CHECKING:
    from distillery.platform import Platform

TAG = "feature_definition"
FORMAT = 1
DEFAULT_WINDOWS = (7, 14, 28)
Population = Literal["not-converted", "all"]
POPULATIONS: tuple[str, ...] = ("not-converted", "all")

# When a feature's events end: strictly before the cutoff (point in time), or through the
# training row itself, which for a converter is the conversion (the reference's row-level set).
BEFORE_CUTOFF = "before_cutoff"
THROUGH_ROW = "through_row"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Conversion(_Model):
    """What counts as converting: any of some event types, or a SQL condition on an event.

    Attributes:
        event_types: Event types that are a conversion.
        condition: A Spark SQL true/false expression over the events dataset's fields.
        matched_event_types: The event types the condition matched when the set was built
            (for the leakage check and for people reading the definition).
    """

    event_types: tuple[str, ...] = ()
    condition: str | None = None
    matched_event_types: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _one_kind(self) -> Conversion:
        if bool(self.event_types) == bool(self.condition):
            raise ValueError("a conversion is either event types or a condition, not both "
                             "and not neither")
        if self.condition:
            conv.parse_condition(self.condition)
        return self

    def tree(self, dataset: DatasetRecord, event_type_field: str, alias: str,
             params: Params) -> exp.Expression:
        """The conversion as a condition on rows of `dataset` aliased `alias`."""
        if self.condition:
            return conv.qualify(conv.parse_condition(self.condition), dataset, alias)
        return conv.event_type_condition(event_type_field, list(self.event_types), alias,
                                         params)

    def describe(self) -> str:
        """Human-readable text of the conversion."""
        if self.condition:
            return self.condition
        return " or ".join(f"eventType = {t!r}" for t in self.event_types)

    def touches(self, event_type: str) -> bool:
        """Whether events of `event_type` can be conversions."""
        return event_type in self.event_types or event_type in self.matched_event_types


class ProfileSource(_Model):
    """Profile attributes joined to each person as of the cutoff.

    Attributes:
        dataset: The profile dataset's name.
        dataset_id: Its id.
        identity: The person field in the profile dataset.
        attributes: Attribute path -> schema type (dates become days before the cutoff).
        as_of: "cutoff" reads the latest profile snapshot committed at or before the cutoff;
            "latest" reads the current one (the leakage check warns about it).
    """

    dataset: str
    dataset_id: str
    identity: str
    attributes: dict[str, str]
    as_of: Literal["cutoff", "latest"] = "cutoff"


@dataclass(frozen=True)
class FeatureColumn:
    """One feature column and where its values come from.

    Attributes:
        name: The column name (stable across training and scoring).
        kind: count, events (all types), sum, recency, tenure, profile, or the reference's
            running count / recency (ref_count, ref_recency).
        event_type: The event type it counts, if any.
        window_days: Its window in days; None for all history.
        measure: The measure it sums, if any.
        attribute: The profile attribute it reads, if any.
        events_until: BEFORE_CUTOFF or THROUGH_ROW.
    """

    name: str
    kind: str
    event_type: str | None = None
    window_days: int | None = None
    measure: str | None = None
    attribute: str | None = None
    events_until: str = BEFORE_CUTOFF


class FeatureDefinition(_Model):
    """A training set's feature definition (see the module docstring).

    Attributes:
        kind: "point_in_time" (the default set) or "reference" (the reference's row-level set).
        events: The events dataset's name; events_id its id.
        identity: The person field of the events; identity_namespace its namespace.
        timestamp: The event time field.
        event_type: The event type field.
        event_types: The event types that get features (fixed at build time).
        windows_days: Count and sum windows in days (all history is always added).
        measures: Numeric fields summed per window.
        conversion: What converting means.
        population: "not-converted" (one-time conversions) or "all" (repeatable ones).
        horizon_seconds: The label horizon H: converted in (cutoff, cutoff + H].
        cutoffs: The training cutoffs.
        profiles: Profile attributes joined as of each cutoff, if any.
        snapshots: Dataset name -> snapshot (Delta version) read when the set was built.
        seed: The reference set's random-row seed.
        identity_column: The output column holding the person identity.
        label: The output label column.
        created_at: When the set was built (UTC, ISO-8601).
    """

    format: int = FORMAT
    kind: Literal["point_in_time", "reference"] = "point_in_time"
    events: str
    events_id: str
    identity: str
    identity_namespace: str | None = None
    timestamp: str = "timestamp"
    event_type: str = "eventType"
    event_types: tuple[str, ...]
    windows_days: tuple[int, ...] = DEFAULT_WINDOWS
    measures: tuple[str, ...] = ()
    conversion: Conversion
    population: Population = "not-converted"
    horizon_seconds: int | None = None
    cutoffs: tuple[datetime, ...] = ()
    profiles: ProfileSource | None = None
    snapshots: dict[str, int] = Field(default_factory=dict)
    seed: int | None = None
    identity_column: str = "userid"
    label: str = "label"
    created_at: str = Field(default_factory=now_iso)

    @field_validator("windows_days")
    @classmethod
    def _windows(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(w <= 0 for w in value):
            raise ValueError(f"windows must be positive whole days, got {list(value)}")
        return tuple(sorted(set(value)))

    @field_validator("format")
    @classmethod
    def _format(cls, value: int) -> int:
        if value > FORMAT:
            raise ValueError(f"definition format {value} is newer than this Distillery "
                             f"understands ({FORMAT}); upgrade Distillery")
        return value

    @property
    def horizon(self) -> timedelta | None:
        """The label horizon as a duration."""
        return None if self.horizon_seconds is None else timedelta(seconds=self.horizon_seconds)

    def type_names(self) -> dict[str, str]:
        """Event type -> the name part its feature columns use."""
        return slugs(list(self.event_types))

    def columns(self) -> list[FeatureColumn]:
        """Every feature column, in output order."""
        if self.kind == "reference":
            from distillery.features.reference import reference_columns

            return reference_columns()
        return _point_in_time_columns(self)

    def feature_names(self) -> list[str]:
        """The feature column names, in output order."""
        return [c.name for c in self.columns()]

    def to_tags(self) -> dict[str, Any]:
        """The definition as dataset tags."""
        return {TAG: self.model_dump(mode="json")}

    @classmethod
    def from_tags(cls, tags: dict[str, Any], dataset: str) -> FeatureDefinition:
        """Read a definition from a dataset's tags.

        Raises:
            FeatureError: the tags hold no definition, or an invalid one.
        """
        data = tags.get(TAG)
        if data is None:
            raise FeatureError(f"dataset {dataset!r} has no feature definition (tag {TAG!r}); "
                               "it was not built by `distillery features build`")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "definition"
            raise FeatureError(f"the feature definition of dataset {dataset!r} is invalid at "
                               f"{where}: {first['msg']}") from None

    @classmethod
    def from_dataset(cls, platform: Platform, name: str) -> FeatureDefinition:
        """The definition stored with a training set dataset."""
        record = platform.dataset(name)
        return cls.from_tags(record.tags, record.name)


def _point_in_time_columns(d: FeatureDefinition) -> list[FeatureColumn]:
    windows: list[int | None] = [*d.windows_days, None]
    cols: list[FeatureColumn] = []
    for event_type, part in d.type_names().items():
        for w in windows:
            cols.append(FeatureColumn(f"count_{_w(w)}__{part}", "count", event_type, w))
        cols.append(FeatureColumn(f"recency_min__{part}", "recency", event_type))
    cols += [FeatureColumn(f"count_{_w(w)}", "events", window_days=w) for w in windows]
    for measure, part in slugs(list(d.measures)).items():
        cols += [FeatureColumn(f"sum_{_w(w)}__{part}", "sum", window_days=w, measure=measure)
                 for w in windows]
    cols.append(FeatureColumn("recency_min", "recency"))
    cols.append(FeatureColumn("tenure_days", "tenure"))
    if d.profiles is not None:
        cols += [FeatureColumn(profile_column(a, t), "profile", attribute=a)
                 for a, t in d.profiles.attributes.items()]
    return cols


def profile_column(attribute: str, kind: str) -> str:
    """The column name of a profile attribute (dates become days before the cutoff)."""
    return f"profile__{slug(attribute)}" + ("__days" if kind == "date" else "")


def _w(window: int | None) -> str:
    return "all" if window is None else f"{window}d"
