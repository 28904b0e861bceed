"""Adding and editing builder hosts: `koji add-host`, `add-host-to-channel`,
`edit-host` (kojihub addHost, add_host_to_channel, edit_host).

What a second builder host needs before it can log in and take tasks; the
host logs in with a client certificate whose CN is its name (or Kerberos),
as on a real hub: addHost sets no password.
"""
import json

import koji
from koji.context import context

from . import catalog, db
from .convert import convert_value
from .state import hub


def addHost(hostname, arches, krb_principal=None, force=False):
    """A HOST user (or a NORMAL one turned into it with force), the host with
    capacity 2.0 (Koji's schema default) and the `default` channel; its id."""
    context.session.assertPerm('host')
    hostname = convert_value(hostname, cast=str)
    if not hostname.strip():
        raise koji.GenericError('Name should be non-empty string')
    arches = koji.parse_arches(' '.join(arches), strict=True)
    if catalog.get_host(hostname):
        raise koji.GenericError('host already exists: %s' % hostname)
    user = db.row('SELECT * FROM users WHERE name = ?', hostname)
    if user:
        if user['usertype'] != koji.USERTYPES['HOST']:
            if not (force and user['usertype'] == koji.USERTYPES['NORMAL']):
                raise koji.GenericError(
                    'user %s already exists and it is not a host' % hostname)
            db.write('UPDATE users SET usertype = ? WHERE id = ?', koji.USERTYPES['HOST'],
                     user['id'])
        user_id = user['id']
    else:
        if krb_principal is None and hub().opts.get('HostPrincipalFormat'):
            # kojihub: a host's principal defaults to HostPrincipalFormat % name
            krb_principal = hub().opts['HostPrincipalFormat'] % hostname
        principals = [convert_value(krb_principal, cast=str)] if krb_principal else []
        user_id = db.write('INSERT INTO users (name, usertype, status, krb_principals) '
                           'VALUES (?, ?, ?, ?)', hostname, koji.USERTYPES['HOST'],
                           koji.USER_STATUS['NORMAL'], json.dumps(principals))
    host_id = db.write('INSERT INTO hosts (user_id, name, arches) VALUES (?, ?, ?)',
                       user_id, hostname, arches)
    default = catalog.getChannel('default', strict=True)['id']
    db.write('INSERT INTO host_channels (host_id, channel_id) VALUES (?, ?)', host_id, default)
    return host_id


def addHostToChannel(hostname, channel_name, create=False, force=False):
    context.session.assertPerm('host')
    host = catalog.get_host(hostname)
    if host is None:
        raise koji.GenericError('host does not exist: %s' % hostname)
    channel = catalog.getChannel(channel_name)
    if channel is None and create:
        db.write('INSERT INTO channels (name) VALUES (?)', channel_name)
        channel = catalog.getChannel(channel_name, strict=True)
    if channel is None:
        raise koji.GenericError('channel does not exist: %s' % channel_name)
    if not force and not channel['enabled']:
        raise koji.GenericError('channel %s is disabled' % channel_name)
    if db.value('SELECT 1 FROM host_channels WHERE host_id = ? AND channel_id = ?',
                host['id'], channel['id']):
        raise koji.GenericError('host %s is already subscribed to the %s channel'
                                % (hostname, channel_name))
    db.write('INSERT INTO host_channels (host_id, channel_id) VALUES (?, ?)',
             host['id'], channel['id'])


def editHost(hostInfo, **kw):
    """arches, capacity, description, comment; True if anything changed."""
    context.session.assertPerm('host')
    host = catalog.get_host(hostInfo, strict=True)
    changes = {f: kw[f] for f in ('arches', 'capacity', 'description', 'comment')
               if f in kw and kw[f] != host[f]}
    if not changes:
        return False
    for field in ('arches', 'description', 'comment'):
        if field in changes:
            convert_value(changes[field], cast=str, check_only=True)
    if 'capacity' in changes:
        changes['capacity'] = convert_value(changes['capacity'], cast=float)
    sets = ', '.join('%s = ?' % f for f in changes)
    db.write('UPDATE hosts SET %s WHERE id = ?' % sets, *changes.values(), host['id'])
    return True


CALLS = {'addHost': addHost, 'addHostToChannel': addHostToChannel, 'editHost': editHost}
