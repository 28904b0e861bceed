"""Kerberos on the test hub without a KDC (the end-to-end tests in tests/kerberos.rs
log in through a real MIT KDC): Negotiate on /ssllogin as mod_auth_gssapi answers it,
hub.conf options, HostPrincipalFormat in the seed, SessionRenewalTimeout."""
import os
import subprocess
import time

import koji
import koji.xmlrpcplus
import pytest
import requests

from conftest import Hub


@pytest.fixture(scope='module')
def keytab(tmp_path_factory):
    """A service keytab made offline with ktutil (no KDC needed to refuse tokens)."""
    path = str(tmp_path_factory.mktemp('krb') / 'http.keytab')
    script = ('addent -password -p HTTP/localhost@KOJI.TEST -k 1 -e aes256-cts-hmac-sha1-96\n'
              'not-a-real-key\nwkt %s\nquit\n' % path)
    subprocess.run(['ktutil'], input=script, text=True, check=True, capture_output=True)
    return path


def ssllogin(hub, headers=None):
    body = koji.xmlrpcplus.dumps(koji.encode_args(proxyuser=None), 'sslLogin', allow_none=1)
    return requests.post(hub.url + '/ssllogin', data=body,
                         headers=dict({'Content-Type': 'text/xml'}, **(headers or {})))


def test_ssllogin_asks_for_negotiate_and_refuses_a_bad_token(tmp_path, keytab):
    hub = Hub(tmp_path / 'state', extra_args=['--krb-keytab', keytab]).start()
    try:
        r = ssllogin(hub)
        assert r.status_code == 401
        assert r.headers['WWW-Authenticate'] == 'Negotiate'
        r = ssllogin(hub, {'Authorization': 'Negotiate YIIBdGhpcyBpcyBub3QgYSB0b2tlbg=='})
        assert r.status_code == 401
        with open(os.path.join(hub.state_dir, 'hub.log')) as f:
            log = f.read()
        assert 'Negotiate refused' in log and 'YIIB' not in log, 'the token is never logged'
        # other calls and the main endpoint are not behind Negotiate
        assert hub.anon().getAPIVersion() == 1
    finally:
        hub.stop()


def test_host_principal_format_and_session_renewal_timeout(tmp_path):
    hub = Hub(tmp_path / 'state', extra_args=[
        '--option', 'HostPrincipalFormat=compile/%s@KOJI.TEST',
        '--option', 'SessionRenewalTimeout=0.02']).start()
    try:
        host = hub.anon().getUser('builder.local')
        assert host['krb_principals'] == ['compile/builder.local@KOJI.TEST']
        assert hub.anon().getUser('kojiuser')['krb_principals'] == []
        # koji add-host: the same default, an explicit principal wins
        admin = hub.admin()
        admin.addHost('builder2.local', ['x86_64'])
        admin.addHost('builder3.local', ['x86_64'], krb_principal='host/b3@KOJI.TEST')
        assert hub.anon().getUser('builder2.local')['krb_principals'] == [
            'compile/builder2.local@KOJI.TEST']
        assert hub.anon().getUser('builder3.local')['krb_principals'] == ['host/b3@KOJI.TEST']
        s = hub.login('kojiuser')
        first = dict(s.sinfo)
        assert s.getSessionInfo()['renew_time'] is None
        time.sleep(1.5)  # 0.02 minutes: expired; koji's client renews it in place
        assert s.getLoggedInUser()['name'] == 'kojiuser'
        assert s.sinfo['session-id'] == first['session-id']
        assert s.sinfo['session-key'] != first['session-key']
        assert s.getSessionInfo()['renew_time'] is not None
    finally:
        hub.stop()


def test_unknown_hub_option_is_refused(tmp_path):
    hub = Hub(tmp_path / 'state', extra_args=['--option', 'NoSuchOption=1'])
    with pytest.raises(RuntimeError, match='NAME one of'):
        hub.start()
