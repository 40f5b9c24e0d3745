"""Distillery: a local-first AI/ML data-pipeline enrichment platform.

Datasets with schemas and batches, a Query Service speaking the Data Distiller dialect,
propensity models, unified profiles, audiences and destinations, on one laptop or on Spark.
"""

from distillery.errors import DistilleryError
from distillery.platform import Platform

__all__ = ["DistilleryError", "Platform"]
__version__ = "0.1.0"
