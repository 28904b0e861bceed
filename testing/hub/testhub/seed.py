"""Fill an empty hub database from the seed file (format: ../README.md)."""
import json
import time

import koji

from . import db
from .state import hub

def load_seed(path):
    with open(path, 'rt', encoding='utf-8') as f:
        return json.load(f)


def apply_seed(seed):
    """Create channels, users, hosts, CGs, tags, targets and repos. Runs once per state dir."""
    now = time.time()
    st = db.store()
    with st.transaction():
        event = db.write_quiet('INSERT INTO events (time) VALUES (?)', now)
        channels = {}
        for c in seed.get('channels', []) or [{'name': 'default'}]:
            channels[c['name']] = db.write_quiet(
                'INSERT INTO channels (name, enabled, description) VALUES (?, ?, ?)',
                c['name'], int(c.get('enabled', True)), c.get('description'))
        if 'default' not in channels:
            channels['default'] = db.write_quiet("INSERT INTO channels (name) VALUES ('default')")

        users = {}

        def add_user(u, usertype):
            uid = db.write_quiet(
                'INSERT INTO users (name, password, usertype, status, krb_principals) '
                'VALUES (?, ?, ?, ?, ?)',
                u['name'], u.get('password'), usertype,
                koji.USER_STATUS['BLOCKED'] if u.get('blocked') else koji.USER_STATUS['NORMAL'],
                json.dumps(u.get('krb_principals', [])))
            for perm in u.get('permissions', []):
                db.write_quiet('INSERT INTO user_perms (user_id, perm) VALUES (?, ?)', uid, perm)
            users[u['name']] = uid
            return uid

        for u in seed.get('users', []):
            utype = koji.USERTYPES['HOST'] if u.get('usertype') == 'host' else koji.USERTYPES['NORMAL']
            add_user(u, utype)
        host_principal = hub().opts.get('HostPrincipalFormat') if hub() else None
        for h in seed.get('hosts', []):
            if host_principal and 'krb_principals' not in h:
                # addHost: the host user's principal from HostPrincipalFormat
                h = dict(h, krb_principals=[host_principal % h['name']])
            uid = users.get(h['name']) or add_user(h, koji.USERTYPES['HOST'])
            hid = db.write_quiet(
                'INSERT INTO hosts (user_id, name, arches, capacity, enabled, description, comment) '
                'VALUES (?, ?, ?, ?, ?, ?, ?)',
                uid, h['name'], h.get('arches', 'x86_64'), float(h.get('capacity', 2.0)),
                int(h.get('enabled', True)), h.get('description'), h.get('comment'))
            for cname in h.get('channels', ['default']):
                db.write_quiet('INSERT INTO host_channels (host_id, channel_id) VALUES (?, ?)',
                               hid, channels[cname])

        for cg in seed.get('content_generators', []):
            cg_id = db.write_quiet('INSERT INTO content_generators (name) VALUES (?)', cg['name'])
            for uname in cg.get('users', []):
                db.write_quiet('INSERT INTO cg_users (cg_id, user_id) VALUES (?, ?)',
                               cg_id, users[uname])

        tags = {}
        for t in seed.get('tags', []):
            pkgs = t.get('packages', [])
            tid = db.write_quiet(
                'INSERT INTO tags (name, arches, locked, perm, extra, accept_all_packages) '
                'VALUES (?, ?, ?, ?, ?, ?)',
                t['name'], t.get('arches'), int(t.get('locked', False)), t.get('perm'),
                db.jdump(t.get('extra', {})), int(pkgs == '*'))
            tags[t['name']] = tid
            if pkgs != '*':
                for pname in pkgs:
                    pid = package_id(pname, create=True, quiet=True)
                    db.write_quiet('INSERT INTO tag_packages (tag_id, package_id, owner_id) '
                                   'VALUES (?, ?, ?)', tid, pid, users.get(t.get('owner', 'admin')))

        for tg in seed.get('targets', []):
            db.write_quiet('INSERT INTO build_targets (name, build_tag, dest_tag) VALUES (?, ?, ?)',
                           tg['name'], tags[tg['build_tag']], tags[tg['dest_tag']])

        for r in seed.get('repos', []):
            state = r.get('state', 'READY')
            state = koji.REPO_STATES[state] if isinstance(state, str) else state
            db.write_quiet(
                'INSERT INTO repos (tag_id, state, create_event, begin_event, creation_time, '
                'state_time, dist, opts) VALUES (?, ?, ?, ?, ?, ?, 0, ?)',
                tags[r['tag']], state, event, event, now, now,
                db.jdump({'src': False, 'debuginfo': False, 'separate_src': False,
                          'maven': False}))
        db.write_quiet("INSERT OR REPLACE INTO meta (name, value) VALUES ('seeded', ?)", str(now))


def package_id(name, create=False, quiet=False):
    pid = db.value('SELECT id FROM packages WHERE name = ?', name)
    if pid is None and create:
        w = db.write_quiet if quiet else db.write
        pid = w('INSERT INTO packages (name) VALUES (?)', name)
    return pid
