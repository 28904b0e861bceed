"""HTTPS listener and sslLogin with client certificates (kojihub/auth.py's sslLogin).

The certificates are made with the openssl CLI for each test session.
"""
import os
import subprocess

import koji
import pytest

from conftest import Hub


def openssl(*args, cwd):
    subprocess.run(['openssl', *args], cwd=cwd, check=True, capture_output=True)


def issue(cwd, name, cn, ca='ca', san=None):
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', name + '.key', '-out',
            name + '.csr', '-subj', '/O=koji-osbuild tests/CN=' + cn, cwd=cwd)
    ext = []
    if san:
        with open(os.path.join(cwd, name + '.ext'), 'w') as f:
            f.write('subjectAltName=%s\n' % san)
        ext = ['-extfile', name + '.ext']
    openssl('x509', '-req', '-in', name + '.csr', '-CA', ca + '.pem', '-CAkey', ca + '.key',
            '-CAcreateserial', '-days', '2', '-out', name + '.crt', *ext, cwd=cwd)
    # koji's ssl_login takes one PEM with certificate and key
    with open(os.path.join(cwd, name + '.pem'), 'w') as out:
        for part in (name + '.crt', name + '.key'):
            with open(os.path.join(cwd, part)) as f:
                out.write(f.read())
    return os.path.join(cwd, name + '.pem')


@pytest.fixture(scope='module')
def pki(tmp_path_factory):
    d = str(tmp_path_factory.mktemp('pki'))
    for ca in ('ca', 'otherca'):
        openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', ca + '.key',
                '-out', ca + '.pem', '-days', '2', '-subj', '/CN=Test CA ' + ca, cwd=d)
    issue(d, 'server', 'localhost', san='IP:127.0.0.1,DNS:localhost')
    return {
        'dir': d,
        'ca': os.path.join(d, 'ca.pem'),
        'server': {'cert': os.path.join(d, 'server.crt'), 'key': os.path.join(d, 'server.key'),
                   'ca': os.path.join(d, 'ca.pem')},
        'kojiuser': issue(d, 'kojiuser', 'kojiuser'),
        'host': issue(d, 'host', 'builder.local'),
        'stranger': issue(d, 'stranger', 'no-such-user'),
        'untrusted': issue(d, 'untrusted', 'kojiuser', ca='otherca'),
    }


@pytest.fixture(scope='module')
def tls_hub(tmp_path_factory, pki):
    h = Hub(tmp_path_factory.mktemp('tlshub'), tls=pki['server']).start()
    yield h
    assert h.stop() == 0


def https(hub_):
    return hub_.urls['HUB_HTTPS_URL']


def test_prints_https_url(tls_hub):
    assert [line.split('=')[0] for line in tls_hub.lines] == [
        'HUB_URL', 'HUB_HTTPS_URL', 'TOPURL', 'WEBURL', 'READY']
    assert https(tls_hub).startswith('https://127.0.0.1:')


def test_ssl_login_takes_the_user_from_the_cert_cn(tls_hub, pki):
    s = koji.ClientSession(https(tls_hub))
    s.ssl_login(cert=pki['kojiuser'], serverca=pki['ca'])
    me = s.getLoggedInUser()
    assert me['name'] == 'kojiuser'
    assert me['authtype'] == koji.AUTHTYPES['SSL']


def test_host_logs_in_with_a_cert_and_goes_exclusive(tls_hub, pki):
    s = koji.ClientSession(https(tls_hub))
    s.ssl_login(cert=pki['host'], serverca=pki['ca'])
    s.exclusiveSession(force=True)
    assert s.host.getID() == s.getHost('builder.local')['id']


def test_no_cert_means_could_not_verify(tls_hub, pki):
    # password logins work over https too; sslLogin without a cert fails like Apache+hub
    s = koji.ClientSession(https(tls_hub), {'serverca': pki['ca']})
    assert s.getAPIVersion() == 1
    with pytest.raises(koji.AuthError, match='could not verify client: NONE'):
        s.callMethod('sslLogin')
    s2 = koji.ClientSession(https(tls_hub), {'serverca': pki['ca'], 'user': 'kojiuser',
                                             'password': 'kojipass'})
    s2.login()
    assert s2.getLoggedInUser()['name'] == 'kojiuser'


def test_unknown_user_and_untrusted_cert(tls_hub, pki):
    s = koji.ClientSession(https(tls_hub))
    with pytest.raises(koji.AuthError, match='Unknown user: no-such-user'):
        s.ssl_login(cert=pki['stranger'], serverca=pki['ca'])
    s = koji.ClientSession(https(tls_hub))
    with pytest.raises(koji.AuthError):
        s.ssl_login(cert=pki['untrusted'], serverca=pki['ca'])
