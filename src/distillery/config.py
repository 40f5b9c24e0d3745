"""Configuration: `config.yaml` in the home, overridden by `DISTILLERY__SECTION__KEY` variables.

Secrets never live here: storage credentials come from the environment or a secrets file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from distillery.errors import ConfigError

CONFIG_FILE = "config.yaml"
ENV_PREFIX = "DISTILLERY__"
_TENANT = re.compile(r"^[a-z][a-z0-9]{0,31}$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DuckDBConfig(_Section):
    """Settings of the embedded DuckDB engine."""

    threads: int | None = Field(default=None, ge=1)
    memory_limit: str | None = None


class SparkConfig(_Section):
    """Settings of the Spark engine: a master URL (`local[*]`, `spark://...`, `yarn`) or a
    Spark Connect URL (`sc://host:15002`, which takes precedence over the master), and extra
    Spark configuration (see docs/spark.md)."""

    master: str = "local[*]"
    remote: str | None = None
    conf: dict[str, str] = Field(default_factory=dict)

    @field_validator("remote")
    @classmethod
    def _connect_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("sc://"):
            raise ValueError(f"must be a Spark Connect URL such as sc://host:15002, got "
                             f"{value!r} (a cluster's master URL goes in spark.master)")
        return value


class Config(_Section):
    """The home's configuration."""

    tenant: str = "tenant"
    default_sandbox: str = "prod"
    engine: Literal["duckdb", "spark"] = "duckdb"
    duckdb: DuckDBConfig = DuckDBConfig()
    spark: SparkConfig = SparkConfig()

    def model_post_init(self, context: Any) -> None:
        if not _TENANT.match(self.tenant):
            raise ValueError(f"tenant {self.tenant!r} must be lower-case letters and digits "
                             "(the tenant field group is then `_{tenant}`)")


def load(home: Path, environ: dict[str, str] | None = None) -> Config:
    """Read the home's config file, apply environment overrides, validate."""
    path = home / CONFIG_FILE
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{path} must hold a mapping of settings")
    env = os.environ if environ is None else environ
    for key, value in env.items():
        if key.startswith(ENV_PREFIX) and value != "":
            parts = key[len(ENV_PREFIX):].lower().split("__")
            node = data
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"setting {where!r} in {path} (or variable "
                          f"{ENV_PREFIX}{where.upper().replace('.', '__')}): {first['msg']}"
                          ) from None


def save(home: Path, config: Config) -> None:
    """Write the config file (only values that differ from the defaults)."""
    (home / CONFIG_FILE).write_text(yaml.safe_dump(config.model_dump(exclude_defaults=True)
                                                   or {}, sort_keys=True))
