"""Storage URLs, named connections and secrets: what is accepted, what is refused, and that
secret values never reach errors, run records, manifests or logs."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pyarrow as pa
import pytest

from distillery import Platform
from distillery.errors import ConfigError, NotFoundError
from distillery.flows import connections as conns
from distillery.flows.dataflows import Dataflows
from distillery.flows.mapping import Mapping, MappingError, parse_rules
from distillery.flows.storage import UnsafePathError, open_storage, redact, safe_parts
from tests.flows.conftest import Backend, free_port

SECRET = "sekrit-value-4b1d9e0c"


def test_local_paths_and_file_urls(tmp_path: Path) -> None:
    for url in (str(tmp_path / "a"), f"file://{tmp_path}/a"):
        store = open_storage(url)
        store.write_bytes("x/y.txt", b"hi")
        assert store.read_bytes("x/y.txt") == b"hi"
        assert [f.path for f in store.find()] == ["x/y.txt"]


@pytest.mark.parametrize("rel", ["../x", "a/../../b", "/etc/passwd", "a\\b", "./a"])
def test_paths_cannot_leave_their_folder(tmp_path: Path, rel: str) -> None:
    with pytest.raises(UnsafePathError):
        safe_parts(rel)
    with pytest.raises(UnsafePathError):
        open_storage(str(tmp_path)).write_bytes(rel, b"x")
    assert not (tmp_path.parent / "x").exists()


def test_writing_publishes_only_complete_files(tmp_path: Path) -> None:
    store = open_storage(str(tmp_path))
    with pytest.raises(RuntimeError), store.writing("part.bin") as fh:
        fh.write(b"half")
        assert os.listdir(tmp_path) and not (tmp_path / "part.bin").exists()
        raise RuntimeError("stopped midway")
    assert os.listdir(tmp_path) == []  # neither the file nor its temporary


def test_connection_scheme_resolves_under_its_base(home: Path, tmp_path: Path) -> None:
    conns.save_connection(home, "landing", conns.make_connection(
        "landing", {"protocol": "file", "url": f"file://{tmp_path}/dlz"}))
    store = open_storage("landing://cmle/egress", home=home)
    store.write_bytes("a.txt", b"1")
    assert (tmp_path / "dlz/cmle/egress/a.txt").read_bytes() == b"1"
    with pytest.raises(UnsafePathError):
        open_storage("landing://../outside", home=home)
    with pytest.raises(ConfigError, match="neither a storage protocol"):
        open_storage("nosuch://x", home=home)


@pytest.mark.parametrize(("body", "message"), [
    ({"protocol": "s3", "options": {"secret": "x"}}, "credentials"),
    ({"protocol": "s3", "secrets": {"secret": "plain-value"}}, "env:VARIABLE"),
    ({"protocol": "ftp"}, "protocol"),
    ({"protocol": "s3", "colour": "blue"}, "colour"),
])
def test_bad_connections_are_refused(body: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        conns.make_connection("c", body)


@pytest.mark.parametrize("name", ["abfs", "Bad Name", "gcs"])
def test_connection_names_that_clash_are_refused(home: Path, name: str) -> None:
    with pytest.raises(ConfigError, match="connection name"):
        conns.save_connection(home, name, conns.make_connection(name, {"protocol": "s3"}))


def test_secrets_file_must_be_private(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home.mkdir(parents=True)
    conn = conns.make_connection("c", {"protocol": "s3", "secrets": {"secret": "secret:s3"}})
    secrets = home / conns.SECRETS_FILE
    secrets.write_text(f"s3: {SECRET}\n")
    secrets.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600") as info:
        conns.resolve_secrets(home, "c", conn)
    assert SECRET not in str(info.value)
    secrets.chmod(0o600)
    assert conns.resolve_secrets(home, "c", conn) == {"secret": SECRET}
    env_conn = conns.make_connection("e", {"protocol": "s3", "secrets": {"key": "env:NOPE_X"}})
    monkeypatch.delenv("NOPE_X", raising=False)
    with pytest.raises(ConfigError, match="NOPE_X"):
        conns.resolve_secrets(home, "e", env_conn)


def test_credentials_in_urls_are_refused() -> None:
    with pytest.raises(ConfigError, match="query string") as info:
        open_storage(f"az://container/path?sv=2024&sig={SECRET}")
    assert SECRET not in str(info.value)


def test_redact_masks_values_sas_and_account_keys() -> None:
    text = (f"key {SECRET} url https://a.blob/c?sv=1&sig=abc%2F123&se=2030 "
            "conn AccountKey=Zm9vYmFy==;BlobEndpoint=x")
    masked = redact(text, [SECRET])
    assert SECRET not in masked and "abc%2F123" not in masked and "Zm9vYmFy" not in masked
    assert "sig=***" in masked and "AccountKey=***" in masked


def test_unreachable_storage_error_names_url_not_secret(home: Path,
                                                        monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    platform = Platform.open(home)
    platform.lake.write("training", pa.table({"u": ["a"]}))
    monkeypatch.setenv("T_KEY", "AKIAEXAMPLE")
    monkeypatch.setenv("T_SECRET", SECRET)
    conns.save_connection(home, "dead", conns.make_connection("dead", {
        "protocol": "s3", "endpoint_url": f"http://127.0.0.1:{free_port()}",
        "options": {"config_kwargs": {"retries": {"max_attempts": 1},
                                      "connect_timeout": 1}},
        "secrets": {"key": "env:T_KEY", "secret": "env:T_SECRET"}}))
    run = Dataflows(platform).export("training", "s3://bucket/out", connection="dead")
    assert run.state == "failed" and "s3://bucket/out" in run.error
    assert SECRET not in json.dumps(run.__dict__)
    platform.close()


@pytest.mark.services
@pytest.mark.parametrize("backend", ["s3", "azure"], indirect=True)
def test_secrets_never_reach_manifests_records_or_logs(platform: Platform, backend: Backend,
                                                       caplog: pytest.LogCaptureFixture
                                                       ) -> None:
    caplog.set_level(logging.DEBUG)
    platform.lake.write("training", pa.table({"u": ["a", "b"]}))
    flows = Dataflows(platform)
    run = flows.export("training", backend.url)
    assert run.state == "success"
    store = backend.storage(platform.home)
    ds = platform.dataset("training")
    manifest = store.read_bytes(f"{ds.id}/exportTime={run.details['export_time']}/"
                                "_manifest.json").decode()
    records = json.dumps([r.__dict__ for r in flows.runs()])
    config = (platform.home / conns.CONNECTIONS_FILE).read_text()
    for secret in backend.secrets:
        assert secret not in manifest and secret not in records and secret not in config
        assert secret not in caplog.text and secret not in repr(store)


def test_mapping_rules_from_the_cli_notation() -> None:
    assert parse_rules(["prediction -> _tenant.propensity", "userId->_tenant.userid"]) == {
        "_tenant.propensity": "prediction", "_tenant.userid": "userId"}
    with pytest.raises(MappingError, match="EXPRESSION -> FIELD"):
        parse_rules(["prediction = _tenant.propensity"])
    with pytest.raises(MappingError, match="mapped twice"):
        parse_rules(["a -> x", "b -> x"])


@pytest.mark.parametrize("expression", ["read_csv('/etc/passwd')", "(SELECT 1)",
                                        "a; DROP TABLE t", "getenv('HOME')", "x +"])
def test_mapping_refuses_what_is_not_a_simple_expression(expression: str) -> None:
    with pytest.raises(MappingError, match="field 'f'"):
        Mapping({"f": expression})


def test_mapping_evaluates_expressions_over_text_columns() -> None:
    table = pa.table({"prediction": ["0.5", "x", None], "userId": ["a", "b", "c"]})
    out = Mapping({"s": "prediction * 100", "u": "upper(userId)", "e": "'web.formFilledOut'",
                   "p": "prediction"}).apply(table, "f.csv")
    assert out.to_pydict() == {"s": ["50.0", "prediction=x", None], "u": ["A", "B", "C"],
                               "e": ["web.formFilledOut"] * 3, "p": ["0.5", "x", None]}


def test_unknown_connection_is_named(home: Path) -> None:
    home.mkdir(parents=True)
    with pytest.raises(NotFoundError, match="'nope'"):
        open_storage("s3://b/x", home=home, connection="nope")
