"""Logins, session headers, callnum rules and exclusive sessions (kojihub/auth.py;
captures 10-14, 20-22)."""
import re

import koji
import pytest

from conftest import session_headers


def test_login_reply_and_header_auth(hub):
    sinfo = hub.call_raw('login', 'kojiuser', 'kojipass')
    assert set(sinfo) == {'session-id', 'session-key', 'header-auth'}
    assert sinfo['header-auth'] is True
    uid = hub.admin().getUser('kojiuser')['id']
    assert re.fullmatch(r'%d-[A-Za-z0-9]{19}' % uid, sinfo['session-key'])
    me = hub.call_raw('getLoggedInUser', headers=session_headers(sinfo, 0))
    assert me == {'id': uid, 'name': 'kojiuser', 'status': 0, 'usertype': 0,
                  'krb_principals': [], 'authtype': 0, 'krb_principal': None}


def test_bad_password(hub):
    with pytest.raises(koji.AuthError, match='^invalid username or password$'):
        hub.call_raw('login', 'kojiuser', 'wrong')


def test_url_query_sessions_still_work(hub):
    sinfo = hub.call_raw('login', 'kojiuser', 'kojipass')
    import koji.xmlrpcplus
    body = koji.xmlrpcplus.dumps((), methodname='getLoggedInUser').encode()
    q = 'session-id=%s&session-key=%s&callnum=0' % (sinfo['session-id'], sinfo['session-key'])
    status, _, data = hub.raw(body, headers={'Content-Type': 'text/xml'}, query=q)
    assert koji.xmlrpcplus.loads(data)[0][0]['name'] == 'kojiuser'


def test_wrong_key_and_logout(hub):
    sinfo = hub.call_raw('login', 'kojiuser', 'kojipass')
    bad = dict(sinfo, **{'session-key': sinfo['session-key'][:-1] + '_'})
    with pytest.raises(koji.AuthError, match='^Invalid session or bad credentials$'):
        hub.call_raw('getLoggedInUser', headers=session_headers(bad))
    hub.call_raw('logout', headers=session_headers(sinfo, 1))
    with pytest.raises(koji.AuthError, match='^Invalid session or bad credentials$'):
        hub.call_raw('getLoggedInUser', headers=session_headers(sinfo, 2))


def test_callnum_rules(hub):
    sinfo = hub.call_raw('login', 'kojiuser', 'kojipass')
    sid = sinfo['session-id']
    h = lambda n: session_headers(sinfo, n)  # noqa: E731
    # read calls do not remember the callnum: repeating one is fine
    hub.call_raw('getLoggedInUser', headers=h(0))
    hub.call_raw('getLoggedInUser', headers=h(0))
    # a write call does (subsession creates a session)
    hub.call_raw('subsession', headers=h(5))
    with pytest.raises(koji.RetryError) as e:
        hub.call_raw('getLoggedInUser', headers=h(5))
    assert str(e.value) == ('unable to retry call 5 (method getLoggedInUser) for session %d'
                            % sid)
    with pytest.raises(koji.SequenceError) as e:
        hub.call_raw('getLoggedInUser', headers=h(3))
    assert str(e.value) == '5 > 3 (session %d)' % sid
    # whitelisted methods may repeat; no callnum header means no check
    hub.call_raw('getLoggedInUser', headers=session_headers(sinfo))
    hub.call_raw('getLoggedInUser', headers=h(6))


def test_callnum_retry_whitelist(hub):
    host = hub.host()
    sinfo = {'session-id': host.sinfo['session-id'], 'session-key': host.sinfo['session-key']}
    hub.call_raw('host.updateHost', 0.0, True, headers=session_headers(sinfo, 1000))
    # host.updateHost may be retried with the same callnum
    hub.call_raw('host.updateHost', 0.0, True, headers=session_headers(sinfo, 1000))


def test_client_session_counts_callnums(hub):
    s = hub.login('kojiuser')
    for _ in range(3):
        s.getLoggedInUser()
    info = s.getSessionInfo()
    assert info['user_id'] == s.getLoggedInUser()['id']
    assert isinstance(info['start_time'], str) and isinstance(info['start_ts'], float)


def test_subsession_and_logout_child(hub):
    s = hub.login('kojiuser')
    sub = s.callMethod('subsession')
    assert set(sub) == {'session-id', 'session-key', 'header-auth'}
    child = hub.anon()
    child.setSession(sub)
    assert child.getLoggedInUser()['name'] == 'kojiuser'
    s.logoutChild(sub['session-id'])
    with pytest.raises(koji.AuthError):
        child.getLoggedInUser()


def test_logout_closes_subsessions(hub):
    s = hub.login('kojiuser')
    sub = s.callMethod('subsession')
    s.logout()
    child = hub.anon()
    child.setSession(sub)
    with pytest.raises(koji.AuthError):
        child.getLoggedInUser()


def test_host_calls_need_an_exclusive_session(fresh_hub):
    hub = fresh_hub
    s = hub.login('builder.local')
    with pytest.raises(koji.AuthError, match='^This method requires an exclusive session$'):
        s.host.getID()
    s.exclusiveSession(force=True)
    assert s.host.getID() == hub.anon().getHost('builder.local')['id']
    # a subsession of the exclusive session counts as exclusive
    worker = hub.anon()
    worker.setSession(s.callMethod('subsession'))
    assert worker.host.getID() == s.host.getID()
    # a normal user is not a host
    u = hub.login('kojiuser')
    u.exclusiveSession()
    with pytest.raises(koji.AuthError, match=r'^User \d+ is not a host$'):
        u.host.getID()
    u.logout()


def test_second_exclusive_session_needs_force(hub):
    first = hub.host()
    second = hub.login('builder.local')
    # the user is locked by the first session
    with pytest.raises(koji.AuthLockError, match='^User locked by another session$'):
        second.getLoggedInUser()
    with pytest.raises(koji.AuthLockError, match='^Cannot get exclusive session$'):
        second.exclusiveSession()
    second.exclusiveSession(force=True)
    assert second.host.getID()
    # the first builder lost its session
    with pytest.raises(koji.AuthError, match='^Invalid session or bad credentials$'):
        first.host.getID()


def test_permissions(hub):
    assert hub.login('kojiuser').hasPerm('image') is True
    assert hub.login('nobody').getPerms() == []
    assert hub.admin().hasPerm('admin') is True
    assert hub.anon().hasPerm('admin') is False
