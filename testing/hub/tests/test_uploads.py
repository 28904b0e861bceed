"""rawUpload / checkUpload and task output (captures 30-33)."""
import base64
import zlib

import koji
import koji.xmlrpcplus
import pytest

from conftest import cancel_unfinished, make_task, session_headers, take_task


@pytest.fixture(autouse=True)
def idle_host(hub):
    yield
    cancel_unfinished(hub)


def raw_upload(hub, sinfo, callnum, path, name, data, **q):
    query = {'filename': name, 'filepath': path, 'fileverify': 'adler32', 'offset': '0'}
    query.update({k: str(v) for k, v in q.items()})
    import urllib.parse
    headers = session_headers(sinfo, callnum)
    headers['Content-Type'] = 'application/octet-stream'
    status, _, body = hub.raw(data, headers=headers, query=urllib.parse.urlencode(query))
    assert status == 200
    try:
        return koji.xmlrpcplus.loads(body)[0][0]
    except koji.xmlrpcplus.Fault as f:
        raise koji.convertFault(f)


def test_task_upload_round_trip(hub, tmp_path):
    task_id = make_task(hub)
    h = hub.host()
    take_task(h, task_id, admin=hub.admin())
    relpath = koji.pathinfo.taskrelpath(task_id)
    src = tmp_path / 'compose-request.json'
    src.write_bytes(b'{\n    "hello": "world"\n}')
    h.fastUpload(str(src), relpath, 'compose-request.json')
    chk = h.checkUpload(relpath, 'compose-request.json', verify='adler32')
    assert chk['size'] == 24 and chk['sumlength'] == 24
    assert chk['hexdigest'] == '%08x' % (zlib.adler32(src.read_bytes()) & 0xffffffff)
    assert isinstance(chk['mtime'], float)
    out = hub.anon().listTaskOutput(task_id, stat=True)
    assert out['compose-request.json']['st_size'] == '24'   # a string, like Koji
    assert set(out['compose-request.json']) == {'st_size', 'st_mtime', 'st_atime', 'st_ctime'}
    assert hub.anon().listTaskOutput(task_id) == ['compose-request.json']
    assert hub.anon().downloadTaskOutput(task_id, 'compose-request.json') == src.read_bytes()
    assert hub.anon().downloadTaskOutput(task_id, 'compose-request.json', offset=4, size=5) == \
        src.read_bytes()[4:9]
    # the file is also under the topurl
    import urllib.request
    with urllib.request.urlopen('%s/work/%s/compose-request.json'
                                % (hub.urls['TOPURL'], relpath)) as resp:
        assert resp.read() == src.read_bytes()


def test_overwrite_and_offsets(hub):
    task_id = make_task(hub)
    h = hub.host()
    take_task(h, task_id, admin=hub.admin())
    relpath = koji.pathinfo.taskrelpath(task_id)
    sinfo = h.sinfo
    res = raw_upload(hub, sinfo, None, relpath, 'compose-status.json', b'{"status": "pending"}')
    assert res == {'size': 21, 'fileverify': 'adler32', 'offset': 0,
                   'hexdigest': '%08x' % zlib.adler32(b'{"status": "pending"}')}
    with pytest.raises(koji.GenericError, match='^upload path exists: .*compose-status.json$'):
        raw_upload(hub, sinfo, None, relpath, 'compose-status.json', b'again')
    raw_upload(hub, sinfo, None, relpath, 'compose-status.json', b'{"s": 1}', overwrite=1)
    assert hub.anon().downloadTaskOutput(task_id, 'compose-status.json') == b'{"s": 1}'
    res = raw_upload(hub, sinfo, None, relpath, 'compose-status.json', b'+tail', offset=-1)
    assert res['offset'] == 8
    assert hub.anon().downloadTaskOutput(task_id, 'compose-status.json') == b'{"s": 1}+tail'
    res = raw_upload(hub, sinfo, None, relpath, 'empty.log', b'', fileverify='sha256')
    assert res['size'] == 0 and res['fileverify'] == 'sha256'
    assert hub.anon().checkUpload(relpath, 'nothing-here') is None


def test_task_dirs_belong_to_the_host_running_the_task(hub, tmp_path):
    task_id = make_task(hub)
    relpath = koji.pathinfo.taskrelpath(task_id)
    src = tmp_path / 'x.log'
    src.write_bytes(b'x')
    h = hub.host()
    # assigned but not open: not ours yet
    hid = h.host.getID()
    with pytest.raises(koji.ActionNotAllowed,
                       match='^host %d does not own task %d$' % (hid, task_id)):
        h.fastUpload(str(src), relpath, 'x.log')
    user = hub.login('kojiuser')
    with pytest.raises(koji.AuthError, match=r'^User \d+ is not a host$'):
        user.fastUpload(str(src), relpath, 'x.log')
    status, _, body = hub.raw(b'x', headers={'Content-Type': 'application/octet-stream'},
                              query='filename=x.log&filepath=scratch&offset=0')
    with pytest.raises(koji.xmlrpcplus.Fault) as e:
        koji.xmlrpcplus.loads(body)
    assert (e.value.faultCode, e.value.faultString) == (
        1004, 'you must be logged-in to upload a file')


def test_other_dirs_belong_to_their_first_user(hub, tmp_path):
    src = tmp_path / 'image.qcow2'
    src.write_bytes(b'\0' * 1000)
    osb = hub.login('osbuild')
    osb.fastUpload(str(src), 'cg-import-abc', 'image.qcow2')
    other = hub.login('kojiuser')
    with pytest.raises(koji.GenericError,
                       match='^Invalid upload directory, not owner: cg-import-abc$'):
        other.fastUpload(str(src), 'cg-import-abc', 'other.qcow2')
    with pytest.raises(koji.GenericError, match='Invalid upload filename'):
        osb.fastUpload(str(src), 'cg-import-abc', '.hidden')
    with pytest.raises(koji.GenericError, match='Invalid upload directory'):
        osb.fastUpload(str(src), '../escape', 'x')


def test_legacy_upload_file(hub):
    s = hub.login('kojiuser')
    data = b'legacy upload'
    b64 = base64.b64encode(data).decode()
    import hashlib
    digest = hashlib.sha256(data).hexdigest()
    assert s.uploadFile('legacy-dir', 'f.txt', len(data), ['sha256', digest], 0, b64) is True
    assert s.uploadFile('legacy-dir', 'f.txt', len(data), ['sha256', digest], -1, '') is True
    assert s.uploadFile('legacy-dir', 'g.txt', 99, ['sha256', digest], 0, b64) is False
    assert s.checkUpload('legacy-dir', 'f.txt')['size'] == len(data)
