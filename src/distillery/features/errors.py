"""The errors the features room raises."""

from __future__ import annotations

from distillery.errors import DistilleryError


class FeatureError(DistilleryError, ValueError):
    """A feature definition, option or input dataset is wrong; nothing was written."""
