"""A destination for tests and rehearsals that fails on purpose.

It appends what it accepts to a local JSON-lines file (when `path` is set) and can reject
given people, report given batches undelivered, or raise on a given batch:

    destinations.create("rehearsal", "dummy", path="/tmp/sent.jsonl", reject=["123..."],
                        fail_batches=[2], raise_on_batch=5)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
from pydantic import Field

from distillery.destinations.base import (
    Capabilities,
    Destination,
    DestinationClient,
    DestinationError,
    DestinationSpec,
    SendOutcome,
)


class DummySpec(DestinationSpec):
    """Settings of the dummy destination."""

    path: str | None = Field(None, description="JSON-lines file receiving accepted rows.")
    reject: list[str] = Field(default_factory=list, description="Identities always rejected.")
    fail_batches: list[int] = Field(default_factory=list,
                                    description="Batch numbers (1-based) reported undelivered.")
    raise_on_batch: int | None = Field(None, ge=1, description="Batch number that raises.")
    batch_size: int = Field(100, ge=1, le=100_000)


class DummyDestination(Destination):
    """Receives changes, like an HTTP endpoint, without a network."""

    type_name = "dummy"
    spec_class: ClassVar[type[DestinationSpec]] = DummySpec
    capabilities = Capabilities(changes_only=True, sends_exits=True, rejects_records=True)

    @property
    def client_class(self) -> type[DestinationClient]:
        return DummyClient


class DummyClient(DestinationClient):
    """Fails exactly as its spec says."""

    def open(self) -> None:
        self.number = 0

    @property
    def spec(self) -> DummySpec:
        spec = self.destination.spec
        assert isinstance(spec, DummySpec)
        return spec

    def send(self, batch: pa.RecordBatch) -> SendOutcome:
        self.number += 1
        if self.spec.raise_on_batch == self.number:
            raise DestinationError(f"dummy destination {self.destination.name!r} fails on "
                                   f"batch {self.number}, as configured")
        if self.number in self.spec.fail_batches:
            return SendOutcome(failed=True, details={"batch": self.number})
        primary = self.context.identity_columns[0]
        rows = self.rows(batch)
        rejected = {r[primary]: "rejected by the dummy destination" for r in rows
                    if r[primary] in set(self.spec.reject)}
        if self.spec.path:
            with Path(self.spec.path).open("a") as fh:
                for r in rows:
                    if r[primary] not in rejected:
                        fh.write(json.dumps(r, sort_keys=True, default=str) + "\n")
        return SendOutcome(rejected=rejected, details={"batch": self.number})

    def close(self, ok: bool) -> dict[str, Any]:
        return {"batches": getattr(self, "number", 0)}
