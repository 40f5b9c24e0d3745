"""Logins to the PostgreSQL endpoint: one user per role, SCRAM verifiers, a client secret file.

Two roles exist: `read-write` (user `distillery`) and `read-only` (user `distillery_readonly`,
whose sessions cannot write datasets). The server keeps only salted SCRAM-SHA-256 verifiers
(`{home}/pgwire/users.json`): the password cannot be recovered from them. So that
`distillery credentials` can print a ready connection string at any time, the passwords also
live in a libpq password file (`{home}/pgwire/pgpass`, usable as `passfile=`), like
`~/.pgpass`. Both files and their folder are readable by the owner only (0600 / 0700).
`rotate` replaces a role's password; a running server reads the verifiers at every login, so
the old password stops working at once.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from scramp import ScramMechanism

from distillery.errors import ConfigError, NotFoundError

ROLES: dict[str, str] = {"read-write": "distillery", "read-only": "distillery_readonly"}
MECHANISM = "SCRAM-SHA-256"
ITERATIONS = 4096  # PostgreSQL's default for SCRAM-SHA-256
FOLDER, USERS_FILE, PASS_FILE = "pgwire", "users.json", "pgpass"


@dataclass(frozen=True)
class Verifier:
    """What the server needs to check a SCRAM login: never the password itself."""

    user: str
    role: str
    salt: bytes
    stored_key: bytes
    server_key: bytes
    iterations: int


@dataclass(frozen=True)
class Credential:
    """A user, its role and its password."""

    user: str
    role: str
    password: str


def folder(home: Path) -> Path:
    """Where the endpoint keeps its credentials and certificate."""
    return Path(home) / FOLDER


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` readable by the owner only, replacing it atomically."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


class CredentialStore:
    """The credentials of one Distillery home."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.users_path = folder(self.home) / USERS_FILE
        self.pass_path = folder(self.home) / PASS_FILE

    def ensure(self) -> list[Credential]:
        """Create the users that do not exist yet; return those created (with passwords)."""
        users = self._load_users()
        created = [self._new(role) for role in ROLES if ROLES[role] not in users]
        if created:
            self._save(created)
        return created

    def rotate(self, role: str) -> Credential:
        """Give `role` a new password; the old one stops working at the next login."""
        credential = self._new(_check_role(role))
        self._save([credential])
        return credential

    def credential(self, role: str) -> Credential:
        """The user and password of `role`, read from the password file."""
        user = ROLES[_check_role(role)]
        password = self._passwords().get(user)
        if password is None:
            raise NotFoundError(f"no password for role {role!r} in {self.pass_path}; run "
                                "`distillery credentials --rotate` to make a new one")
        return Credential(user, role, password)

    def verifier(self, user: str) -> Verifier | None:
        """The SCRAM verifier of `user`, or None when there is no such user."""
        entry = self._load_users().get(user)
        if entry is None:
            return None
        decode = base64.b64decode
        return Verifier(user, entry["role"], decode(entry["salt"]), decode(entry["stored_key"]),
                        decode(entry["server_key"]), int(entry["iterations"]))

    def users(self) -> dict[str, str]:
        """user -> role of every user that can log in."""
        return {name: entry["role"] for name, entry in self._load_users().items()}

    # Files ------------------------------------------------------------------------------------

    def _new(self, role: str) -> Credential:
        return Credential(ROLES[role], role, secrets.token_urlsafe(24))

    def _save(self, credentials: list[Credential]) -> None:
        users = self._load_users()
        passwords = self._passwords()
        mechanism = ScramMechanism(MECHANISM)
        for c in credentials:
            salt, stored_key, server_key, iterations = mechanism.make_auth_info(
                c.password, iteration_count=ITERATIONS)
            users[c.user] = {
                "role": c.role, "mechanism": MECHANISM, "iterations": iterations,
                "salt": _b64(salt), "stored_key": _b64(stored_key),
                "server_key": _b64(server_key),
                "changed_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            passwords[c.user] = c.password
        write_private(self.users_path, json.dumps({"version": 1, "users": users}, indent=2))
        write_private(self.pass_path, "".join(f"*:*:*:{user}:{password}\n"
                                              for user, password in passwords.items()))

    def _load_users(self) -> dict[str, Any]:
        if not self.users_path.exists():
            return {}
        try:
            return dict(json.loads(self.users_path.read_text())["users"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{self.users_path} is damaged ({exc}); delete it and run "
                              "`distillery credentials --rotate`") from None

    def _passwords(self) -> dict[str, str]:
        if not self.pass_path.exists():
            return {}
        entries = {}
        for line in self.pass_path.read_text().splitlines():
            parts = line.split(":", 4)
            if len(parts) == 5:
                entries[parts[3]] = parts[4]
        return entries


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise ConfigError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    return role


def ensure_credentials(home: Path) -> list[Credential]:
    """Create the endpoint's users if missing (what `distillery init` calls)."""
    return CredentialStore(home).ensure()


@dataclass(frozen=True)
class ConnectionInfo:
    """Everything a client needs to connect, and two ready spellings of it."""

    host: str
    port: int
    dbname: str
    user: str
    password: str
    role: str
    sslmode: str
    passfile: str

    @property
    def dsn(self) -> str:
        """A libpq key/value connection string (psql, psycopg, psycopg2)."""
        return (f"host={self.host} port={self.port} dbname={self.dbname} user={self.user} "
                f"password={self.password} sslmode={self.sslmode}")

    @property
    def uri(self) -> str:
        """The same as a postgresql:// URI."""
        return (f"postgresql://{quote(self.user)}:{quote(self.password, safe='')}@"
                f"{self.host}:{self.port}/{quote(self.dbname, safe='')}?sslmode={self.sslmode}")

    def as_dict(self) -> dict[str, Any]:
        """The parts and both spellings, for `--json`."""
        return {"host": self.host, "port": self.port, "dbname": self.dbname, "user": self.user,
                "password": self.password, "role": self.role, "sslmode": self.sslmode,
                "passfile": self.passfile, "dsn": self.dsn, "uri": self.uri}


def connection_info(home: Path, role: str = "read-write", *, host: str = "127.0.0.1",
                    port: int = 5432, sandbox: str = "prod", table: str = "all",
                    tls: bool = False) -> ConnectionInfo:
    """How to connect as `role` to `{sandbox}:{table}` on a server at `host:port`."""
    store = CredentialStore(home)
    credential = store.credential(role)
    return ConnectionInfo(host, port, f"{sandbox}:{table}", credential.user,
                          credential.password, role, "require" if tls else "prefer",
                          str(store.pass_path))
