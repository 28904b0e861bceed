"""Expired sessions (Koji's SessionRenewalTimeout): every call but a login gets AuthExpired;
login(renew=True) over the expired session renews it in place (same id, new key, exclusive
lock and last callnum kept), as kojihub's auth.createSession(renew=True) does."""
import os
import sqlite3

import koji
import koji.xmlrpcplus
import pytest
import requests

from conftest import Hub


def expire(hub, session_id):
    # what auth.Session does when the renewal timeout passed: the session and its subsessions
    with sqlite3.connect(os.path.join(hub.state_dir, 'hub.sqlite'), timeout=10) as db:
        db.execute('UPDATE sessions SET expired = 1 WHERE id = ? OR master = ?',
                   (session_id, session_id))


def call(hub, sinfo, callnum, method, *args, **kwargs):
    body = koji.xmlrpcplus.dumps(koji.encode_args(*args, **kwargs), method, allow_none=1)
    r = requests.post(hub.url, data=body, headers={
        'Content-Type': 'text/xml', 'Koji-Session-Id': str(sinfo['session-id']),
        'Koji-Session-Key': sinfo['session-key'], 'Koji-Session-Callnum': str(callnum)})
    try:
        return koji.xmlrpcplus.loads(r.content)[0][0]
    except koji.xmlrpcplus.Fault as f:
        raise koji.convertFault(f)


def test_expired_exclusive_session_renews_in_place(tmp_path):
    hub = Hub(tmp_path / 'state').start()
    try:
        h = hub.login('builder.local')
        h.exclusiveSession(force=False)
        main = h.sinfo
        sub = h._callMethod('subsession', [])
        expire(hub, main['session-id'])
        with pytest.raises(koji.AuthExpired):
            call(hub, main, 100, 'host.getID')
        with pytest.raises(koji.AuthExpired):
            call(hub, sub, 100, 'getLoggedInUser')
        renewed = call(hub, main, 101, 'login', 'builder.local', 'hostpass', renew=True,
                       exclusive=True)
        assert renewed['session-id'] == main['session-id']
        assert renewed['session-key'] != main['session-key']
        assert call(hub, renewed, 102, 'host.getID') == \
            hub.anon().getHost('builder.local')['id']
        info = call(hub, renewed, 103, 'getSessionInfo')
        assert info['exclusive'] is True and info['expired'] is False
        # the old key is gone
        with pytest.raises(koji.AuthError):
            call(hub, main, 104, 'getLoggedInUser')
        # the subsession expired along and renews the same way
        again = call(hub, sub, 101, 'login', 'builder.local', 'hostpass', renew=True)
        assert again['session-id'] == sub['session-id']
        assert call(hub, again, 102, 'getLoggedInUser')['name'] == 'builder.local'
    finally:
        hub.stop()
