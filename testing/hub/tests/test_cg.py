"""Content-generator import and tagging (captures 52-73)."""
import hashlib
import json
import os
import time
import uuid

import koji
import pytest

from conftest import cancel_unfinished, make_task, take_task

BS = koji.BUILD_STATES


@pytest.fixture(autouse=True)
def idle_host(hub):
    yield
    cancel_unfinished(hub)


def upload_outputs(session, tmp_path, nvr):
    """Upload an image and a log into a fresh scratch dir, as composer does."""
    workdir = 'osbuild-cg/%s' % uuid.uuid4().hex
    image = tmp_path / ('%s.x86_64.qcow2' % nvr)
    image.write_bytes(os.urandom(4096))
    log = tmp_path / 'x86_64-guest-image.log'
    log.write_bytes(b'osbuild did its thing\n')
    for f in (image, log):
        session.fastUpload(str(f), workdir, f.name)
    return workdir, image, log


def metadata(binfo, image, log, task_id=None, checksum=None):
    build = {'name': binfo['name'], 'version': binfo['version'], 'release': binfo['release'],
             'source': '', 'start_time': int(time.time()) - 60, 'end_time': int(time.time()),
             'owner': 'osbuild', 'build_id': binfo['build_id'],
             'extra': {'typeinfo': {'image': {'arch': 'x86_64'}},
                       'osbuild': {'compose_id': 'c-1'}}}
    if task_id is not None:
        build['task_id'] = task_id
    return {
        'metadata_version': 0,
        'build': build,
        'buildroots': [{'id': 1, 'host': {'os': 'fedora-42', 'arch': 'x86_64'},
                        'content_generator': {'name': 'osbuild', 'version': '0'},
                        'container': {'type': 'none', 'arch': 'x86_64'},
                        'tools': [], 'components': [], 'extra': {}}],
        'output': [
            {'buildroot_id': 1, 'filename': image.name, 'filesize': image.stat().st_size,
             'arch': 'x86_64', 'checksum_type': 'sha256',
             'checksum': checksum or hashlib.sha256(image.read_bytes()).hexdigest(),
             'type': 'qcow2', 'components': [], 'extra': {'image': {'arch': 'x86_64'}}},
            {'buildroot_id': 1, 'filename': log.name, 'filesize': log.stat().st_size,
             'arch': 'noarch', 'checksum_type': 'md5',
             'checksum': hashlib.md5(log.read_bytes()).hexdigest(), 'type': 'log'},
        ],
    }


def test_init_import_and_tag(hub, tmp_path):
    osb = hub.login('osbuild')
    nvr = {'name': 'demo-image', 'version': '42', 'release': '1'}
    res = osb.CGInitBuild('osbuild', dict(nvr))
    assert set(res) == {'build_id', 'token'} and len(res['token']) == 64
    binfo = osb.getBuild(res['build_id'])
    assert binfo['state'] == BS['BUILDING'] and binfo['cg_name'] == 'osbuild'
    assert binfo['nvr'] == 'demo-image-42-1'
    # BUILDING builds count for the next release
    assert osb.getNextRelease({'name': 'demo-image', 'version': '42'}) == '2'
    with pytest.raises(koji.GenericError, match='^Build is already reserved$'):
        osb.CGInitBuild('osbuild', dict(nvr))
    with pytest.raises(koji.AuthError, match=r'^Content generator access required \(osbuild\)$'):
        hub.login('nobody').CGInitBuild('osbuild', {'name': 'x', 'version': '1',
                                                    'release': '1'})

    task_id = make_task(hub)
    workdir, image, log = upload_outputs(osb, tmp_path, 'demo-image-42-1')
    binfo = dict(nvr, build_id=res['build_id'])
    meta = metadata(binfo, image, log, task_id=task_id)
    with pytest.raises(koji.GenericError, match="^Token doesn't match build ID %d$"
                       % res['build_id']):
        osb.CGImport(meta, workdir, token='not-a-token')
    bad = metadata(binfo, image, log, task_id=task_id, checksum='0' * 64)
    with pytest.raises(koji.GenericError, match='^File checksum mismatch for %s: 0{64} != '
                       % image.name):
        osb.CGImport(bad, workdir, token=res['token'])
    # the reservation is still usable; metadata may be a JSON string
    build = osb.CGImport(json.dumps(meta), workdir, token=res['token'])
    assert build['state'] == BS['COMPLETE'] and build['id'] == res['build_id']
    assert build['task_id'] == task_id and build['owner_name'] == 'osbuild'
    assert build['extra']['typeinfo'] == {'image': {'arch': 'x86_64'}}
    assert isinstance(build['completion_time'], str) and isinstance(build['completion_ts'], float)
    assert osb.getBuild('demo-image-42-1') == build
    archives = osb.listArchives(buildID=build['id'])
    assert [a['filename'] for a in archives] == [image.name]
    a = archives[0]
    assert (a['btype'], a['btype_id'], a['type_name'], a['type_id'], a['checksum_type'],
            a['size']) == ('image', 4, 'qcow2', 21, 2, 4096)
    logs = osb.getBuildLogs(build['id'])
    assert {lg['name'] for lg in logs} == {log.name, 'cg_import.log'}
    assert os.path.isfile(os.path.join(hub.state_dir, 'packages/demo-image/42/1/images',
                                       image.name))
    # the reservation is gone after the import
    with pytest.raises(koji.GenericError, match="^Token doesn't match build ID"):
        osb.CGImport(meta, workdir, token=res['token'])

    # tagBuild by an admin: a tagBuild task in the default channel (capture 63, 67)
    admin = hub.admin()
    tag = admin.getTag('fedora42-candidate')
    tag_task = admin.tagBuild('fedora42-candidate', 'demo-image-42-1')
    info = admin.getTaskInfo(tag_task, request=True)
    assert info['request'] == [tag['id'], build['id'], False, None]
    assert info['priority'] == 10
    assert info['channel_id'] == admin.getChannel('default')['id']
    h = hub.host()
    take_task(h, tag_task, admin=admin)
    assert h.host.tagBuild(tag_task, tag['id'], build['id'], False, None) is None
    assert h.host.tagNotification(True, tag['id'], None, build['id'], info['owner'], True) \
        is None
    h.host.closeTask(tag_task, koji.xmlrpcplus.dumps((None,), methodresponse=1))
    tagged = admin.listTagged('fedora42-candidate')
    assert [t['nvr'] for t in tagged] == ['demo-image-42-1']
    assert tagged[0]['tag_name'] == 'fedora42-candidate' and 'completion_ts' not in tagged[0]
    assert osb.getNextRelease({'name': 'demo-image', 'version': '42'}) == '2'


def test_refund_and_recycle(hub):
    osb = hub.login('osbuild')
    res = osb.CGInitBuild('osbuild', {'name': 'refund-me', 'version': '1', 'release': '1'})
    with pytest.raises(koji.GenericError, match="^Token doesn't match build ID"):
        osb.CGRefundBuild('osbuild', res['build_id'], 'nope')
    assert osb.CGRefundBuild('osbuild', res['build_id'], res['token']) is None
    assert osb.getBuild(res['build_id'])['state'] == BS['FAILED']
    with pytest.raises(koji.GenericError,
                       match='^Build ID %d is not in BUILDING state$' % res['build_id']):
        osb.CGRefundBuild('osbuild', res['build_id'], res['token'])
    # FAILED builds do not count for the release, and the NVR can be reserved again
    assert osb.getNextRelease({'name': 'refund-me', 'version': '1'}) == '1'
    again = osb.CGInitBuild('osbuild', {'name': 'refund-me', 'version': '1', 'release': '1'})
    assert again['build_id'] == res['build_id']
    assert osb.getBuild(res['build_id'])['state'] == BS['BUILDING']


def test_import_with_uploaded_metadata_file_and_subtask_tagging(hub, tmp_path):
    """The builder's flow: a tagBuild subtask of the osbuildImage task (captures 64-71)."""
    osb = hub.login('osbuild')
    res = osb.CGInitBuild('osbuild', {'name': 'fedora-guest', 'version': '42', 'release': '1'})
    parent = make_task(hub)
    workdir, image, log = upload_outputs(osb, tmp_path, 'fedora-guest-42-1')
    meta = metadata(dict(name='fedora-guest', version='42', release='1',
                         build_id=res['build_id']), image, log, task_id=parent)
    mfile = tmp_path / 'metadata.json'
    mfile.write_text(json.dumps(meta))
    osb.fastUpload(str(mfile), workdir, 'metadata.json')
    build = osb.CGImport(None, workdir, token=res['token'])
    assert build['task_id'] == parent

    admin = hub.admin()
    h = hub.host()
    take_task(h, parent, admin=admin)
    dest = admin.getBuildTarget('fedora42-candidate')['dest_tag']
    child = h.host.subtask(method='tagBuild', arglist=[dest, build['id'], False, None, True],
                           label='tag', parent=parent, arch='noarch')
    h.host.taskSetWait(parent, [child])
    take_task(h, child, admin=admin)
    h.host.tagBuild(child, dest, build['id'], False, None)
    h.host.closeTask(child, koji.xmlrpcplus.dumps((None,), methodresponse=1))
    assert h.host.taskWait(parent) == [[child], []]
    assert h.host.taskWaitResults(parent, [child]) == [[child, None]]
    assert 'fedora-guest-42-1' in [b['nvr'] for b in admin.listTagged(dest)]


def test_tag_build_needs_the_package_in_the_list(hub, tmp_path):
    osb = hub.login('osbuild')
    res = osb.CGInitBuild('osbuild', {'name': 'unlisted', 'version': '1', 'release': '1'})
    workdir, image, log = upload_outputs(osb, tmp_path, 'unlisted-1-1')
    meta = metadata(dict(name='unlisted', version='1', release='1', build_id=res['build_id']),
                    image, log)
    build = osb.CGImport(meta, workdir, token=res['token'])
    admin = hub.admin()
    with pytest.raises(koji.TagError, match='^Package unlisted not in list for '
                       'fedora42-candidate$'):
        hub.login('kojiuser').tagBuild('fedora42-candidate', build['id'])
    # the host call reports the tag as it was given (capture doc: "... for 3")
    parent = make_task(hub)
    h = hub.host()
    take_task(h, parent, admin=admin)
    dest = admin.getTag('fedora42-candidate')['id']
    child = h.host.subtask(method='tagBuild', arglist=[dest, build['id'], False, None, True],
                           label='tag', parent=parent)
    take_task(h, child, admin=admin)
    with pytest.raises(koji.TagError, match='^Package unlisted not in list for %d$' % dest):
        h.host.tagBuild(child, dest, build['id'], False, None)
    admin.testhub.addPackage('fedora42-candidate', 'unlisted')
    h.host.tagBuild(child, dest, build['id'], False, None)
    with pytest.raises(koji.TagError, match='already tagged'):
        h.host.tagBuild(child, dest, build['id'], False, None)
