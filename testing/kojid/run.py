#!/usr/bin/env python3
"""A minimal kojid for the tests: Koji's own ``koji.daemon.TaskManager``
(from the ``koji`` package on PyPI) with the plugins of a kojid.conf
loaded through Koji's plugin loader, run by a main loop shaped like
kojid's ``main`` (builder/kojid in Koji, which no registry ships).

What is kojid's here and what is ours:

- Koji's: taking tasks (getTasks, openTask, setTaskWeight), forking each
  into its own process on a subsession, waking waiting tasks with
  SIGUSR2, killing canceled tasks (``cleanupTask``: SIGINT, SIGTERM,
  SIGKILL), freeing tasks on shutdown, closeTask/failTask with the
  handler's result or exception.
- Ours: reading the kojid.conf keys the tests use, and ``TagBuildTask``,
  which follows kojid's handler of the same name: getTaskInfo for the
  owner, getBuild and getTag (strict), host.tagBuild, then
  host.tagNotification for success or for the failure, which it re-raises.
  Buildroot upkeep (mock) is left out; osbuildImage needs none.

    run.py --config kojid.conf [--builder-config builder.conf]
"""

import argparse
import configparser
import logging
import signal
import sys
import time
import types

import koji
import koji.daemon
import koji.plugin
import koji.tasks
from koji.tasks import BaseTaskHandler


class TagBuildTask(BaseTaskHandler):
    """kojid's tagBuild handler (see the module docstring)."""

    Methods = ['tagBuild']

    # pylint: disable=arguments-differ
    def handler(self, tag_id, build_id, force=False, fromtag=None, ignore_success=False):
        owner = self.session.getTaskInfo(self.id)['owner']
        try:
            self.session.getBuild(build_id, strict=True)
            self.session.getTag(tag_id, strict=True)
            self.session.host.tagBuild(self.id, tag_id, build_id, force=force, fromtag=fromtag)
            self.session.host.tagNotification(True, tag_id, fromtag, build_id, owner,
                                              ignore_success)
        except Exception as e:
            self.session.host.tagNotification(False, tag_id, fromtag, build_id, owner,
                                              ignore_success, f"{type(e)}: {e}")
            raise


def read_options(path):
    """The kojid.conf keys the tests set, with kojid's defaults."""
    cfg = configparser.ConfigParser()
    if not cfg.read(path):
        sys.exit(f"cannot read {path}")
    k = cfg['kojid']
    return types.SimpleNamespace(
        configFile=path,
        server=k['server'],
        topurl=k['topurl'],
        user=k['user'],
        password=k['password'],
        workdir=k['workdir'],
        mockdir=k['workdir'],
        minspace=0,
        sleeptime=k.getfloat('sleeptime', 15),
        maxjobs=k.getint('maxjobs', 10),
        plugin=k.get('plugins', '').split(),
        pluginpath=k.get('pluginpath', '/usr/lib/koji-builder-plugins'),
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--config', required=True, help='kojid.conf')
    parser.add_argument('--builder-config', help='builder.conf for the osbuild plugin')
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format='%(asctime)s [%(levelname)s] %(name)s: %(message)s')
    logger = logging.getLogger('koji.build')
    options = read_options(args.config)
    session = koji.ClientSession(options.server, {
        'user': options.user, 'password': options.password,
        'max_retries': 3, 'retry_interval': 1,
    })
    session.login()
    # kojid --force-lock, as its systemd unit runs it
    session.exclusiveSession(force=True)
    tm = koji.daemon.TaskManager(options, session)
    tm.findHandlers({'TagBuildTask': TagBuildTask})
    tm.findHandlers(vars(koji.tasks))
    tracker = koji.plugin.PluginTracker(path=options.pluginpath.split(':'))
    for name in options.plugin:
        logger.info('Loading plugin: %s', name)
        plugin = tracker.load(name)
        if name == 'osbuild' and args.builder_config:
            plugin.CONFIG_FILES = [args.builder_config]
        tm.scanPlugin(plugin)
    logger.info('logged in as host %s; methods %s', tm.host_id, sorted(tm.handlers))

    def shutdown(*_):
        raise SystemExit

    signal.signal(signal.SIGTERM, shutdown)
    taken = False
    while True:
        try:
            tm.updateTasks()
            taken = tm.getNextTask()
        except (SystemExit, KeyboardInterrupt):
            break
        except Exception:  # pylint: disable=broad-exception-caught
            # kojid logs and carries on, as here
            logger.exception('main loop')
            taken = False
        try:
            if not taken:
                time.sleep(options.sleeptime)
        except (SystemExit, KeyboardInterrupt):
            break
    logger.warning('Shutting down, please wait...')
    started = time.monotonic()
    tm.shutdown()
    session.logout()
    logger.warning('shut down in %.2f s', time.monotonic() - started)


if __name__ == '__main__':
    main()
