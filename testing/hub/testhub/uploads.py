"""Uploads and task output (kojihub.handle_upload, get_upload_path, checkUpload,
uploadFile, list_task_output, downloadTaskOutput), captures 30-33.

Files land in <state-dir>/work/<filepath>/<filename>. `tasks/<a>/<b>/...` may
only be written by the host whose exclusive session has task <b> OPEN; any
other directory belongs to the first user who wrote there (a `.user` file).
"""
import base64
import hashlib
import os
import stat
import urllib.parse

import koji
import koji.util
from koji.context import context

from .convert import convert_value
from .state import hub
from .tasks import Task


def get_verify_class(verify):
    if verify == 'md5':
        return hashlib.md5
    elif verify == 'adler32':
        return koji.util.adler32_constructor
    elif verify == 'sha256':
        return hashlib.sha256
    elif verify:
        raise koji.GenericError("Unsupported verify type: %s" % verify)
    return None


def get_upload_path(reldir, name, create=False, volume=None):
    orig_reldir, orig_name = reldir, name
    d, name = os.path.split(name)
    if d or name.startswith('.'):
        raise koji.GenericError("Invalid upload filename: %s" % orig_name)
    reldir = os.path.normpath(reldir)
    if not reldir or reldir.startswith('..') or reldir.startswith('/'):
        raise koji.GenericError("Invalid upload directory: %s" % orig_reldir)
    if volume not in (None, 'DEFAULT'):
        raise koji.GenericError('No such entry in table volume: %s' % volume)
    parts = reldir.split('/')
    check_user = True
    if create and parts[0] == "tasks":
        if len(parts) < 3:
            raise koji.GenericError("Invalid task upload directory: %s" % orig_reldir)
        try:
            task_id = int(parts[2])
        except ValueError:
            raise koji.GenericError("Invalid task upload directory: %s" % orig_reldir)
        # only the host running this task may write here
        from .host import Host
        host = Host()
        host.verify()
        Task(task_id).assertHost(host.id)
        check_user = False
    udir = os.path.join(hub().workdir, reldir)
    if create:
        os.makedirs(udir, exist_ok=True)
        if check_user:
            u_fn = os.path.join(udir, '.user')
            if os.path.exists(u_fn):
                with open(u_fn, 'rt') as f:
                    user_id = int(f.read())
                if context.session.user_id != user_id:
                    raise koji.GenericError("Invalid upload directory, not owner: %s"
                                            % orig_reldir)
            else:
                with open(u_fn, 'wt') as f:
                    f.write(str(context.session.user_id))
    return os.path.join(udir, name)


def handle_upload(environ, body):
    """The fast upload POST: query parameters, raw body (capture 30)."""
    if not context.session.logged_in:
        raise koji.ActionNotAllowed('you must be logged-in to upload a file')
    args = urllib.parse.parse_qs(environ.get('QUERY_STRING', ''), strict_parsing=True)
    name = args['filename'][0]
    path = args.get('filepath', ('',))[0]
    verify = args.get('fileverify', ('',))[0]
    overwrite = args.get('overwrite', ('',))[0]
    offset = int(args.get('offset', ('0',))[0])
    volume = args.get('volume', ('DEFAULT',))[0]
    fn = get_upload_path(path, name, create=True, volume=volume)
    try:
        st = os.lstat(fn)
    except FileNotFoundError:
        st = None
    if st:
        if stat.S_ISLNK(st.st_mode):
            raise koji.GenericError("destination is a symlink: %s" % fn)
        if not stat.S_ISREG(st.st_mode):
            raise koji.GenericError("destination not a file: %s" % fn)
        if offset == 0 and not overwrite:
            raise koji.GenericError("upload path exists: %s" % fn)
    cls = get_verify_class(verify)
    chksum = cls() if cls else None
    fd = os.open(fn, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        if offset == -1:
            offset = os.lseek(fd, 0, 2)
        elif overwrite:
            # a rewritten file (compose-status.json after every poll) is cut at the offset
            os.ftruncate(fd, offset)
            os.lseek(fd, offset, 0)
        else:
            os.lseek(fd, offset, 0)
        os.write(fd, body)
        if chksum:
            chksum.update(body)
        if not overwrite:
            flen = os.lseek(fd, 0, 2)
            expected = offset + len(body)
            if flen != expected:
                raise koji.GenericError(f"Incorrect upload length for {fn} - "
                                        f"Expected {expected}, actual {flen}")
    finally:
        os.close(fd)
    ret = {'size': len(body), 'fileverify': verify, 'offset': offset}
    if chksum:
        ret['hexdigest'] = chksum.hexdigest()
    return ret


def checkUpload(path, name, verify=None, tail=None, volume=None):
    """{size, mtime} (+ sumlength, hexdigest with verify), nil when missing (capture 31)."""
    fn = get_upload_path(path, name, volume=volume)
    try:
        fd = os.open(fn, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise koji.GenericError("Not a regular file: %s" % fn)
        data = {'size': st.st_size, 'mtime': st.st_mtime}
        if verify:
            chksum = get_verify_class(verify)()
            if tail is not None:
                if tail < 0:
                    raise koji.GenericError("Invalid tail value: %r" % tail)
                os.lseek(fd, max(st.st_size - tail, 0), 0)
            length = 0
            chunk = os.read(fd, 65536)
            while chunk:
                length += len(chunk)
                chksum.update(chunk)
                chunk = os.read(fd, 65536)
            data['sumlength'] = length
            data['hexdigest'] = chksum.hexdigest()
        return data
    finally:
        os.close(fd)


def uploadFile(path, name, size, md5sum, offset, data, volume=None, checksum=None):
    """The legacy XML-RPC upload: False (not a fault) when size or digest mismatch."""
    context.session.assertLogin()
    contents = base64.b64decode(data)
    offset = koji.decode_int(offset)
    size = koji.decode_int(size)
    if checksum is None and md5sum is not None:
        checksum = md5sum
    if isinstance(checksum, str):
        verify, digest = 'md5', checksum
    elif checksum is None:
        verify, digest = None, None
    else:
        verify, digest = checksum
    sum_cls = get_verify_class(verify)
    if offset != -1:
        if size is not None and size != len(contents):
            return False
        if verify is not None and digest != sum_cls(contents).hexdigest():
            return False
    fn = get_upload_path(path, name, create=True, volume=volume)
    if os.path.lexists(fn):
        if not os.path.isfile(fn) or os.path.islink(fn):
            raise koji.GenericError("destination not a file: %s" % fn)
        if offset == 0 and not fn.endswith('.log'):
            raise koji.GenericError("file already exists: %s" % fn)
    fd = os.open(fn, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        if offset == 0 or (offset == -1 and size == len(contents)):
            os.ftruncate(fd, 0)
        os.lseek(fd, 0 if offset == -1 else offset, 2 if offset == -1 else 0)
        os.write(fd, contents)
        if offset == -1:
            if size is not None:
                os.ftruncate(fd, size)
            if verify is not None:
                chksum = sum_cls()
                os.lseek(fd, 0, 0)
                while True:
                    block = os.read(fd, 819200)
                    if not block:
                        break
                    chksum.update(block)
                if digest != chksum.hexdigest():
                    return False
    finally:
        os.close(fd)
    return True


def task_dir(task_id):
    return os.path.join(hub().workdir, koji.pathinfo.taskrelpath(task_id))


def listTaskOutput(taskID, stat=False, all_volumes=False, strict=False):
    """Names, or {name: {st_size: "77" (a string!), st_mtime, st_atime, st_ctime}} (capture 32)."""
    if strict and not Task(taskID).getInfo(strict=False):
        raise koji.GenericError("Task doesn't exist")
    result = {} if (stat or all_volumes) else []
    tdir = task_dir(taskID)
    if not os.path.isdir(tdir):
        return result
    for path, dirs, files in os.walk(tdir):
        for filename in sorted(files):
            relfilename = os.path.join(path[len(tdir) + 1:], filename)
            if stat:
                st = os.stat(os.path.join(path, filename))
                stat_map = {'st_size': str(st.st_size), 'st_atime': st.st_atime,
                            'st_mtime': st.st_mtime, 'st_ctime': st.st_ctime}
                result[relfilename] = {'DEFAULT': stat_map} if all_volumes else stat_map
            elif all_volumes:
                result[relfilename] = ['DEFAULT']
            else:
                result.append(relfilename)
    return result


def downloadTaskOutput(taskID, fileName, offset=0, size=-1, volume=None):
    """base64 text of (part of) a task output file (capture 33)."""
    size = convert_value(size, cast=int)
    if '..' in fileName:
        raise koji.GenericError('Invalid file name: %s' % fileName)
    path = os.path.normpath(os.path.join(task_dir(taskID), fileName))
    if not os.path.isfile(path):
        raise koji.GenericError('no file "%s" output by task %i' % (fileName, taskID))
    with open(path, 'rb') as f:
        if isinstance(offset, str):
            offset = int(offset)
        if offset is not None and offset > 0:
            f.seek(offset, 0)
        elif offset is not None and offset < 0:
            f.seek(offset, 2)
        contents = f.read(size)
    return base64.b64encode(contents).decode()
