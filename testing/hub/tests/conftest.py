"""Start the test hub as a separate process and talk to it with koji.ClientSession."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import koji
import koji.xmlrpcplus
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
HUB_DIR = os.path.dirname(HERE)
RUN = os.path.join(HUB_DIR, 'run.py')
DEFAULT_SEED = os.path.join(HUB_DIR, 'seed.json')
# the hub's own tests use a stand-in plugin; test_real_plugin.py loads plugins/hub
STANDIN_PLUGINS = os.path.join(HERE, 'plugins')
CAPTURES = os.path.join(os.path.dirname(HUB_DIR), 'koji-captures')

PASSWORDS = {'admin': 'adminpass', 'osbuild': 'osbuildpass', 'kojiuser': 'kojipass',
             'nobody': 'nobodypass', 'builder.local': 'hostpass'}


class Hub:
    """A running hub process and the URLs it printed."""

    def __init__(self, state_dir, seed=DEFAULT_SEED, plugin_path=STANDIN_PLUGINS,
                 plugins='osbuild', tls=None, extra_args=()):
        self.state_dir = str(state_dir)
        self.seed = seed
        self.plugin_path = plugin_path
        self.plugins = plugins
        self.tls = tls
        self.extra_args = list(extra_args)
        self.proc = None
        self.urls = {}

    def start(self, timeout=30):
        cmd = [sys.executable, RUN, '--seed', self.seed, '--state-dir', self.state_dir,
               '--port', '0', '--plugin-path', self.plugin_path, '--plugins', self.plugins,
               '--log-file', os.path.join(self.state_dir, 'hub.log')] + self.extra_args
        if self.tls:
            cmd += ['--https-port', '0', '--tls-cert', self.tls['cert'],
                    '--tls-key', self.tls['key'], '--tls-ca', self.tls['ca']]
        os.makedirs(self.state_dir, exist_ok=True)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.lines = []
        # a blocking readline with a watchdog: select() does not see Python's buffer
        watchdog = threading.Timer(timeout, self.proc.kill)
        watchdog.start()
        try:
            for line in self.proc.stdout:
                line = line.rstrip('\n')
                self.lines.append(line)
                if line == 'READY':
                    break
                key, _, value = line.partition('=')
                self.urls[key] = value
        finally:
            watchdog.cancel()
        if 'READY' not in self.lines:
            raise RuntimeError('hub did not get READY: %r %s' % (self.lines,
                                                                 self.proc.stderr.read()))
        self.url = self.urls['HUB_URL']
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            rc = self.proc.wait(15)
            self.proc.stdout.close()
            self.proc.stderr.close()
            return rc
        return self.proc.returncode if self.proc else None

    # --- clients -----------------------------------------------------------
    def anon(self, url=None):
        return koji.ClientSession(url or self.url)

    def login(self, user, password=None):
        s = koji.ClientSession(self.url, {'user': user,
                                          'password': password or PASSWORDS.get(user, 'p')})
        s.login()
        return s

    def admin(self):
        return self.login('admin')

    def host(self, name='builder.local', ready=True, force=True, password=None):
        """A builder host's main session, as kojid starts it (captures 20-22)."""
        s = self.login(name, password)
        s.exclusiveSession(force=force)
        if ready:
            s.host.updateHost(0.0, True, data={'methods': ['osbuildImage', 'tagBuild'],
                                              'maxjobs': 10})
        return s

    def raw(self, body=b'', method='POST', headers=None, path='', query=''):
        """One HTTP request: (status, headers, body bytes)."""
        url = self.url + path + (('?' + query) if query else '')
        req = urllib.request.Request(url, data=body if method == 'POST' else None,
                                     method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def call_raw(self, method, *params, headers=None, **kwargs):
        """An XML-RPC call with hand-made headers; returns the value or raises the fault."""
        if kwargs:
            params = params + ({**kwargs, '__starstar': True},)
        body = koji.xmlrpcplus.dumps(params, methodname=method).encode()
        hdrs = {'Content-Type': 'text/xml'}
        hdrs.update(headers or {})
        status, _, data = self.raw(body, headers=hdrs)
        assert status == 200, data
        try:
            result, _ = koji.xmlrpcplus.loads(data)
        except koji.xmlrpcplus.Fault as fault:
            # typed like koji.ClientSession does it
            raise koji.convertFault(fault)
        return result[0]


def session_headers(sinfo, callnum=None):
    h = {'Koji-Session-Id': str(sinfo['session-id']), 'Koji-Session-Key': sinfo['session-key']}
    if callnum is not None:
        h['Koji-Session-Callnum'] = str(callnum)
    return h


def write_seed(path, changes):
    """The default seed with some top-level lists extended (e.g. more hosts)."""
    with open(DEFAULT_SEED) as f:
        seed = json.load(f)
    for key, items in changes.items():
        seed.setdefault(key, []).extend(items)
    with open(path, 'w') as f:
        json.dump(seed, f)
    return str(path)


@pytest.fixture(scope='module')
def hub(tmp_path_factory):
    h = Hub(tmp_path_factory.mktemp('hub')).start()
    yield h
    assert h.stop() == 0


def cancel_unfinished(hub_):
    """Cancel every FREE/OPEN/ASSIGNED task, so the next test starts with an idle host."""
    admin = hub_.admin()
    for t in admin.listTasks({'state': [0, 1, 4], 'parent': None}):
        admin.cancelTask(t['id'])


@pytest.fixture
def fresh_hub(tmp_path):
    """A hub with its own state dir (tests that need a clean scheduler)."""
    h = Hub(tmp_path / 'state').start()
    yield h
    h.stop()


def make_task(hub_, user='kojiuser', arches=('x86_64',), opts=None, **kw):
    s = hub_.login(user)
    return s.osbuildImage('demo-image', '42', 'fedora-42', 'guest-image', 'fedora42-candidate',
                          list(arches), opts=opts or {}, **kw)


def take_task(host, task_id, admin=None):
    """Get the task ASSIGNED to this host, then open it. host.getTasks only schedules when
    the host has nothing assigned, so an admin session may force a scheduler run."""
    for _ in range(50):
        ids = [t['id'] for t in host.host.getTasks()]
        if task_id in ids:
            break
        if admin is not None:
            admin.scheduler.doRun(force=True)
        time.sleep(0.05)
    else:
        raise AssertionError('task %s never assigned' % task_id)
    row = host.host.openTask(task_id)
    assert row and row['state'] == koji.TASK_STATES['OPEN']
    return row
