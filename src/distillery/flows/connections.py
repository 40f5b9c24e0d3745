"""Named connections to cloud storage: `{home}/connections.yaml`, secrets kept apart.

    # {home}/connections.yaml (no secrets in this file)
    landing:
      protocol: az                          # file, s3, az (abfs), gs
      url: az://dlz-user-container          # optional: `landing://cmle/egress` resolves under it
      endpoint_url: http://127.0.0.1:10000/devstoreaccount1
      options: {account_name: devstoreaccount1}
      secrets: {account_key: env:DLZ_ACCOUNT_KEY}   # or secret:NAME from secrets.yaml

    # {home}/secrets.yaml, mode 0600 (refused when group or others may read it)
    dlz_key: "..."

A URL uses a connection given by name (`--connection NAME`), or by its scheme: `NAME://path`
for a connection with a base `url`, or the connection named after the protocol (`s3`, `az`,
`gs`) for plain URLs. Without any, fsspec's libraries take credentials from the environment
as they always do (AWS_*, AZURE_STORAGE_*, GOOGLE_APPLICATION_CREDENTIALS).
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from distillery.errors import ConfigError, NotFoundError

CONNECTIONS_FILE = "connections.yaml"
SECRETS_FILE = "secrets.yaml"
PROTOCOLS = ("file", "s3", "az", "gs")
# URL schemes and the protocol they mean. A connection may be named after a protocol (it is
# then the default for that protocol's URLs) but not after another scheme.
SCHEMES = {"file": "file", "local": "file", "s3": "s3", "s3a": "s3", "az": "az", "abfs": "az",
           "abfss": "az", "adl": "az", "gs": "gs", "gcs": "gs"}
_RESERVED = frozenset(SCHEMES) - set(PROTOCOLS)
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_SECRET_REF = re.compile(r"^(env|secret):([A-Za-z_][A-Za-z0-9_.-]*)$")
# Options whose values are credentials: they belong under `secrets`, never in `options`.
SECRET_OPTIONS = frozenset({
    "key", "secret", "token", "password", "account_key", "sas_token", "connection_string",
    "client_secret", "credential", "credentials", "session_token", "aws_secret_access_key",
})


class Connection(BaseModel):
    """A named connection: where storage is and how to authenticate, without secret values."""

    model_config = ConfigDict(extra="forbid")

    protocol: Literal["file", "s3", "az", "gs"]
    url: str | None = None
    endpoint_url: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(default_factory=dict)

    def model_post_init(self, context: Any) -> None:
        leaked = sorted(SECRET_OPTIONS & set(self.options))
        if leaked:
            raise ValueError(f"option(s) {leaked} are credentials: give them under `secrets` "
                             "as env:VARIABLE or secret:NAME, not as plain options")
        for option, ref in self.secrets.items():
            if not _SECRET_REF.match(ref):
                raise ValueError(f"secret {option!r} must be env:VARIABLE or secret:NAME "
                                 "(the value itself never goes in this file)")


def make_connection(name: str, body: dict[str, Any], where: str = "") -> Connection:
    """A checked connection; ConfigError names the setting to fix."""
    try:
        return Connection.model_validate(body or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        setting = ".".join(str(p) for p in first["loc"]) or "(connection)"
        raise ConfigError(f"connection {name!r}{where}, setting {setting!r}: "
                          f"{first['msg']}") from None


def load_connections(home: Path) -> dict[str, Connection]:
    """Every named connection of a home (none when the file does not exist)."""
    path = home / CONNECTIONS_FILE
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of connection names to settings")
    out: dict[str, Connection] = {}
    for name, body in data.items():
        check_name(str(name))
        if not isinstance(body, dict):
            raise ConfigError(f"connection {name!r} in {path} must be a mapping of settings")
        out[str(name)] = make_connection(str(name), body, f" in {path}")
    return out


def connection(home: Path, name: str) -> Connection:
    """One named connection; NotFoundError names the file to edit."""
    found = load_connections(home).get(name)
    if found is None:
        raise NotFoundError(f"connection {name!r} is not defined in {home / CONNECTIONS_FILE}")
    return found


def save_connection(home: Path, name: str, conn: Connection) -> None:
    """Add or replace a named connection (its secret references, never secret values)."""
    check_name(name)
    current = {k: v.model_dump(exclude_defaults=True) for k, v in load_connections(home).items()}
    current[name] = conn.model_dump(exclude_defaults=True)
    _write_yaml(home / CONNECTIONS_FILE, current)


def remove_connection(home: Path, name: str) -> None:
    """Forget a named connection."""
    current = {k: v.model_dump(exclude_defaults=True) for k, v in load_connections(home).items()}
    if name not in current:
        raise NotFoundError(f"connection {name!r} is not defined in {home / CONNECTIONS_FILE}")
    del current[name]
    _write_yaml(home / CONNECTIONS_FILE, current)


def check_name(name: str) -> str:
    """Connection names double as URL schemes: lower-case letters, digits, '_' and '-', and
    not a storage protocol's own scheme."""
    if not _NAME.match(name):
        raise ConfigError(f"connection name {name!r} is invalid: use lower-case letters, "
                          "digits, '_' or '-', starting with a letter")
    if name in _RESERVED:
        raise ConfigError(f"connection name {name!r} is a storage URL scheme; choose another "
                          f"name, or name it {SCHEMES[name]!r} to make it the default for "
                          "that protocol")
    return name


def resolve_secrets(home: Path, name: str, conn: Connection,
                    environ: dict[str, str] | None = None) -> dict[str, str]:
    """The secret option values of a connection, from the environment or the secrets file."""
    env = os.environ if environ is None else environ
    stored: dict[str, Any] | None = None
    values: dict[str, str] = {}
    for option, ref in conn.secrets.items():
        kind, key = _SECRET_REF.match(ref).groups()  # type: ignore[union-attr]
        if kind == "env":
            if not env.get(key):
                raise ConfigError(f"connection {name!r}: secret {option!r} comes from "
                                  f"environment variable {key}, which is not set")
            values[option] = env[key]
            continue
        if stored is None:
            stored = read_secrets_file(home)
        if key not in stored:
            raise ConfigError(f"connection {name!r}: secret {option!r} names {key!r}, which "
                              f"is not in {home / SECRETS_FILE}")
        values[option] = str(stored[key])
    return values


def read_secrets_file(home: Path) -> dict[str, Any]:
    """The secrets file, refused unless only its owner may read it."""
    path = home / SECRETS_FILE
    if not path.exists():
        raise ConfigError(f"secrets file {path} does not exist (create it with mode 0600)")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"secrets file {path} has mode {mode:04o}; others may read it. "
                          f"Run `chmod 600 {path}`")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError:
        # The parser's message may quote the file's text, so it is not repeated here.
        raise ConfigError(f"secrets file {path} is not valid YAML") from None
    if not isinstance(data, dict):
        raise ConfigError(f"secrets file {path} must hold a mapping of names to values")
    return data


def _write_yaml(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(yaml.safe_dump(data, sort_keys=True))
    os.replace(tmp, path)
