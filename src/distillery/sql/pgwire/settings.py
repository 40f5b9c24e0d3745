"""PostgreSQL run-time settings a client expects to SET, SHOW and read at connect time.

These are the connection's own (client_encoding, DateStyle, TimeZone, search_path,
application_name, ...). Any other name is a Query Service setting (`auto_to_json`) and lives in
the Query Service session; `get` looks in both places.
"""

from __future__ import annotations

from collections.abc import Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from distillery.errors import QueryError

SERVER_VERSION = "15.0"
# Reported to the client at connect time and whenever they change (ParameterStatus).
REPORTED = {
    "application_name": "application_name", "client_encoding": "client_encoding",
    "datestyle": "DateStyle", "intervalstyle": "IntervalStyle", "timezone": "TimeZone",
    "integer_datetimes": "integer_datetimes", "is_superuser": "is_superuser",
    "server_encoding": "server_encoding", "server_version": "server_version",
    "session_authorization": "session_authorization",
    "standard_conforming_strings": "standard_conforming_strings",
    "default_transaction_read_only": "default_transaction_read_only",
    "in_hot_standby": "in_hot_standby",
}
_FIXED = {"server_version", "server_encoding", "integer_datetimes", "is_superuser",
          "session_authorization", "in_hot_standby", "standard_conforming_strings",
          "max_identifier_length", "server_version_num", "default_transaction_read_only",
          "transaction_read_only"}
_ENCODINGS = {"utf8", "utf-8", "unicode"}
_ALIASES = {"time zone": "timezone", "transaction isolation level": "transaction_isolation",
            "session authorization": "session_authorization"}


def _defaults(user: str, read_only: bool) -> dict[str, str]:
    flag = "on" if read_only else "off"
    return {
        "server_version": SERVER_VERSION, "server_version_num": "150000",
        "server_encoding": "UTF8", "client_encoding": "UTF8", "datestyle": "ISO, MDY",
        "intervalstyle": "postgres", "timezone": "UTC", "integer_datetimes": "on",
        "standard_conforming_strings": "on", "is_superuser": "off", "in_hot_standby": "off",
        "session_authorization": user, "application_name": "", "search_path": '"$user", public',
        "extra_float_digits": "1", "transaction_isolation": "read committed",
        "default_transaction_isolation": "read committed",
        "default_transaction_read_only": flag, "transaction_read_only": flag,
        "statement_timeout": "0", "lock_timeout": "0", "idle_in_transaction_session_timeout": "0",
        "client_min_messages": "notice", "bytea_output": "hex", "max_identifier_length": "63",
        "jit": "off", "lc_messages": "C", "lc_monetary": "C", "lc_numeric": "C", "lc_time": "C",
    }


class Settings:
    """The connection's PostgreSQL settings, beside the Query Service session's own."""

    def __init__(self, user: str, read_only: bool, service: Mapping[str, str]) -> None:
        self._defaults = _defaults(user, read_only)
        self._values = dict(self._defaults)
        self._service = service

    @staticmethod
    def normalise(name: str) -> str:
        """A setting's canonical (lower-case) name."""
        key = " ".join(name.strip().strip('"').lower().split())
        return _ALIASES.get(key, key)

    def owns(self, name: str) -> bool:
        """Whether `name` is a PostgreSQL setting (else it is the Query Service's)."""
        return self.normalise(name) in self._defaults

    def get(self, name: str) -> str | None:
        """A setting's value, PostgreSQL's or the Query Service's; None when unknown."""
        key = self.normalise(name)
        if key in self._values:
            return self._values[key]
        return self._service.get(key)

    def set(self, name: str, value: str | None) -> dict[str, str]:
        """Change (or, with None, reset) a PostgreSQL setting; return changed reported ones.

        Raises:
            QueryError: The setting cannot be changed (55P02) or the value is invalid (22023).
        """
        key = self.normalise(name)
        if key in _FIXED:
            if value is None or _same(value, self._values[key]):
                return {}
            raise QueryError(f'parameter "{key}" cannot be changed', sqlstate="55P02")
        new = self._defaults[key] if value is None else self._check(key, value)
        changed = self._values.get(key) != new
        self._values[key] = new
        return {REPORTED[key]: new} if changed and key in REPORTED else {}

    def _check(self, key: str, value: str) -> str:
        if key == "client_encoding" and value.lower() not in _ENCODINGS:
            raise QueryError(f'invalid value for parameter "client_encoding": "{value}" '
                             "(only UTF8 is supported)", sqlstate="22023")
        if key == "client_encoding":
            return "UTF8"
        if key == "timezone":
            return _timezone(value)
        if key == "datestyle" and "iso" not in value.lower():
            raise QueryError(f'invalid value for parameter "DateStyle": "{value}" (only ISO '
                             "output is supported)", sqlstate="22023")
        return value

    def reset_all(self) -> dict[str, str]:
        """Every PostgreSQL setting back to its default; return changed reported ones."""
        changed = {REPORTED[k]: v for k, v in self._defaults.items()
                   if k in REPORTED and self._values.get(k) != v}
        self._values = dict(self._defaults)
        return changed

    def reported(self) -> dict[str, str]:
        """The settings sent to the client at connect time."""
        return {wire: self._values[key] for key, wire in REPORTED.items()}

    def rows(self) -> list[tuple[str, str]]:
        """(name, value) of every setting, for SHOW ALL."""
        merged = {**{k: str(v) for k, v in self._service.items()}, **self._values}
        return sorted(merged.items())


def _same(value: str, current: str) -> bool:
    words = {"true": "on", "yes": "on", "1": "on", "false": "off", "no": "off", "0": "off"}
    return words.get(value.lower(), value.lower()) == current.lower()


def _timezone(value: str) -> str:
    name = value.strip()
    if name.upper() in ("UTC", "GMT", "Z", "ZULU"):
        return "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise QueryError(f'invalid value for parameter "TimeZone": "{value}"',
                         sqlstate="22023") from None
    return name
