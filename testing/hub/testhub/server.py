"""HTTP side: the WSGI application and threaded HTTP/HTTPS servers.

Routes, as a Koji hub serves them:
  POST /kojihub            XML-RPC, or a raw upload when Content-Type is
                           application/octet-stream (the hub picks by Content-Type alone)
  POST /kojihub/ssllogin   the same; sslLogin reads the verified client certificate or,
                           with --krb-keytab, the Kerberos principal (negotiate.py)
  GET  /kojihub[...]       405 "Method Not Allowed" (kojixmlrpc.application)
A file `offline` in the state dir puts the hub in maintenance, checked on every
POST: like kojixmlrpc with `ServerOffline = On`, every call and upload is answered
with fault 1014 ServerOffline, "server is offline" or the file's text (Koji's
`OfflineMessage`). Removing the file brings the hub back.
  GET  /kojifiles/...      files of the state dir (the topurl)
TLS asks for a client certificate at the handshake but does not require one
(Apache `SSLVerifyClient optional`, no post-handshake auth: rustls clients
cannot do that); the verified subject goes into the environ like mod_ssl's
SSL_CLIENT_VERIFY / SSL_CLIENT_S_DN_CN.
"""
import json
import logging
import mimetypes
import os
import queue
import socketserver
import ssl
import threading
import urllib.parse
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from koji.server import BadRequest
from koji.xmlrpcplus import Fault, dumps

from . import rpc
from .state import hub

logger = logging.getLogger('testhub.server')

KOJI_VERSION = '1.35.3'  # what the recorded hub reports (testing/koji-captures)
GLOBAL_HEADERS = [('Koji-Version', KOJI_VERSION)]


def error_reply(start_response, status, text, extra_headers=None):
    body = text.encode()
    headers = GLOBAL_HEADERS + [('Content-Length', str(len(body))),
                                ('Content-Type', 'text/plain')]
    start_response(status, headers + (extra_headers or []))
    return [body]


OFFLINE_FILE = 'offline'


def offline_message():
    """The ServerOffline message while the `offline` switch file exists, else None."""
    try:
        with open(os.path.join(hub().topdir, OFFLINE_FILE)) as f:
            return f.read().strip() or 'server is offline'
    except FileNotFoundError:
        return None


def offline_reply(start_response, msg):
    """kojixmlrpc.offline_reply: a ServerOffline fault with HTTP 200."""
    body = dumps(Fault(1014, msg)).encode()  # koji.ServerOffline.faultCode
    start_response('200 OK', GLOBAL_HEADERS + [('Content-Length', str(len(body))),
                                                ('Content-Type', 'text/xml')])
    return [body]


def read_body(environ):
    """The request body by Content-Length, or de-chunked (wsgiref passes the raw socket)."""
    stream = environ['wsgi.input']
    if environ.get('HTTP_TRANSFER_ENCODING', '').lower() == 'chunked':
        parts = []
        while True:
            line = stream.readline()
            size = int(line.split(b';')[0].strip() or b'0', 16)
            if size == 0:
                while stream.readline() not in (b'\r\n', b'\n', b''):
                    pass
                break
            parts.append(stream.read(size))
            stream.readline()
        return b''.join(parts)
    length = int(environ.get('CONTENT_LENGTH') or 0)
    chunks = []
    while length > 0:
        chunk = stream.read(min(length, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        length -= len(chunk)
    return b''.join(chunks)


class Application:
    def __init__(self, registry, negotiate=None):
        self.registry = registry
        # a negotiate.Negotiate: Kerberos logins on /kojihub/ssllogin
        self.negotiate = negotiate

    def __call__(self, environ, start_response):
        path = environ.get('PATH_INFO', '')
        if path.startswith('/kojifiles'):
            return self.serve_file(environ, start_response, path[len('/kojifiles'):])
        if path == '/koji' or path.startswith('/koji/'):
            return self.web(environ, start_response, path[len('/koji'):])
        if not path.startswith('/kojihub'):
            return error_reply(start_response, '404 Not Found', 'Not Found\n')
        if environ['REQUEST_METHOD'] != 'POST':
            return error_reply(start_response, '405 Method Not Allowed',
                               "Method Not Allowed\n"
                               "This is an XML-RPC server. Only POST requests are accepted.\n",
                               [('Allow', 'POST')])
        body = read_body(environ)
        if self.negotiate is not None and path.rstrip('/') == '/kojihub/ssllogin':
            refused = self.negotiate.authenticate(environ)
            if refused is not None:
                return error_reply(start_response, refused[0], refused[2], refused[1])
        offline = offline_message()
        if offline is not None:
            return offline_reply(start_response, offline)
        upload = environ.get('CONTENT_TYPE') == 'application/octet-stream'
        try:
            response = rpc.handle_request(self.registry, hub().opts, environ, body, upload)
        except BadRequest as e:
            return error_reply(start_response, '400 Bad Request', str(e) + '\n')
        start_response('200 OK', GLOBAL_HEADERS + [('Content-Length', str(len(response))),
                                                    ('Content-Type', 'text/xml')])
        return [response]

    def web(self, environ, start_response, rel):
        """The WEBURL: just enough for the `Task info: <weburl>/taskinfo?taskID=N` links
        the CLI prints; the task as JSON."""
        query = urllib.parse.parse_qs(environ.get('QUERY_STRING', ''))
        if rel.strip('/') == 'taskinfo' and query.get('taskID', [''])[0].isdigit():
            from . import db
            from .tasks import Task
            with db.store().lock:
                info = Task(int(query['taskID'][0])).getInfo(strict=False, request=True)
            if info is None:
                return error_reply(start_response, '404 Not Found', 'No such task\n')
            body = json.dumps(info, indent=2, sort_keys=True).encode()
            start_response('200 OK', [('Content-Length', str(len(body))),
                                      ('Content-Type', 'application/json')])
            return [body]
        return error_reply(start_response, '200 OK', 'koji-osbuild test hub\n')

    def serve_file(self, environ, start_response, rel):
        if environ['REQUEST_METHOD'] not in ('GET', 'HEAD'):
            return error_reply(start_response, '405 Method Not Allowed', 'Method Not Allowed\n')
        root = hub().topdir
        path = os.path.normpath(os.path.join(root, urllib.parse.unquote(rel).lstrip('/')))
        if not (path == root or path.startswith(root + os.sep)) or \
                os.path.basename(path).startswith('.') or not os.path.isfile(path) or \
                path.endswith('.sqlite') or '.sqlite-' in path:
            return error_reply(start_response, '404 Not Found', 'Not Found\n')
        with open(path, 'rb') as f:
            data = f.read()
        ctype = mimetypes.guess_type(path)[0] or 'application/octet-stream'
        start_response('200 OK', [('Content-Length', str(len(data))), ('Content-Type', ctype)])
        return [data] if environ['REQUEST_METHOD'] == 'GET' else [b'']


class RequestHandler(WSGIRequestHandler):
    def get_environ(self):
        env = super().get_environ()
        conn = self.connection
        if isinstance(conn, ssl.SSLSocket):
            env['HTTPS'] = 'on'
            env['wsgi.url_scheme'] = 'https'
            cert = conn.getpeercert()
            if cert:
                # CERT_OPTIONAL: a presented certificate was verified against the CA
                env['SSL_CLIENT_VERIFY'] = 'SUCCESS'
                subject = [rdn for rdns in cert.get('subject', ()) for rdn in rdns]
                env['SSL_CLIENT_S_DN'] = ','.join('%s=%s' % kv for kv in subject)
                for k, v in subject:
                    if k == 'commonName':
                        env['SSL_CLIENT_S_DN_CN'] = v
            else:
                env['SSL_CLIENT_VERIFY'] = 'NONE'
        return env

    def log_message(self, format, *args):
        logger.info('%s %s', self.address_string(), format % args)


# Worker threads per listener. Every call runs under the store's one lock, so
# more threads add no parallelism, only GIL and lock contention: a thousand
# tasks polling at once made a thread per connection the hub's bottleneck.
WORKERS = 16


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    """Connections go to a fixed pool of worker threads through a queue (wsgiref
    speaks HTTP/1.0: one request per connection, so no worker idles on a client)."""
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default listen backlog of 5 drops SYNs when hundreds of
    # clients connect at once, and each dropped SYN costs its client a second
    request_queue_size = 1024
    ssl_context = None

    def server_activate(self):
        super().server_activate()
        self._queue = queue.Queue()
        for _ in range(WORKERS):
            threading.Thread(target=self._work, daemon=True).start()

    def process_request(self, request, client_address):
        self._queue.put((request, client_address))

    def _work(self):
        while True:
            request, client_address = self._queue.get()
            self.process_request_thread(request, client_address)

    def finish_request(self, request, client_address):
        # the TLS handshake runs here, in the worker thread, not in the accept loop
        if self.ssl_context is not None:
            try:
                request = self.ssl_context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as e:
                logger.info('TLS handshake with %s failed: %s', client_address, e)
                return
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        logger.exception('error serving %s', client_address)


def make_server(app, host, port, tls=None):
    """tls: (cert, key, ca) or None."""
    server = ThreadingWSGIServer((host, port), RequestHandler)
    server.set_app(app)
    if tls:
        cert, key, ca = tls
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        ctx.load_verify_locations(cafile=ca)
        ctx.verify_mode = ssl.CERT_OPTIONAL
        server.ssl_context = ctx
    return server
