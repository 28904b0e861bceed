"""HTTP Negotiate (SPNEGO) on /kojihub/ssllogin, as Apache's mod_auth_gssapi does it
in front of a real hub: a request without a token is answered 401 with
`WWW-Authenticate: Negotiate`; a token is accepted with server-side GSSAPI against
the service keytab, and the client's principal goes into REMOTE_USER, where
sslLogin reads it (kojihub/auth.py). The hub itself never sees the token.

As with "a verified client certificate OR a valid Kerberos user" on that location,
a client that presents a certificate is let through without negotiating.
"""
import base64
import logging

import gssapi

logger = logging.getLogger('testhub.negotiate')


class Negotiate:
    def __init__(self, keytab):
        # the acceptor takes any service principal in the keytab (HTTP/localhost@REALM)
        self.creds = gssapi.Credentials(usage='accept', store={'keytab': keytab})

    def authenticate(self, environ):
        """None when the request may go on (REMOTE_USER set, or a client certificate);
        else the (status, headers, text) to answer with."""
        if environ.get('SSL_CLIENT_VERIFY') == 'SUCCESS':
            return None
        header = environ.get('HTTP_AUTHORIZATION', '')
        scheme, _, token = header.partition(' ')
        if scheme.lower() != 'negotiate' or not token.strip():
            return ('401 Unauthorized', [('WWW-Authenticate', 'Negotiate')],
                    'Unauthorized\n')
        try:
            ctx = gssapi.SecurityContext(creds=self.creds, usage='accept')
            out = ctx.step(base64.b64decode(token.strip()))
            complete = ctx.complete
        except (gssapi.exceptions.GSSError, ValueError) as e:
            # mod_auth_gssapi logs why and answers 401 again; never the token
            logger.info('Negotiate refused: %s', str(e).replace('\n', ' '))
            return ('401 Unauthorized', [('WWW-Authenticate', 'Negotiate')],
                    'Unauthorized\n')
        if not complete:
            headers = [('WWW-Authenticate', 'Negotiate ' + base64.b64encode(out).decode())]
            return ('401 Unauthorized', headers, 'Unauthorized\n')
        environ['REMOTE_USER'] = str(ctx.initiator_name)
        environ['AUTH_TYPE'] = 'Negotiate'
        return None
