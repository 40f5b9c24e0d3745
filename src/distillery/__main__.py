"""`python -m distillery` runs the CLI."""

from distillery.cli.main import run

run()
