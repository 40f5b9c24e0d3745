"""File destinations: audience exports to a folder in cloud storage (or a local folder).

Storage, formats and publishing go through the dataflow layer (`flows.storage`,
`flows.formats`): any URL it opens works (local paths, file://, s3://, az://, abfs[s]://,
gs://, NAME:// for a named connection); credentials come from its connections and secrets,
never from this spec.

    destinations.create("crm-drop", "files", url="/data/exports", format="csv",
                        compression="gzip", export_mode="incremental",
                        filename_template="{audience}_{date}",
                        attributes=["person.name.firstName"], identities=["Email"])

Each run writes `{name}.{ext}` (more parts as `{name}_2.{ext}`, ...) and then, last,
`{name}.manifest.json` listing the files with rows and sha256; a reader that waits for the
manifest never sees a half export.
"""

from __future__ import annotations

import string
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from distillery.destinations.base import (
    Capabilities,
    Destination,
    DestinationClient,
    DestinationSpec,
)

PLACEHOLDERS = ("audience", "audience_id", "destination", "date", "datetime", "time", "run")
DEFAULT_TEMPLATE = "{destination}_{audience}_{datetime}"


class FileSpec(DestinationSpec):
    """Settings of a file destination."""

    url: str = Field(..., description="Folder URL (local path, s3://, az://, gs://, NAME://).")
    connection: str | None = Field(None, description="Named storage connection for the URL.")
    format: Literal["csv", "parquet", "json"] = "csv"
    compression: str | None = Field(None, description="csv/json: none or gzip; parquet: "
                                    "gzip, snappy, zstd or none.")
    filename_template: str | None = Field(None, description=(
        "File name without extension; placeholders " + ", ".join(PLACEHOLDERS)))
    rows_per_file: int = Field(5_000_000, ge=1)
    batch_size: int = Field(250_000, ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _checked(self) -> FileSpec:
        from distillery.flows.formats import file_format

        file_format(self.format, self.compression)
        for mapping in [self, *self.mappings.values()]:
            if mapping.filename_template is not None:
                check_template(mapping.filename_template)
        return self


def check_template(template: str) -> str:
    """A filename template with known placeholders and no folder escapes."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise ValueError(f"filename template {template!r} is malformed: {exc}") from None
    unknown = [f for f in fields if f not in PLACEHOLDERS]
    if unknown:
        raise ValueError(f"filename template {template!r} uses unknown placeholder(s) "
                         f"{unknown}; use {', '.join(PLACEHOLDERS)}")
    if not template.strip() or ".." in template or template.startswith("/") or "\\" in template:
        raise ValueError(f"filename template {template!r} must be a relative name without "
                         "'..'")
    return template


class FileDestination(Destination):
    """Audience exports as CSV, Parquet or JSON lines files with a manifest."""

    type_name = "files"
    spec_class: ClassVar[type[DestinationSpec]] = FileSpec
    capabilities = Capabilities(formats=("csv", "parquet", "json"),
                                export_modes=("full", "incremental"), sends_exits=True,
                                delivers_on_close=True)

    @property
    def client_class(self) -> type[DestinationClient]:
        from distillery.destinations.files_client import FileClient

        return FileClient

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        from distillery.flows.storage import display_url

        out["spec"]["url"] = display_url(out["spec"]["url"])
        return out
