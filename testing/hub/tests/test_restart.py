"""Stopping and starting the hub on the same state dir keeps everything (fault tests
stop the hub in the middle of a compose)."""
import koji

from conftest import Hub, make_task, take_task


def test_restart_keeps_tasks_sessions_builds_and_files(tmp_path):
    hub = Hub(tmp_path / 'state').start()
    task_id = make_task(hub)
    h = hub.host()
    take_task(h, task_id, admin=hub.admin())
    src = tmp_path / 'compose-request.json'
    src.write_bytes(b'{"compose": 1}')
    h.fastUpload(str(src), koji.pathinfo.taskrelpath(task_id), src.name)
    osb = hub.login('osbuild')
    res = osb.CGInitBuild('osbuild', {'name': 'demo-image', 'version': '42', 'release': '1'})
    assert hub.stop() == 0

    again = Hub(tmp_path / 'state').start()
    try:
        # the seed is not applied a second time
        assert [u['name'] for u in [again.anon().getUser(n) for n in ('admin', 'osbuild')]] \
            == ['admin', 'osbuild']
        # the builder's session survives, with its exclusive lock and callnum
        h.baseurl = again.url
        assert h.host.getID() == again.anon().getHost('builder.local')['id']
        assert [t['id'] for t in h.host.getHostTasks()] == [task_id]
        assert again.anon().getTaskInfo(task_id)['state'] == koji.TASK_STATES['OPEN']
        assert again.anon().downloadTaskOutput(task_id, src.name) == src.read_bytes()
        assert again.anon().getBuild(res['build_id'])['state'] == koji.BUILD_STATES['BUILDING']
        h.host.closeTask(task_id, koji.xmlrpcplus.dumps(({'ok': True},), methodresponse=1))
        assert again.anon().getTaskResult(task_id) == {'ok': True}
        # ids keep counting
        assert make_task(again) == task_id + 1
    finally:
        assert again.stop() == 0
