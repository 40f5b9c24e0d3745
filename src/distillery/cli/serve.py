"""`distillery serve` (the Query Service over the PostgreSQL protocol) and `credentials`."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys

import typer

from distillery.cli.context import State, err, out, state
from distillery.platform import resolve_home
from distillery.sql.pgwire import (
    ROLES,
    CredentialStore,
    PgWireServer,
    ServerOptions,
    connection_info,
)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("serve")(serve)
    app.command("credentials")(credentials)


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(5432, "--port", help="TCP port (0 picks a free one)."),
    tls: bool = typer.Option(False, "--tls", help="Offer TLS (self-signed certificate)."),
    require_tls: bool = typer.Option(False, "--require-tls", help="Refuse clients without TLS."),
    max_connections: int = typer.Option(100, "--max-connections", min=1,
                                        help="Clients served at once."),
) -> None:
    """Run the Query Service over the PostgreSQL protocol (psql, psycopg, BI tools)."""
    st = state(ctx)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    options = ServerOptions(host=host, port=port, tls=tls or require_tls,
                            require_tls=require_tls, max_connections=max_connections)
    server = PgWireServer(resolve_home(st.home), options)
    asyncio.run(_serve(server, st))
    err.print("Query Service stopped")


async def _serve(server: PgWireServer, st: State) -> None:
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    sandbox = st.sandbox or "prod"
    info = {"host": server.options.host, "port": server.port, "tls": server.options.tls,
            "dbname": f"{sandbox}:all", "home": str(server.home)}
    if st.json:
        sys.stdout.write(json.dumps(info) + "\n")
        sys.stdout.flush()
    else:
        port = "" if server.port == 5432 else f" --port {server.port}"
        out.print(f"Query Service listening on {info['host']}:{info['port']}. Connect with:\n"
                  f"  psql \"host={info['host']} port={info['port']} dbname={info['dbname']} "
                  f"user=distillery\"\n(the password: `distillery credentials{port}`; Ctrl-C "
                  "stops)", highlight=False)
    serving = asyncio.create_task(server.serve_forever())
    try:
        await stop.wait()
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
        await server.close()


def credentials(
    ctx: typer.Context,
    role: str = typer.Option("read-write", "--role", help=f"One of: {', '.join(ROLES)}."),
    rotate: bool = typer.Option(False, "--rotate", help="Give the role a new password."),
    host: str = typer.Option("127.0.0.1", "--host", help="Server address in the string."),
    port: int = typer.Option(5432, "--port", help="Server port in the string."),
    table: str = typer.Option("all", "--table", help="Connect to one table (dbname "
                                                     "{sandbox}:{table})."),
    tls: bool = typer.Option(False, "--tls", help="The server runs with --tls."),
) -> None:
    """Print a ready connection string for psql or a notebook (--json: its parts)."""
    st = state(ctx)
    home = st.platform().home
    store = CredentialStore(home)
    store.ensure()
    if rotate:
        store.rotate(role)
    info = connection_info(home, role, host=host, port=port, sandbox=st.platform().sandbox,
                           table=table, tls=tls)
    st.emit(info.as_dict(), lambda: out.print(
        f"{info.dsn}\n{info.uri}" + ("\n(new password: the old one no longer works)"
                                     if rotate else ""), highlight=False, soft_wrap=True))
