"""Extra calls for tests and demos, all admin-only, under the `testhub.` prefix.

Real Koji has other ways to do these (koji add-host, regen-repo, ...); the test
hub keeps them as single calls so tests can set up and inspect state quickly.
"""
import time

import koji
from koji.context import context

from . import catalog, db
from .tasks import Task, task_row


def _admin():
    context.session.assertPerm('admin')


def createRepo(tag, state='READY'):
    """Make a new repo for a tag (READY by default); satisfies queued repo.request rows."""
    _admin()
    state = koji.REPO_STATES[state] if isinstance(state, str) else state
    return catalog.create_repo(tag, state=state)


def setHostEnabled(host, enabled=True):
    _admin()
    hid = catalog.get_host(host, strict=True)['id']
    db.write('UPDATE hosts SET enabled = ? WHERE id = ?', int(bool(enabled)), hid)


def setHostReady(host, ready=True):
    """Pretend a host checked in now (or went away), without its session."""
    _admin()
    hid = catalog.get_host(host, strict=True)['id']
    db.write('UPDATE hosts SET ready = ?, update_time = ? WHERE id = ?', int(bool(ready)),
             time.time(), hid)


def setTaskState(task_id, state, host=None):
    """Force a task state (and host): for fault-injection tests."""
    _admin()
    state = koji.TASK_STATES[state] if isinstance(state, str) else state
    hid = catalog.get_host(host, strict=True)['id'] if host is not None else None
    Task(task_id).getInfo(strict=True)
    db.write('UPDATE tasks SET state = ?, host_id = ? WHERE id = ?', state, hid, task_id)
    return task_row(db.row('SELECT * FROM tasks WHERE id = ?', task_id))


def addPackage(tag, package):
    """Add a package to a tag's package list (koji add-pkg)."""
    _admin()
    from .builds import package_id
    tid = catalog.get_tag_id(tag, strict=True)
    pid = package_id(package, create=True)
    db.write('INSERT OR REPLACE INTO tag_packages (tag_id, package_id, owner_id, blocked) '
             'VALUES (?, ?, ?, 0)', tid, pid, context.session.user_id)


def listSessions():
    """All sessions (without keys): to check exclusive/closed bookkeeping in tests."""
    _admin()
    return [{'id': r['id'], 'user_id': r['user_id'], 'exclusive': db.opt_bool(r['exclusive']),
             'expired': bool(r['expired']), 'closed': bool(r['closed']), 'master': r['master'],
             'callnum': r['callnum'], 'authtype': r['authtype']}
            for r in db.rows('SELECT * FROM sessions ORDER BY id')]


def callStats(reset=False):
    """Calls served so far per user name ('' when not logged in): {'requests': {method: n},
    'calls': {method: n}} (see rpc.CALL_COUNTS); reset=True zeroes them after reading."""
    _admin()
    from . import rpc
    names = {r['id']: r['name'] for r in db.rows('SELECT id, name FROM users')}
    out = {names.get(uid, '') if uid is not None else '': counts
           for uid, counts in rpc.CALL_COUNTS.items()}
    if reset:
        rpc.CALL_COUNTS.clear()
    return out


CALLS = {
    'createRepo': createRepo,
    'setHostEnabled': setHostEnabled,
    'setHostReady': setHostReady,
    'setTaskState': setTaskState,
    'addPackage': addPackage,
    'listSessions': listSessions,
    'callStats': callStats,
}
