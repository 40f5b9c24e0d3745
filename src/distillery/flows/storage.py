"""Storage by URL: the one place that builds fsspec filesystems.

    store = open_storage("s3://bucket/cmle/egress", home=platform.home)
    with store.writing("ds/exportTime=20240101000000/part-00000.parquet") as fh:
        ...                                  # visible under its name only once complete

URLs: local paths and file://, s3:// (s3fs), az:// and abfs[s]:// (adlfs: Azure Blob and ADLS
Gen2), gs:// (gcsfs), and `NAME://path` for a named connection with a base URL (see
`connections`). Credentials never appear in a `Storage`'s URL, errors or repr: every message
that leaves this module is passed through `redact`.
"""

from __future__ import annotations

import os
import re
import secrets as random_tokens
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import fsspec

from distillery.errors import DistilleryError, NotFoundError
from distillery.flows import connections as conns

# gcsfs probes for hierarchical-namespace buckets with an API fake servers lack.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

_SAS = re.compile(r"(?i)((?:sig|se|sv|sp|sr|st|skoid|sktid|ske|sks|skv|spr|srt|ss)=)[^&\s'\"]+")
_CONN_KEY = re.compile(r"(?i)((?:AccountKey|SharedAccessSignature)=)[^;\s'\"]+")


class StorageError(DistilleryError, OSError):
    """Storage could not be reached or an operation on it failed."""

    retryable = True


class StorageNotFoundError(StorageError, NotFoundError, FileNotFoundError):
    """A file or folder does not exist in storage."""

    retryable = False


class UnsafePathError(DistilleryError, ValueError):
    """A relative path would leave the folder it is relative to."""


@dataclass(frozen=True)
class FileInfo:
    """A file in storage: its path relative to the storage root, size and fingerprint."""

    path: str
    size: int
    fingerprint: str


@dataclass
class Storage:
    """A folder in some storage: a filesystem, a root path in it, and a URL to show."""

    fs: Any
    root: str
    url: str
    protocol: str
    _secrets: tuple[str, ...] = field(default=(), repr=False)

    def __repr__(self) -> str:
        return f"Storage({self.url!r})"

    # Paths ---------------------------------------------------------------------------------

    def path(self, rel: str = "") -> str:
        """The filesystem path of `rel` (a '/'-separated path that stays under the root)."""
        parts = safe_parts(rel)
        return "/".join([self.root.rstrip("/"), *parts]) if parts else self.root

    def url_of(self, rel: str = "") -> str:
        """The display URL of `rel` (no credentials)."""
        parts = safe_parts(rel)
        return "/".join([self.url.rstrip("/"), *parts]) if parts else self.url

    def child(self, rel: str) -> Storage:
        """The storage rooted at `rel` under this one."""
        return Storage(self.fs, self.path(rel), self.url_of(rel), self.protocol, self._secrets)

    # Reading -------------------------------------------------------------------------------

    def exists(self, rel: str = "") -> bool:
        """Whether a file or folder exists."""
        with self.guard("look up", rel):
            return bool(self.fs.exists(self.path(rel)))

    def read_bytes(self, rel: str) -> bytes:
        """A whole (small) file."""
        with self.guard("read", rel):
            return bytes(self.fs.cat_file(self.path(rel)))

    @contextmanager
    def open(self, rel: str, mode: str = "rb") -> Iterator[IO[bytes]]:
        """A file opened for reading."""
        with self.guard("open", rel), self.fs.open(self.path(rel), mode) as fh:
            yield fh

    def download(self, rel: str, local: Path) -> None:
        """Copy a file to a local path."""
        with self.guard("download", rel):
            self.fs.get_file(self.path(rel), str(local))

    def listdir(self, rel: str = "") -> list[str]:
        """Names of the entries (files and folders) directly under `rel`."""
        with self.guard("list", rel):
            self.fs.invalidate_cache()
            base = self.path(rel).rstrip("/")
            if not self.fs.exists(base):
                return []
            names = [str(p).rstrip("/").rsplit("/", 1)[-1]
                     for p in self.fs.ls(base, detail=False)]
        return sorted(n for n in names if n)

    def find(self, rel: str = "", recursive: bool = True) -> list[FileInfo]:
        """Files under `rel` (every depth when `recursive`), with sizes and fingerprints."""
        with self.guard("list", rel):
            self.fs.invalidate_cache()
            base = self.path(rel).rstrip("/")
            if not self.fs.exists(base):
                raise StorageNotFoundError(f"{self.url_of(rel)} does not exist")
            if recursive:
                entries = self.fs.find(base, detail=True, withdirs=False)
            else:
                entries = {e["name"]: e for e in self.fs.ls(base, detail=True)}
        out = []
        prefix = self._strip(base) + "/"
        for name, info in sorted(entries.items()):
            if info.get("type") == "directory":
                continue
            rel_name = self._strip(name)[len(prefix):]
            out.append(FileInfo(rel_name, int(info.get("size") or 0), fingerprint(info)))
        return out

    def _strip(self, path: str) -> str:
        return str(self.fs._strip_protocol(path)).rstrip("/")

    # Writing -------------------------------------------------------------------------------

    @contextmanager
    def writing(self, rel: str) -> Iterator[IO[bytes]]:
        """Write a file under a temporary name in the same folder; publish it under `rel`
        only when the block ends without an error (else the temporary file is removed).

        On a local disk the publish is an atomic rename. On object stores it is a server-side
        copy: the copied object appears whole or not at all.
        """
        folder, _, name = self.path(rel).rpartition("/")
        tmp, final = f"{folder}/{temp_name(name)}", self.path(rel)
        with self.guard("write", rel):
            fh = self.fs.open(tmp, "wb")
        try:
            yield fh
            with self.guard("write", rel):
                fh.close()
                self._publish(tmp, final)
        except BaseException:
            self._close_quietly(fh)
            self._remove_quietly(tmp)
            raise

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Write a small file, published whole (see `writing`)."""
        with self.writing(rel) as fh:
            fh.write(data)

    def remove(self, rel: str, recursive: bool = False) -> None:
        """Delete a file (or a folder with `recursive`); a missing one is fine."""
        with self.guard("delete", rel):
            target = self.path(rel)
            if self.fs.exists(target):
                self.fs.rm(target, recursive=recursive)

    def makedirs(self, rel: str = "") -> None:
        """Create a folder; on object stores, which have no folders, the bucket or container
        it lives in."""
        with self.guard("create", rel):
            target = self.path(rel)
            if self.protocol == "file":
                self.fs.makedirs(target, exist_ok=True)
                return
            bucket = target.split("/", 1)[0]
            if not self.fs.exists(bucket):
                with suppress(FileExistsError):  # created meanwhile by someone else
                    self.fs.mkdir(bucket)

    def _publish(self, tmp: str, final: str) -> None:
        if self.protocol == "file":
            os.replace(tmp, final)
            return
        # Not fs.mv: gcsfs tries a move API first that emulators lack, and logs the failure.
        self.fs.copy(tmp, final)
        self.fs.rm(tmp)

    @staticmethod
    def _close_quietly(fh: IO[bytes]) -> None:
        # The file is removed next; the error that got us here is the one to report.
        with suppress(Exception):
            fh.close()

    def _remove_quietly(self, path: str) -> None:
        with suppress(Exception):  # best effort: the original error is the one to report
            if self.fs.exists(path):
                self.fs.rm(path)

    # Errors --------------------------------------------------------------------------------

    def redact(self, text: str) -> str:
        """`text` with this storage's secrets (and any SAS or account key) masked."""
        return redact(text, self._secrets)

    @contextmanager
    def guard(self, action: str, rel: str = "") -> Iterator[None]:
        """Turn the libraries' errors into StorageErrors that name the URL, minus secrets."""
        try:
            yield
        except DistilleryError:
            raise
        except FileNotFoundError as exc:
            raise StorageNotFoundError(
                f"cannot {action} {self.url_of(rel)}: not found ({self.redact(str(exc))})"
            ) from None
        except Exception as exc:
            raise StorageError(f"cannot {action} {self.url_of(rel)}: {type(exc).__name__}: "
                               f"{self.redact(str(exc))}") from None


def temp_name(name: str) -> str:
    """A hidden temporary name for `name`: readers of the folder skip '.'-files."""
    return f".{name}.{random_tokens.token_hex(6)}.tmp"


def is_hidden(name: str) -> bool:
    """Whether a file name is a temporary or marker file, not data ('.x', '_x')."""
    return name.rsplit("/", 1)[-1].startswith((".", "_"))


def safe_parts(rel: str) -> list[str]:
    """The parts of a relative path, refusing anything that leaves its folder."""
    if not rel:
        return []
    if "\\" in rel or rel.startswith("/") or "\x00" in rel:
        raise UnsafePathError(f"path {rel!r} must be relative and use '/'")
    parts = [p for p in rel.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise UnsafePathError(f"path {rel!r} may not contain '.' or '..' segments")
    return parts


def fingerprint(info: dict[str, Any]) -> str:
    """What identifies a file's content version: its etag, else its size and mtime."""
    for key in ("ETag", "etag", "md5Hash", "generation"):
        if info.get(key):
            return f"{key.lower()}:{str(info[key]).strip(chr(34))}"
    mtime = info.get("mtime") or info.get("LastModified") or info.get("last_modified") or ""
    if hasattr(mtime, "timestamp"):
        mtime = f"{mtime.timestamp():.6f}"
    return f"size:{info.get('size')}:mtime:{mtime}"


def redact(text: str, secrets: tuple[str, ...] | list[str] = ()) -> str:
    """Mask secret values, SAS token fields and account keys in `text`."""
    for value in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(value, "***")
    text = _CONN_KEY.sub(r"\1***", text)
    return _SAS.sub(r"\1***", text)


# Opening ------------------------------------------------------------------------------------


def open_storage(url: str, *, home: Path | None = None, connection: str | None = None,
                 environ: dict[str, str] | None = None) -> Storage:
    """Storage at `url`, authenticated by a named connection, the protocol's default
    connection, or the environment.

    Args:
        url: A local path, file://, s3://, az://, abfs[s]://, gs:// or NAME:// URL.
        home: The Distillery home whose connections.yaml and secrets.yaml to read.
        connection: A connection name; it must be of the URL's protocol.
        environ: Environment for `env:` secrets (default os.environ).
    """
    named = conns.load_connections(home) if home is not None else {}
    real_url, conn_name = _resolve_url(url, named, connection)
    protocol = _protocol_of(real_url)
    conn = named.get(conn_name) if conn_name else None
    if connection and conn is None:
        raise NotFoundError(f"connection {connection!r} is not defined"
                            + (f" in {home / conns.CONNECTIONS_FILE}" if home else ""))
    if conn is not None and conn.protocol != protocol:
        raise conns.ConfigError(f"connection {conn_name!r} is for {conn.protocol}://, not for "
                                f"{protocol}:// URLs like {display_url(real_url)}")
    secret_values = (conns.resolve_secrets(home, conn_name, conn, environ)
                     if conn is not None and home is not None and conn_name else {})
    kwargs = _fs_options(protocol, conn, secret_values)
    hidden = tuple(secret_values.values()) + tuple(
        str(v) for k, v in kwargs.items() if k == "connection_string")
    shown = display_url(real_url)
    try:
        fs, path = fsspec.core.url_to_fs(real_url, **kwargs)
    except Exception as exc:
        raise StorageError(f"cannot open {shown}: {type(exc).__name__}: "
                           f"{redact(str(exc), hidden)}") from None
    return Storage(fs, str(path).rstrip("/") or str(path), shown.rstrip("/"), protocol, hidden)


def display_url(url: str) -> str:
    """A URL without its query string, fragment or user info (where credentials hide)."""
    parts = urlsplit(url)
    if not parts.scheme or len(parts.scheme) == 1:
        return url
    netloc = parts.netloc.rsplit("@", 1)[-1] if parts.scheme in ("s3", "gs", "gcs") else \
        parts.netloc
    return f"{parts.scheme}://{netloc}{parts.path}"


def _resolve_url(url: str, named: dict[str, conns.Connection],
                 connection: str | None) -> tuple[str, str | None]:
    if not url:
        raise UnsafePathError("a storage URL is required")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme and len(scheme) > 1 and (parts.query or parts.fragment):
        raise conns.ConfigError(f"URL {display_url(url)} has a query string or fragment; put "
                                "SAS tokens and keys in a connection's secrets, not in URLs")
    if not scheme or len(scheme) == 1 or scheme in conns.SCHEMES:
        protocol = conns.SCHEMES.get(scheme, "file") if len(scheme) > 1 else "file"
        default = protocol if protocol in named else None
        return url, connection or default
    conn = named.get(scheme)
    if conn is None or not conn.url:
        raise conns.ConfigError(f"URL scheme {scheme!r} is neither a storage protocol (file, "
                                "s3, az, abfs, abfss, gs) nor a connection with a base url")
    rel = "/".join(safe_parts(f"{parts.netloc}{parts.path}".strip("/")))
    base = conn.url.rstrip("/")
    return (f"{base}/{rel}" if rel else base), connection or scheme


def _protocol_of(url: str) -> str:
    scheme = urlsplit(url).scheme.lower()
    return conns.SCHEMES.get(scheme, "file") if len(scheme) > 1 else "file"


def _fs_options(protocol: str, conn: conns.Connection | None,
                secret_values: dict[str, str]) -> dict[str, Any]:
    if protocol == "file":
        return {"auto_mkdir": True}
    options: dict[str, Any] = dict(conn.options) if conn else {}
    options.update(secret_values)
    endpoint = conn.endpoint_url if conn else None
    if protocol == "s3" and endpoint:
        options["endpoint_url"] = endpoint
    elif protocol == "gs":
        if endpoint:
            options["endpoint_url"] = endpoint
        if options.pop("anon", False):
            options["token"] = "anon"
    elif protocol == "az" and endpoint:
        options = _azure_endpoint(options, endpoint)
    return options


def _azure_endpoint(options: dict[str, Any], endpoint: str) -> dict[str, Any]:
    """adlfs builds https:// account URLs itself; an http endpoint (Azurite) needs a
    connection string, which is built here and treated as a secret."""
    account = options.pop("account_name", None)
    key = options.pop("account_key", None)
    sas = options.pop("sas_token", None)
    scheme = urlsplit(endpoint).scheme or "https"
    fields = [f"DefaultEndpointsProtocol={scheme}"]
    if account:
        fields.append(f"AccountName={account}")
    if key:
        fields.append(f"AccountKey={key}")
    fields.append(f"BlobEndpoint={endpoint.rstrip('/')}")
    if sas:
        fields.append(f"SharedAccessSignature={sas.lstrip('?')}")
    options["connection_string"] = ";".join(fields) + ";"
    return options
