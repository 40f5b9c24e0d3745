"""Dataflows between the lake and cloud storage: exports, sources, run history, schedules."""
