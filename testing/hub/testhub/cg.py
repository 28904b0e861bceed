"""Content-generator import: CGInitBuild, CGImport, CGRefundBuild (kojihub.cg_* and
CG_Importer), captures 53-59.

Reduced to what composer does: one content generator per import, buildroots
kept as opaque JSON, rpm components not matched, no policies. The checks that
matter are kept with Koji's messages: CG access, reservation token, NVR,
size and checksum of every uploaded file, typeinfo/btype rules.
"""
import json
import os
import secrets
import shutil
import time

import koji
from koji.context import context

from . import db
from .archivetypes import BY_NAME
from .builds import BS, build_row, get_build, new_build
from .catalog import get_user
from .convert import convert_value
from .state import hub
from .uploads import get_verify_class


def lookup_cg(cg, strict=True):
    key = 'id' if isinstance(cg, int) else 'name'
    r = db.row('SELECT * FROM content_generators WHERE %s = ?' % key, cg)
    if not r and strict:
        raise koji.GenericError('No such entry in table content_generator: %s' % cg)
    return r


def assert_cg(cg, user=None):
    cg = lookup_cg(cg, strict=True)
    if user is None:
        if not context.session.logged_in:
            raise koji.AuthError("Not logged-in")
        user = context.session.user_id
    if not db.value('SELECT 1 FROM cg_users WHERE cg_id = ? AND user_id = ?', cg['id'], user):
        raise koji.AuthError("Content generator access required (%s)" % cg['name'])


def reservation(build_id):
    return db.row('SELECT * FROM build_reservations WHERE build_id = ?', build_id)


def cg_init_build(cg, data):
    """Reserve a build: {build_id, token}; the same NVR again → 'Build is already reserved'."""
    assert_cg(cg)
    cg_id = lookup_cg(cg)['id']
    data = dict(data)
    data['owner'] = context.session.user_id
    data['state'] = BS['BUILDING']
    data['completion_time'] = None
    data['cg_id'] = cg_id
    data.setdefault('epoch', None)
    data.setdefault('task_id', None)
    data.setdefault('start_time', time.time())
    koji.check_NVR(data, strict=True)
    build_id = new_build(data)
    if reservation(build_id):
        raise koji.GenericError("Build is already reserved")
    token = secrets.token_hex(32)
    db.write('INSERT INTO build_reservations (build_id, token, created) VALUES (?, ?, ?)',
             build_id, token, time.time())
    return {'build_id': build_id, 'token': token}


def cg_refund_build(cg, build_id, token, state=BS['FAILED']):
    if state not in (BS['FAILED'], BS['CANCELED']):
        raise koji.GenericError("Only FAILED/CANCELED build states are allowed")
    assert_cg(cg)
    binfo = get_build(build_id, strict=True)
    if binfo['state'] != BS['BUILDING']:
        raise koji.GenericError('Build ID %s is not in BUILDING state' % build_id)
    res = reservation(binfo['id'])
    if not res or res['token'] != token:
        raise koji.GenericError("Token doesn't match build ID %s" % build_id)
    if binfo['cg_id'] != lookup_cg(cg)['id']:
        raise koji.GenericError('Build ID %s is not reserved by this CG' % build_id)
    db.write('UPDATE builds SET state = ?, completion_time = ? WHERE id = ?',
             state, time.time(), binfo['id'])
    db.write('DELETE FROM build_reservations WHERE build_id = ?', binfo['id'])


def cg_import(metadata, directory, token=None):
    return CGImporter().do_import(metadata, directory, token)


def build_path(name, version, release):
    return os.path.join(hub().topdir, 'packages', name, version, release)


class CGImporter:
    def do_import(self, metadata, directory, token=None):
        self.directory = directory
        metadata = self.get_metadata(metadata, directory)
        if metadata['metadata_version'] != 0:
            raise koji.GenericError("No such metadata version: %r" % metadata['metadata_version'])
        self.assert_cg_access()
        self.prep_build(token)
        self.prep_outputs()
        self.builddir = build_path(self.buildinfo['name'], self.buildinfo['version'],
                                   self.buildinfo['release'])
        if os.path.lexists(self.builddir):
            raise koji.GenericError("Destination directory already exists: %s" % self.builddir)
        build_id = self.get_build(token)
        try:
            self.import_outputs(build_id)
            os.makedirs(self.builddir, exist_ok=True)
            with open(os.path.join(self.builddir, 'metadata.json'), 'wt', encoding='utf-8') as f:
                f.write(self.raw_metadata)
            logdir = os.path.join(self.builddir, 'data', 'logs')
            os.makedirs(logdir, exist_ok=True)
            with open(os.path.join(logdir, 'cg_import.log'), 'wt') as f:
                f.write('CG import was SUCCESSFUL.\n')
        except Exception:
            shutil.rmtree(self.builddir, ignore_errors=True)
            raise
        return build_row(db.row('SELECT * FROM builds WHERE id = ?', build_id))

    def get_metadata(self, metadata, directory):
        if isinstance(metadata, dict):
            self.metadata = metadata
            self.raw_metadata = json.dumps(metadata, indent=2)
            return metadata
        if metadata is None:
            metadata = 'metadata.json'
        convert_value(metadata, cast=str, check_only=True)
        if metadata.endswith('.json'):
            path = os.path.join(hub().workdir, directory, metadata)
            if not os.path.exists(path):
                raise koji.GenericError("No such file: %s" % metadata)
            with open(path, 'rt', encoding='utf-8') as f:
                metadata = f.read()
        self.raw_metadata = metadata
        try:
            self.metadata = json.loads(metadata)
        except ValueError:
            raise koji.GenericError("Invalid metadata: %r" % metadata)
        return self.metadata

    def assert_cg_access(self):
        cg_id = None
        for brdata in self.metadata['buildroots']:
            cg = lookup_cg(brdata['content_generator']['name'], strict=True)
            if cg_id is None:
                cg_id = cg['id']
            elif cg_id != cg['id']:
                raise koji.GenericError("Koji now support only one content-generator per import")
        assert_cg(cg_id)
        self.cg = cg_id

    def prep_build(self, token):
        mb = self.metadata['build']
        task_id = convert_value(mb['task_id'], cast=int) if mb.get('task_id') is not None \
            else None
        if mb.get('build_id'):
            build_id = mb['build_id']
            binfo = get_build(build_id, strict=True)
            res = reservation(binfo['id'])
            if not res or res['token'] != token:
                raise koji.GenericError("Token doesn't match build ID %s" % build_id)
            if binfo['cg_id'] != self.cg:
                raise koji.GenericError('Build ID %s is not reserved by this CG' % build_id)
            if binfo['task_id'] and binfo['task_id'] != task_id:
                raise koji.GenericError('Build is owned by task %(task_id)s' % binfo)
            if binfo['state'] != BS['BUILDING']:
                raise koji.GenericError('Build ID %s is not in BUILDING state' % build_id)
            if binfo['draft'] != mb.get('draft', False):
                raise koji.GenericError("Draft field does not match reservation (build id = %s)"
                                        % build_id)
            if (binfo['name'], binfo['version'], binfo['release']) != \
                    (mb['name'], mb['version'], mb['release']):
                raise koji.GenericError("Build (%i) NVR is different" % build_id)
            if 'epoch' in mb and binfo['epoch'] != mb['epoch']:
                raise koji.GenericError("Build (%i) epoch is different" % build_id)
        elif token is not None:
            raise koji.GenericError('Reservation token given, but no build_id in metadata')
        else:
            binfo = get_build({'name': mb['name'], 'version': mb['version'],
                               'release': mb['release']})
            if binfo and BS[binfo['state']] not in ('CANCELED', 'FAILED'):
                raise koji.GenericError("Build already exists: %(nvr)s (id=%(id)s)" % binfo)
        info = {k: mb[k] for k in ('name', 'version', 'release', 'extra', 'source') if k in mb}
        if 'build_id' in mb:
            info['build_id'] = mb['build_id']
        info['epoch'] = mb.get('epoch')
        info['draft'] = mb.get('draft', False)
        info['start_time'] = float(mb['start_time'])
        info['completion_time'] = float(mb['end_time'])
        info['task_id'] = task_id
        owner = mb.get('owner')
        if owner:
            if not isinstance(owner, str):
                raise koji.GenericError("Invalid owner format (expected username): %s" % owner)
            info['owner'] = get_user(owner, strict=True)['id']
        info['cg_id'] = self.cg
        koji.check_NVR(info, strict=True)
        info.setdefault('extra', {})
        extra = info['extra']
        typeinfo = extra.setdefault('typeinfo', {})
        # legacy types may sit at the top of extra
        for btype in ('maven', 'win', 'image'):
            if btype in extra:
                if btype in typeinfo:
                    raise koji.GenericError('Duplicate typeinfo for %r' % btype)
                typeinfo[btype] = extra[btype]
        self.typeinfo = typeinfo
        self.buildinfo = info
        self.br_ids = {br['id'] for br in self.metadata['buildroots']}

    def prep_outputs(self):
        self.outputs = []
        for fileinfo in self.metadata['output']:
            fileinfo = dict(fileinfo)
            path = os.path.join(hub().workdir, self.directory, fileinfo.get('relpath', ''),
                                fileinfo['filename'])
            fileinfo['hub.path'] = path
            if not os.path.exists(path):
                raise koji.GenericError("No such file: %s" % path)
            filesize = os.path.getsize(path)
            if filesize != fileinfo['filesize']:
                raise koji.GenericError(
                    "File size %s for %s (expected %s) doesn't match. Corrupted upload?"
                    % (filesize, fileinfo['filename'], fileinfo['filesize']))
            chksum = get_verify_class(fileinfo['checksum_type'])()
            with open(path, 'rb') as f:
                for block in iter(lambda: f.read(1 << 20), b''):
                    chksum.update(block)
            if fileinfo['checksum'] != chksum.hexdigest():
                raise koji.GenericError("File checksum mismatch for %s: %s != %s" % (
                    fileinfo['filename'], fileinfo['checksum'], chksum.hexdigest()))
            if fileinfo['buildroot_id'] not in self.br_ids:
                raise koji.GenericError("Missing buildroot metadata for id %(buildroot_id)r"
                                        % fileinfo)
            if fileinfo['type'] == 'rpm':
                raise koji.GenericError("rpm outputs are not supported by the test hub")
            if fileinfo['type'] != 'log':
                self.prep_archive(fileinfo)
            self.outputs.append(fileinfo)

    def prep_archive(self, fileinfo):
        """A non-log output needs exactly one btype, also listed in build.extra.typeinfo."""
        extra = fileinfo.get('extra', {})
        btype = None
        for key in extra:
            if key in ('maven', 'win', 'image'):
                if btype is not None:
                    raise koji.GenericError("Output file has multiple types: %(filename)s"
                                            % fileinfo)
                btype = key
        for key in extra.get('typeinfo', {}):
            if btype == key:
                raise koji.GenericError("Duplicate typeinfo for: %r" % btype)
            elif btype is not None:
                raise koji.GenericError("Output file has multiple types: %(filename)s"
                                        % fileinfo)
            btype = key
        if btype is None:
            raise koji.GenericError("No typeinfo for: %(filename)s" % fileinfo)
        if btype not in self.typeinfo:
            raise koji.GenericError('Output type %s not listed in build types' % btype)
        if fileinfo['type'] not in BY_NAME:
            raise koji.GenericError('Unsupported archive type: %s' % fileinfo['type'])
        fileinfo['hub.btype'] = btype

    def get_build(self, token):
        info = self.buildinfo
        extra = json.dumps(info['extra']) if info.get('extra') else None
        owner = info.get('owner', context.session.user_id)
        if token:
            build_id = info['build_id']
            db.write('UPDATE builds SET state = ?, extra = ?, owner = ?, source = ?, task_id = ?, '
                     'completion_time = ? WHERE id = ?', BS['COMPLETE'], extra, owner,
                     info.get('source'), info['task_id'], time.time(), build_id)
            db.write('DELETE FROM build_reservations WHERE build_id = ?', build_id)
            return build_id
        data = dict(info)
        data['state'] = BS['COMPLETE']
        data['owner'] = owner
        return new_build(data)

    def import_outputs(self, build_id):
        brmap = {}
        for br in self.metadata['buildroots']:
            brmap[br['id']] = db.write('INSERT INTO buildroots (cg_id, data) VALUES (?, ?)',
                                       self.cg, json.dumps(br))
        for fileinfo in self.outputs:
            relpath = fileinfo.get('relpath', '')
            if fileinfo['type'] == 'log':
                dest = os.path.join(self.builddir, 'data', 'logs', relpath)
                db.write('INSERT INTO build_logs (build_id, name, dir) VALUES (?, ?, ?)',
                         build_id, fileinfo['filename'], relpath or '.')
            else:
                btype = fileinfo['hub.btype']
                sub = 'images' if btype == 'image' else os.path.join('files', btype)
                dest = os.path.join(self.builddir, sub, relpath)
                extra = fileinfo.get('extra')
                db.write('INSERT INTO archives (build_id, type_name, btype, buildroot_id, '
                         'filename, relpath, size, checksum, checksum_type, extra, '
                         'metadata_only) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
                         build_id, fileinfo['type'], btype, brmap[fileinfo['buildroot_id']],
                         fileinfo['filename'], relpath or None, fileinfo['filesize'],
                         fileinfo['checksum'], koji.CHECKSUM_TYPES[fileinfo['checksum_type']],
                         json.dumps(extra) if extra is not None else None,
                         int(bool(fileinfo.get('metadata_only'))))
            os.makedirs(dest, exist_ok=True)
            # the upload is moved into the build directory, as Koji does
            shutil.move(fileinfo['hub.path'], os.path.join(dest, fileinfo['filename']))
