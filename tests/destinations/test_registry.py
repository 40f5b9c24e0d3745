"""Configured destinations: types, names, specs checked against capabilities, python
functions by `module:attribute`, and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from distillery.destinations import Destinations, destination_type
from distillery.destinations.files import FileDestination
from distillery.destinations.http import HttpDestination
from distillery.errors import AlreadyExistsError, ConfigError, NotFoundError


def test_create_get_list_and_drop(platform, tmp_path: Path) -> None:
    destinations = Destinations(platform)
    made = destinations.create("drop", "files", url=str(tmp_path), format="parquet")
    assert isinstance(made, FileDestination) and made.spec.format == "parquet"
    got = destinations.get("drop")
    assert got.spec == made.spec and got.capabilities.delivers_on_close
    assert [d["name"] for d in destinations.list()] == ["drop"]
    with pytest.raises(AlreadyExistsError):
        destinations.create("drop", "files", url=str(tmp_path))
    destinations.create("drop", "files", url=str(tmp_path), format="csv", replace=True)
    assert destinations.get("drop").spec.format == "csv"
    destinations.drop("drop")
    with pytest.raises(NotFoundError, match="destination 'drop' is not configured"):
        destinations.get("drop")


def test_types_names_and_capabilities_are_checked(platform, tmp_path: Path) -> None:
    destinations = Destinations(platform)
    with pytest.raises(ConfigError, match="unknown destination type 'ftp'"):
        destinations.create("d", "ftp")
    with pytest.raises(ConfigError, match="destination name 'My Drop' is invalid"):
        destinations.create("My Drop", "files", url=str(tmp_path))
    with pytest.raises(ConfigError, match="option 'url': Field required"):
        destinations.create("d", "files")
    with pytest.raises(ConfigError, match="does not support export mode 'incremental'"):
        destinations.create("d", "http", url="http://127.0.0.1:9/x", export_mode="incremental")
    with pytest.raises(ConfigError, match="is not an http\\(s\\) URL"):
        destinations.create("d", "http", url="ftp://example.com")
    assert destination_type("http") is HttpDestination
    assert HttpDestination.capabilities.changes_only and not FileDestination.capabilities\
        .changes_only


def test_python_destinations_point_at_a_function(platform) -> None:
    destinations = Destinations(platform)
    made = destinations.create("fn", "python", function="json:dumps")
    assert made.func is json.dumps
    with pytest.raises(ConfigError, match="cannot load function 'json:nope'"):
        destinations.create("fn2", "python", function="json:nope")
    with pytest.raises(ConfigError, match="option 'function' must be module:attribute"):
        destinations.create("fn3", "python")


@pytest.mark.slow
def test_destination_and_activate_commands(likely, home: Path, tmp_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "distillery", *args, "--home", str(home)],
                              capture_output=True, text=True, timeout=120)

    made = cli("destination", "create", "drop", "--type", "files", "-o",
               f"url={tmp_path / 'out'}", "-o", "attributes=[score=_tenant.propensity]",
               "-o", "format=json", "--json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["spec"]["attributes"] == ["score=_tenant.propensity"]
    dry = cli("activate", "likely", "--to", "drop", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    counts = json.loads(dry.stdout)
    assert (counts["entered"], counts["exited"], counts["updated"], counts["excluded"]) == (
        7, 0, 0, 1)
    assert not (tmp_path / "out").exists()
    done = cli("activate", "likely", "--to", "drop")
    assert done.returncode == 0 and "sent 7 record(s)" in done.stdout
    runs = json.loads(cli("destination", "runs", "drop", "--json").stdout)
    assert [r["dry_run"] for r in runs] == [False, True]
    label = cli("label", "add", "profiles", "C12", "--field", "_tenant.propensity")
    assert label.returncode == 0, label.stderr
    refused = cli("activate", "likely", "--to", "drop")
    assert refused.returncode == 1 and "label C12" in refused.stderr
    bad = cli("destination", "create", "x", "--type", "files", "-o", "url=/tmp/x", "-o",
              "colour=red")
    assert bad.returncode == 1 and "option 'colour'" in bad.stderr
