"""SCRAM-SHA-256 logins checked against stored verifiers, with failed logins logged and slowed.

A client that names an unknown user goes through the same exchange (against a random
verifier) and fails the same way, so user names cannot be probed. Each failure from a host
makes that host's next failures wait longer before the answer (doubling, capped), which
turns password guessing into a slow crawl without touching anyone who logs in correctly.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass, field

from pg_mimic import messages
from scramp import ScramException, ScramMechanism

from distillery.sql.pgwire.credentials import MECHANISM, CredentialStore, Verifier
from distillery.sql.pgwire.stream import WireStream

log = logging.getLogger("distillery.pgwire.auth")
_PASSWORD_MESSAGE = b"p"


@dataclass
class LoginThrottle:
    """Per-host delays before answering failed logins.

    Attributes:
        base: Delay after a host's first recent failure, in seconds.
        cap: Longest delay.
        window: Failures older than this many seconds are forgotten.
    """

    base: float = 0.25
    cap: float = 5.0
    window: float = 300.0
    _failures: dict[str, tuple[int, float]] = field(default_factory=dict)

    def failed(self, host: str, now: float | None = None) -> tuple[int, float]:
        """Record a failure; return the host's recent failure count and the delay to apply."""
        now = time.monotonic() if now is None else now
        count, last = self._failures.get(host, (0, now))
        count = 1 if now - last > self.window else count + 1
        self._failures[host] = (count, now)
        return count, min(self.cap, self.base * 2 ** (count - 1))

    def succeeded(self, host: str) -> None:
        """Forget the host's failures."""
        self._failures.pop(host, None)


def _decoy(user: str) -> Verifier:
    # An unknown user gets a verifier no password matches.
    salt = os.urandom(16)
    key = hashlib.sha256(os.urandom(32)).digest()
    return Verifier(user, "", salt, key, key, 4096)


def _client_first(server: object, client_first: str) -> None:
    """Feed client-first-message to scramp, tolerating libpq's empty user name (`n=`).

    PostgreSQL ignores that field (the user came in the startup packet), but scramp requires
    a value; substitute one for parsing and restore the exact bare message, which both sides
    sign.
    """
    parts = client_first.split(",")
    if len(parts) >= 3 and parts[2] == "n=":
        server.set_client_first(",".join([*parts[:2], "n=distillery", *parts[3:]]))  # type: ignore[attr-defined]
        server.client_first_bare = ",".join(parts[2:])  # type: ignore[attr-defined]
    else:
        server.set_client_first(client_first)  # type: ignore[attr-defined]


async def scram_login(stream: WireStream, user: str, store: CredentialStore) -> Verifier | None:
    """Run the SCRAM-SHA-256 exchange; the user's verifier on success, else None."""
    verifier = store.verifier(user) or _decoy(user)
    mechanism = ScramMechanism(MECHANISM)
    server = mechanism.make_server(lambda _name: (verifier.salt, verifier.stored_key,
                                                  verifier.server_key, verifier.iterations))
    stream.write(messages.make_authentication_sasl([MECHANISM]))
    await stream.drain()
    tag, payload = await stream.read_message()
    if tag != _PASSWORD_MESSAGE:
        return None
    try:
        chosen, first = messages.parse_sasl_initial_response(payload)
        if chosen != MECHANISM:
            return None
        _client_first(server, first.decode("utf-8"))
        stream.write(messages.make_authentication_sasl_continue(
            server.get_server_first().encode("utf-8")))
        await stream.drain()
        tag, payload = await stream.read_message()
        if tag != _PASSWORD_MESSAGE:
            return None
        server.set_client_final(payload.decode("utf-8"))
        final = server.get_server_final()
    except (ScramException, ValueError, IndexError, UnicodeDecodeError):
        return None
    if not verifier.role:
        return None
    stream.write(messages.make_authentication_sasl_final(final.encode("utf-8")))
    return verifier
