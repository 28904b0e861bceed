"""XML-RPC dispatch the way kojixmlrpc does it.

- bodies are parsed with koji.xmlrpcplus.getparser; an empty or broken body is
  a 400 "Invalid request: ..." (kojixmlrpc)
- keyword arguments arrive as a trailing {__starstar: true} struct (koji.decode_args)
- arity errors become ParameterError 1019 (koji.util.call_with_argcheck)
- Koji errors keep their faultCode and message; any other exception is
  faultCode 1 with "<class 'X'>: msg" (kojixmlrpc._log_exception, KojiDebug off)
- multiCall answers [result] or {faultCode, faultString[, traceback]} per call,
  each call in its own savepoint (capture 19)
- a fault rolls the request back; a success commits, and the session's callnum
  is remembered only when the call wrote something
"""
import inspect
import logging
import sys
import traceback

import koji
import koji.util
from koji.context import context
from koji.server import BadRequest
from koji.xmlrpcplus import Fault, dumps, getparser

from . import db
from .sessions import Session

logger = logging.getLogger('testhub.rpc')

# Calls served, by user id (None: not logged in), for benchmarks (testhub.callStats):
# 'requests' counts HTTP POSTs by their method (a multiCall is one, a raw upload is
# 'rawUpload'), 'calls' every call run, each call of a multiCall on its own.
# Updated under the store lock, like everything else a request does.
CALL_COUNTS = {}


def _count(kind, method):
    session = getattr(context, 'session', None)
    user = session.user_id if session is not None and session.logged_in else None
    per_kind = CALL_COUNTS.setdefault(user, {'requests': {}, 'calls': {}})[kind]
    per_kind[method] = per_kind.get(method, 0) + 1


class Registry:
    """kojixmlrpc.HandlerRegistry, reduced."""

    def __init__(self):
        self.funcs = {}
        self.register_function(self.list_api, name='_listapi')
        self.register_function(self.system_listMethods, name='system.listMethods')
        self.register_function(self.system_methodSignature, name='system.methodSignature')
        self.register_function(self.system_methodHelp, name='system.methodHelp')

    def register_function(self, function, name=None):
        self.funcs[name or function.__name__] = function

    def register_functions(self, mapping, prefix=None):
        for name, function in mapping.items():
            self.register_function(function, '%s.%s' % (prefix, name) if prefix else name)

    def register_plugin(self, plugin):
        """Scan a plugin module for @koji.plugin.export functions (kojixmlrpc.register_plugin)."""
        for v in vars(plugin).values():
            if isinstance(v, type) or not callable(v):
                continue
            if getattr(v, 'exported', False):
                self.register_function(v, name=getattr(v, 'export_alias', v.__name__))
            for cbtype in getattr(v, 'callbacks', None) or []:
                koji.plugin.register_callback(cbtype, v)

    def get(self, name):
        func = self.funcs.get(name)
        if func is None:
            raise koji.GenericError("Invalid method: %s" % name)
        return func

    def list_api(self):
        funcs = []
        for name, func in self.funcs.items():
            sig = inspect.signature(func)
            args = [[p, v.default] if v.default is not v.empty else p
                    for p, v in sig.parameters.items()]
            funcs.append({'name': name, 'doc': func.__doc__,
                          'argdesc': '(%s)' % ', '.join(str(x) for x in sig.parameters.values()),
                          'args': args})
        return funcs

    def system_listMethods(self):
        return list(self.funcs.keys())

    def system_methodSignature(self, method):
        return 'signatures not supported'

    def system_methodHelp(self, method):
        func = self.funcs.get(method)
        if func is None:
            return ""
        ret = '%s(%s)' % (method, ', '.join(str(x) for x in
                                            inspect.signature(func).parameters.values()))
        if func.__doc__:
            ret += '\ndescription: %s' % func.__doc__
        return ret


class RequestHandler:
    """One request: kojixmlrpc.ModXMLRPCRequestHandler."""

    def __init__(self, registry):
        self.registry = registry
        self.traceback = False
        self.method = None  # the request's own method, for the call counter

    def _get_handler(self, name):
        if name in ('multiCall', 'system.multicall'):
            return self.multiCall
        return self.registry.get(name)

    @staticmethod
    def read_request(body):
        parser, unmarshaller = getparser()
        if not body:
            raise BadRequest('Empty request')
        parser.feed(body)
        parser.close()
        return unmarshaller.close(), unmarshaller.getmethodname()

    def wrap(self, handler, *args):
        """Run a handler; return the marshalled methodResponse (a fault on error)."""
        try:
            response = handler(*args)
            return dumps((response,), methodresponse=1)
        except BadRequest:
            raise
        except Fault as fault:
            self.traceback = True
            return dumps(fault)
        except Exception:
            self.traceback = True
            code, text = fault_of_current_exception()
            return dumps(Fault(code, text))

    def handle_rpc(self, environ, body):
        try:
            params, method = self.read_request(body)
        except Exception as e:
            raise BadRequest('Invalid request: %s' % e)
        self.method = method
        return self._dispatch(method, params)

    def handle_upload(self, environ, body):
        from .uploads import handle_upload
        context.method = None
        self.method = 'rawUpload'
        try:
            self.check_session()
        finally:
            _count('calls', 'rawUpload')
        return handle_upload(environ, body)

    def check_session(self):
        if not hasattr(context, 'session'):
            context.session = Session(context.environ)
            try:
                context.session.validate()
            except koji.AuthLockError:
                # exclusiveSession(force) must be able to steal the lock
                if context.method not in ('exclusiveSession', 'login', 'logout'):
                    raise

    def _dispatch(self, method, params):
        func = self._get_handler(method)
        context.method = method
        context.params = params
        try:
            self.check_session()
        finally:
            if method not in ('multiCall', 'system.multicall'):
                _count('calls', method)
        args, opts = koji.decode_args(*params)
        logger.info('call %s session=%s callnum=%s', method, context.session.id,
                    context.session.callnum)
        return koji.util.call_with_argcheck(func, args, opts)

    def multiCall(self, calls):
        results = []
        st = db.store()
        for n, call in enumerate(calls):
            sp = 'mc%d_%d' % (id(self) % 100000, n)
            st.savepoint(sp)
            try:
                result = self._dispatch(call['methodName'], call['params'])
            except Fault as fault:
                st.rollback_to(sp)
                results.append({'faultCode': fault.faultCode, 'faultString': fault.faultString})
            except Exception:
                st.rollback_to(sp)
                exc_type, exc_value = sys.exc_info()[:2]
                results.append({
                    'faultCode': getattr(exc_type, 'faultCode', 1),
                    'faultString': ', '.join(str(a) for a in exc_value.args),
                    # not part of the multicall spec; Koji adds it (capture 19)
                    'traceback': traceback.format_exception(*sys.exc_info()),
                })
            else:
                st.release(sp)
                results.append([result])
            if hasattr(context, 'event_id'):
                del context.event_id
        return results


def fault_of_current_exception():
    e_class, e = sys.exc_info()[:2]
    code = getattr(e_class, 'faultCode', 1)
    logger.warning(''.join(traceback.format_exception(*sys.exc_info())))
    if issubclass(e_class, koji.GenericError):
        return code, str(e)
    return code, "%s: %s" % (e_class, e)


def handle_request(registry, hub_opts, environ, body, upload):
    """Run one POST under the store lock and in one transaction; returns response bytes.
    Raises BadRequest for a 400."""
    st = db.store()
    with st.lock:
        context._threadclear()
        context.commit_pending = False
        context.opts = hub_opts
        context.environ = environ
        context.handlers = registry
        h = RequestHandler(registry)
        st.cnx.execute('BEGIN IMMEDIATE')
        try:
            if upload:
                response = h.wrap(h.handle_upload, environ, body)
            else:
                response = h.wrap(h.handle_rpc, environ, body)
        except BaseException:
            st.cnx.execute('ROLLBACK')
            context._threadclear()
            raise
        if h.method is not None:
            _count('requests', h.method)
        if h.traceback:
            st.cnx.execute('ROLLBACK')
        else:
            if context.commit_pending and hasattr(context, 'session'):
                context.session.remember_callnum()
            st.cnx.execute('COMMIT')
        context._threadclear()
        return response.encode()
