"""SQLite storage with Koji-like transaction rules.

One connection, one lock: every request runs inside `request_transaction()`,
which serializes requests, commits on success and rolls back on a fault,
like kojixmlrpc does with PostgreSQL. Writes go through `write()`, which marks
the request as `context.commit_pending`; the session layer only remembers a
callnum when that flag is set (auth.py: "we only want to commit the callnum
change if there are other commits").
"""
import datetime
import json
import sqlite3
import threading
import time
from contextlib import contextmanager

from koji.context import context

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE NOT NULL, password TEXT,
    status INTEGER NOT NULL DEFAULT 0, usertype INTEGER NOT NULL DEFAULT 0,
    krb_principals TEXT NOT NULL DEFAULT '[]');
CREATE TABLE IF NOT EXISTS user_perms (user_id INTEGER NOT NULL, perm TEXT NOT NULL,
    PRIMARY KEY (user_id, perm));
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, key TEXT NOT NULL,
    authtype INTEGER NOT NULL, callnum INTEGER, exclusive INTEGER, expired INTEGER NOT NULL DEFAULT 0,
    closed INTEGER NOT NULL DEFAULT 0, master INTEGER, start_time REAL NOT NULL,
    update_time REAL NOT NULL, renew_time REAL);
CREATE TABLE IF NOT EXISTS channels (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1, description TEXT, comment TEXT);
CREATE TABLE IF NOT EXISTS hosts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, name TEXT UNIQUE NOT NULL,
    arches TEXT NOT NULL, capacity REAL NOT NULL DEFAULT 2.0, enabled INTEGER NOT NULL DEFAULT 1,
    description TEXT, comment TEXT, ready INTEGER NOT NULL DEFAULT 0,
    task_load REAL NOT NULL DEFAULT 0.0, update_time REAL, data TEXT);
CREATE TABLE IF NOT EXISTS host_channels (host_id INTEGER NOT NULL, channel_id INTEGER NOT NULL,
    PRIMARY KEY (host_id, channel_id));
CREATE TABLE IF NOT EXISTS tags (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE NOT NULL, arches TEXT,
    locked INTEGER NOT NULL DEFAULT 0, perm TEXT, maven_support INTEGER NOT NULL DEFAULT 0,
    maven_include_all INTEGER NOT NULL DEFAULT 0, extra TEXT NOT NULL DEFAULT '{}',
    accept_all_packages INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS packages (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE NOT NULL);
CREATE TABLE IF NOT EXISTS tag_packages (tag_id INTEGER NOT NULL, package_id INTEGER NOT NULL,
    owner_id INTEGER, blocked INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (tag_id, package_id));
CREATE TABLE IF NOT EXISTS build_targets (id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT UNIQUE NOT NULL, build_tag INTEGER NOT NULL, dest_tag INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS repos (
    id INTEGER PRIMARY KEY AUTOINCREMENT, tag_id INTEGER NOT NULL, state INTEGER NOT NULL,
    create_event INTEGER NOT NULL, begin_event INTEGER, end_event INTEGER,
    creation_time REAL NOT NULL, state_time REAL NOT NULL, task_id INTEGER,
    dist INTEGER NOT NULL DEFAULT 0, opts TEXT NOT NULL, custom_opts TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS repo_queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT, create_time REAL NOT NULL, owner INTEGER,
    priority INTEGER NOT NULL, tag_id INTEGER NOT NULL, at_event INTEGER, min_event INTEGER,
    opts TEXT NOT NULL, active INTEGER NOT NULL DEFAULT 1, task_id INTEGER, repo_id INTEGER,
    tries INTEGER NOT NULL DEFAULT 0, update_time REAL NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT, state INTEGER NOT NULL, create_time REAL NOT NULL,
    start_time REAL, completion_time REAL, channel_id INTEGER NOT NULL, host_id INTEGER,
    parent INTEGER, label TEXT, waiting INTEGER, awaited INTEGER, owner INTEGER NOT NULL,
    method TEXT NOT NULL, arch TEXT NOT NULL, priority INTEGER NOT NULL,
    weight REAL NOT NULL DEFAULT 1.0, request TEXT NOT NULL, result TEXT);
CREATE TABLE IF NOT EXISTS scheduler_task_refusals (
    id INTEGER PRIMARY KEY AUTOINCREMENT, task_id INTEGER NOT NULL, host_id INTEGER NOT NULL,
    by_host INTEGER NOT NULL, soft INTEGER NOT NULL, msg TEXT, time REAL NOT NULL,
    UNIQUE (task_id, host_id));
CREATE TABLE IF NOT EXISTS scheduler_task_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, task_id INTEGER NOT NULL, host_id INTEGER NOT NULL,
    active INTEGER NOT NULL DEFAULT 1, create_time REAL NOT NULL);
CREATE TABLE IF NOT EXISTS scheduler_sys_data (name TEXT PRIMARY KEY, data TEXT);
CREATE TABLE IF NOT EXISTS scheduler_log_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT, task_id INTEGER, host_id INTEGER, msg TEXT NOT NULL,
    msg_time REAL NOT NULL);
CREATE TABLE IF NOT EXISTS content_generators (id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT UNIQUE NOT NULL);
CREATE TABLE IF NOT EXISTS cg_users (cg_id INTEGER NOT NULL, user_id INTEGER NOT NULL,
    PRIMARY KEY (cg_id, user_id));
CREATE TABLE IF NOT EXISTS builds (
    id INTEGER PRIMARY KEY AUTOINCREMENT, pkg_id INTEGER NOT NULL, version TEXT NOT NULL,
    release TEXT NOT NULL, epoch INTEGER, draft INTEGER NOT NULL DEFAULT 0, state INTEGER NOT NULL,
    task_id INTEGER, owner INTEGER NOT NULL, start_time REAL, completion_time REAL,
    creation_event_id INTEGER NOT NULL, source TEXT, extra TEXT, cg_id INTEGER,
    volume_id INTEGER NOT NULL DEFAULT 0, UNIQUE (pkg_id, version, release));
CREATE TABLE IF NOT EXISTS build_reservations (build_id INTEGER PRIMARY KEY, token TEXT NOT NULL,
    created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS buildroots (id INTEGER PRIMARY KEY AUTOINCREMENT, cg_id INTEGER,
    data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS archives (
    id INTEGER PRIMARY KEY AUTOINCREMENT, build_id INTEGER NOT NULL, type_name TEXT NOT NULL,
    btype TEXT NOT NULL, buildroot_id INTEGER, filename TEXT NOT NULL, relpath TEXT,
    size INTEGER NOT NULL, checksum TEXT NOT NULL, checksum_type INTEGER NOT NULL,
    extra TEXT, metadata_only INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS build_logs (id INTEGER PRIMARY KEY AUTOINCREMENT,
    build_id INTEGER NOT NULL, name TEXT NOT NULL, dir TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tag_listing (
    tag_id INTEGER NOT NULL, build_id INTEGER NOT NULL, create_event INTEGER NOT NULL,
    revoke_event INTEGER, creator_id INTEGER, active INTEGER);
"""


class Store:
    """The hub database: a single SQLite connection behind one lock."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.RLock()
        # isolation_level=None: we issue BEGIN/COMMIT ourselves
        self.cnx = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.cnx.row_factory = sqlite3.Row
        self.cnx.execute('PRAGMA journal_mode=WAL')
        # Every logged-in call writes (the session's update_time). In WAL mode
        # NORMAL syncs at checkpoints, not at each COMMIT: a killed hub still
        # keeps every committed call (the restart tests SIGKILL it), only a
        # crash of the OS could lose the last ones. FULL cost an fsync per call.
        self.cnx.execute('PRAGMA synchronous=NORMAL')
        self.cnx.executescript(SCHEMA)

    def is_empty(self):
        return self.cnx.execute('SELECT COUNT(*) FROM users').fetchone()[0] == 0

    @contextmanager
    def transaction(self):
        """Run a block atomically (used by seeding and by the scheduler thread)."""
        with self.lock:
            self.cnx.execute('BEGIN IMMEDIATE')
            try:
                yield
            except BaseException:
                self.cnx.execute('ROLLBACK')
                raise
            self.cnx.execute('COMMIT')

    # savepoints give multiCall Koji's per-call rollback (kojixmlrpc.multiCall)
    def savepoint(self, name):
        self.cnx.execute('SAVEPOINT %s' % name)

    def rollback_to(self, name):
        self.cnx.execute('ROLLBACK TO SAVEPOINT %s' % name)
        self.cnx.execute('RELEASE SAVEPOINT %s' % name)

    def release(self, name):
        self.cnx.execute('RELEASE SAVEPOINT %s' % name)


_store = None


def open_store(path):
    global _store
    _store = Store(path)
    return _store


def store():
    return _store


def rows(sql, *args):
    return [dict(r) for r in _store.cnx.execute(sql, args).fetchall()]


def row(sql, *args):
    r = _store.cnx.execute(sql, args).fetchone()
    return dict(r) if r is not None else None


def value(sql, *args):
    r = _store.cnx.execute(sql, args).fetchone()
    return r[0] if r is not None else None


def write(sql, *args):
    """Run an INSERT/UPDATE/DELETE; returns lastrowid. Marks the request as committing."""
    context.commit_pending = True
    return _store.cnx.execute(sql, args).lastrowid


def write_quiet(sql, *args):
    """A write that, like Koji's session bookkeeping, does not count as a commit."""
    return _store.cnx.execute(sql, args).lastrowid


def event_id():
    """One event per request that changes tagged data, like Koji's context.event_id."""
    ev = getattr(context, 'event_id', None)
    if ev is None:
        ev = write('INSERT INTO events (time) VALUES (?)', time.time())
        context.event_id = ev
    return ev


# --- value conversions -------------------------------------------------------

def ts_str(ts):
    """Koji sends datetimes as strings (kojixmlrpc.Marshaller.dump_datetime):
    PostgreSQL timestamptz rendered with isoformat(' '), e.g.
    '2026-11-24 21:07:25.294856+00:00' (capture 18)."""
    if ts is None:
        return None
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).isoformat(' ')


def opt_bool(v):
    return None if v is None else bool(v)


def jload(text, default=None):
    if text is None:
        return default
    return json.loads(text)


def jdump(value):
    return json.dumps(value, sort_keys=True)
