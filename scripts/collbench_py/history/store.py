"""The history store: one SQLite file holding runs, series and points.

The schema is written once and never migrated: everything a result file may gain later
(new provenance fields, new record fields) lands in JSON columns (`runs.header`,
`points.extra`), so a newer collbench writes files an older store still takes. The table
`collbench_history` holds the store's identity and schema version; a store written by a
newer tool is refused instead of being misread.

Writers take SQLite's own lock (BEGIN IMMEDIATE) with a short busy timeout, so a second
ingest into the same file fails fast with a clear message instead of waiting or
interleaving. Readers use ordinary shared locks.

Each result file goes in under a savepoint of its own, so a file is stored whole or not
at all; the savepoints are committed together about once a second. A commit costs an
fsync (15-20 ms on the development VM's disk), which for a backfill of a thousand files
would be most of the ingest; a process killed between commits loses at most the last
second's files, whole, and ingesting them again stores them.
"""

import json
import os
import sqlite3
from datetime import datetime, timezone

from .. import InputError

FORMAT = "collbench.history"
SCHEMA_VERSION = 1
DEFAULT_WAIT_S = 2.0

# Fields of a record that name its series. `machine` comes from the run (label or host
# set); `timing` is absent from older files and means "per-call" there.
SERIES_FIELDS = ("machine", "collective", "algorithm", "dtype", "op", "bytes", "ranks",
                 "nodes", "placement", "timing", "backend")

_SCHEMA = """
CREATE TABLE collbench_history (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE runs (
  id INTEGER PRIMARY KEY,
  identity TEXT NOT NULL UNIQUE,     -- hash of what names a run (start time, SHA, hosts, command)
  digest TEXT NOT NULL,              -- SHA-256 of the file's bytes
  source TEXT NOT NULL,              -- path given at ingest
  ingested_at TEXT NOT NULL,
  start_time TEXT NOT NULL,
  end_time TEXT,
  machine TEXT NOT NULL,             -- hardware label, --label at ingest, or the host set
  git_sha TEXT,
  collbench_version TEXT,
  backend TEXT,
  mpi_library TEXT,
  nccl_version TEXT,
  driver TEXT,
  hosts TEXT NOT NULL,               -- JSON: distinct host names, sorted
  ranks INTEGER,
  nodes INTEGER,
  complete INTEGER NOT NULL,
  records INTEGER NOT NULL,
  header TEXT NOT NULL               -- JSON: the whole file except its records
);
CREATE INDEX runs_order ON runs (machine, start_time, id);
CREATE TABLE series (
  id INTEGER PRIMARY KEY,
  machine TEXT NOT NULL,
  collective TEXT NOT NULL,
  algorithm TEXT NOT NULL,
  dtype TEXT NOT NULL,
  op TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  ranks INTEGER NOT NULL,
  nodes INTEGER NOT NULL,
  placement TEXT NOT NULL,
  timing TEXT NOT NULL,
  backend TEXT NOT NULL,
  UNIQUE (machine, collective, algorithm, dtype, op, bytes, ranks, nodes, placement, timing,
          backend)
);
CREATE TABLE points (
  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  series_id INTEGER NOT NULL REFERENCES series (id),
  repeat INTEGER NOT NULL,
  p50_us REAL NOT NULL,
  mean_us REAL,
  min_us REAL,
  max_us REAL,
  stdev_us REAL,
  busbw_gbps REAL,                   -- from the mean time, as in the file
  busbw_factor REAL,
  iters INTEGER,
  warmup INTEGER,
  wrong INTEGER,
  ranks_per_node INTEGER,
  slowest_rank INTEGER,
  slowest_rank_share REAL,
  extra TEXT,                        -- JSON: record fields this schema has no column for
  PRIMARY KEY (run_id, series_id, repeat)
) WITHOUT ROWID;
-- Apart from the points, so that reading every point of a history (the analysis) does not
-- read every sample too: the samples are most of the file.
CREATE TABLE samples (
  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  series_id INTEGER NOT NULL,
  repeat INTEGER NOT NULL,
  samples_us BLOB NOT NULL,          -- little-endian float64, in the file's order
  PRIMARY KEY (run_id, series_id, repeat)
) WITHOUT ROWID;
"""


def now_text():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Store:
    """An open store. Use as a context manager; `write()` wraps one write transaction."""

    def __init__(self, path, conn):
        self.path = path
        self.conn = conn

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def write(self):
        return _WriteTransaction(self)

    def batch(self, commit_every_s=1.0):
        return _Batch(self, commit_every_s)

    def info(self):
        return dict(self.conn.execute("SELECT key, value FROM collbench_history"))

    def query(self, sql, params=()):
        try:
            return self.conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            raise _locked_or(self.path, exc) from None


class _WriteTransaction:
    def __init__(self, store):
        self.store = store

    def __enter__(self):
        try:
            self.store.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise _locked_or(self.store.path, exc) from None
        return self.store.conn

    def __exit__(self, exc_type, exc, tb):
        conn = self.store.conn
        if exc_type is None:
            try:
                conn.execute("COMMIT")
            except sqlite3.OperationalError as err:
                conn.execute("ROLLBACK")
                raise _locked_or(self.store.path, err) from None
        else:
            conn.execute("ROLLBACK")
        return False


class _Batch:
    """A write transaction committed every `commit_every_s`; `file()` wraps one file."""

    def __init__(self, store, commit_every_s):
        self.store = store
        self.every = commit_every_s
        self.since = None

    def __enter__(self):
        self._begin()
        return self

    def _begin(self):
        import time
        try:
            self.store.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise _locked_or(self.store.path, exc) from None
        self.since = time.monotonic()

    def file(self):
        return _Savepoint(self)

    def after_file(self):
        import time
        if time.monotonic() - self.since >= self.every:
            self._commit()
            self._begin()

    def _commit(self):
        try:
            self.store.conn.execute("COMMIT")
        except sqlite3.OperationalError as err:
            self.store.conn.execute("ROLLBACK")
            raise _locked_or(self.store.path, err) from None

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self._commit()
        elif self.store.conn.in_transaction:
            self.store.conn.execute("ROLLBACK")
        return False


class _Savepoint:
    def __init__(self, batch):
        self.batch = batch

    def __enter__(self):
        self.batch.store.conn.execute("SAVEPOINT result_file")
        return self.batch.store.conn

    def __exit__(self, exc_type, exc, tb):
        conn = self.batch.store.conn
        if exc_type is not None:
            conn.execute("ROLLBACK TO result_file")
        conn.execute("RELEASE result_file")
        if exc_type is None:
            self.batch.after_file()
        return False


def _locked_or(path, exc):
    text = str(exc)
    if "locked" in text or "busy" in text:
        return InputError(f"store {path} is locked by another process (an ingest running?); "
                          "try again when it has finished")
    return InputError(f"store {path}: SQLite error: {text}")


def _connect(path, wait_s):
    conn = sqlite3.connect(path, timeout=wait_s, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _check_identity(path, conn):
    """Raise InputError unless `conn` is a collbench store this tool can read."""
    try:
        tables = {row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise _locked_or(path, exc) from None
        raise InputError(f"{path}: not a collbench history store (not an SQLite database)") \
            from None
    if "collbench_history" not in tables:
        what = "an empty SQLite database" if not tables else \
            f"an SQLite database with tables {', '.join(sorted(tables)[:4])}"
        raise InputError(f"{path}: not a collbench history store ({what})")
    info = dict(conn.execute("SELECT key, value FROM collbench_history"))
    if info.get("format") != FORMAT:
        raise InputError(f"{path}: not a collbench history store (format "
                         f"{info.get('format')!r})")
    try:
        version = int(info.get("schema_version", ""))
    except ValueError:
        raise InputError(f"{path}: collbench history store without a valid schema "
                         "version") from None
    if version > SCHEMA_VERSION:
        raise InputError(f"{path}: store schema version {version} is newer than this tool "
                         f"(reads {SCHEMA_VERSION}); use a newer collbench-history")
    missing = {"runs", "series", "points", "samples"} - tables
    if missing:
        raise InputError(f"{path}: damaged collbench history store (no table "
                         f"{', '.join(sorted(missing))})")


def open_store(path, create=False, wait_s=DEFAULT_WAIT_S):
    """Open (and with `create`, make) a store; raise InputError for anything else."""
    if os.path.isdir(path):
        raise InputError(f"{path}: is a folder, expected a store file")
    exists = os.path.exists(path)
    if not exists and not create:
        raise InputError(f"{path}: no such store (collbench-history ingest creates one)")
    if exists and not os.access(path, os.R_OK):
        raise InputError(f"{path}: cannot read the store (permission denied)")
    if not exists:
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            raise InputError(f"{path}: folder {parent} does not exist")
    try:
        conn = _connect(path, wait_s)
    except sqlite3.Error as exc:
        raise InputError(f"{path}: cannot open the store: {exc}") from None
    store = Store(path, conn)
    try:
        if create and _is_blank(path, conn):
            _initialise(store)
        _check_identity(path, conn)
    except BaseException:
        store.close()
        raise
    return store


def _is_blank(path, conn):
    if os.path.getsize(path) == 0:
        return True
    try:
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
    except sqlite3.DatabaseError:
        return False  # _check_identity reports it
    return False


def _initialise(store):
    from . import PROG
    with store.write() as conn:
        # Another process may have created it between our check and our lock.
        if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            return
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.executemany("INSERT INTO collbench_history (key, value) VALUES (?, ?)",
                         [("format", FORMAT), ("schema_version", str(SCHEMA_VERSION)),
                          ("created", now_text()), ("created_by", PROG)])


# --- queries shared by the commands -----------------------------------------------------

RUN_COLUMNS = ("id", "identity", "digest", "source", "ingested_at", "start_time", "end_time",
               "machine", "git_sha", "collbench_version", "backend", "mpi_library",
               "nccl_version", "driver", "hosts", "ranks", "nodes", "complete", "records")


def runs(store, machine=None, since=None):
    """Runs as dicts in time order (header not included)."""
    sql = f"SELECT {', '.join(RUN_COLUMNS)} FROM runs"
    where, params = [], []
    if machine:
        where.append("machine = ?")
        params.append(machine)
    if since:
        where.append("start_time >= ?")
        params.append(since)
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY start_time, id"
    out = []
    for row in store.query(sql, params):
        run = dict(zip(RUN_COLUMNS, row))
        run["hosts"] = json.loads(run["hosts"])
        out.append(run)
    return out


def run_header(store, run_id):
    rows = store.query("SELECT header FROM runs WHERE id = ?", (run_id,))
    return json.loads(rows[0][0]) if rows else None


def run_headers(store, run_ids):
    """run id -> the file's header (provenance, options, ...), for the given ids."""
    out = {}
    ids = list(run_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for run_id, header in store.query(
                f"SELECT id, header FROM runs WHERE id IN ({marks})", chunk):
            out[run_id] = json.loads(header)
    return out


def series(store, machine=None, collective=None, algorithm=None):
    """Series as dicts (id and SERIES_FIELDS), sorted for display."""
    sql = f"SELECT id, {', '.join(SERIES_FIELDS)} FROM series"
    where, params = [], []
    for name, values in (("machine", machine), ("collective", collective),
                         ("algorithm", algorithm)):
        if values:
            values = [values] if isinstance(values, str) else list(values)
            where.append(f"{name} IN ({','.join('?' * len(values))})")
            params.extend(values)
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += (" ORDER BY machine, collective, algorithm, dtype, op, placement, timing, backend,"
            " ranks, nodes, bytes")
    return [dict(zip(("id",) + SERIES_FIELDS, row)) for row in store.query(sql, params)]
