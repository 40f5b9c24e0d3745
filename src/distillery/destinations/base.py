"""The one small interface every destination implements, as dlt's destinations do.

A destination type is a factory (`Destination`): a spec (pydantic, `extra="forbid"`), its
capabilities as data, and a client class imported lazily. The client (`DestinationClient`)
receives one activation run's rows as Arrow record batches:

    with destination.client(context) as client:      # open()
        outcome = client.send(batch)                 # per batch; may reject some records
    # close(ok) on leaving: files publish their manifest last; a failure discards the run

Rows carry the identity columns (named after their namespace), the mapped attributes (named
by their field path, or an alias), and `segmentMembership.status` (realized, existing, exited);
a destination that rejects records also gets the hidden column `__rejections`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from distillery.errors import ConfigError, DistilleryError
from distillery.lake import labels

if TYPE_CHECKING:
    from distillery.audiences.store import AudienceRecord
    from distillery.console import Console

STATUS_COLUMN = "segmentMembership.status"
PERSON = "person_id"
# How often a person's records were rejected before: not data, but part of a batch's
# idempotency key (a record sent again after a rejection is a new delivery). Columns whose
# names start with "__" are never delivered.
REJECTIONS = "__rejections"


class DestinationError(DistilleryError, RuntimeError):
    """A destination failed in a way retrying the same call will not fix (bad URL, refused
    credentials); what was delivered before stays recorded."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Capabilities:
    """What a destination type can do.

    Attributes:
        formats: File formats it writes (empty for non-file destinations).
        export_modes: "full" (every member each run) and/or "incremental" (first full, then
            only people who entered or exited).
        changes_only: It receives only changes (entered, updated, exited), never a snapshot.
        sends_exits: It receives people who exited, so it can remove them.
        rejects_records: It may reject single records; they are kept and sent next run.
        delivers_on_close: Nothing counts as delivered until the client closes successfully
            (files: the manifest is written last); otherwise each accepted batch counts.
        max_batch_size: The largest batch `send` takes, if limited.
    """

    formats: tuple[str, ...] = ()
    export_modes: tuple[str, ...] = ("full",)
    changes_only: bool = False
    sends_exits: bool = False
    rejects_records: bool = False
    delivers_on_close: bool = False
    max_batch_size: int | None = None


class AudienceMapping(BaseModel):
    """What of an audience a destination receives."""

    model_config = ConfigDict(extra="forbid")

    identities: list[str] = Field(default_factory=list, description=(
        "Identity namespaces to send: the audience's own namespace, NAMESPACE=field.path, or "
        "NAMESPACE alone to read identityMap['NAMESPACE'][0].id."))
    attributes: list[str] = Field(default_factory=list, description=(
        "Attribute field paths of the audience's table, optionally as alias=field.path."))
    export_mode: Literal["full", "incremental"] | None = None
    filename_template: str | None = None


class DestinationSpec(AudienceMapping):
    """Settings every destination has. Secrets never go here: see each type's spec."""

    third_party: bool = Field(False, description="Data goes to another company (C2 applies).")
    interest_based: bool = Field(False, description="Used for interest-based targeting (C5).")
    consent_channel: Literal["any", "email", "sms"] = Field("any", description=(
        "Marketing consent that must not be 'n'/'dn': consents.marketing.any.val and, for a "
        "channel, consents.marketing.<channel>.val too."))
    batch_size: int = Field(1000, ge=1, le=1_000_000)
    mappings: dict[str, AudienceMapping] = Field(default_factory=dict, description=(
        "Per-audience overrides of identities, attributes, export mode and filename."))


@dataclass
class ActivationContext:
    """What a client knows about the run it serves."""

    run_id: str
    destination: str
    audience: AudienceRecord
    mode: str
    started_at: datetime
    home: Path
    root: Path
    console: Console
    identity_columns: list[str] = field(default_factory=list)
    attribute_columns: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class SendOutcome:
    """What happened to one batch.

    Attributes:
        rejected: Primary identity -> reason, for records the destination refused.
        failed: The whole batch could not be delivered (after retries); resent next run.
        details: Facts for the run record (attempts, statuses, ...); never secrets.
    """

    rejected: dict[str, str] = field(default_factory=dict)
    failed: bool = False
    details: dict[str, Any] = field(default_factory=dict)


class DestinationClient(ABC):
    """Delivers one run's rows; `open`, `send` per batch, `close(ok)`."""

    def __init__(self, destination: Destination, context: ActivationContext) -> None:
        self.destination = destination
        self.context = context

    @abstractmethod
    def open(self) -> None:
        """Prepare the run (connect, resolve secrets, claim a file name)."""

    @abstractmethod
    def send(self, batch: pa.RecordBatch) -> SendOutcome:
        """Deliver one batch of rows."""

    @abstractmethod
    def close(self, ok: bool) -> dict[str, Any]:
        """Finish (`ok`) or abandon the run; return facts for the run record."""

    def rows(self, batch: pa.RecordBatch) -> list[dict[str, Any]]:
        """The batch's rows as dicts, without hidden columns."""
        visible = [n for n in batch.schema.names if not n.startswith("__")]
        return batch.select(visible).to_pylist()

    def __enter__(self) -> DestinationClient:
        self.open()
        return self

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        if exc_type is not None:
            self.close(False)


class Destination(ABC):
    """A configured destination: a name, a checked spec and its type's capabilities."""

    type_name: ClassVar[str]
    spec_class: ClassVar[type[DestinationSpec]] = DestinationSpec
    capabilities: ClassVar[Capabilities] = Capabilities()

    def __init__(self, name: str, spec: DestinationSpec | dict[str, Any] | None = None) -> None:
        self.name = name
        self.spec = spec if isinstance(spec, DestinationSpec) else self.parse_spec(spec or {})
        self.check()

    @classmethod
    def parse_spec(cls, data: dict[str, Any], where: str = "") -> DestinationSpec:
        """Validate a spec; ConfigError names the option that is wrong."""
        try:
            return cls.spec_class.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            option = ".".join(str(p) for p in first["loc"]) or "(spec)"
            raise ConfigError(f"destination {where or cls.type_name!r} ({cls.type_name}): option "
                              f"{option!r}: {first['msg']}") from None

    def check(self) -> None:
        """Refuse settings the type's capabilities cannot honour."""
        for mode in {self.spec.export_mode, *(m.export_mode for m in self.spec.mappings.values())}:
            if mode is not None and mode not in self.capabilities.export_modes:
                raise ConfigError(f"destination {self.name!r} ({self.type_name}) does not support "
                                  f"export mode {mode!r}; it supports "
                                  f"{list(self.capabilities.export_modes)}")
        limit = self.capabilities.max_batch_size
        if limit is not None and self.spec.batch_size > limit:
            raise ConfigError(f"destination {self.name!r}: batch_size {self.spec.batch_size} is "
                              f"above this type's limit of {limit}")

    @property
    @abstractmethod
    def client_class(self) -> type[DestinationClient]:
        """The client class (imported here, lazily, so listing types stays cheap)."""

    def client(self, context: ActivationContext) -> DestinationClient:
        """A client for one run."""
        return self.client_class(self, context)

    def purposes(self) -> list[str]:
        """The data-usage purposes an activation here serves (checked against labels)."""
        return labels.purposes_of(third_party=self.spec.third_party,
                                  interest_based=self.spec.interest_based)

    def mapping_for(self, audience: str) -> AudienceMapping:
        """The spec's mapping with the audience's overrides applied."""
        base = AudienceMapping(identities=self.spec.identities, attributes=self.spec.attributes,
                               export_mode=self.spec.export_mode,
                               filename_template=self.spec.filename_template)
        override = self.spec.mappings.get(audience)
        if override is None:
            return base
        return base.model_copy(update=override.model_dump(exclude_unset=True))

    def describe(self) -> dict[str, Any]:
        """Name, type, capabilities and spec (secret references only, never values)."""
        return {"name": self.name, "type": self.type_name,
                "capabilities": self.capabilities.__dict__,
                "spec": self.spec.model_dump(mode="json")}
