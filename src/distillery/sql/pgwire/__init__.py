"""The Query Service over the PostgreSQL wire protocol.

    distillery serve --port 5432
    psql "host=127.0.0.1 port=5432 dbname=prod:all user=distillery"

`PgWireServer` serves a Distillery home (every sandbox: the dbname `{sandbox}:all` or
`{sandbox}:{table}` picks one); `ServerThread` runs one in the background; `credentials`
creates, rotates and prints the logins. See docs/architecture.md for how the pieces fit.
"""

from distillery.sql.pgwire.background import ServerThread, running
from distillery.sql.pgwire.credentials import (
    ROLES,
    ConnectionInfo,
    CredentialStore,
    connection_info,
    ensure_credentials,
)
from distillery.sql.pgwire.server import PgWireServer, ServerOptions

__all__ = [
    "ROLES",
    "ConnectionInfo",
    "CredentialStore",
    "PgWireServer",
    "ServerOptions",
    "ServerThread",
    "connection_info",
    "ensure_credentials",
    "running",
]
