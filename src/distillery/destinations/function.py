"""`@destination`: a plain function `(rows, audience)` as a destination, for one-off webhooks.

    @destination(batch_size=200, third_party=True, attributes=["_acme.propensity"])
    def crm(rows: list[dict], audience) -> list[str] | None:
        ...                       # rows: identities, attributes, segmentMembership.status
        return rejected_ids       # optional: these go again on the next run

    activate(platform, "likely", to=crm)

The function receives only changes (entered, updated, exited). An exception stops the run;
batches the function returned from count as delivered. A saved destination of type `python`
points at such a function by `module:attribute`, so the CLI can use it too.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import pyarrow as pa
from pydantic import Field

from distillery.destinations.base import (
    Capabilities,
    Destination,
    DestinationClient,
    DestinationSpec,
    SendOutcome,
)
from distillery.errors import ConfigError

RowsFunction = Callable[[list[dict[str, Any]], Any], Iterable[str] | None]


class FunctionSpec(DestinationSpec):
    """Settings of a function destination."""

    function: str | None = Field(None, description="module:attribute of the function.")
    batch_size: int = Field(100, ge=1, le=100_000)
    third_party: bool = True


class FunctionDestination(Destination):
    """A destination whose delivery is a Python function."""

    type_name = "python"
    spec_class: ClassVar[type[DestinationSpec]] = FunctionSpec
    capabilities = Capabilities(changes_only=True, sends_exits=True, rejects_records=True)

    def __init__(self, name: str, spec: DestinationSpec | dict[str, Any] | None = None,
                 func: RowsFunction | None = None) -> None:
        super().__init__(name, spec)
        self.func = func or self._load()

    def _load(self) -> RowsFunction:
        target = getattr(self.spec, "function", None)
        if not target or ":" not in target:
            raise ConfigError(f"destination {self.name!r}: option 'function' must be "
                              "module:attribute")
        module, _, attr = target.partition(":")
        try:
            found = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"destination {self.name!r}: cannot load function {target!r}: "
                              f"{exc}") from None
        if isinstance(found, FunctionDestination):
            return found.func
        if not callable(found):
            raise ConfigError(f"destination {self.name!r}: {target!r} is not callable")
        return found  # type: ignore[no-any-return]

    @property
    def client_class(self) -> type[DestinationClient]:
        return FunctionClient


class FunctionClient(DestinationClient):
    """Calls the function once per batch."""

    def open(self) -> None:
        self.calls = 0

    def send(self, batch: pa.RecordBatch) -> SendOutcome:
        self.calls += 1
        rows = self.rows(batch)
        assert isinstance(self.destination, FunctionDestination)
        answer = self.destination.func(rows, self.context.audience)
        ids = {str(r.get(self.context.identity_columns[0])) for r in rows}
        rejected = {str(i): "rejected by the function" for i in (answer or ()) if str(i) in ids}
        return SendOutcome(rejected=rejected, details={"call": self.calls})

    def close(self, ok: bool) -> dict[str, Any]:
        return {"calls": getattr(self, "calls", 0)}


def destination(func: RowsFunction | None = None, *, name: str | None = None,
                **spec: Any) -> Any:
    """Make a function `(rows, audience) -> rejected ids | None` a destination.

    Used bare (`@destination`) or with spec options (`@destination(batch_size=50,
    third_party=False, attributes=[...])`). The result is a Destination usable as
    `activate(..., to=it)`, also found by `name` (default: the function's name) in this
    process.
    """
    def wrap(fn: RowsFunction) -> FunctionDestination:
        from distillery.destinations.registry import FUNCTIONS, check_name

        label = check_name(name or fn.__name__.replace("_", "-"))
        made = FunctionDestination(label, FunctionDestination.parse_spec(spec, label), fn)
        FUNCTIONS[label] = made
        return made

    return wrap(func) if func is not None else wrap
