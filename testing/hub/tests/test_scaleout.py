"""Several builder hosts: adding them (koji add-host, add-host-to-channel,
edit-host) and the scheduler moving the OPEN tasks of a host that stopped
checking in to another one (kojihub/scheduler.py, HostTimeout)."""
import time

import koji
import pytest

from conftest import Hub, make_task, take_task, write_seed

ST = koji.TASK_STATES


def test_add_host_channel_and_capacity(fresh_hub):
    admin = fresh_hub.admin()
    host_id = admin.addHost('builder2.local', ['x86_64', 'aarch64'])
    info = admin.getHost('builder2.local')
    assert info['id'] == host_id and info['arches'] == 'x86_64 aarch64'
    assert info['capacity'] == 2.0 and info['enabled'] is True and info['ready'] is False
    assert [c['name'] for c in admin.listChannels(hostID=host_id)] == ['default']
    user = admin.getUser('builder2.local')
    assert user['usertype'] == koji.USERTYPES['HOST']
    with pytest.raises(koji.GenericError, match='host already exists: builder2.local'):
        admin.addHost('builder2.local', ['x86_64'])
    with pytest.raises(koji.GenericError, match='is not a host'):
        admin.addHost('kojiuser', ['x86_64'])

    assert admin.addHostToChannel('builder2.local', 'image') is None
    assert [c['name'] for c in admin.listChannels(hostID=host_id)] == ['default', 'image']
    with pytest.raises(koji.GenericError, match='already subscribed to the image channel'):
        admin.addHostToChannel('builder2.local', 'image')
    with pytest.raises(koji.GenericError, match='channel does not exist: nosuch'):
        admin.addHostToChannel('builder2.local', 'nosuch')
    with pytest.raises(koji.GenericError, match='host does not exist: nosuch'):
        admin.addHostToChannel('nosuch', 'image')

    assert admin.editHost('builder2.local', capacity=40) is True
    assert admin.editHost('builder2.local', capacity=40.0) is False
    assert admin.getHost(host_id)['capacity'] == 40.0

    user = fresh_hub.login('kojiuser')
    with pytest.raises(koji.ActionNotAllowed, match='host permission required'):
        user.addHost('builder3.local', ['x86_64'])
    with pytest.raises(koji.ActionNotAllowed):
        user.editHost('builder2.local', capacity=1)


def wait_until(what, pred, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_tasks_of_a_silent_host_move_after_host_timeout(tmp_path):
    seed = write_seed(tmp_path / 'seed.json', {'hosts': [
        {'name': 'second.local', 'password': 'p', 'arches': 'x86_64', 'capacity': 10.0,
         'channels': ['image']}]})
    hub = Hub(tmp_path / 'state', seed=seed,
              extra_args=['--option', 'HostTimeout=3', '--option', 'ReadyTimeout=2']).start()
    try:
        admin = hub.admin()
        first = hub.host('builder.local')
        first_id = first.host.getID()
        task = make_task(hub)
        take_task(first, task, admin)
        second = hub.host('second.local')
        second_id = second.host.getID()
        # the first host still counts as alive: its task stays with it
        assert second.host.getTasks() == []
        assert hub.anon().getTaskInfo(task)['host_id'] == first_id

        # the first host stops checking in (killed); the second keeps doing so
        def moved():
            second.host.updateHost(0.0, True)
            return [t['id'] for t in second.host.getTasks()] == [task]
        wait_until('the task never moved to the second host', moved)
        info = hub.anon().getTaskInfo(task)
        assert info['state'] == ST['ASSIGNED'] and info['host_id'] == second_id

        messages = [(m['task_id'], m['host_id'], m['msg'])
                    for m in admin.scheduler.getLogMessages()]
        assert (None, first_id, 'Marking host not ready') in messages
        assert (task, first_id, 'Freeing task from unresponsive host') in messages
        assert messages.index((task, first_id, 'Freeing task from unresponsive host')) < \
            messages.index((task, second_id, 'Assigning task'))
        runs = [(r['host_id'], r['active']) for r in
                admin.scheduler.getTaskRuns([['task_id', '=', task]])]
        assert runs == [(first_id, False), (second_id, True)]
        assert hub.anon().getHost(first_id)['ready'] is False

        # the old owner can no longer report on it; the new one opens it
        with pytest.raises(koji.ActionNotAllowed, match='does not own task'):
            first.host.closeTask(task, 'x')
        assert second.host.openTask(task)['host_id'] == second_id
    finally:
        hub.stop()
