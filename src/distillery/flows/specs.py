"""What a dataflow does, as saved in the catalog: an export or a source, with its options."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from distillery.errors import ConfigError
from distillery.flows import formats
from distillery.flows.export import DEFAULT_ROWS_PER_FILE
from distillery.flows.mapping import Mapping


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExportSpec(_Spec):
    """Export a dataset to files under `url` (see `export.export_dataset`)."""

    kind: Literal["export"] = "export"
    dataset: str
    url: str
    connection: str | None = None
    format: str = "parquet"
    compression: str | None = None
    incremental: bool = False
    rows_per_file: int = Field(default=DEFAULT_ROWS_PER_FILE, ge=1)

    def model_post_init(self, context: Any) -> None:
        checked = formats.file_format(self.format, self.compression)
        self.format, self.compression = checked.name, checked.compression


class SourceSpec(_Spec):
    """Ingest each new file of a folder as a batch (see `source.run_source`)."""

    kind: Literal["source"] = "source"
    url: str
    dataset: str
    connection: str | None = None
    mapping: dict[str, str] = Field(default_factory=dict)
    format: Literal["csv", "parquet", "json"] | None = None
    recursive: bool = True
    pattern: str | None = None
    error_threshold: float | None = Field(default=None, ge=0, le=1)

    @field_validator("mapping")
    @classmethod
    def _mapping(cls, value: dict[str, str]) -> dict[str, str]:
        Mapping(value)  # raises MappingError naming the field
        return value


Spec = ExportSpec | SourceSpec


def parse_spec(data: dict[str, Any], where: str = "dataflow") -> Spec:
    """A spec from its saved (or given) form; ConfigError names the bad option."""
    model = SourceSpec if data.get("kind") == "source" else ExportSpec
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        option = ".".join(str(p) for p in first["loc"]) or "(spec)"
        raise ConfigError(f"{where}: option {option!r}: {first['msg']}") from None
