"""`distillery generate`: simulate the reference's users into datasets (step 1)."""

from __future__ import annotations

import typer

from distillery.cli.context import fail, out, parse_as_of, state, table


def register(app: typer.Typer) -> None:
    """Add the command to the main app."""
    app.command("generate")(generate)


def generate(
    ctx: typer.Context,
    users: int = typer.Option(100_000, "--users", min=1, help="Users to simulate."),
    seed: int = typer.Option(42, "--seed", min=0, help="Random seed."),
    as_of: str | None = typer.Option(None, "--as-of", help="Reference date (YYYY-MM-DD or "
                                     "ISO time); the 10-week window ends 2 weeks before it. "
                                     "Default: today."),
    scenario: str = typer.Option("reference", "--scenario",
                                 help="reference (the reference's quirks) or independent."),
    batch_users: int = typer.Option(10_000, "--batch-users", min=1,
                                    help="Users per ingestion batch."),
    opt_out_share: float = typer.Option(0.1, "--opt-out-share", min=0.0, max=1.0,
                                        help="Share of users opted out of marketing."),
) -> None:
    """Simulate users' profiles and experience events and ingest them as batches."""
    from distillery.synth import SCENARIOS
    from distillery.synth import generate as run_generate

    if scenario not in SCENARIOS:
        fail(f"--scenario must be one of {sorted(SCENARIOS)}, got {scenario!r}")
    moment = parse_as_of(as_of)
    st = state(ctx)
    result = run_generate(st.platform(), users, seed, moment, scenario, batch_users,
                          opt_out_share=opt_out_share)
    info = {
        "users": result.users, "events": result.events, "converters": result.converters,
        "as_of": result.as_of.isoformat() if result.as_of else None,
        "datasets": {role: {"name": d.name, "id": d.id, "table_name": d.table_name,
                            "rows": d.rows, "batches": len(d.batches)}
                     for role, d in result.datasets.items()},
    }

    def render() -> None:
        out.print(table("Datasets written", ["role", "dataset", "table", "id", "rows"],
                        [[r, d["name"], d["table_name"], d["id"], f"{d['rows']:,}"]
                         for r, d in info["datasets"].items()]))
        out.print(f"{result.users:,} users, {result.events:,} events "
                  f"({result.events / max(result.users, 1):.2f} per user), "
                  f"{result.converters:,} converters "
                  f"({result.converters / max(result.users, 1):.1%}); as of {info['as_of']}.")

    st.emit(info, render)
