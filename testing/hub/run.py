#!/usr/bin/env python3
"""Start the koji-osbuild test hub.

    python testing/hub/run.py --seed testing/hub/seed.json --state-dir DIR [--port 0]
        [--https-port 0 --tls-cert F --tls-key F --tls-ca F]
        [--plugin-path DIR] [--plugins osbuild] [--run-interval 0] [--log-file F]
        [--krb-keytab F] [--option HostTimeout=15 ...]

Prints HUB_URL=, HUB_HTTPS_URL= (with TLS), TOPURL=, WEBURL= and READY on stdout,
then serves until SIGTERM/SIGINT and exits 0. The state (SQLite + files) in
--state-dir survives restarts; the seed is applied only to a new state dir.
"""
import argparse
import logging
import os
import signal
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
# the `kojihub` shim and the `testhub` package live beside this file
sys.path.insert(0, HERE)

import koji.plugin  # noqa: E402

from testhub import api, db, seed, server, state  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(HERE))


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--seed', default=os.path.join(HERE, 'seed.json'))
    p.add_argument('--state-dir', required=True)
    p.add_argument('--host', default='127.0.0.1')
    p.add_argument('--port', type=int, default=0)
    p.add_argument('--https-port', type=int)
    p.add_argument('--tls-cert')
    p.add_argument('--tls-key')
    p.add_argument('--tls-ca')
    p.add_argument('--plugin-path', default=os.path.join(REPO_ROOT, 'plugins', 'hub'))
    p.add_argument('--plugins', default='osbuild',
                   help='space or comma separated plugin names ("" for none)')
    p.add_argument('--run-interval', type=float, default=0.0,
                   help='scheduler RunInterval in seconds (Koji default 60)')
    p.add_argument('--log-file')
    p.add_argument('--krb-keytab',
                   help='service keytab (HTTP/<host>@REALM): Negotiate on /kojihub/ssllogin')
    p.add_argument('--option', action='append', default=[], metavar='NAME=VALUE',
                   type=hub_option,
                   help='a hub.conf option: numeric (HostTimeout, AssignTimeout, ReadyTimeout, '
                        'RunInterval, SessionRenewalTimeout in minutes, ...) or Kerberos '
                        '(HostPrincipalFormat=compile/%%s@REALM, AllowedKrbRealms, '
                        'ProxyPrincipals); repeatable')
    args = p.parse_args(argv)
    if args.https_port is not None and not (args.tls_cert and args.tls_key and args.tls_ca):
        p.error('--https-port needs --tls-cert, --tls-key and --tls-ca')
    return args


def hub_option(text):
    """NAME=VALUE for one of the hub.conf options the test hub knows: a number for the
    numeric ones, the text as is for the others (HostPrincipalFormat, ...)."""
    name, sep, value = text.partition('=')
    known = sorted(state.DEFAULT_OPTS)
    if not sep or name not in known:
        raise argparse.ArgumentTypeError(
            '%r: give NAME=VALUE with NAME one of %s' % (text, ', '.join(known)))
    default = state.DEFAULT_OPTS[name]
    if not isinstance(default, (int, float)):
        return name, value
    try:
        return name, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError('%r: %s must be a number of seconds or a count'
                                         % (text, name))


def load_plugins(path, names):
    """Koji's own loader (kojixmlrpc.load_plugins): PluginTracker over the plugin path."""
    tracker = koji.plugin.PluginTracker(path=path.split(':'))
    return [tracker.load(name) for name in names]


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(
        filename=args.log_file, level=logging.INFO if args.log_file else logging.WARNING,
        format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    os.makedirs(args.state_dir, exist_ok=True)
    state.init(args.state_dir, dict([('RunInterval', args.run_interval)] + args.option))
    store = db.open_store(os.path.join(args.state_dir, 'hub.sqlite'))
    if store.is_empty():
        seed.apply_seed(seed.load_seed(args.seed))

    names = [n for n in args.plugins.replace(',', ' ').split() if n]
    try:
        plugins = load_plugins(args.plugin_path, names) if names else []
    except Exception as e:
        # kojihub would go ServerOffline ("configuration error"); a test wants to hear it
        sys.stderr.write('test hub: cannot load hub plugins %s from %s: %s: %s\n'
                         % (names, args.plugin_path, type(e).__name__, e))
        return 2
    auth = None
    if args.krb_keytab:
        from testhub import negotiate
        auth = negotiate.Negotiate(args.krb_keytab)
    app = server.Application(api.build_registry(plugins), auth)

    servers = [server.make_server(app, args.host, args.port)]
    http_port = servers[0].server_address[1]
    lines = ['HUB_URL=http://%s:%d/kojihub' % (args.host, http_port)]
    if args.https_port is not None:
        https = server.make_server(app, args.host, args.https_port,
                                   tls=(args.tls_cert, args.tls_key, args.tls_ca))
        servers.append(https)
        lines.append('HUB_HTTPS_URL=https://%s:%d/kojihub' % (args.host,
                                                             https.server_address[1]))
    lines += ['TOPURL=http://%s:%d/kojifiles' % (args.host, http_port),
              'WEBURL=http://%s:%d/koji' % (args.host, http_port),
              'READY']

    threads = [threading.Thread(target=s.serve_forever, kwargs={'poll_interval': 0.2},
                                daemon=True) for s in servers]
    for t in threads:
        t.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    sys.stdout.write('\n'.join(lines) + '\n')
    sys.stdout.flush()
    stop.wait()
    for s in servers:
        s.shutdown()
        s.server_close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
