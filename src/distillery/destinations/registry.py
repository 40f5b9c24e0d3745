"""Destination types (built in, imported lazily) and the destinations configured by name.

    destinations = Destinations(platform)
    destinations.create("crm-drop", "files", url="s3://bucket/audiences", format="csv")
    destinations.create("webhook", "http", url="https://example.com/hook",
                        headers={"Authorization": "env:HOOK_TOKEN"})

A configured destination lives in the catalog (`destinations`) with its spec; secrets appear
there only as references (env:VAR, secret:NAME). Destinations made by `@destination` are
found by name in this process too.
"""

from __future__ import annotations

import importlib
import json
import re
from typing import TYPE_CHECKING, Any

from distillery.destinations.base import Destination
from distillery.errors import AlreadyExistsError, ConfigError, NotFoundError
from distillery.lake.catalog import Catalog, now_iso

if TYPE_CHECKING:
    from distillery.platform import Platform

TYPES: dict[str, str] = {
    "files": "distillery.destinations.files:FileDestination",
    "http": "distillery.destinations.http:HttpDestination",
    "dummy": "distillery.destinations.dummy:DummyDestination",
    "python": "distillery.destinations.function:FunctionDestination",
}
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
# Destinations made by @destination in this process, by name.
FUNCTIONS: dict[str, Destination] = {}


def destination_type(name: str) -> type[Destination]:
    """The class of a destination type; ConfigError lists the known types."""
    target = TYPES.get(name)
    if target is None:
        raise ConfigError(f"unknown destination type {name!r}; use one of {sorted(TYPES)}")
    module, _, attr = target.partition(":")
    cls: type[Destination] = getattr(importlib.import_module(module), attr)
    return cls


def check_name(name: str) -> str:
    """A destination name: lower-case letters, digits, '_' and '-'."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"destination name {name!r} is invalid: use lower-case letters, "
                          "digits, '_' and '-', starting with a letter")
    return name


class Destinations:
    """The destinations configured in one sandbox."""

    def __init__(self, platform: Platform | Catalog) -> None:
        self.catalog = platform if isinstance(platform, Catalog) else platform.catalog

    def create(self, name: str, type: str, *, replace: bool = False,
               **spec: Any) -> Destination:
        """Configure a destination; its spec is checked now.

        Raises:
            ConfigError: unknown type or option, bad value (the option is named).
            AlreadyExistsError: the name is taken (unless `replace`).
        """
        check_name(name)
        dest = destination_type(type)(name, destination_type(type).parse_spec(spec, name))
        if not replace and self._row(name) is not None:
            raise AlreadyExistsError(f"destination {name!r} exists already")
        stamp = now_iso()
        data = json.dumps(dest.spec.model_dump(mode="json", exclude_defaults=True))
        with self.catalog.connect() as con:
            con.execute("INSERT INTO destinations (name, type, spec_json, created_at, updated_at)"
                        " VALUES (?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET"
                        " type = excluded.type, spec_json = excluded.spec_json,"
                        " updated_at = excluded.updated_at", (name, type, data, stamp, stamp))
        return dest

    def get(self, name: str) -> Destination:
        """A configured destination (or one made by @destination in this process)."""
        row = self._row(name)
        if row is None:
            if name in FUNCTIONS:
                return FUNCTIONS[name]
            raise NotFoundError(f"destination {name!r} is not configured in this sandbox; "
                                "`distillery destination list` shows those that are")
        cls = destination_type(row["type"])
        return cls(name, cls.parse_spec(json.loads(row["spec_json"]), name))

    def list(self) -> list[dict[str, Any]]:
        """Name, type and spec of every configured destination."""
        with self.catalog.connect() as con:
            rows = con.execute("SELECT * FROM destinations ORDER BY name").fetchall()
        return [{"name": r["name"], "type": r["type"], "spec": json.loads(r["spec_json"]),
                 "created_at": r["created_at"], "updated_at": r["updated_at"]} for r in rows]

    def drop(self, name: str) -> None:
        """Forget a destination's configuration (its run records stay)."""
        if self._row(name) is None:
            raise NotFoundError(f"destination {name!r} is not configured in this sandbox")
        with self.catalog.connect() as con:
            con.execute("DELETE FROM destinations WHERE name = ?", (name,))

    def _row(self, name: str) -> Any:
        with self.catalog.connect() as con:
            return con.execute("SELECT * FROM destinations WHERE name = ?", (name,)).fetchone()
