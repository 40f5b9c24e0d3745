"""Section collectors, in the order of the workflow: each turns what one step left in the
sandbox into a `Section`, or raises `NotYetRun` naming the step to run."""

from __future__ import annotations

from collections.abc import Callable

from distillery.report.context import ReportContext
from distillery.report.parts import Section
from distillery.report.sections import activation, audiences, data, model, scores, training

Collector = Callable[[ReportContext, Section], None]

# (id, title, workflow step, collector): the report's table of contents.
SECTIONS: list[tuple[str, str, str, Collector]] = [
    ("overview", "Data overview", "1 generate / ingest", data.overview),
    ("funnel", "Event funnel", "2 EDA", data.funnel),
    ("cooccurrence", "Co-occurrence of event types", "2 EDA", data.cooccurrence),
    ("correlations", "Correlation with converting", "2 EDA", data.correlations),
    ("training", "Training sets and leakage check", "2 featurize / 3 export", training.collect),
    ("model", "Propensity model (champion)", "4 train", model.collect),
    ("scores", "Score distribution", "5 score / 6 ingest", scores.collect),
    ("reach", "Reach by propensity", "7 audiences", scores.reach),
    ("audiences", "Audiences and membership changes", "7 audiences", audiences.collect),
    ("activation", "Activation runs", "7 activate", activation.collect),
]
