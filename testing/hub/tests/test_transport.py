"""HTTP transport, marshalling and faults (kojixmlrpc)."""
import koji
import koji.xmlrpcplus
import pytest


def test_get_is_405_with_koji_text(hub):
    status, headers, body = hub.raw(method='GET')
    assert status == 405
    assert headers['Allow'] == 'POST'
    assert headers['Koji-Version'] == '1.35.3'
    assert body == (b"Method Not Allowed\n"
                    b"This is an XML-RPC server. Only POST requests are accepted.\n")


def test_empty_and_garbage_posts_are_400(hub):
    status, _, body = hub.raw(b'', headers={'Content-Type': 'text/xml'})
    assert (status, body) == (400, b'Invalid request: Empty request\n')
    status, _, body = hub.raw(b'garbage', headers={'Content-Type': 'text/xml'})
    assert (status, body) == (400, b'Invalid request: syntax error: line 1, column 0\n')


def test_ok_reply_has_koji_version_header(hub):
    body = koji.xmlrpcplus.dumps((), methodname='getAPIVersion').encode()
    status, headers, data = hub.raw(body, headers={'Content-Type': 'text/xml'})
    assert status == 200
    assert headers['Koji-Version'] == '1.35.3'
    assert headers['Content-Type'] == 'text/xml'
    assert koji.xmlrpcplus.loads(data)[0] == (1,)


def test_simple_calls(hub):
    s = hub.anon()
    assert s.getAPIVersion() == 1
    assert s.getKojiVersion() == '1.35.3'
    assert s.echo('OK') == ['OK']
    assert s.getLoggedInUser() is None
    assert 'host.getTasks' in s.system.listMethods()
    assert 'osbuildImage' in s.system.listMethods()


def test_faults_keep_koji_codes_and_strings(hub):
    s = hub.anon()
    assert s.getBuildTarget('NOPE') is None
    with pytest.raises(koji.GenericError, match='^No such build target: NOPE$'):
        s.getBuildTarget('NOPE', strict=True)
    with pytest.raises(koji.GenericError, match=r"^No such tagInfo: 'nope'$"):
        s.getTag('nope', strict=True)
    with pytest.raises(koji.GenericError, match='^Invalid method: noSuchMethod$'):
        s.noSuchMethod()
    # arity errors are ParameterError 1019, worded like Python's TypeError
    with pytest.raises(koji.ParameterError) as e:
        s.getBuildTarget()
    assert str(e.value) == "get_build_target() missing 1 required positional argument: 'info'"
    with pytest.raises(koji.ParameterError):
        s.getBuildTarget('x', nosuchkw=1)
    # a plain Python exception is faultCode 1 "<class 'KeyError'>: 'version'"
    with pytest.raises(koji.xmlrpcplus.Fault) as e:
        s.getNextRelease({'name': 'demo-image'})
    assert e.value.faultCode == 1
    assert e.value.faultString == "<class 'KeyError'>: 'version'"


def test_shapes_of_tag_target_config_repo(hub):
    s = hub.anon()
    target = s.getBuildTarget('fedora42-candidate')
    assert target['build_tag_name'] == 'fedora42-build'
    assert target['dest_tag_name'] == 'fedora42-candidate'
    cfg = s.getBuildConfig(target['build_tag'])
    assert cfg['arches'] == 'x86_64 aarch64'
    assert cfg['config_inheritance'] == {'extra': {}, 'arches': None}
    repo = s.getRepo('fedora42-build')
    assert repo['state'] == koji.REPO_STATES['READY']
    assert isinstance(repo['creation_time'], str) and isinstance(repo['creation_ts'], float)
    assert s.getRepo('fedora42-candidate') is None
    assert s.getNextRelease({'name': 'never-built', 'version': '1'}) == '1'


def test_multicall_results_and_faults(hub):
    s = hub.anon()
    s.multicall = True
    s.getAPIVersion()
    s.getBuildTarget('NOPE', strict=True)
    res = s.multiCall()
    assert res[0] == [1]
    assert res[1]['faultCode'] == 1000
    assert res[1]['faultString'] == 'No such build target: NOPE'
    assert isinstance(res[1]['traceback'], list)


def test_kojifiles_does_not_serve_the_database(hub):
    import urllib.error
    import urllib.request
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(hub.urls['TOPURL'] + '/hub.sqlite')
    assert e.value.code == 404


def test_weburl_taskinfo(hub):
    import json
    import urllib.request
    task_id = hub.login('kojiuser').osbuildImage(
        'demo-image', '42', 'fedora-42', 'guest-image', 'fedora42-candidate', ['x86_64'],
        opts={})
    with urllib.request.urlopen('%s/taskinfo?taskID=%d' % (hub.urls['WEBURL'], task_id)) as r:
        assert json.loads(r.read())['id'] == task_id
    hub.admin().cancelTask(task_id)


def test_delete_build_target_needs_the_target_permission(fresh_hub):
    with pytest.raises(koji.ActionNotAllowed):
        fresh_hub.login('kojiuser').deleteBuildTarget('fedora42-candidate')
    admin = fresh_hub.admin()
    assert admin.deleteBuildTarget('fedora42-candidate') is None
    assert admin.getBuildTarget('fedora42-candidate') is None
    with pytest.raises(koji.GenericError, match='No such build target'):
        admin.deleteBuildTarget('fedora42-candidate')
