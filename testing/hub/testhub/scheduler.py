"""The hub-side task scheduler (kojihub/scheduler.py; captures 26, 45, 66).

It runs inside host.getTasks when the calling host has nothing ASSIGNED, at
most every RunInterval seconds (admins can force it with scheduler.doRun).
Tasks go into bins "channel_id:arch"; a host serves each of its channels ×
(its arches + noarch). A host must be enabled, ready (checked in within
ReadyTimeout), below maxjobs, have capacity - load > max(0, weight -
CapacityOvercommit), and not have refused the task.
"""
import json
import logging
import time

import koji
from koji.context import context

from . import db
from .convert import convert_value
from .state import hub
from .tasks import Task

ST = koji.TASK_STATES


logger = logging.getLogger('koji.scheduler')


def log_db(msg, task_id=None, host_id=None):
    """Koji's log_both: the hub log and scheduler_log_messages (koji scheduler-logs)."""
    pre1 = f"[task_id={task_id}] " if task_id else ""
    pre2 = f"[host_id={host_id}] " if host_id else ""
    logger.info('%s%s%s', pre1, pre2, msg)
    db.write('INSERT INTO scheduler_log_messages (task_id, host_id, msg, msg_time) '
             'VALUES (?, ?, ?, ?)', task_id, host_id, msg, time.time())


def get_tasks_for_host(hostID, retry=True):
    """host.getTasks: ASSIGNED tasks of this host by priority, create time (capture 26)."""
    def query():
        return [{'arch': r['arch'], 'channel_id': r['channel_id'], 'create_ts': r['create_time'],
                 'host_id': r['host_id'], 'id': r['id'], 'method': r['method'],
                 'priority': r['priority'], 'state': r['state']}
                for r in db.rows('SELECT * FROM tasks WHERE host_id = ? AND state = ? '
                                 'ORDER BY priority, create_time, id', hostID, ST['ASSIGNED'])]
    tasks = query()
    if not tasks and retry:
        TaskScheduler().run()
        tasks = query()
    return tasks


def set_refusal(hostID, taskID, soft=True, by_host=False, msg=''):
    db.write('INSERT OR REPLACE INTO scheduler_task_refusals (task_id, host_id, by_host, soft, '
             'msg, time) VALUES (?, ?, ?, ?, ?, ?)', convert_value(taskID, cast=int),
             convert_value(hostID, cast=int), int(bool(by_host)), int(bool(soft)),
             convert_value(msg, cast=str), time.time())
    log_db(f'Host refused task: {msg}', task_id=taskID, host_id=hostID)


def set_host_data(hostID, data):
    if not isinstance(data, dict):
        raise koji.ParameterError('Host data should be a dictionary')
    db.write('UPDATE hosts SET data = ? WHERE id = ?', json.dumps(data), hostID)


class TaskScheduler:
    def __init__(self):
        opts = hub().opts
        self.maxjobs = opts['MaxJobs']
        self.capacity_overcommit = opts['CapacityOvercommit']
        self.ready_timeout = opts['ReadyTimeout']
        self.assign_timeout = opts['AssignTimeout']
        self.soft_refusal_timeout = opts['SoftRefusalTimeout']
        self.host_timeout = opts['HostTimeout']
        self.run_interval = opts['RunInterval']

    def run(self, force=False):
        if not force and not self.check_ts():
            return False
        self.get_tasks()
        self.get_hosts()
        self.check_hosts()
        self.do_schedule()
        self.check_active_tasks()
        return True

    def check_ts(self):
        last = db.value("SELECT data FROM scheduler_sys_data WHERE name = 'last_run_ts'")
        last = json.loads(last) if last else 0
        now = time.time()
        if now - last < self.run_interval:
            return False
        db.write("INSERT OR REPLACE INTO scheduler_sys_data (name, data) "
                 "VALUES ('last_run_ts', ?)", json.dumps(now))
        return True

    def get_tasks(self):
        cols = ('id AS task_id, state, waiting, weight, channel_id, host_id, arch, method, '
                'priority, create_time AS create_ts')
        self.active_tasks = db.rows(
            'SELECT %s FROM tasks WHERE state IN (?, ?) AND host_id IS NOT NULL' % cols,
            ST['ASSIGNED'], ST['OPEN'])
        self.free_tasks = db.rows(
            'SELECT %s FROM tasks WHERE state = ? ORDER BY priority, create_time, id LIMIT 1000'
            % cols, ST['FREE'])
        for task in self.free_tasks + self.active_tasks:
            task['_bin'] = '%(channel_id)s:%(arch)s' % task

    def get_hosts(self):
        self.hosts = {}
        self.hosts_by_bin = {}
        chans = {}
        for r in db.rows('SELECT hc.host_id, hc.channel_id FROM host_channels hc '
                         'JOIN channels c ON c.id = hc.channel_id WHERE c.enabled = 1'):
            chans.setdefault(r['host_id'], []).append(r['channel_id'])
        for r in db.rows('SELECT * FROM hosts WHERE enabled = 1'):
            host = {'id': r['id'], 'name': r['name'], 'update_ts': r['update_time'],
                    'task_load': r['task_load'], 'ready': bool(r['ready']),
                    'arches': r['arches'], 'capacity': r['capacity'],
                    'data': json.loads(r['data']) if r['data'] else None,
                    'channels': chans.get(r['id'], [])}
            self.hosts[host['id']] = host
            for chan in host['channels']:
                for arch in host['arches'].split() + ['noarch']:
                    self.hosts_by_bin.setdefault('%s:%s' % (chan, arch), []).append(host)

    def check_hosts(self):
        now = time.time()
        for host in self.hosts.values():
            if not host['ready']:
                continue
            if host['update_ts'] is None or now - host['update_ts'] > self.ready_timeout:
                db.write('UPDATE hosts SET ready = 0 WHERE id = ?', host['id'])
                log_db('Marking host not ready', host_id=host['id'])
                host['ready'] = False

    def get_refusals(self):
        refusals = {}
        cutoff = time.time() - self.soft_refusal_timeout
        for r in db.rows('SELECT r.*, t.state FROM scheduler_task_refusals r '
                         'JOIN tasks t ON t.id = r.task_id'):
            if (r['soft'] and r['time'] < cutoff) or r['state'] not in (
                    ST['FREE'], ST['OPEN'], ST['ASSIGNED']):
                db.write('DELETE FROM scheduler_task_refusals WHERE id = ?', r['id'])
            else:
                refusals.setdefault(r['task_id'], {})[r['host_id']] = r
        return refusals

    def do_schedule(self):
        for task in self.active_tasks:
            host = self.hosts.get(task['host_id'])
            if not host:
                continue
            host.setdefault('_load', 0.0)
            if not task['waiting']:
                host['_load'] += task['weight']
            host['_ntasks'] = host.get('_ntasks', 0) + 1
        for host in self.hosts.values():
            host.setdefault('_load', 0.0)
            host.setdefault('_ntasks', 0)
            host.setdefault('_demand', 0.0)
            host['_maxjobs'] = (host['data'] or {}).get('maxjobs') or self.maxjobs
        refusals = self.get_refusals()
        for task in self.free_tasks:
            task['_hosts'] = []
            min_avail = max(0, task['weight'] - self.capacity_overcommit)
            refused = refusals.get(task['task_id'], {})
            for host in self.hosts_by_bin.get(task['_bin'], []):
                if (host['ready'] and host['_ntasks'] < host['_maxjobs'] and
                        host['capacity'] - host['_load'] > min_avail and
                        host['id'] not in refused):
                    task['_hosts'].append(host)
            for host in task['_hosts']:
                host['_demand'] += task['weight'] / len(task['_hosts'])
        max_demand = sum(h['_demand'] for h in self.hosts.values())
        if max_demand > 0.0:
            for h in self.hosts.values():
                h['_demand'] = h['_demand'] / max_demand
        for h in self.hosts.values():
            self._rank_host(h)
        for task in self.free_tasks:
            min_avail = max(0, task['weight'] - self.capacity_overcommit)
            task['_hosts'].sort(key=lambda h: h['_rank'])
            for host in task['_hosts']:
                if (host['capacity'] - host['_load'] > min_avail and
                        host['_ntasks'] < host['_maxjobs']):
                    if self.assign(task, host):
                        host['_load'] += task['weight']
                        host['_ntasks'] += 1
                        self._rank_host(host)
                    break

    @staticmethod
    def _rank_host(host):
        host['_rank'] = host['_load'] + host['_ntasks'] + host['_demand']

    def check_active_tasks(self):
        runs = {}
        for r in db.rows('SELECT * FROM scheduler_task_runs WHERE active = 1'):
            runs.setdefault(r['task_id'], []).append(r)
        now = time.time()
        for task in self.active_tasks:
            host = self.hosts.get(task['host_id'])
            if not host:
                continue
            taskruns = runs.get(task['task_id'], [])
            if not taskruns:
                continue  # an override assignment: left alone
            if task['state'] == ST['ASSIGNED']:
                assign_ts = min(r['create_time'] for r in taskruns)
                if now - assign_ts > self.assign_timeout:
                    if host['update_ts'] and host['update_ts'] > assign_ts:
                        set_refusal(host['id'], task['task_id'], msg='assignment timeout')
                    log_db('Task assignment timeout', task['task_id'], host['id'])
                    Task(task['task_id']).free()
            elif task['state'] == ST['OPEN']:
                if host['update_ts'] is None:
                    age = now - min(r['create_time'] for r in taskruns)
                else:
                    age = now - host['update_ts']
                if age > self.host_timeout:
                    log_db('Freeing task from unresponsive host', task['task_id'], host['id'])
                    Task(task['task_id']).free()
        db.write('UPDATE scheduler_task_runs SET active = 0 WHERE active = 1 AND task_id IN '
                 '(SELECT id FROM tasks WHERE state NOT IN (?, ?))', ST['OPEN'], ST['ASSIGNED'])

    def assign(self, task, host, force=False, override=False):
        if not Task(task['task_id']).assign(host['id'], force=force):
            log_db('Assignment failed', task['task_id'], host['id'])
            return False
        log_db('Assigning task (override)' if override else 'Assigning task',
               task['task_id'], host['id'])
        db.write('UPDATE scheduler_task_runs SET active = 0 WHERE task_id = ? AND active = 1',
                 task['task_id'])
        if not override:
            db.write('INSERT INTO scheduler_task_runs (task_id, host_id, create_time) '
                     'VALUES (?, ?, ?)', task['task_id'], host['id'], time.time())
        return True


# --- scheduler.* calls ---------------------------------------------------------

def doRun(force=False):
    force = convert_value(force, cast=bool)
    context.session.assertPerm('admin')
    return TaskScheduler().run(force=force)


def getTaskRefusals(clauses=None, fields=None):
    out = [{'by_host': bool(r['by_host']), 'host_id': r['host_id'], 'id': r['id'],
            'msg': r['msg'], 'soft': bool(r['soft']), 'task_id': r['task_id'], 'ts': r['time']}
           for r in db.rows('SELECT * FROM scheduler_task_refusals ORDER BY id')]
    return _filter(out, clauses)


def getTaskRuns(clauses=None, fields=None, opts=None):
    out = [{'active': bool(r['active']), 'create_ts': r['create_time'], 'host_id': r['host_id'],
            'id': r['id'], 'task_id': r['task_id']}
           for r in db.rows('SELECT * FROM scheduler_task_runs ORDER BY id')]
    return _filter(out, clauses)


def getHostData(hostID=None):
    sql = 'SELECT id, data FROM hosts'
    rs = db.rows(sql + ' WHERE id = ?', hostID) if hostID is not None else db.rows(sql)
    return [{'host_id': r['id'], 'data': json.loads(r['data'])} for r in rs if r['data']]


def getLogMessages(clauses=None, fields=None, opts=None):
    out = [{'host_id': r['host_id'], 'id': r['id'], 'msg': r['msg'], 'msg_ts': r['msg_time'],
            'task_id': r['task_id']}
           for r in db.rows('SELECT * FROM scheduler_log_messages ORDER BY id')]
    return _filter(out, clauses)


def _filter(rows, clauses):
    """QueryView clauses, only the [field, '=', value] form."""
    for clause in clauses or []:
        field, op, val = clause if len(clause) == 3 else (clause[0], '=', clause[1])
        if op in ('=', '=='):
            rows = [r for r in rows if r.get(field) == val]
        elif op == 'IN':
            rows = [r for r in rows if r.get(field) in val]
    return rows


def assignTask(task_id, host, force=False, override=False):
    """admin assign-task (scheduler.do_assign)."""
    from .catalog import get_host
    task_id = convert_value(task_id, cast=int)
    hostinfo = get_host(host, strict=True)
    context.session.assertPerm('admin')
    return TaskScheduler().assign({'task_id': task_id}, hostinfo, force=bool(force),
                                  override=bool(override))
