"""Scoring: every person scored by a registered model, scores back into the platform, and
monitoring of the scores against what happened.

    from distillery import scoring

    result = scoring.score(platform, "propensity@champion", as_of="2025-03-01")
    scoring.ingest_scores(platform, "scores.csv")          # a score file, batch rules
    report = scoring.monitor(platform, "propensity")         # AUC, calibration, drift per day

Scores land in the profile-enabled dataset `propensity_scores` (one batch per run); the
unified profiles (distillery.profiles) pick them up after each batch.
"""

from __future__ import annotations

from distillery.scoring.errors import MonitorError, ScoringError
from distillery.scoring.ingest import ingest_scores, known_identities, score_dataset
from distillery.scoring.ingress import IngressFile, PickedUp, pick_up, write_ingress
from distillery.scoring.model import DEFAULT_MODEL, ModelRef, ScoringModel, load_model
from distillery.scoring.monitor import DayReport, MonitorReport, monitor
from distillery.scoring.run import ScoreResult, score
from distillery.scoring.runs import ScoreRun, get_run, list_runs
from distillery.scoring.schema import SCORES_DATASET, score_schema

__all__ = [
    "DEFAULT_MODEL",
    "SCORES_DATASET",
    "DayReport",
    "IngressFile",
    "ModelRef",
    "MonitorError",
    "MonitorReport",
    "PickedUp",
    "ScoreResult",
    "ScoreRun",
    "ScoringError",
    "ScoringModel",
    "get_run",
    "ingest_scores",
    "known_identities",
    "list_runs",
    "load_model",
    "monitor",
    "pick_up",
    "score",
    "score_dataset",
    "score_schema",
    "write_ingress",
]
