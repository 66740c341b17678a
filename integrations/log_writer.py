"""Writes provisioning-log rows: at once, or in batches from a background thread on PostgreSQL.

Every SCIM request adds one row. During an Entra cycle that is hundreds of INSERTs and commits a
second, each a round trip and a WAL flush on the request's path. With SCIM_LOG_FLUSH_SECONDS > 0
on PostgreSQL, each web process queues the rows and one thread writes them in one pipelined
batch every interval: the request no longer waits for its log row.

What that costs, on purpose: a row appears in the panel up to one interval later, and a process
killed with SIGKILL loses at most the rows of its last interval (a normal stop writes them). The
provisioning log is a diagnostic record; the audit log, written in the same transaction as each
change, is the record of what changed. If the database is unreachable, rows wait (up to
MAX_PENDING, then the oldest are dropped with a warning) and are written when it is back.
On SQLite (the embedded default, one writer at a time) rows are always written at once.
"""

from __future__ import annotations

import atexit
import logging
import threading
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction

from integrations.models import ScimRequest

logger = logging.getLogger(__name__)

MAX_PENDING = 50_000
MAX_ROWS_PER_INSERT = 500

# Built once from the model's own fields (values prepared by each field, as the ORM would): the
# ORM's per-call model and SQL compilation cost more than the INSERT itself.
_FIELDS = [field for field in ScimRequest._meta.concrete_fields if not field.primary_key]


def insert_rows(rows: list[dict[str, Any]]) -> None:
    """Insert the rows on this thread's connection: one statement, sent for every row at once
    (psycopg pipelines `executemany`), so its text is parsed once and cached."""
    if not rows:
        return
    quote = connection.ops.quote_name
    # Identifiers come from the model, never from input; values are bound parameters.
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608
        quote(ScimRequest._meta.db_table),
        ", ".join(quote(field.column) for field in _FIELDS),
        ", ".join(["%s"] * len(_FIELDS)),
    )
    # A column a row does not name gets the field's default (a row built before it existed).
    params = [
        [
            field.get_db_prep_save(
                row[field.attname] if field.attname in row else field.get_default(), connection
            )
            for field in _FIELDS
        ]
        for row in rows
    ]
    with connection.cursor() as cursor:
        if len(params) == 1:
            cursor.execute(sql, params[0])
        else:
            cursor.executemany(sql, params)


def _insert_chunk(rows: list[dict[str, Any]]) -> int:
    """Insert a chunk all or nothing; returns how many rows it wrote.

    A row that can never be written (its organization was deleted while the row waited: the
    foreign key fails, at COMMIT since Django's are deferred) must not hold back every later row
    of the process forever, so on an IntegrityError each row is tried alone and only the rows
    that fail are dropped. Any other database error (an outage) propagates: the rows wait.
    """
    try:
        with transaction.atomic():
            insert_rows(rows)
        return len(rows)
    except IntegrityError:
        pass
    written = 0
    for row in rows:
        try:
            with transaction.atomic():
                insert_rows([row])
            written += 1
        except IntegrityError:
            logger.warning(
                "Provisioning log: dropped the row of request %s, which can no longer be written "
                "(its organization is gone)",
                row.get("request_id"),
            )
    return written


class BatchWriter:
    """Queues rows and writes them from one daemon thread per process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[dict[str, Any]] = []
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._flush_lock = threading.Lock()

    def submit(self, row: dict[str, Any]) -> None:
        with self._lock:
            self._pending.append(row)
            if len(self._pending) > MAX_PENDING:
                dropped = len(self._pending) - MAX_PENDING
                del self._pending[:dropped]
                logger.warning("Provisioning log: %s rows dropped (database unreachable)", dropped)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="provisioning-log-writer", daemon=True
                )
                self._thread.start()

    def flush(self) -> int:
        """Write everything queued so far; returns how many rows were written."""
        with self._flush_lock:
            with self._lock:
                rows, self._pending = self._pending, []
            written = done = 0
            try:
                for done in range(0, len(rows), MAX_ROWS_PER_INSERT):
                    written += _insert_chunk(rows[done : done + MAX_ROWS_PER_INSERT])
                done = len(rows)
            except DatabaseError:
                logger.warning(
                    "Provisioning log: writing %s rows failed; retrying", len(rows) - done
                )
                with self._lock:
                    self._pending[:0] = rows[done:]
                connection.close()  # a broken connection is replaced on the next attempt
            return written

    def _run(self) -> None:
        while True:
            self._wake.wait(settings.SCIM_LOG_FLUSH_SECONDS)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # the writer thread must outlive any one failure
                logger.exception("Provisioning log writer failed")


_writer = BatchWriter()
atexit.register(_writer.flush)


def batching() -> bool:
    return settings.SCIM_LOG_FLUSH_SECONDS > 0 and connection.vendor == "postgresql"


def write(row: dict[str, Any]) -> None:
    if batching():
        _writer.submit(row)
    else:
        insert_rows([row])


def flush() -> int:
    """Write queued rows now (a worker's shutdown, tests, the benchmark)."""
    return _writer.flush()
