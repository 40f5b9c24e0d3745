"""Features: EDA, training sets (point-in-time correct; reference-compatible), incremental
featurization and leakage checks.

    from distillery.features import build_training_set, compute_features, FeatureDefinition

    built = build_training_set(platform, "experience_events", "training", ["2025-02-01"],
                               horizon="14d", conversion="eventType = 'web.formFilledOut'")
    definition = FeatureDefinition.from_dataset(platform, "training")
    rows = compute_features(platform, definition, "2025-03-01")   # scoring: same features

This room may import lake, engines and sql, never ml or anything downstream.
"""

from __future__ import annotations

from distillery.features.compute import compute_features
from distillery.features.definition import Conversion, FeatureColumn, FeatureDefinition
from distillery.features.eda import EdaReport, explore
from distillery.features.errors import FeatureError
from distillery.features.incremental import StateUpdate, update_state
from distillery.features.leakage import Finding, LeakageReport, check_leakage
from distillery.features.reference import build_reference_training_set
from distillery.features.training import TrainingSet, build_training_set

__all__ = [
    "Conversion",
    "EdaReport",
    "FeatureColumn",
    "FeatureDefinition",
    "FeatureError",
    "Finding",
    "LeakageReport",
    "StateUpdate",
    "TrainingSet",
    "build_reference_training_set",
    "build_training_set",
    "check_leakage",
    "compute_features",
    "explore",
    "update_state",
]
