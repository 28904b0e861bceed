"""Builds, packages, tagging and archives.

Shapes: getBuild (capture 61), listTagged (72, no *_ts members), listArchives
(62), getNextRelease (08, 73: BUILDING and DELETED builds count too).
"""
import json
import os

import koji
from koji.context import context

from . import catalog, db
from .archivetypes import BTYPES, BY_NAME, COMPRESSION
from .convert import convert_value
from .tasks import make_task

BS = koji.BUILD_STATES


def package_id(name, create=False):
    pid = db.value('SELECT id FROM packages WHERE name = ?', name)
    if pid is None and create:
        pid = db.write('INSERT INTO packages (name) VALUES (?)', name)
    return pid


def _build_record(buildInfo):
    if isinstance(buildInfo, int):
        return db.row('SELECT * FROM builds WHERE id = ?', buildInfo)
    if isinstance(buildInfo, str):
        if buildInfo.isdigit():
            return db.row('SELECT * FROM builds WHERE id = ?', int(buildInfo))
        try:
            nvr = koji.parse_NVR(buildInfo)
        except koji.GenericError:
            return None
        buildInfo = nvr
    if isinstance(buildInfo, dict):
        if buildInfo.get('id') is not None:
            return db.row('SELECT * FROM builds WHERE id = ?', buildInfo['id'])
        if buildInfo.get('build_id') is not None:
            return db.row('SELECT * FROM builds WHERE id = ?', buildInfo['build_id'])
        return db.row('SELECT b.* FROM builds b JOIN packages p ON b.pkg_id = p.id '
                      'WHERE p.name = ? AND b.version = ? AND b.release = ?',
                      buildInfo.get('name'), buildInfo.get('version'), buildInfo.get('release'))
    raise koji.GenericError('Invalid type for build info: %r' % (buildInfo,))


def build_row(r):
    """getBuild shape (capture 61)."""
    pkg = db.value('SELECT name FROM packages WHERE id = ?', r['pkg_id'])
    owner = db.value('SELECT name FROM users WHERE id = ?', r['owner'])
    created = db.value('SELECT time FROM events WHERE id = ?', r['creation_event_id'])
    cg_name = None
    if r['cg_id'] is not None:
        cg_name = db.value('SELECT name FROM content_generators WHERE id = ?', r['cg_id'])
    return {
        'build_id': r['id'], 'cg_id': r['cg_id'], 'cg_name': cg_name,
        'completion_time': db.ts_str(r['completion_time']), 'completion_ts': r['completion_time'],
        'creation_event_id': r['creation_event_id'],
        'creation_time': db.ts_str(created), 'creation_ts': created,
        'draft': bool(r['draft']), 'epoch': r['epoch'], 'extra': db.jload(r['extra']),
        'id': r['id'], 'name': pkg, 'nvr': '%s-%s-%s' % (pkg, r['version'], r['release']),
        'owner_id': r['owner'], 'owner_name': owner, 'package_id': r['pkg_id'],
        'package_name': pkg, 'promoter_id': None, 'promoter_name': None,
        'promotion_time': None, 'promotion_ts': None, 'release': r['release'],
        'source': r['source'], 'start_time': db.ts_str(r['start_time']),
        'start_ts': r['start_time'], 'state': r['state'], 'task_id': r['task_id'],
        'version': r['version'], 'volume_id': r['volume_id'], 'volume_name': 'DEFAULT',
    }


def get_build(buildInfo, strict=False):
    r = _build_record(buildInfo)
    if not r:
        if strict:
            raise koji.GenericError('No such build: %s' % (buildInfo,))
        return None
    return build_row(r)


def get_next_release(build_info, incr=1):
    """kojihub.get_next_release; a missing key is a plain KeyError → fault 1 (capture doc §2)."""
    incr = convert_value(incr, cast=int, message='incr parameter must be an integer')
    name, version = build_info['name'], build_info['version']
    release = db.value(
        'SELECT b.release FROM builds b JOIN packages p ON b.pkg_id = p.id '
        'WHERE p.name = ? AND b.version = ? AND b.state IN (?, ?, ?) AND b.draft = 0 '
        'ORDER BY b.id DESC LIMIT 1',
        name, version, BS['COMPLETE'], BS['DELETED'], BS['BUILDING'])
    if not release:
        return str(incr)
    if release.isdigit():
        return str(int(release) + incr)
    parts = release.split('.')
    if len(parts) == 2 and parts[0].isdigit():
        parts[0] = str(int(parts[0]) + incr)
        return '.'.join(parts)
    if len(parts) == 3 and parts[2].isdigit():
        parts[2] = str(int(parts[2]) + incr)
        return '.'.join(parts)
    raise koji.BuildError('Unable to increment release value: %s' % release)


def new_build(data):
    """kojihub.new_build (strict=False): recycles a FAILED/CANCELED build of the same NVR."""
    pid = package_id(data['name'], create=True)
    extra = data.get('extra')
    old = _build_record({'name': data['name'], 'version': data['version'],
                         'release': data['release']})
    values = dict(pkg_id=pid, version=data['version'], release=data['release'],
                  epoch=data.get('epoch'), draft=int(bool(data.get('draft', False))),
                  state=data.get('state', BS['COMPLETE']), task_id=data.get('task_id'),
                  owner=data.get('owner', context.session.user_id),
                  start_time=data.get('start_time'), completion_time=data.get('completion_time'),
                  creation_event_id=db.event_id(), source=data.get('source'),
                  extra=json.dumps(extra) if extra else None, cg_id=data.get('cg_id'))
    if old:
        st = BS[old['state']]
        if st == 'BUILDING':
            if data.get('state') == old['state'] and data.get('task_id') == old['task_id']:
                return old['id']
            raise koji.GenericError("Build already in progress (task %s)" % old['task_id'])
        if st not in ('FAILED', 'CANCELED'):
            raise koji.GenericError("Build already exists (id=%d, state=%s): %r"
                                    % (old['id'], st, data))
        if db.value('SELECT 1 FROM tag_listing WHERE build_id = ?', old['id']):
            raise koji.GenericError("Build already exists. Unable to recycle, has tag history")
        if db.value('SELECT 1 FROM archives WHERE build_id = ?', old['id']):
            raise koji.GenericError("Build already exists. Unable to recycle, has archive data")
        cols = ', '.join('%s = ?' % k for k in values)
        db.write('UPDATE builds SET %s WHERE id = ?' % cols, *values.values(), old['id'])
        return old['id']
    cols = ', '.join(values)
    return db.write('INSERT INTO builds (%s) VALUES (%s)' % (cols, ','.join('?' * len(values))),
                    *values.values())


def listBuilds(packageID=None, userID=None, state=None, taskID=None, cgID=None, queryOpts=None,
               **kwargs):
    out = []
    for r in db.rows('SELECT * FROM builds ORDER BY id'):
        if packageID is not None and r['pkg_id'] != packageID:
            continue
        if userID is not None and r['owner'] != userID:
            continue
        if state is not None and r['state'] != state:
            continue
        if taskID is not None and r['task_id'] != taskID:
            continue
        if cgID is not None and r['cg_id'] != cgID:
            continue
        out.append(build_row(r))
    return out


# --- tagging -------------------------------------------------------------------

def tag_has_package(tag_id, pkg_id):
    if db.value('SELECT accept_all_packages FROM tags WHERE id = ?', tag_id):
        return True, False
    r = db.row('SELECT blocked FROM tag_packages WHERE tag_id = ? AND package_id = ?',
               tag_id, pkg_id)
    if not r:
        return False, False
    return True, bool(r['blocked'])


def assert_tag_access(tag_id, user_id, force=False):
    perms = {r['perm'] for r in db.rows('SELECT perm FROM user_perms WHERE user_id = ?', user_id)}
    override = 'admin' in perms
    tag = catalog.get_tag(tag_id, strict=True)
    reason = None
    if tag['locked']:
        reason = "tag is locked"
    elif tag['perm'] and tag['perm'] not in perms:
        reason = "tag requires %s permission" % tag['perm']
    if reason and not (override and force):
        raise koji.ActionNotAllowed(reason)


def check_package_list(tag_id, tag_label, build, force):
    listed, blocked = tag_has_package(tag_id, build['package_id'])
    err = None
    if not listed:
        err = "Package %s not in list for %s" % (build['name'], tag_label)
    elif blocked:
        err = "Package %s blocked in %s" % (build['name'], tag_label)
    if err:
        if force and context.session.hasPerm('admin'):
            db.write('INSERT OR REPLACE INTO tag_packages (tag_id, package_id, owner_id, blocked) '
                     'VALUES (?, ?, ?, 0)', tag_id, build['package_id'], context.session.user_id)
        else:
            raise koji.TagError(err)


def tag_build(tag, build, user_id, force=False):
    """kojihub._tag_build + _direct_tag_build."""
    tag = catalog.get_tag(tag, strict=True)
    build = get_build(build, strict=True)
    assert_tag_access(tag['id'], user_id, force=force)
    nvr = build['nvr']
    if build['state'] != BS['COMPLETE']:
        raise koji.TagError("build %s not complete: state %s" % (nvr, BS[build['state']]))
    ev = db.event_id()
    if db.value('SELECT 1 FROM tag_listing WHERE tag_id = ? AND build_id = ? AND active = 1',
                tag['id'], build['id']):
        if not force:
            raise koji.TagError("build %s already tagged (%s)" % (nvr, tag['name']))
        db.write('UPDATE tag_listing SET active = NULL, revoke_event = ? '
                 'WHERE tag_id = ? AND build_id = ? AND active = 1', ev, tag['id'], build['id'])
    db.write('INSERT INTO tag_listing (tag_id, build_id, create_event, creator_id, active) '
             'VALUES (?, ?, ?, ?, 1)', tag['id'], build['id'], ev, user_id)


def untag_build(tag, build, user_id, strict=True, force=False):
    tag = catalog.get_tag(tag, strict=True)
    build = get_build(build, strict=True)
    assert_tag_access(tag['id'], user_id, force=force)
    if not db.value('SELECT 1 FROM tag_listing WHERE tag_id = ? AND build_id = ? AND active = 1',
                    tag['id'], build['id']):
        if strict:
            raise koji.TagError("build %s not in tag %s" % (build['nvr'], tag['name']))
        return
    db.write('UPDATE tag_listing SET active = NULL, revoke_event = ? '
             'WHERE tag_id = ? AND build_id = ? AND active = 1',
             db.event_id(), tag['id'], build['id'])


def tagBuild(tag, build, force=False, fromtag=None):
    """RootExports.tagBuild: checks, then a tagBuild task (priority 10, channel default;
    capture 63 and 67)."""
    context.session.assertLogin()
    build = get_build(build, strict=True)
    tag = catalog.get_tag(tag, strict=True)
    fromtag_id = catalog.get_tag_id(fromtag, strict=True) if fromtag else None
    if build['state'] != BS['COMPLETE']:
        raise koji.TagError("build %s not complete: state %s" % (build['nvr'],
                                                                BS[build['state']]))
    assert_tag_access(tag['id'], context.session.user_id, force=force)
    if fromtag:
        assert_tag_access(fromtag_id, context.session.user_id, force=force)
    check_package_list(tag['id'], tag['name'], build, force)
    return make_task('tagBuild', [tag['id'], build['id'], force, fromtag_id], priority=10)


def untagBuild(tag, build, strict=True, force=False):
    context.session.assertLogin()
    untag_build(tag, build, context.session.user_id, strict=strict, force=force)


def listTagged(tag, event=None, inherit=False, prefix=None, latest=False, package=None,
               owner=None, type=None, strict=True, extra=False, draft=None):
    """listTagged (capture 72): newest tagging first, like readTaggedBuilds."""
    taginfo = catalog.get_tag(tag, strict=strict)
    if not taginfo:
        return []
    out = []
    seen = set()
    for tl in db.rows('SELECT * FROM tag_listing WHERE tag_id = ? AND active = 1 '
                      'ORDER BY create_event DESC, build_id DESC', taginfo['id']):
        b = get_build(tl['build_id'])
        if package and b['package_name'] != package:
            continue
        if prefix and not b['package_name'].lower().startswith(prefix.lower()):
            continue
        if owner and owner not in (b['owner_id'], b['owner_name']):
            continue
        if draft is not None and b['draft'] != bool(draft):
            continue
        if latest:
            if b['package_name'] in seen:
                continue
            seen.add(b['package_name'])
        row = {k: b[k] for k in (
            'build_id', 'completion_time', 'creation_event_id', 'creation_time', 'draft',
            'epoch', 'id', 'name', 'nvr', 'owner_id', 'owner_name', 'package_id',
            'package_name', 'promoter_id', 'promoter_name', 'promotion_time', 'release',
            'start_time', 'state', 'task_id', 'version', 'volume_id', 'volume_name')}
        row.update({'create_event': tl['create_event'], 'tag_id': taginfo['id'],
                    'tag_name': taginfo['name']})
        if extra:
            row['extra'] = b['extra']
        out.append(row)
    return out


def listTags(build=None, package=None, perms=True, queryOpts=None, pattern=None):
    if build is None:
        return [catalog.tag_row(r) for r in db.rows('SELECT * FROM tags ORDER BY id')]
    b = get_build(build, strict=True)
    return [catalog.tag_row(r) for r in db.rows(
        'SELECT t.* FROM tags t JOIN tag_listing tl ON tl.tag_id = t.id '
        'WHERE tl.build_id = ? AND tl.active = 1 ORDER BY t.id', b['id'])]


# --- archives and logs -------------------------------------------------------

def archive_row(r):
    """listArchives shape (capture 62)."""
    t = BY_NAME[r['type_name']]
    return {'btype': r['btype'], 'btype_id': BTYPES.get(r['btype']), 'build_id': r['build_id'],
            'buildroot_id': r['buildroot_id'], 'checksum': r['checksum'],
            'checksum_type': r['checksum_type'], 'compression_type': COMPRESSION.get(t[1]),
            'extra': db.jload(r['extra']), 'filename': r['filename'], 'id': r['id'],
            'metadata_only': bool(r['metadata_only']), 'size': r['size'],
            'type_description': t[2], 'type_extensions': t[3], 'type_id': t[0],
            'type_name': t[1]}


def listArchives(buildID=None, buildrootID=None, componentBuildrootID=None, hostID=None,
                 type=None, filename=None, size=None, checksum=None, checksum_type=None,
                 typeInfo=None, queryOpts=None, imageID=None, archiveID=None, strict=False):
    out = []
    for r in db.rows('SELECT * FROM archives ORDER BY id'):
        a = archive_row(r)
        if buildID is not None and a['build_id'] != buildID:
            continue
        if buildrootID is not None and a['buildroot_id'] != buildrootID:
            continue
        if type is not None and a['btype'] != type:
            continue
        if filename is not None and a['filename'] != filename:
            continue
        if archiveID is not None and a['id'] != archiveID:
            continue
        out.append(a)
    return out


def getArchive(archive_id, strict=False):
    r = db.row('SELECT * FROM archives WHERE id = ?', archive_id)
    if not r:
        if strict:
            raise koji.GenericError('No such archive: %s' % archive_id)
        return None
    return archive_row(r)


def build_dir(binfo):
    from .state import hub
    return os.path.join(hub().topdir, 'packages', binfo['name'], binfo['version'],
                        binfo['release'])


def getBuildLogs(build):
    """[{name, dir, path}] for files under packages/N/V/R/data/logs (kojihub's getBuildLogs)."""
    binfo = get_build(build, strict=True)
    logdir = os.path.join(build_dir(binfo), 'data', 'logs')
    rel = os.path.join('packages', binfo['name'], binfo['version'], binfo['release'],
                       'data', 'logs')
    out = []
    for dirpath, _, files in os.walk(logdir):
        sub = os.path.relpath(dirpath, logdir)
        for fn in sorted(files):
            out.append({'name': fn, 'dir': sub, 'path': os.path.join(rel, sub, fn)})
    return out
