"""Tasks: creation, state changes and the task calls (kojihub.Task, make_task).

A task's request is stored as the XML-RPC methodCall document Koji stores
(`koji.xmlrpcplus.dumps(tuple(arglist), methodname=method)`), so openTask can
hand it out verbatim (capture 28) and getTaskInfo(request=True) can decode it
(capture 18). Results are the methodResponse/fault documents the host sent to
closeTask/failTask (captures 41, 47).
"""
import time

import koji
import koji.xmlrpcplus
from koji.context import context

from . import db
from .convert import convert_value

ST = koji.TASK_STATES
FINISHED = (ST['CLOSED'], ST['CANCELED'], ST['FAILED'])


def task_row(row, request=False):
    """A task row in the shape of Task.getInfo (capture 18)."""
    info = {
        'arch': row['arch'], 'awaited': db.opt_bool(row['awaited']),
        'channel_id': row['channel_id'],
        'completion_time': db.ts_str(row['completion_time']), 'completion_ts': row['completion_time'],
        'create_time': db.ts_str(row['create_time']), 'create_ts': row['create_time'],
        'host_id': row['host_id'], 'id': row['id'], 'label': row['label'],
        'method': row['method'], 'owner': row['owner'], 'parent': row['parent'],
        'priority': row['priority'],
        'start_time': db.ts_str(row['start_time']), 'start_ts': row['start_time'],
        'state': row['state'], 'waiting': db.opt_bool(row['waiting']), 'weight': row['weight'],
    }
    if request:
        info['request'] = koji.xmlrpcplus.loads(row['request'])[0]
    return info


class Task:
    def __init__(self, id):
        self.id = convert_value(id, cast=int)

    def _row(self, strict=True):
        r = db.row('SELECT * FROM tasks WHERE id = ?', self.id)
        if not r and strict:
            raise koji.GenericError("No such task: %i" % self.id)
        return r

    def getInfo(self, strict=True, request=False):
        r = db.row('SELECT * FROM tasks WHERE id = ?', self.id)
        if not r:
            if strict:
                raise koji.GenericError("No such task: %i" % self.id)
            return None
        return task_row(r, request=request)

    def getState(self):
        return self._row()['state']

    def getOwner(self):
        return self._row()['owner']

    def isFinished(self):
        return self.getState() in FINISHED

    def isCanceled(self):
        return self.getState() == ST['CANCELED']

    def verifyHost(self, host_id=None):
        if host_id is None:
            host_id = context.session.host_id
        if host_id is None:
            return False
        r = self._row()
        return r['state'] == ST['OPEN'] and r['host_id'] == host_id

    def assertHost(self, host_id):
        if not self.verifyHost(host_id):
            raise koji.ActionNotAllowed("host %d does not own task %d" % (host_id, self.id))

    def verifyOwner(self, user_id=None):
        if user_id is None:
            user_id = context.session.user_id
        if user_id is None:
            return False
        return self._row()['owner'] == user_id

    def lock(self, host_id, newstate='OPEN', force=False):
        """Task.lock: assign or open; False when another host has it or it is done."""
        r = self._row()
        if not force:
            state, other = r['state'], r['host_id']
            if state == ST['FREE']:
                if other is not None:
                    return False
            elif state == ST['ASSIGNED']:
                if other is None or other != host_id:
                    return False
                if newstate == 'ASSIGNED':
                    return True
            else:
                return False
        if newstate == 'OPEN':
            db.write('UPDATE tasks SET state = ?, host_id = ?, start_time = ? WHERE id = ?',
                     ST[newstate], host_id, time.time(), self.id)
        else:
            db.write('UPDATE tasks SET state = ?, host_id = ? WHERE id = ?',
                     ST[newstate], host_id, self.id)
        return True

    def assign(self, host_id, force=False):
        return self.lock(host_id, 'ASSIGNED', force)

    def open(self, host_id):
        """host.openTask: the full row with the request XML, or None (capture 28, 50)."""
        if not self.lock(host_id, 'OPEN'):
            return None
        r = self._row()
        info = task_row(r)
        info['request'] = r['request']
        return info

    def free(self):
        state = self._row()['state']
        if state in FINISHED:
            raise koji.GenericError("Cannot free task %i, state is %s" % (self.id, ST[state]))
        db.write('UPDATE tasks SET state = ?, host_id = NULL WHERE id = ?', ST['FREE'], self.id)
        return True

    def setWeight(self, weight):
        weight = convert_value(weight, cast=float)
        db.write('UPDATE tasks SET weight = ? WHERE id = ?', weight, self.id)

    def setPriority(self, priority, recurse=False):
        priority = convert_value(priority, cast=int)
        db.write('UPDATE tasks SET priority = ? WHERE id = ?', priority, self.id)
        if recurse:
            for child in db.rows('SELECT id FROM tasks WHERE parent = ?', self.id):
                Task(child['id']).setPriority(priority, recurse=True)

    def _close(self, result, state):
        db.write('UPDATE tasks SET result = ?, state = ?, completion_time = ? WHERE id = ?',
                 result, state, time.time(), self.id)

    def close(self, result):
        self._close(result, ST['CLOSED'])

    def fail(self, result):
        self._close(result, ST['FAILED'])

    def cancel(self, recurse=True):
        """Task.cancel: children too; a CLOSED/FAILED task stays as it is."""
        state = self._row()['state']
        if state == ST['CANCELED']:
            return True
        if state in (ST['CLOSED'], ST['FAILED']):
            return False
        db.write('UPDATE tasks SET state = ?, completion_time = ? WHERE id = ?',
                 ST['CANCELED'], time.time(), self.id)
        # a BUILDING build owned by the task is canceled with it
        db.write('UPDATE builds SET state = ?, completion_time = ? WHERE task_id = ? AND state = ?',
                 koji.BUILD_STATES['CANCELED'], time.time(), self.id,
                 koji.BUILD_STATES['BUILDING'])
        if recurse:
            for child in db.rows('SELECT id FROM tasks WHERE parent = ?', self.id):
                Task(child['id']).cancel(recurse=True)
        return True

    def getRequest(self):
        return koji.xmlrpcplus.loads(self._row()['request'])[0]

    def getResult(self, raise_fault=True):
        r = db.row('SELECT state, result FROM tasks WHERE id = ?', self.id)
        if not r:
            raise koji.GenericError("No such task")
        if r['state'] == ST['CANCELED']:
            raise koji.GenericError("Task %i is canceled" % self.id)
        if r['state'] not in (ST['CLOSED'], ST['FAILED']):
            raise koji.GenericError("Task %i is not finished" % self.id)
        try:
            # a stored fault document raises the fault again (capture 43)
            result, _ = koji.xmlrpcplus.loads(r['result'])
        except koji.xmlrpcplus.Fault as fault:
            if raise_fault:
                raise
            return {'faultCode': fault.faultCode, 'faultString': fault.faultString}
        return result[0]

    def getChildren(self, request=False):
        return [task_row(r, request=request)
                for r in db.rows('SELECT * FROM tasks WHERE parent = ? ORDER BY id', self.id)]


def channel_by_name(name, strict=False):
    if isinstance(name, int):
        r = db.row('SELECT * FROM channels WHERE id = ?', name)
    else:
        r = db.row('SELECT * FROM channels WHERE name = ?', name)
    if not r and strict:
        raise koji.GenericError('No such channel: %s' % name)
    return r


def make_task(method, arglist, **opts):
    """kojihub.make_task with the default channel policy:
    has req_channel :: req / is_child_task :: parent / all :: use default."""
    convert_value(method, cast=str, check_only=True)
    if 'parent' in opts:
        opts['parent'] = convert_value(opts['parent'], cast=int)
    if 'label' in opts:
        convert_value(opts['label'], cast=str, check_only=True)
    if 'owner' in opts and not isinstance(opts['owner'], int):
        from .catalog import get_user
        opts['owner'] = get_user(opts['owner'], strict=True)['id']
    if 'arch' in opts:
        opts['arch'] = koji.parse_arches(opts['arch'], strict=True, allow_none=True)
    if 'priority' in opts:
        opts['priority'] = convert_value(opts['priority'], cast=int)
    pdata = None
    if opts.get('parent') is not None:
        pdata = db.row('SELECT state, owner, channel_id, priority, arch FROM tasks WHERE id = ?',
                       opts['parent'])
        if not pdata:
            raise koji.GenericError("Invalid parent task: %(parent)s" % opts)
        if pdata['state'] != ST['OPEN']:
            raise koji.GenericError("Parent task (id %(parent)s) is not open" % opts)
        # subtasks default to a higher priority than their parent (priority - 1)
        opts.setdefault('priority', pdata['priority'] - 1)
        for f in ('owner', 'arch'):
            opts.setdefault(f, pdata[f])
        opts.setdefault('label', None)
    else:
        opts.setdefault('priority', koji.PRIO_DEFAULT)
        opts.setdefault('arch', 'noarch')
        if 'owner' not in opts:
            if not context.session.logged_in:
                raise koji.GenericError('task must have an owner')
            opts['owner'] = context.session.user_id
        opts['label'] = None
        opts['parent'] = None
    if opts.get('channel') is not None:
        chan = channel_by_name(opts['channel'])
        if not chan:
            raise koji.GenericError('No such channel: %s' % opts['channel'])
        if not chan['enabled']:
            raise koji.GenericError('Channel %s is disabled.' % opts['channel'])
        channel_id = chan['id']
    elif pdata is not None:
        channel_id = pdata['channel_id']
    else:
        channel_id = channel_by_name('default', strict=True)['id']
    request = koji.xmlrpcplus.dumps(tuple(arglist), methodname=method)
    state = ST['FREE']
    host_id = None
    if opts.get('assign'):
        state = ST['ASSIGNED']
        host_id = opts['assign']
    return db.write(
        'INSERT INTO tasks (state, create_time, channel_id, host_id, parent, label, owner, '
        'method, arch, priority, request) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        state, time.time(), channel_id, host_id, opts['parent'], opts['label'], opts['owner'],
        method, opts['arch'], opts['priority'], request)


# --- RootExports task calls ---------------------------------------------------

def getTaskInfo(task_id, request=False, strict=False):
    if isinstance(task_id, (list, tuple)):
        return [Task(i).getInfo(strict, request) for i in task_id]
    return Task(task_id).getInfo(strict, request)


def getTaskRequest(taskId):
    return Task(taskId).getRequest()


def getTaskResult(taskId, raise_fault=True):
    return Task(taskId).getResult(raise_fault=raise_fault)


def getTaskChildren(task_id, request=False, strict=False):
    task = Task(task_id)
    if strict:
        task.getInfo(strict=True)
    return task.getChildren(request=request)


def cancelTask(task_id, recurse=True):
    task = Task(task_id)
    if not task.verifyOwner() and not task.verifyHost():
        if not context.session.hasPerm('admin'):
            raise koji.ActionNotAllowed('Cannot cancel task, not owner')
    task.cancel(recurse=recurse)


def cancelTaskChildren(task_id):
    context.session.assertLogin()
    task = Task(task_id)
    if not task.verifyOwner() and not task.verifyHost():
        if not context.session.hasPerm('admin'):
            raise koji.ActionNotAllowed('Cannot cancel task, not owner')
    for child in db.rows('SELECT id FROM tasks WHERE parent = ?', task.id):
        Task(child['id']).cancel(recurse=True)


def freeTask(task_id):
    context.session.assertPerm('admin')
    Task(task_id).free()


def setTaskPriority(task_id, priority, recurse=True):
    context.session.assertPerm('admin')
    task = Task(task_id)
    if task.isFinished():
        raise koji.GenericError("Finished task's priority can't be updated")
    task.setPriority(priority, recurse=recurse)


def listTasks(opts=None, queryOpts=None):
    """A small listTasks: filters state, method, owner, parent, host_id, channel_id."""
    opts = opts or {}
    clauses, args = [], []
    for key, col in (('method', 'method'), ('owner', 'owner'), ('parent', 'parent'),
                     ('host_id', 'host_id'), ('channel_id', 'channel_id'), ('arch', 'arch')):
        if key in opts:
            if opts[key] is None:
                clauses.append('%s IS NULL' % col)
                continue
            vals = opts[key] if isinstance(opts[key], list) else [opts[key]]
            clauses.append('%s IN (%s)' % (col, ','.join('?' * len(vals))))
            args.extend(vals)
    if 'state' in opts:
        clauses.append('state IN (%s)' % ','.join('?' * len(opts['state'])))
        args.extend(opts['state'])
    sql = 'SELECT * FROM tasks'
    if clauses:
        sql += ' WHERE ' + ' AND '.join(clauses)
    sql += ' ORDER BY id'
    return [task_row(r, request=bool(opts.get('decode'))) for r in db.rows(sql, *args)]
