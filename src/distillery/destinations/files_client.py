"""The client of file destinations: parts written through `flows.storage` (each published
whole under its name only when complete), the manifest last."""

from __future__ import annotations

import json
from contextlib import ExitStack
from typing import Any

import pyarrow as pa

from distillery.destinations.base import DestinationClient, SendOutcome
from distillery.destinations.files import DEFAULT_TEMPLATE, FileSpec
from distillery.flows.formats import FileFormat, HashingWriter, PartWriter, file_format, part_writer
from distillery.flows.storage import Storage, open_storage
from distillery.lake.catalog import now_iso

MANIFEST_SUFFIX = ".manifest.json"


class FileClient(DestinationClient):
    """Writes one run's rows into part files, then the manifest."""

    store: Storage
    fmt: FileFormat

    def open(self) -> None:
        spec = self.spec
        self.fmt = file_format(spec.format, spec.compression)
        self.store = open_storage(spec.url, home=self.context.home, connection=spec.connection)
        self.store.makedirs()
        self.base = self._base_name()
        self.files: list[dict[str, Any]] = []
        self._stack: ExitStack | None = None
        self._writer: PartWriter | None = None
        self._out: HashingWriter | None = None
        self._name = ""
        self._schema: pa.Schema | None = None

    @property
    def spec(self) -> FileSpec:
        spec = self.destination.spec
        assert isinstance(spec, FileSpec)
        return spec

    def _base_name(self) -> str:
        ctx = self.context
        mapping = self.destination.mapping_for(ctx.audience.name)
        template = mapping.filename_template or DEFAULT_TEMPLATE
        moment = ctx.started_at
        base = template.format(audience=ctx.audience.name, audience_id=ctx.audience.id,
                               destination=ctx.destination, date=moment.strftime("%Y%m%d"),
                               datetime=moment.strftime("%Y%m%d%H%M%S"),
                               time=moment.strftime("%H%M%S"), run=ctx.run_id)
        if self.store.exists(base + MANIFEST_SUFFIX) or self.store.exists(self._file(base, 0)):
            base = f"{base}_{ctx.run_id[-8:]}"  # never overwrite an earlier export
        return base

    def _file(self, base: str, part: int) -> str:
        suffix = "" if part == 0 else f"_{part + 1}"
        return f"{base}{suffix}.{self.fmt.extension}"

    def send(self, batch: pa.RecordBatch) -> SendOutcome:
        self._schema = self._schema or batch.schema
        if self._writer is not None and self._writer.rows >= self.spec.rows_per_file:
            self._finish_part()
        if self._writer is None:
            self._start_part()
        assert self._writer is not None
        start = 0
        while start < batch.num_rows:
            room = self.spec.rows_per_file - self._writer.rows
            piece = batch.slice(start, room)
            self._writer.write(piece)
            start += piece.num_rows
            if start < batch.num_rows:
                self._finish_part()
                self._start_part()
        return SendOutcome()

    def _start_part(self) -> None:
        self._name = self._file(self.base, len(self.files))
        self._stack = ExitStack()
        fh = self._stack.enter_context(self.store.writing(self._name))
        self._out = HashingWriter(fh)
        self._writer = part_writer(self.fmt, self._schema or _empty_schema(self.context),
                                   self._out)

    def _finish_part(self) -> None:
        assert self._writer is not None and self._out is not None and self._stack is not None
        self._writer.close()
        self._stack.close()  # publishes the part under its name
        self.files.append({"name": self._name, "rows": self._writer.rows,
                           "bytes": self._out.bytes, "sha256": self._out.sha256.hexdigest()})
        self._writer = self._out = self._stack = None

    def close(self, ok: bool) -> dict[str, Any]:
        if not ok:
            self._abort()
            return {"files": []}
        if self._writer is None and not self.files:
            self._start_part()  # an empty export still gets its (header-only) file
        if self._writer is not None:
            self._finish_part()
        manifest = self._manifest()
        self.store.write_bytes(self.base + MANIFEST_SUFFIX,
                               json.dumps(manifest, indent=2).encode())
        return {"url": self.store.url, "manifest": self.base + MANIFEST_SUFFIX,
                "files": self.files, "rows": manifest["rows"]}

    def _manifest(self) -> dict[str, Any]:
        ctx = self.context
        return {
            "run_id": ctx.run_id, "destination": ctx.destination,
            "audience": {"id": ctx.audience.id, "name": ctx.audience.name,
                         "namespace": ctx.audience.namespace},
            "mode": ctx.mode, "format": self.fmt.name, "compression": self.fmt.compression,
            "export_time": ctx.started_at.isoformat(), "counts": ctx.counts,
            "identities": ctx.identity_columns, "attributes": ctx.attribute_columns,
            "rows": sum(f["rows"] for f in self.files), "files": self.files,
            "created_at": now_iso(), "writer": "distillery",
        }

    def _abort(self) -> None:
        if self._stack is not None:
            failure = RuntimeError("activation run failed")
            self._stack.__exit__(RuntimeError, failure, None)  # removes the unpublished part
            self._stack = None
        for f in self.files:  # no manifest will list them: take back what was published
            self.store.remove(f["name"])
        self.files = []


def _empty_schema(context: Any) -> pa.Schema:
    from distillery.destinations.base import STATUS_COLUMN

    names = [*context.identity_columns, *context.attribute_columns, STATUS_COLUMN]
    return pa.schema([(n, pa.string()) for n in names])
