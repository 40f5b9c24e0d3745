"""The errors of scoring, score ingestion and monitoring."""

from __future__ import annotations

from distillery.errors import DistilleryError


class ScoringError(DistilleryError, ValueError):
    """A model cannot score: its features are missing, its output is not a probability, or
    the population holds a person twice. Nothing was written."""


class MonitorError(DistilleryError, ValueError):
    """Monitoring cannot run: no scores, no outcomes, or an option out of range."""
