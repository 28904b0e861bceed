"""The builder's side: host calls, scheduling, task results (captures 20-50)."""
import json

import koji
import koji.xmlrpcplus
import pytest

from conftest import DEFAULT_SEED, Hub, cancel_unfinished, make_task, take_task

ST = koji.TASK_STATES


def response_doc(value):
    """What kojid sends to host.closeTask (capture 47)."""
    return koji.xmlrpcplus.dumps((value,), methodresponse=1)


def fault_doc(code, text):
    """What kojid sends to host.failTask (capture 41)."""
    return koji.xmlrpcplus.dumps(koji.xmlrpcplus.Fault(code, text))


@pytest.fixture(autouse=True)
def idle_host(hub):
    yield
    cancel_unfinished(hub)


def test_host_info_and_heartbeat(hub):
    h = hub.host(ready=False)
    info = h.host.getHost()
    assert set(info) == {'arches', 'capacity', 'comment', 'description', 'enabled', 'id',
                         'name', 'ready', 'task_load', 'update_ts', 'user_id'}
    assert info['name'] == 'builder.local' and info['arches'] == 'x86_64 aarch64'
    assert h.host.updateHost(0.0, True, data={'methods': ['osbuildImage'], 'maxjobs': 5}) \
        is None
    info = h.host.getHost()
    assert info['ready'] is True and isinstance(info['update_ts'], float)
    assert h.scheduler.getHostData(info['id'])[0]['data']['maxjobs'] == 5
    assert h.listBuildroots(hostID=info['id'], state=[0, 1, 2]) == []


def test_task_lifecycle_close(hub):
    task_id = make_task(hub, opts={'skip_tag': True})
    h = hub.host()
    assigned = [t for t in h.host.getTasks() if t['id'] == task_id]
    assert assigned == [{'arch': 'noarch', 'channel_id': hub.anon().getChannel('image')['id'],
                         'create_ts': assigned[0]['create_ts'], 'host_id': h.host.getID(),
                         'id': task_id, 'method': 'osbuildImage', 'priority': 20,
                         'state': ST['ASSIGNED']}]
    info = h.getTaskInfo(task_id, request=True)
    assert info['request'] == ['demo-image', '42', 'fedora-42', 'guest-image',
                               'fedora42-candidate', ['x86_64'], {'skip_tag': True}]
    row = h.host.openTask(task_id)
    assert row['state'] == ST['OPEN'] and isinstance(row['start_time'], str)
    # the request is the stored methodCall document (capture 28)
    params, method = koji.xmlrpcplus.loads(row['request'])
    assert method == 'osbuildImage' and list(params) == info['request']
    assert h.host.openTask(task_id) is None
    h.host.setTaskWeight(task_id, 0.2)
    assert {'id': task_id, 'waiting': None, 'weight': 0.2} in h.host.getHostTasks()
    result = {'composer': {'server': 'https://composer.example', 'id': 'c-1'},
              'koji': {'build': 1}}
    assert h.host.closeTask(task_id, response_doc(result)) is None
    assert hub.anon().getTaskResult(task_id) == result
    info = hub.anon().getTaskInfo(task_id)
    assert info['state'] == ST['CLOSED'] and isinstance(info['completion_ts'], float)
    assert h.host.openTask(task_id) is None
    hid = h.host.getID()
    with pytest.raises(koji.ActionNotAllowed,
                       match='^host %d does not own task %d$' % (hid, task_id)):
        h.host.closeTask(task_id, response_doc(None))


def test_task_failed_result_is_raised_again(hub):
    task_id = make_task(hub)
    h = hub.host()
    take_task(h, task_id)
    h.host.failTask(task_id, fault_doc(1005, 'Compose failed (id: abc)'))
    with pytest.raises(koji.BuildError, match=r'^Compose failed \(id: abc\)$'):
        hub.anon().getTaskResult(task_id)
    assert hub.anon().getTaskResult(task_id, raise_fault=False) == {
        'faultCode': 1005, 'faultString': 'Compose failed (id: abc)'}
    assert hub.anon().getTaskInfo(task_id)['state'] == ST['FAILED']


def test_canceled_while_running(hub):
    task_id = make_task(hub)
    h = hub.host()
    take_task(h, task_id)
    hub.login('kojiuser').cancelTask(task_id)
    assert task_id not in [t['id'] for t in h.host.getHostTasks()]
    with pytest.raises(koji.ActionNotAllowed, match='does not own task'):
        h.host.closeTask(task_id, response_doc(None))
    with pytest.raises(koji.GenericError, match='^Task %d is canceled$' % task_id):
        hub.anon().getTaskResult(task_id)
    with pytest.raises(koji.GenericError, match='is not finished'):
        hub.anon().getTaskResult(make_task(hub))
    with pytest.raises(koji.ActionNotAllowed, match='^Cannot cancel task, not owner$'):
        hub.login('nobody').cancelTask(make_task(hub))


def test_subtask_wait_and_results(hub):
    parent = make_task(hub)
    h = hub.host()
    take_task(h, parent)
    child = h.host.subtask(method='sleep', arglist=[1], label='zzz', parent=parent,
                           arch='noarch')
    # the same parent+label gives the same task
    assert h.host.subtask(method='sleep', arglist=[1], label='zzz', parent=parent) == child
    cinfo = hub.anon().getTaskInfo(child)
    pinfo = hub.anon().getTaskInfo(parent)
    assert cinfo['parent'] == parent and cinfo['label'] == 'zzz'
    assert cinfo['priority'] == pinfo['priority'] - 1
    assert cinfo['channel_id'] == pinfo['channel_id']
    assert cinfo['owner'] == pinfo['owner']
    assert h.host.taskSetWait(parent, [child]) is None
    assert h.host.taskWait(parent) == [[], [child]]
    assert hub.anon().getTaskChildren(parent)[0]['awaited'] is True
    mine = {t['id']: t for t in h.host.getHostTasks()}
    assert mine[parent]['waiting'] is True and 'alert' not in mine[parent]
    # the same host runs the child
    take_task(h, child)
    h.host.closeTask(child, response_doc(None))
    mine = {t['id']: t for t in h.host.getHostTasks()}
    assert mine[parent]['alert'] is True
    assert h.host.taskWait(parent) == [[child], []]
    assert h.host.taskWaitResults(parent, [child]) == [[child, None]]
    assert hub.anon().getTaskInfo(parent)['waiting'] is False


def test_failed_and_canceled_children(hub):
    parent = make_task(hub)
    h = hub.host()
    take_task(h, parent)
    bad = h.host.subtask(method='sleep', arglist=[1], label='bad', parent=parent)
    gone = h.host.subtask(method='sleep', arglist=[1], label='gone', parent=parent)
    take_task(h, bad)
    h.host.failTask(bad, fault_doc(1005, 'child broke'))
    hub.admin().cancelTask(gone)
    h.host.taskSetWait(parent, None)
    assert sorted(h.host.taskWait(parent)[0]) == [bad, gone]
    with pytest.raises(koji.BuildError, match='^child broke$'):
        h.host.taskWaitResults(parent, [bad])
    res = h.host.taskWaitResults(parent, [bad, gone], canfail=[bad, gone])
    assert res == [[bad, {'faultCode': 1005, 'faultString': 'child broke'}],
                   [gone, {'faultCode': 1000, 'faultString': 'Task %d is canceled' % gone}]]


def test_cancel_cancels_children(hub):
    parent = make_task(hub)
    h = hub.host()
    take_task(h, parent)
    child = h.host.subtask(method='sleep', arglist=[1], label='c', parent=parent)
    hub.login('kojiuser').cancelTask(parent)
    assert hub.anon().getTaskInfo(child)['state'] == ST['CANCELED']


def test_refuse_and_free(hub):
    h = hub.host()
    hid = h.host.getID()
    t1 = make_task(hub)
    take_task(h, t1)
    # freeTasks: OPEN tasks of this host go back to FREE; other ids are skipped
    h.host.freeTasks([t1])
    assert hub.anon().getTaskInfo(t1)['state'] == ST['FREE']
    hub.login('kojiuser').cancelTask(t1)
    t2 = make_task(hub)
    for _ in range(3):
        if t2 in [t['id'] for t in h.host.getTasks()]:
            break
    h.host.refuseTask(t2, soft=False, msg='no handler for method')
    assert hub.anon().getTaskInfo(t2)['state'] == ST['FREE']
    # a task that is not OPEN on this host is skipped silently (an unknown id is a fault)
    h.host.freeTasks([t2])
    refusals = [r for r in h.scheduler.getTaskRefusals() if r['task_id'] == t2]
    assert refusals and refusals[0]['host_id'] == hid and refusals[0]['soft'] is False
    assert refusals[0]['msg'] == 'no handler for method' and refusals[0]['by_host'] is True
    # the only host refused it: it stays FREE
    assert t2 not in [t['id'] for t in h.host.getTasks()]
    hub.admin().scheduler.doRun(force=True)
    assert hub.anon().getTaskInfo(t2)['state'] == ST['FREE']
    # refusing a task that is not ours is ignored
    assert h.host.refuseTask(t2, soft=True, msg='x') is None


def scheduler_seed(tmp_path):
    with open(DEFAULT_SEED) as f:
        seed = json.load(f)
    seed['hosts'] = [
        {'name': 'x86.local', 'password': 'p', 'arches': 'x86_64', 'capacity': 10.0,
         'channels': ['image']},
        {'name': 'arm.local', 'password': 'p', 'arches': 'aarch64', 'capacity': 10.0,
         'channels': ['image']},
        {'name': 'default.local', 'password': 'p', 'arches': 'x86_64 aarch64',
         'capacity': 10.0, 'channels': ['default']},
        {'name': 'off.local', 'password': 'p', 'arches': 'x86_64', 'capacity': 10.0,
         'channels': ['image', 'default'], 'enabled': False},
    ]
    path = tmp_path / 'seed.json'
    path.write_text(json.dumps(seed))
    return str(path)


def test_scheduler_bins_by_channel_and_arch(tmp_path):
    hub = Hub(tmp_path / 'state', seed=scheduler_seed(tmp_path)).start()
    try:
        hosts = {}
        for name in ('x86.local', 'arm.local', 'default.local', 'off.local'):
            hosts[name] = hub.host(name) if name != 'off.local' else None
        ids = {n: hub.anon().getHost(n)['id'] for n in ('x86.local', 'arm.local',
                                                         'default.local', 'off.local')}
        parent = make_task(hub)
        hub.admin().scheduler.doRun(force=True)
        # a noarch image task: one of the image hosts, never the default-only or disabled one
        owner = hub.anon().getTaskInfo(parent)['host_id']
        assert owner in (ids['x86.local'], ids['arm.local'])
        name = [n for n, i in ids.items() if i == owner][0]
        take_task(hosts[name], parent)
        # arch-specific children go only to hosts of that arch, in the parent's channel
        arm_child = hosts[name].host.subtask(method='sleep', arglist=[1], label='a',
                                             parent=parent, arch='aarch64')
        x86_child = hosts[name].host.subtask(method='sleep', arglist=[1], label='x',
                                             parent=parent, arch='x86_64')
        hub.admin().scheduler.doRun(force=True)
        assert hub.anon().getTaskInfo(arm_child)['host_id'] == ids['arm.local']
        assert hub.anon().getTaskInfo(x86_child)['host_id'] == ids['x86.local']
        assert [t['id'] for t in hosts['arm.local'].host.getTasks()] == [arm_child]
        # a host that stops checking in is not given new work
        hub.admin().testhub.setHostReady('arm.local', False)
        arm2 = hosts[name].host.subtask(method='sleep', arglist=[2], label='a2',
                                        parent=parent, arch='aarch64')
        hub.admin().scheduler.doRun(force=True)
        assert hub.anon().getTaskInfo(arm2)['state'] == ST['FREE']
    finally:
        hub.stop()
