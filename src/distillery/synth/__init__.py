"""The synthetic data generator: the reference's users, events, profiles and ground truth.

`simulate` yields Arrow batches and does no I/O; `generate` writes them through the platform's
batch ingestion; `ecid` is the reference's identity function; `truth` puts model quality in
context (latent and clairvoyant probabilities).
"""

from __future__ import annotations

from distillery.synth import truth
from distillery.synth.batches import SimBatch, Window, simulate
from distillery.synth.identity import ecid, emails
from distillery.synth.ingestion import DatasetWritten, GenerateResult, generate
from distillery.synth.spec import SCENARIOS

__all__ = [
    "SCENARIOS",
    "DatasetWritten",
    "GenerateResult",
    "SimBatch",
    "Window",
    "ecid",
    "emails",
    "generate",
    "simulate",
    "truth",
]
