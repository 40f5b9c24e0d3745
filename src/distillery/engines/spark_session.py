"""Starting (or joining) the Spark session an engine runs on.

Each `SparkEngine` gets a session of its own: its temporary views (the datasets it serves) and
its SQL settings are private, so two platforms in one process (two sandboxes, or a DuckDB and a
Spark platform on one home in the parity tests) never see each other's tables. The JVM and the
SparkContext are shared: Spark allows one context per process, it takes ~10 s to start, and a
host application (a notebook on a cluster, a test session) may have started it already. An
engine therefore stops Spark on close only if it started the context and no other engine of
this process still uses it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distillery.errors import ConfigError

# Settings every Distillery session runs with. The time zone and the lenient CAST (ANSI off)
# are semantics: the reference's Query Service is Spark SQL in UTC without ANSI mode, and the
# DuckDB engine is set up the same way, so both engines give the same answers.
SESSION_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}
# Settings for a context this module starts itself (a context that is already running keeps
# its own), and for a local one (`local`, `local[N]`, `local[*]`) also LOCAL_CONF: it binds to
# the loopback interface (the machines have no other route, and nothing else needs to reach
# it), with few shuffle partitions for a few cores. A cluster keeps Spark's own defaults.
CONTEXT_CONF: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}
LOCAL_CONF: dict[str, str] = {
    "spark.sql.shuffle.partitions": "8",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.host": "127.0.0.1",
}
# The heap of a local context's JVM, which is the driver and every executor at once: Spark's
# default (1g) leaves a featurization of 1,000,000 people a few hundred MB to spare, and two
# large partitions in flight can exhaust it. A quarter of the machine's memory (at least 1 GiB,
# at most 8 GiB) leaves the rest to the Python driver (the pivoted features), the Python
# workers and the OS; it is reserved, not taken, until Spark needs it.
DRIVER_MEMORY_KEY = "spark.driver.memory"
DRIVER_MEMORY_SHARE = 4
DRIVER_MEMORY_MIN_MB = 1024
DRIVER_MEMORY_MAX_MB = 8192
# Keys of `spark.conf` that Distillery reads itself instead of passing them to Spark.
PATH_MAP_KEY = "spark.distillery.pathMap"
RESULTS_KEY = "spark.distillery.results"
OWN_KEYS = (PATH_MAP_KEY, RESULTS_KEY)

# What the Spark Connect client imports (module: package), as `pyspark[connect]` installs it.
CONNECT_CLIENT = {"pandas": "pandas", "pyarrow": "pyarrow", "grpc": "grpcio",
                  "grpc_status": "grpcio-status", "google.rpc": "googleapis-common-protos",
                  "zstandard": "zstandard"}

_lock = threading.Lock()
_users = 0  # engines of this process on the context this module started
_started_here = False


@dataclass
class Attached:
    """A session of an engine, and what closing the engine should stop: the context (a local
    context this module started, once no engine uses it) or only the session (a Spark
    Connect session of its own)."""

    session: Any
    owns_context: bool
    owns_session: bool = False


def attach(master: str | None, remote: str | None, conf: dict[str, str]) -> Attached:
    """A new session for one engine: on the running context when there is one, else on a
    context started with `master` (default local[*]) and `conf`; or a Spark Connect session
    when `remote` (sc://host:port) is given."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ConfigError("the Spark engine needs PySpark: pip install 'distillery[spark]'"
                          ) from exc
    spark_conf = {k: v for k, v in conf.items() if k not in OWN_KEYS}
    # PySpark logs every failed query as a JSON line on stderr; the Query Service reports the
    # same error as a QueryError, so the log line only adds noise.
    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
    if remote:
        return _connect(remote, spark_conf)
    return _classic(SparkSession, master, spark_conf)


def _connect(remote: str, conf: dict[str, str]) -> Attached:
    """A Spark Connect session of the engine's own.

    Built with the Connect client's own builder and `create`: `getOrCreate` would hand every
    engine of the process one shared session (and so one set of views), and PySpark's
    generic builder marks the whole process as a Connect client (SPARK_CONNECT_MODE_ENABLED),
    after which a classic session in the same process (a DuckDB/Spark comparison, a test
    context, a host notebook) can no longer be started. Distillery sends SQL text only, so it
    needs none of what that mark switches.
    """
    if not remote.startswith("sc://"):
        raise ConfigError(f"spark.remote must be a Spark Connect URL (sc://host:port), "
                          f"got {remote!r}")
    missing = missing_connect_client()
    if missing:
        raise ConfigError(f"Spark Connect ({remote}) needs its client libraries, missing "
                          f"{', '.join(missing)}: pip install 'pyspark[connect]'")
    from pyspark.sql.connect.session import SparkSession as ConnectSession

    session = ConnectSession.builder.remote(remote).create()
    _session_conf(session, conf)
    return Attached(session, owns_context=False, owns_session=True)


def missing_connect_client() -> list[str]:
    """The packages the Spark Connect client needs that are not installed. Found without
    importing `pyspark.sql.connect`: PySpark's own check there exits the process when it
    guesses that it runs doctests (as it does under `python -c`)."""
    return [package for module, package in CONNECT_CLIENT.items()
            if importlib.util.find_spec(module) is None]


def _classic(session_class: Any, master: str | None, conf: dict[str, str]) -> Attached:
    global _users, _started_here
    from pyspark import SparkContext

    with _lock:
        running = SparkContext._active_spark_context is not None
        if not running:
            _prepare_local(master)
            builder = session_class.builder.appName("distillery").master(master or "local[*]")
            defaults = {**CONTEXT_CONF, **(LOCAL_CONF if is_local(master) else {}),
                        **local_defaults(master, conf)}
            for key, value in {**defaults, **SESSION_CONF, **conf}.items():
                builder = builder.config(key, value)
            base = builder.getOrCreate()
            _started_here = True
            _users = 0
        else:
            base = session_class.builder.getOrCreate()
        if _started_here:
            _users += 1
        session = base.newSession()
        _session_conf(session, conf)
        return Attached(session, owns_context=_started_here)


def is_local(master: str | None) -> bool:
    """Whether a master URL runs Spark in this process (the default, local[*], does)."""
    return (master or "local[*]").startswith("local")


def _prepare_local(master: str | None) -> None:
    """Environment a local context needs: the loopback address, and the driver's own Python
    for the Python workers (scoring's mapInArrow). Without it the workers run the first
    `python3` on PATH, which may lack PyArrow and Distillery. A cluster sets
    `spark.pyspark.python` (or PYSPARK_PYTHON) and its addresses itself."""
    if is_local(master):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


def local_defaults(master: str | None, conf: dict[str, str],
                   environ: dict[str, str] | None = None,
                   memory_bytes: int | None = None) -> dict[str, str]:
    """Settings a local context gets unless they are given: `spark.driver.memory` chosen from
    the machine's memory (see DRIVER_MEMORY_SHARE). A cluster's driver, or a heap set in
    `spark.conf`, SPARK_DRIVER_MEMORY or PYSPARK_SUBMIT_ARGS, is left alone.

    The heap must be known before the JVM starts (`spark-submit` sizes it), so it cannot be
    changed on a running context."""
    env = os.environ if environ is None else environ
    if not is_local(master) or DRIVER_MEMORY_KEY in conf \
            or env.get("SPARK_DRIVER_MEMORY") \
            or "--driver-memory" in env.get("PYSPARK_SUBMIT_ARGS", ""):
        return {}
    total = machine_memory() if memory_bytes is None else memory_bytes
    if not total:
        return {}
    share = total // DRIVER_MEMORY_SHARE >> 20
    return {DRIVER_MEMORY_KEY: f"{min(max(share, DRIVER_MEMORY_MIN_MB), DRIVER_MEMORY_MAX_MB)}m"}


def machine_memory() -> int:
    """Bytes of memory this process may use: the machine's, or its cgroup's limit when
    smaller (a container); 0 when neither can be read."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 0
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()  # cgroup v2
    except OSError:
        limit = "max"
    if limit.isdigit() and (not total or int(limit) < total):
        return int(limit)
    return total


def _session_conf(session: Any, conf: dict[str, str]) -> None:
    """Apply the session-level settings (a joined context keeps its static ones)."""
    for key, value in {**SESSION_CONF, **conf}.items():
        if key.startswith("spark.sql."):
            session.conf.set(key, value)


def release(attached: Attached) -> None:
    """Stop what the engine owns: its Spark Connect session, or Spark itself if this engine
    started the local context and was the last engine using it."""
    global _users, _started_here
    if attached.owns_session:
        attached.session.stop()
        return
    if not attached.owns_context:
        return
    with _lock:
        _users = max(0, _users - 1)
        if _users == 0 and _started_here:
            attached.session.stop()
            _started_here = False


def path_map(conf: dict[str, str]) -> tuple[str, str] | None:
    """`spark.distillery.pathMap = /local/prefix=s3a://bucket/prefix`: how executors reach the
    files the driver sees under a local path (a mounted bucket, a shared volume)."""
    text = conf.get(PATH_MAP_KEY)
    if not text:
        return None
    local, sep, remote = text.partition("=")
    if not sep or not local or not remote:
        raise ConfigError(f"{PATH_MAP_KEY} must read LOCAL_PREFIX=URL_PREFIX, got {text!r}")
    return local.rstrip("/"), remote.rstrip("/")


def map_path(path: str, mapping: tuple[str, str] | None) -> str:
    """A file path as the executors reach it (see `path_map`)."""
    if mapping is None:
        return path
    local, remote = mapping
    return remote + path[len(local):] if path.startswith(local + "/") else path
