"""HTTP destinations: JSON batches POSTed to a URL, only what changed since the last run.

    destinations.create("webhook", "http", url="https://hooks.example.com/audiences",
                        batch_size=500, timeout_s=10, max_attempts=6,
                        headers={"Authorization": "env:HOOK_TOKEN", "X-Team": "growth"})

Each batch carries an `Idempotency-Key` header derived from its content, so a retried batch
(after a timeout or a dropped connection) is recognisable by the endpoint. 5xx, 408, timeouts
and dropped connections are retried with exponential backoff; 429 and 503 wait for
`Retry-After`. A 2xx answer may list rejected records (`{"rejected": [{"id": ..., "reason":
...}]}`); they, and batches that never got through, are sent again on the next run. 401, 403
and 404 stop the run. Header values that are credentials must be `env:VARIABLE` or
`secret:NAME` (from the home's secrets file); they never reach logs or run records.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import Field, field_validator

from distillery.destinations.base import (
    Capabilities,
    Destination,
    DestinationClient,
    DestinationSpec,
)

SECRET_REF = re.compile(r"^(env|secret):([A-Za-z_][A-Za-z0-9_.-]*)$")
_SENSITIVE = re.compile(r"(?i)(authorization|token|secret|key|password|cookie|signature)")


class HttpSpec(DestinationSpec):
    """Settings of an HTTP destination."""

    url: str = Field(..., description="Endpoint URL (http or https).")
    batch_size: int = Field(500, ge=1, le=10_000)
    timeout_s: float = Field(10.0, gt=0, le=600)
    max_attempts: int = Field(6, ge=1, le=20, description="Tries per batch, first included.")
    backoff_s: float = Field(0.5, ge=0, le=60, description="First retry delay; doubles.")
    max_backoff_s: float = Field(30.0, ge=0, le=3600)
    headers: dict[str, str] = Field(default_factory=dict, description=(
        "Extra headers; credentials as env:VARIABLE or secret:NAME."))
    token: str | None = Field(None, description="Bearer token as env:VARIABLE or secret:NAME.")
    third_party: bool = True

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{value!r} is not an http(s) URL")
        if "@" in parts.netloc:
            raise ValueError("credentials do not belong in the URL; use token or headers "
                             "with env:VARIABLE or secret:NAME")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if _SENSITIVE.search(name) and not SECRET_REF.match(text):
                raise ValueError(f"header {name!r} is a credential: give it as env:VARIABLE or "
                                 "secret:NAME, never as its value")
        return value

    @field_validator("token")
    @classmethod
    def _token(cls, value: str | None) -> str | None:
        if value is not None and not SECRET_REF.match(value):
            raise ValueError("token must be env:VARIABLE or secret:NAME, never the token itself")
        return value


class HttpDestination(Destination):
    """Streaming-style activation over HTTP."""

    type_name = "http"
    spec_class: ClassVar[type[DestinationSpec]] = HttpSpec
    capabilities = Capabilities(export_modes=("full",), changes_only=True, sends_exits=True,
                                rejects_records=True, max_batch_size=10_000)

    @property
    def client_class(self) -> type[DestinationClient]:
        from distillery.destinations.http_client import HttpClient

        return HttpClient

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        from distillery.flows.storage import display_url

        out["spec"]["url"] = display_url(out["spec"]["url"])
        return out
