"""Users, hosts, channels, tags, build targets and repos (read side, plus repo.request).

Reply shapes follow the captures: getBuildTarget (02), getTag (05),
getBuildConfig (06, arches space-separated, flat inheritance), getRepo /
repo.request (07, kojihub/repos.py), getLoggedInUser (12), host.getHost (24).
"""
import json
import time

import koji
from koji.context import context

from . import db
from .convert import convert_value


# --- users -------------------------------------------------------------------

def user_row(r):
    return {'id': r['id'], 'name': r['name'], 'status': r['status'], 'usertype': r['usertype'],
            'krb_principals': json.loads(r['krb_principals'])}


def get_user(userInfo=None, strict=False, krb_princs=True, groups=False):
    if userInfo is None:
        userInfo = context.session.user_id
        if userInfo is None:
            raise koji.GenericError("No user provided")
    if isinstance(userInfo, dict):
        userInfo = userInfo.get('id', userInfo.get('name'))
    if isinstance(userInfo, int):
        r = db.row('SELECT * FROM users WHERE id = ?', userInfo)
    elif isinstance(userInfo, str):
        r = db.row('SELECT * FROM users WHERE name = ?', userInfo)
    else:
        raise koji.GenericError('Invalid type for userInfo: %s' % type(userInfo))
    if not r:
        if strict:
            raise koji.GenericError("No such user: %r" % userInfo)
        return None
    user = user_row(r)
    if groups:
        user['groups'] = []
    return user


def getLoggedInUser():
    if not context.session.logged_in:
        return None
    me = get_user(context.session.user_id)
    me['authtype'] = context.session.authtype
    me['krb_principal'] = me['krb_principals'][0] if me['krb_principals'] else None
    return me


def getUserPerms(userID=None, with_groups=True):
    user = get_user(userID, strict=True)
    return [r['perm'] for r in db.rows('SELECT perm FROM user_perms WHERE user_id = ?', user['id'])]


def getAllPerms():
    names = sorted({r['perm'] for r in db.rows('SELECT perm FROM user_perms')} |
                   {'admin', 'image', 'tag', 'host', 'repo', 'build'})
    return [{'id': i + 1, 'name': n, 'description': None} for i, n in enumerate(names)]


def hasPerm(perm, strict=False):
    return context.session.hasPerm(perm)


def getPerms():
    return context.session.getPerms()


# --- channels and hosts ------------------------------------------------------

def channel_row(r):
    return {'id': r['id'], 'name': r['name'], 'enabled': bool(r['enabled']),
            'description': r['description'], 'comment': r['comment']}


def getChannel(channelInfo, strict=False):
    key = 'id' if isinstance(channelInfo, int) else 'name'
    r = db.row('SELECT * FROM channels WHERE %s = ?' % key, channelInfo)
    if not r:
        if strict:
            raise koji.GenericError('No such channel: %s' % channelInfo)
        return None
    return channel_row(r)


def listChannels(hostID=None, event=None, enabled=None):
    if hostID is not None:
        hid = get_host(hostID, strict=True)['id']
        rs = db.rows('SELECT c.* FROM channels c JOIN host_channels hc ON hc.channel_id = c.id '
                     'WHERE hc.host_id = ? ORDER BY c.id', hid)
    else:
        rs = db.rows('SELECT * FROM channels ORDER BY id')
    out = [channel_row(r) for r in rs]
    if enabled is not None:
        out = [c for c in out if c['enabled'] == bool(enabled)]
    return out


def host_row(r):
    """host.getHost / getHost shape (capture 24)."""
    return {'arches': r['arches'], 'capacity': r['capacity'], 'comment': r['comment'],
            'description': r['description'], 'enabled': bool(r['enabled']), 'id': r['id'],
            'name': r['name'], 'ready': bool(r['ready']), 'task_load': r['task_load'],
            'update_ts': r['update_time'], 'user_id': r['user_id']}


def get_host(hostInfo, strict=False, event=None):
    if isinstance(hostInfo, dict):
        hostInfo = hostInfo.get('id', hostInfo.get('name'))
    key = 'id' if isinstance(hostInfo, int) else 'name'
    r = db.row('SELECT * FROM hosts WHERE %s = ?' % key, hostInfo)
    if not r:
        if strict:
            raise koji.GenericError('Invalid hostInfo: %s' % hostInfo)
        return None
    return host_row(r)


def listHosts(arches=None, channelID=None, ready=None, enabled=None, userID=None,
              queryOpts=None):
    out = []
    for r in db.rows('SELECT * FROM hosts ORDER BY id'):
        h = host_row(r)
        if ready is not None and h['ready'] != bool(ready):
            continue
        if enabled is not None and h['enabled'] != bool(enabled):
            continue
        if userID is not None and h['user_id'] != userID:
            continue
        if arches and not set(arches) & set(h['arches'].split()):
            continue
        if channelID is not None:
            cid = channelID if isinstance(channelID, int) else getChannel(channelID, True)['id']
            if not db.value('SELECT 1 FROM host_channels WHERE host_id = ? AND channel_id = ?',
                            h['id'], cid):
                continue
        out.append(h)
    return out


# --- tags and targets ----------------------------------------------------------

def _tag_record(tagInfo):
    if isinstance(tagInfo, dict):
        tagInfo = tagInfo.get('id', tagInfo.get('name'))
    if isinstance(tagInfo, int):
        return db.row('SELECT * FROM tags WHERE id = ?', tagInfo)
    if isinstance(tagInfo, str):
        return db.row('SELECT * FROM tags WHERE name = ?', tagInfo)
    raise koji.GenericError('Invalid type for tagInfo: %s' % type(tagInfo))


def tag_row(r):
    """getTag shape (capture 05)."""
    return {'arches': r['arches'], 'id': r['id'], 'locked': bool(r['locked']),
            'maven_include_all': bool(r['maven_include_all']),
            'maven_support': bool(r['maven_support']), 'name': r['name'],
            'perm': r['perm'], 'perm_id': None if r['perm'] is None else 1,
            'extra': json.loads(r['extra'])}


def get_tag(tagInfo, strict=False, event=None, blocked=False):
    r = _tag_record(tagInfo)
    if not r:
        if strict:
            raise koji.GenericError("No such tagInfo: %r" % (tagInfo,))
        return None
    return tag_row(r)


def editTag2(tagInfo, **kwargs):
    """editTag2 for a tag's arches only (kojihub's edit_tag): needs the tag
    permission, which admins have too. Anything else is refused, not ignored."""
    context.session.assertPerm('tag')
    other = sorted(set(kwargs) - {'arches'})
    if other:
        raise koji.ParameterError('the test hub edits only arches, not %s' % ', '.join(other))
    tag_id = get_tag_id(tagInfo, strict=True)
    if 'arches' in kwargs:
        arches = ' '.join((kwargs['arches'] or '').replace(',', ' ').split()) or None
        db.write('UPDATE tags SET arches = ? WHERE id = ?', arches, tag_id)


def get_tag_id(info, strict=False):
    r = _tag_record(info)
    if not r:
        if strict:
            raise koji.GenericError('No such entry in table tag: %s' % info)
        return None
    return r['id']


def getBuildConfig(tag, event=None):
    """getBuildConfig (capture 06). Inheritance is flat here: config_inheritance is empty."""
    info = get_tag(tag, strict=True)
    info['config_inheritance'] = {'extra': {}, 'arches': None}
    return info


def target_row(r):
    names = {t['id']: t['name'] for t in db.rows('SELECT id, name FROM tags WHERE id IN (?, ?)',
                                                r['build_tag'], r['dest_tag'])}
    return {'build_tag': r['build_tag'], 'build_tag_name': names.get(r['build_tag']),
            'dest_tag': r['dest_tag'], 'dest_tag_name': names.get(r['dest_tag']),
            'id': r['id'], 'name': r['name']}


def get_build_target(info, event=None, strict=False):
    """getBuildTarget: nil when unknown, fault 1000 with strict (captures 03, 04)."""
    if isinstance(info, dict):
        info = info.get('id', info.get('name'))
    if isinstance(info, int):
        r = db.row('SELECT * FROM build_targets WHERE id = ?', info)
    elif isinstance(info, str):
        r = db.row('SELECT * FROM build_targets WHERE name = ?', info)
    else:
        raise koji.GenericError('Invalid type for lookup: %s' % type(info))
    if not r:
        if strict:
            raise koji.GenericError('No such build target: %s' % info)
        return None
    return target_row(r)


def delete_build_target(buildTargetInfo):
    """deleteBuildTarget: needs the `target` permission (admin has all)."""
    context.session.assertPerm('target')
    target = get_build_target(buildTargetInfo, strict=True)
    db.write('DELETE FROM build_targets WHERE id = ?', target['id'])


def get_build_targets(info=None, event=None, buildTagID=None, destTagID=None, queryOpts=None):
    out = [target_row(r) for r in db.rows('SELECT * FROM build_targets ORDER BY id')]
    if info is not None:
        out = [t for t in out if info in (t['id'], t['name'])]
    if buildTagID is not None:
        out = [t for t in out if buildTagID in (t['build_tag'], t['build_tag_name'])]
    if destTagID is not None:
        out = [t for t in out if destTagID in (t['dest_tag'], t['dest_tag_name'])]
    return out


# --- repos -------------------------------------------------------------------

REPO_OPTS_DEFAULT = {'src': False, 'debuginfo': False, 'separate_src': False, 'maven': False}


def repo_row(r):
    """getRepo shape (capture 07, kojihub/repos.py)."""
    tag_name = db.value('SELECT name FROM tags WHERE id = ?', r['tag_id'])
    task_state = None
    if r['task_id'] is not None:
        task_state = db.value('SELECT state FROM tasks WHERE id = ?', r['task_id'])
    ev_time = {e['id']: e['time'] for e in db.rows(
        'SELECT id, time FROM events WHERE id IN (?, ?, ?)',
        r['create_event'], r['begin_event'], r['end_event'])}
    return {
        'begin_event': r['begin_event'], 'begin_ts': ev_time.get(r['begin_event']),
        'create_event': r['create_event'], 'create_ts': ev_time.get(r['create_event']),
        'creation_time': db.ts_str(r['creation_time']), 'creation_ts': r['creation_time'],
        'custom_opts': json.loads(r['custom_opts']), 'dist': bool(r['dist']),
        'end_event': r['end_event'], 'end_ts': ev_time.get(r['end_event']),
        'id': r['id'], 'opts': json.loads(r['opts']), 'state': r['state'],
        'state_time': db.ts_str(r['state_time']), 'state_ts': r['state_time'],
        'tag_id': r['tag_id'], 'tag_name': tag_name, 'task_id': r['task_id'],
        'task_state': task_state,
    }


def getRepo(tag, state=None, event=None, dist=False, min_event=None):
    """repos.old_get_repo: the newest repo of the tag in `state` (default READY)."""
    tag_id = get_tag_id(tag, strict=True)
    state = convert_value(state, int, none_allowed=True)
    if state is None:
        state = koji.REPO_READY
    sql = 'SELECT * FROM repos WHERE tag_id = ? AND dist = ? AND state = ?'
    args = [tag_id, int(bool(dist)), state]
    if min_event is not None:
        sql += ' AND create_event >= ?'
        args.append(int(min_event))
    r = db.row(sql + ' ORDER BY creation_time DESC, id DESC LIMIT 1', *args)
    return repo_row(r) if r else None


def repo_queue_row(r):
    return {'active': bool(r['active']), 'at_event': r['at_event'],
            'create_time': db.ts_str(r['create_time']), 'create_ts': r['create_time'],
            'id': r['id'], 'min_event': r['min_event'], 'opts': json.loads(r['opts']),
            'owner': r['owner'], 'priority': r['priority'], 'repo_id': r['repo_id'],
            'tag_id': r['tag_id'], 'tag_name': db.value('SELECT name FROM tags WHERE id = ?',
                                                        r['tag_id']),
            'task_id': r['task_id'], 'tries': r['tries'],
            'update_time': db.ts_str(r['update_time']), 'update_ts': r['update_time']}


def repo_request(tag, min_event=None, at_event=None, opts=None, priority=None, force=False):
    """repo.request (RepoWatcher): {repo, request, duplicate}. No regen runs here; a
    queued request is satisfied by an admin's testhub.createRepo."""
    context.session.assertLogin()
    taginfo = get_tag(tag, strict=True)
    if min_event is not None and min_event != 'last':
        min_event = convert_value(min_event, cast=int)
    elif min_event == 'last':
        min_event = None
    if at_event is not None:
        at_event = convert_value(at_event, cast=int)
    ret = {'repo': None, 'request': None, 'duplicate': False}
    if not force:
        sql = 'SELECT * FROM repos WHERE tag_id = ? AND dist = 0 AND state = ?'
        args = [taginfo['id'], koji.REPO_READY]
        if at_event is not None:
            sql += ' AND create_event = ?'
            args.append(at_event)
        elif min_event is not None:
            sql += ' AND create_event >= ?'
            args.append(min_event)
        r = db.row(sql + ' ORDER BY create_event DESC LIMIT 1', *args)
        if r:
            ret['repo'] = repo_row(r)
            return ret
    ropts = db.jdump(opts or {})
    q = db.row('SELECT * FROM repo_queue WHERE tag_id = ? AND active = 1 AND opts = ? '
               'ORDER BY priority, id LIMIT 1', taginfo['id'], ropts)
    if q:
        ret['request'] = repo_queue_row(q)
        ret['duplicate'] = True
        return ret
    now = time.time()
    qid = db.write('INSERT INTO repo_queue (create_time, owner, priority, tag_id, at_event, '
                   'min_event, opts, update_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
                   now, context.session.user_id,
                   koji.PRIO_DEFAULT + (priority or 0), taginfo['id'], at_event, min_event,
                   ropts, now)
    ret['request'] = repo_queue_row(db.row('SELECT * FROM repo_queue WHERE id = ?', qid))
    return ret


def create_repo(tag, state=koji.REPO_READY, task_id=None):
    """Make a repo for a tag and satisfy its queued requests (testhub.createRepo)."""
    tag_id = get_tag_id(tag, strict=True)
    ev = db.event_id()
    now = time.time()
    rid = db.write('INSERT INTO repos (tag_id, state, create_event, begin_event, creation_time, '
                   'state_time, task_id, dist, opts) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)',
                   tag_id, state, ev, ev, now, now, task_id, db.jdump(REPO_OPTS_DEFAULT))
    if state == koji.REPO_READY:
        db.write('UPDATE repo_queue SET active = 0, repo_id = ?, update_time = ? '
                 'WHERE tag_id = ? AND active = 1', rid, now, tag_id)
    return rid
