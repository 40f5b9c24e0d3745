"""What every section collector shares: the platform, the events dataset, the EDA computed
once, and a small query helper."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from sqlglot import exp

from distillery.report.parts import NotYetRun

if TYPE_CHECKING:
    from distillery.features import EdaReport
    from distillery.lake.catalog import DatasetRecord
    from distillery.platform import Platform

DEFAULT_EVENTS = "experience_events"
TRAINING_TAG = "feature_definition"
# Datasets other steps keep for themselves: never "the events" of a report.
_NOT_EVENTS_TAGS = ("ground_truth", "profiles_internal")


@dataclass
class ReportContext:
    """The sandbox a report describes.

    Attributes:
        platform: The platform (one sandbox).
        events_name: The events dataset asked for (default: `experience_events`, else the
            first ExperienceEvent dataset).
        model_name: The registered model to show (default: the champion of `propensity`).
    """

    platform: Platform
    events_name: str | None = None
    model_name: str | None = None
    _cache: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def datasets(self) -> dict[str, DatasetRecord]:
        """Every dataset of the sandbox by name."""
        return {d.name: d for d in self.platform.datasets()}

    @cached_property
    def events(self) -> DatasetRecord:
        """The events dataset the data sections describe.

        Raises:
            NotYetRun: the sandbox has no events dataset (with data).
        """
        if self.events_name is not None:
            return self.platform.dataset(self.events_name)
        found = self.datasets.get(DEFAULT_EVENTS)
        if found is None:
            found = next((d for d in self.datasets.values() if d.schema.cls == "event"
                          and not any(d.tags.get(t) for t in _NOT_EVENTS_TAGS)), None)
        if found is None or found.version < 0:
            raise NotYetRun("No experience events yet: generate synthetic data (`distillery "
                            "generate`, notebook 01) or ingest your own events (`distillery "
                            "ingest FILE --dataset events --create --class event`).")
        return found

    def eda(self) -> EdaReport:
        """The EDA of the events dataset, computed on first use (tables only: the report
        draws its own plots). Converting means what the newest training set built from
        these events says it means, else the reference's web.formFilledOut."""
        if "eda" not in self._cache:
            from distillery.features import explore

            condition, types = self._conversion()
            self._cache["eda"] = explore(self.platform, self.events.name, conversion=condition,
                                         conversion_types=types, plots=False)
        return self._cache["eda"]

    def _conversion(self) -> tuple[str | None, list[str] | None]:
        from distillery.features import FeatureDefinition

        built = [FeatureDefinition.from_tags(d.tags, d.name) for d in self.datasets.values()
                 if TRAINING_TAG in d.tags]
        mine = sorted((d for d in built if d.events == self.events.name),
                      key=lambda d: (d.kind == "point_in_time", d.created_at))
        if not mine:
            return None, None
        conversion = mine[-1].conversion
        return conversion.condition, list(conversion.event_types) or None

    def query(self, tree: exp.Expression, params: dict[str, Any] | None = None) -> pa.Table:
        """Run a SQLGlot query through the Query Service and return its rows."""
        return self.platform.query(tree.sql(dialect="spark"), params).arrow()

    def rows(self, dataset: DatasetRecord) -> int:
        """Rows in a dataset's current snapshot."""
        if dataset.version < 0:
            return 0
        tree = exp.select(exp.Count(this=exp.Star()).as_("n")).from_(
            exp.to_table(dataset.table_name, quoted=True))
        return int(self.query(tree).column("n")[0].as_py())


def field_path(*parts: str) -> exp.Expression:
    """A nested field (`_tenant.propensity`) as a SQLGlot column path, each part quoted."""
    head, *rest = parts
    node: exp.Expression = exp.column(head, quoted=True)
    for part in rest:
        node = exp.Dot(this=node, expression=exp.to_identifier(part, quoted=True))
    return node
