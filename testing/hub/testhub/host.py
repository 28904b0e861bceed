"""host.* calls (kojihub.Host / HostExports), captures 20-50 and 64-71.

Every call first checks that the caller is a host with an exclusive session
(1002 "This method requires an exclusive session", capture 21).
"""
import time

import koji
from koji.context import context

from . import builds, catalog, db, scheduler
from .convert import convert_value
from .tasks import FINISHED, Task, make_task

ST = koji.TASK_STATES


class Host:
    def __init__(self, id=None):
        remote_id = context.session.getHostId()
        if id is None:
            id = remote_id
        if id is None:
            if context.session.logged_in:
                raise koji.AuthError("User %i is not a host" % context.session.user_id)
            raise koji.AuthError("Not logged-in")
        self.id = id
        self.same_host = (id == remote_id)

    def verify(self):
        if not self.same_host:
            raise koji.AuthError("Host mismatch")
        if not context.session.exclusive:
            raise koji.AuthError("This method requires an exclusive session")
        return True

    def taskUnwait(self, parent):
        db.write('UPDATE tasks SET waiting = 0 WHERE id = ?', parent)
        db.write('UPDATE tasks SET awaited = 0 WHERE parent = ?', parent)

    def taskSetWait(self, parent, tasks):
        convert_value(tasks, cast=list, none_allowed=True, check_only=True)
        db.write('UPDATE tasks SET waiting = 1 WHERE id = ?', parent)
        if tasks is None:
            db.write('UPDATE tasks SET awaited = 1 WHERE parent = ?', parent)
        elif tasks:
            marks = ','.join('?' * len(tasks))
            db.write('UPDATE tasks SET awaited = 1 WHERE parent = ? AND id IN (%s)' % marks,
                     parent, *tasks)
            db.write('UPDATE tasks SET awaited = 0 WHERE parent = ? AND awaited = 1 '
                     'AND id NOT IN (%s)' % marks, parent, *tasks)

    def taskWaitCheck(self, parent):
        finished, unfinished = [], []
        for r in db.rows('SELECT id, state FROM tasks WHERE parent = ? AND awaited = 1 '
                         'ORDER BY id', parent):
            (finished if r['state'] in FINISHED else unfinished).append(r['id'])
        return finished, unfinished

    def taskWait(self, parent):
        finished, unfinished = self.taskWaitCheck(parent)
        for task_id in sorted(finished):
            db.write('UPDATE tasks SET awaited = 0 WHERE id = ?', task_id)
        return [finished, unfinished]

    def taskWaitResults(self, parent, tasks, canfail=None):
        if canfail is None:
            canfail = []
        self.taskUnwait(parent)
        if tasks is None:
            tasks = [r['id'] for r in db.rows(
                'SELECT id FROM tasks WHERE parent = ? AND state IN (?, ?, ?) ORDER BY id',
                parent, *FINISHED)]
        results = []
        for task_id in tasks:
            task = Task(task_id)
            raise_fault = task_id not in canfail
            try:
                results.append([task_id, task.getResult(raise_fault=raise_fault)])
            except koji.GenericError as e:
                # a canceled canfail child comes back as a fault struct (capture 40)
                if not raise_fault and task.isCanceled():
                    results.append([task_id, {'faultCode': e.faultCode, 'faultString': str(e)}])
                    continue
                raise
        return results

    def getHostTasks(self):
        tasks = [{'id': r['id'], 'waiting': db.opt_bool(r['waiting']), 'weight': r['weight']}
                 for r in db.rows('SELECT id, waiting, weight FROM tasks WHERE host_id = ? '
                                  'AND state = ? ORDER BY id', self.id, ST['OPEN'])]
        for task in tasks:
            if task['waiting']:
                finished, _ = self.taskWaitCheck(task['id'])
                if finished:
                    # "wake the task process" (kojid sends SIGUSR2)
                    task['alert'] = True
        return tasks


def _host():
    host = Host()
    host.verify()
    return host


def getID():
    return _host().id


def updateHost(task_load, ready, data=None):
    host = _host()
    db.write('UPDATE hosts SET task_load = ?, ready = ?, update_time = ? WHERE id = ?',
             float(task_load), int(bool(ready)), time.time(), host.id)
    if data is not None:
        scheduler.set_host_data(host.id, data)


def getLoadData():
    host = _host()
    info = catalog.get_host(host.id)
    info['channels'] = [c['id'] for c in catalog.listChannels(hostID=host.id)]
    return [[info], scheduler.get_tasks_for_host(host.id, retry=True)]


def getHost():
    return catalog.get_host(_host().id)


def openTask(task_id):
    return Task(task_id).open(_host().id)


def closeTask(task_id, response):
    host = _host()
    task = Task(task_id)
    task.assertHost(host.id)
    return task.close(response)


def failTask(task_id, response):
    host = _host()
    task = Task(task_id)
    task.assertHost(host.id)
    return task.fail(response)


def freeTasks(tasks):
    host = _host()
    for task_id in tasks:
        task = Task(task_id)
        if not task.verifyHost(host.id):
            continue  # freed or reassigned meanwhile: not an error
        task.free()


def setTaskWeight(task_id, weight):
    host = _host()
    task = Task(task_id)
    task.assertHost(host.id)
    return task.setWeight(weight)


def setHostData(hostdata):
    host = _host()
    if isinstance(hostdata, str):
        import json
        hostdata = json.loads(hostdata)
    scheduler.set_host_data(host.id, hostdata)


def getTasks():
    return scheduler.get_tasks_for_host(_host().id, retry=True)


def refuseTask(task_id, soft=True, msg=''):
    soft = convert_value(soft, cast=bool)
    msg = convert_value(msg, cast=str)
    host = _host()
    task = Task(task_id)
    tinfo = task.getInfo(strict=True)
    if tinfo['host_id'] != host.id:
        return  # an unrelated task: ignored with a warning in Koji
    scheduler.set_refusal(host.id, tinfo['id'], soft=soft, msg=msg, by_host=True)
    task.free()


def getHostTasks():
    return _host().getHostTasks()


def taskSetWait(parent, tasks):
    return _host().taskSetWait(parent, tasks)


def taskUnwait(parent):
    return _host().taskUnwait(parent)


def taskWait(parent):
    return _host().taskWait(parent)


def taskWaitResults(parent, tasks, canfail=None):
    return _host().taskWaitResults(parent, tasks, canfail)


def subtask(method, arglist, parent, **opts):
    """host.subtask: same parent+label → same id; channel and arch default to the parent's."""
    host = _host()
    Task(parent).assertHost(host.id)
    opts['parent'] = parent
    if 'owner' in opts:
        raise koji.ActionNotAllowed('The owner option is not allowed here')
    if 'label' in opts:
        existing = db.value('SELECT id FROM tasks WHERE parent = ? AND label = ?',
                            parent, opts['label'])
        if existing:
            return existing
    if 'kwargs' in opts:
        arglist = koji.encode_args(*arglist, **opts['kwargs'])
        del opts['kwargs']
    return make_task(method, arglist, **opts)


def subtask2(__parent, __taskopts, __method, *args, **opts):
    args = koji.encode_args(*args, **opts)
    return subtask(__method, args, __parent, **__taskopts)


def tagBuild(task_id, tag, build, force=False, fromtag=None):
    """host.tagBuild: tags as the task owner (capture 69); 1003 when the package is not
    listed ("Package demo-image not in list for 3": the tag as given)."""
    host = _host()
    task = Task(task_id)
    task.assertHost(host.id)
    binfo = builds.get_build(build, strict=True)
    tag_id = catalog.get_tag(tag, strict=True)['id']
    user_id = task.getOwner()
    if fromtag and not isinstance(fromtag, str):
        fromtag = catalog.get_tag(fromtag, strict=True)['name']
    builds.check_package_list(tag_id, tag, binfo, force)
    if fromtag:
        builds.untag_build(fromtag, binfo['id'], user_id, strict=True, force=force)
    builds.tag_build(tag_id, binfo['id'], user_id, force=force)


def tagNotification(is_successful, tag_id, from_id, build_id, user_id, ignore_success=False,
                    failure_msg=''):
    """No mail here: Koji would queue a tagNotification task unless ignore_success."""
    _host()


def checkPolicy(name, data, default='deny', strict=False):
    _host()
    return True


def assertPolicy(name, data, default='deny'):
    _host()
