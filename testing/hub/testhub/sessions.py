"""Sessions, logins and permissions, following kojihub/auth.py.

Wire rules (kojixmlrpc and kojihub/auth.py; captures 10-14, 20-22):
session-id/key/callnum come from the Koji-Session-* headers or, as a
fallback, the query string; the callnum is only remembered after a call that
committed something; exclusive sessions lock a user (hosts need one for
every host.* call).
"""
import json
import random
import string
import time
import urllib.parse

import koji
from koji.context import context

from . import db
from .state import hub

# auth.RetryWhitelist: these may repeat the last committed callnum
RETRY_WHITELIST = {
    'host.taskWait', 'host.taskUnwait', 'host.taskSetWait', 'host.updateHost',
    'host.setBuildRootState', 'repoExpire', 'repoDelete', 'repoProblem',
}
AUTH_METHODS = ('login', 'sslLogin')


class Session:
    """The caller's session, looked up once per request (auth.Session.__init__)."""

    def __init__(self, environ):
        self.logged_in = False
        self.id = None
        self.key = None
        self.master = None
        self.user_id = None
        self.authtype = None
        self.exclusive = False
        self.lockerror = None
        self.callnum = None
        self.user_data = {}
        self.session_data = {}
        self._perms = None
        self._host_id = ''
        callnum = None
        args = environ.get('QUERY_STRING', '')
        if 'HTTP_KOJI_SESSION_ID' in environ:
            self.id = int(environ['HTTP_KOJI_SESSION_ID'])
            self.key = environ.get('HTTP_KOJI_SESSION_KEY')
            callnum = environ.get('HTTP_KOJI_SESSION_CALLNUM', environ.get('HTTP_KOJI_CALLNUM'))
        else:
            # the old query-string form still works (DisableURLSessions is off)
            if not args:
                return
            qs = urllib.parse.parse_qs(args, strict_parsing=True)
            if 'session-id' not in qs and 'filename' in qs:
                # an anonymous upload: handle_upload reports "must be logged-in"
                return
            try:
                self.id = int(qs['session-id'][0])
                self.key = qs['session-key'][0]
            except KeyError as field:
                raise koji.AuthError('%s not specified in session args' % field)
            callnum = qs.get('callnum', [None])[0]

        sdata = db.row('SELECT * FROM sessions WHERE id = ? AND key = ? AND closed = 0',
                       self.id, self.key)
        if not sdata:
            raise koji.AuthError('Invalid session or bad credentials')
        if not sdata['expired'] and renewal_due(sdata):
            # auth.Session: past SessionRenewalTimeout the session (and its
            # subsessions, which time out alike) is expired, to be renewed by a login
            db.write_quiet('UPDATE sessions SET expired = 1 WHERE id = ?', self.id)
            sdata = dict(sdata, expired=1)
        if sdata['expired'] and context.method not in AUTH_METHODS:
            raise koji.AuthExpired('session "%s" has expired' % self.id)

        if callnum is not None:
            try:
                callnum = int(callnum)
            except (ValueError, TypeError):
                raise koji.AuthError("Invalid callnum: %r" % callnum)
            lastcall = sdata['callnum']
            if lastcall is not None:
                if lastcall > callnum:
                    raise koji.SequenceError("%s > %s (session %s)" % (lastcall, callnum, self.id))
                elif lastcall == callnum and context.method not in RETRY_WHITELIST:
                    raise koji.RetryError("unable to retry call %s (method %s) for session %s"
                                          % (callnum, context.method, self.id))
        if sdata['expired']:
            # auth.Session: an expired session is not logged in; it may only log in
            # again with renew=True, which renews it in place (same id, new key)
            return

        user = db.row('SELECT name, status, usertype FROM users WHERE id = ?', sdata['user_id'])
        if user['status'] != koji.USER_STATUS['NORMAL']:
            raise koji.AuthError('logins by %s are not allowed' % user['name'])
        if sdata['exclusive']:
            self.exclusive = True
        else:
            excl_id = db.value('SELECT id FROM sessions WHERE user_id = ? AND exclusive = 1 '
                               'AND closed = 0', sdata['user_id'])
            if excl_id:
                if excl_id == sdata['master']:
                    # a subsession of the exclusive session counts as exclusive
                    self.exclusive = True
                else:
                    # enforced by the dispatcher, so that exclusiveSession(force) can steal it
                    self.lockerror = "User locked by another session"
        db.write_quiet('UPDATE sessions SET update_time = ? WHERE id = ?', time.time(), self.id)
        self.callnum = callnum
        self.user_id = sdata['user_id']
        self.authtype = sdata['authtype']
        self.master = sdata['master']
        self.session_data = sdata
        self.user_data = user
        self.logged_in = True

    def remember_callnum(self):
        """Called after a committing call (the request's last step before COMMIT)."""
        if self.logged_in and self.callnum is not None:
            db.write_quiet('UPDATE sessions SET callnum = ? WHERE id = ?', self.callnum, self.id)

    def validate(self):
        if self.lockerror:
            raise koji.AuthLockError(self.lockerror)
        return True

    # --- permissions -----------------------------------------------------------
    @property
    def perms(self):
        if self._perms is None:
            self._perms = {r['perm']: 1 for r in
                           db.rows('SELECT perm FROM user_perms WHERE user_id = ?', self.user_id)}
        return self._perms

    def getPerms(self):
        if not self.logged_in:
            return []
        return list(self.perms.keys())

    def hasPerm(self, name):
        if not self.logged_in:
            return False
        return name in self.perms

    def assertPerm(self, name):
        if not self.hasPerm(name) and not self.hasPerm('admin'):
            msg = "%s permission required" % name
            if self.logged_in:
                msg += ' (logged in as %s)' % self.user_data['name']
            else:
                msg += ' (user not logged in)'
            raise koji.ActionNotAllowed(msg)

    def assertLogin(self):
        if not self.logged_in:
            raise koji.ActionNotAllowed("you must be logged in for this operation")

    def isUser(self, user_id):
        return self.logged_in and self.user_id == user_id

    def assertUser(self, user_id):
        if not self.isUser(user_id) and not self.hasPerm('admin'):
            raise koji.ActionNotAllowed("not owner")

    @property
    def host_id(self):
        if self._host_id == '':
            self._host_id = None
            if self.user_id is not None:
                self._host_id = db.value('SELECT id FROM hosts WHERE user_id = ?', self.user_id)
        return self._host_id

    def getHostId(self):
        return self.host_id

    # --- session lifecycle -----------------------------------------------------
    def _check_login_allowed(self, user_id):
        u = db.row('SELECT name, status FROM users WHERE id = ?', user_id)
        if not u:
            raise koji.AuthError('invalid user_id: %s' % user_id)
        if u['status'] != koji.USER_STATUS['NORMAL']:
            raise koji.AuthError('logins by %s are not allowed' % u['name'])

    def login(self, user, password, opts=None, renew=False, exclusive=False):
        if not isinstance(password, str) or len(password) == 0:
            raise koji.AuthError('invalid username or password')
        if self.logged_in:
            raise koji.AuthError("Already logged in")
        user_id = db.value('SELECT id FROM users WHERE name = ? AND password = ?', user, password)
        if not user_id:
            raise koji.AuthError('invalid username or password')
        self._check_login_allowed(user_id)
        sinfo = self.createSession(user_id, koji.AUTHTYPES['NORMAL'], renew=renew)
        if exclusive:
            self._make_exclusive(sinfo['session-id'], user_id)
        return sinfo

    def sslLogin(self, proxyuser=None, proxyauthtype=None, renew=False, exclusive=None):
        if self.logged_in:
            raise koji.AuthError("Already logged in")
        environ = context.environ
        if environ.get('REMOTE_USER'):
            # a Kerberos principal (set by the Negotiate front, negotiate.py)
            username = environ['REMOTE_USER']
            client_dn = username
            authtype = koji.AUTHTYPES['GSSAPI']
        else:
            if environ.get('SSL_CLIENT_VERIFY') != 'SUCCESS':
                raise koji.AuthError('could not verify client: %s' % environ.get('SSL_CLIENT_VERIFY'))
            # DNUsernameComponent = CN
            username = environ.get('SSL_CLIENT_S_DN_CN')
            if not username:
                raise koji.AuthError(
                    'unable to get user information (CN) from client certificate')
            authtype = koji.AUTHTYPES['SSL']
            client_dn = environ.get('SSL_CLIENT_S_DN', username)
        if proxyuser:
            # ProxyPrincipals (comma separated) for Kerberos; ProxyDNs is not kept here
            allowed = []
            if authtype == koji.AUTHTYPES['GSSAPI']:
                opt = hub().opts.get('ProxyPrincipals') or ''
                allowed = [p.strip() for p in opt.split(',')]
            if client_dn not in allowed:
                raise koji.AuthError('%s is not authorized to login other users' % client_dn)
            username = proxyuser
        if authtype == koji.AUTHTYPES['GSSAPI'] and '@' in username:
            user_id = user_id_from_kerberos(username)
        else:
            user_id = db.value('SELECT id FROM users WHERE name = ?', username)
        if not user_id:
            raise koji.AuthError('Unknown user: %s' % username)
        self._check_login_allowed(user_id)
        sinfo = self.createSession(user_id, authtype, renew=renew)
        if exclusive:
            self._make_exclusive(sinfo['session-id'], user_id)
        return sinfo

    def createSession(self, user_id, authtype, master=None, renew=False):
        alnum = string.ascii_letters + string.digits
        key = "%s-%s" % (user_id, ''.join(random.choice(alnum) for _ in range(1, 20)))
        now = time.time()
        if renew and self.id is not None:
            # auth.createSession(renew=True): the caller's (expired) session gets a new
            # key and is valid again, keeping its id, master and exclusive lock
            db.write('UPDATE sessions SET key = ?, expired = 0, renew_time = ?, update_time = ? '
                     'WHERE id = ?', key, now, now, self.id)
            return {'session-id': self.id, 'session-key': key, 'header-auth': True}
        sid = db.write('INSERT INTO sessions (user_id, key, authtype, master, start_time, '
                       'update_time) VALUES (?, ?, ?, ?, ?, ?)',
                       user_id, key, authtype, master, now, now)
        # header-auth tells 1.30+ clients to send the Koji-Session-* headers
        return {'session-id': sid, 'session-key': key, 'header-auth': True}

    def subsession(self):
        if not self.logged_in:
            raise koji.AuthError("Not logged in")
        master = self.master if self.master is not None else self.id
        return self.createSession(self.user_id, self.authtype, master=master)

    def makeExclusive(self, force=False):
        if self.master is not None:
            raise koji.GenericError("subsessions cannot become exclusive")
        if self.exclusive:
            raise koji.GenericError("session is already exclusive")
        if not self.logged_in:
            raise koji.AuthError("Not logged in")
        self._make_exclusive(self.id, self.user_id, force)

    def _make_exclusive(self, session_id, user_id, force=False):
        # a renewed session that already holds the lock keeps it
        excl_id = db.value('SELECT id FROM sessions WHERE user_id = ? AND closed = 0 '
                           'AND exclusive = 1 AND id != ?', user_id, session_id)
        if excl_id:
            if force:
                # the previous holder loses its session (kojihub/auth.py's makeExclusive)
                db.write('UPDATE sessions SET expired = 1, exclusive = NULL, closed = 1 '
                         'WHERE id = ?', excl_id)
            else:
                raise koji.AuthLockError("Cannot get exclusive session")
        db.write('UPDATE sessions SET exclusive = 1 WHERE id = ?', session_id)
        self.exclusive = True

    def makeShared(self):
        db.write('UPDATE sessions SET exclusive = NULL WHERE id = ?', self.id)
        self.exclusive = False

    def logout(self, session_id=None):
        if not self.logged_in:
            raise koji.AuthError("Not logged in")
        if session_id:
            if not self.hasPerm('admin'):
                if not db.value('SELECT id FROM sessions WHERE user_id = ? AND id = ?',
                                self.user_id, session_id):
                    raise koji.ActionNotAllowed('only admins or owner may logout other session')
            ses_id = session_id
        else:
            ses_id = self.id
        db.write('UPDATE sessions SET expired = 1, exclusive = NULL, closed = 1 '
                 'WHERE id = ? OR master = ?', ses_id, ses_id)
        if not session_id:
            self.logged_in = False

    def logoutChild(self, session_id):
        if not self.logged_in:
            raise koji.AuthError("Not logged in")
        db.write('UPDATE sessions SET expired = 1, exclusive = NULL, closed = 1 '
                 'WHERE id = ? AND master = ?', session_id, self.id)


def renewal_due(sdata):
    """auth.Session: SessionRenewalTimeout (minutes) past the last (re)login."""
    timeout = hub().opts.get('SessionRenewalTimeout') or 0
    since = sdata['renew_time'] or sdata['start_time']
    return timeout > 0 and time.time() > since + timeout * 60


def check_krb_principal(principal):
    """auth.checkKrbPrincipal: AllowedKrbRealms ('*' or a comma separated list)."""
    allowed = hub().opts.get('AllowedKrbRealms') or '*'
    if allowed == '*':
        return
    at = principal.find('@')
    if at == -1 or at == len(principal) - 1:
        raise koji.AuthError('invalid Kerberos principal: %s' % principal)
    realm = principal[at + 1:]
    if realm not in [r.strip() for r in allowed.split(',')]:
        raise koji.AuthError("Kerberos principal's realm: %s is not allowed" % realm)


def user_id_from_kerberos(principal):
    """auth.getUserIdFromKerberos: the user whose krb_principals hold the principal."""
    check_krb_principal(principal)
    for r in db.rows('SELECT id, krb_principals FROM users'):
        if principal in json.loads(r['krb_principals']):
            return r['id']
    return None


def session_info(sid):
    """getSessionInfo() of the current session (kojihub/auth.py)."""
    s = db.row('SELECT * FROM sessions WHERE id = ?', sid)
    return {
        'authtype': s['authtype'], 'callnum': s['callnum'], 'exclusive': db.opt_bool(s['exclusive']),
        'expired': bool(s['expired']), 'master': s['master'],
        'renew_time': db.ts_str(s['renew_time']), 'renew_ts': s['renew_time'],
        'start_time': db.ts_str(s['start_time']), 'start_ts': s['start_time'],
        'update_time': db.ts_str(s['update_time']), 'update_ts': s['update_time'],
        'user_id': s['user_id'],
    }


# --- exported calls (registered by rpc.py under their Koji names) -------------

def login(*args, **opts):
    return context.session.login(*args, **opts)


def sslLogin(*args, **opts):
    return context.session.sslLogin(*args, **opts)


def logout(session_id=None):
    return context.session.logout(session_id)


def subsession():
    return context.session.subsession()


def logoutChild(session_id):
    return context.session.logoutChild(session_id)


def exclusiveSession(*args, **opts):
    return context.session.makeExclusive(*args, **opts)


def sharedSession():
    return context.session.makeShared()
