"""Koji osbuild integration - kojid plugin

Enable it with ``plugins = osbuild`` in /etc/kojid/kojid.conf. It gives
kojid a handler for ``osbuildImage`` tasks with upstream's method name,
weight, arguments and result, and hands each task to
``koji-osbuild-builder run-task``: the Rust handler the standalone
koji-osbuild-builder daemon runs, with builder.conf read the same way.

The task runs on kojid's own task session, which goes to the child over an
inherited pipe (never its command line or environment). kojid keeps its
jobs: closeTask/failTask with the outcome the child prints, the tagBuild
subtask, waking the task with SIGUSR2 (passed on here), and stopping it on
cancel or shutdown (its SIGINT reaches the child, which cancels the
compose of a canceled task and leaves a freed task's compose running for
the task's next run).
"""

import json
import logging
import os
import signal
import subprocess
import threading

import koji
from koji.tasks import BaseTaskHandler

# The binary, found on PATH (the package installs it in /usr/bin).
BUILDER = "koji-osbuild-builder"
# builder.conf files to read instead of the defaults
# (/usr/share/koji-osbuild/builder.conf, /etc/koji-osbuild/builder.conf);
# None: the defaults, as upstream's plugin.
CONFIG_FILES = None

# When the child ends without telling the session's next callnum (it
# crashed), the plugin's next calls must still carry a higher number than
# any the child used: the hub refuses lower ones. No task makes this many.
CALLNUM_GAP = 1000000


class OSBuildImage(BaseTaskHandler):
    Methods = ['osbuildImage']
    _taskWeight = 0.2

    def __init__(self, task_id, method, params, session, options):
        super().__init__(task_id, method, params, session, options)
        self.logger = logging.getLogger('koji.plugin.osbuild')

    def command(self, session_fd):
        cmd = [BUILDER, "run-task", str(self.id), "--session-fd", str(session_fd)]
        for path in CONFIG_FILES or []:
            cmd += ["--config", path]
        # kojid.conf gives the hub's CA, retries and topurl unless
        # builder.conf's [builder] sets them, as for the daemon.
        kojid_conf = getattr(self.options, "configFile", None)
        if kojid_conf and os.path.exists(kojid_conf):
            cmd += ["--kojid-config", kojid_conf]
        return cmd

    def session_pipe(self):
        """A pipe holding the task session, for the child to inherit."""
        handed = dict(self.session.sinfo)
        handed["callnum"] = self.session.callnum
        handed["hub"] = self.session.baseurl
        read_end, write_end = os.pipe()
        with os.fdopen(write_end, "w") as f:
            json.dump(handed, f)
        return read_end

    # pylint: disable=arguments-differ,unused-argument
    def handler(self, name, version, distro, image_type, target, arches, opts):
        """Runs the task in koji-osbuild-builder; the arguments reach it
        through getTaskInfo, as they reach the daemon."""
        session_fd = self.session_pipe()
        try:
            proc = subprocess.Popen(self.command(session_fd), pass_fds=(session_fd,),
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, universal_newlines=True)
        except OSError as e:
            raise koji.BuildError(f"cannot run {BUILDER}: {e}") from e
        finally:
            os.close(session_fd)
        log = []
        relay = threading.Thread(target=self.relay_log_and_keep, args=(proc.stderr, log),
                                 daemon=True)
        relay.start()
        # kojid wakes a task waiting for its subtask with SIGUSR2.
        previous = signal.signal(signal.SIGUSR2,
                                 lambda *_: proc.send_signal(signal.SIGUSR2))
        try:
            out = proc.stdout.read()
            proc.wait()
        except BaseException:
            # This process is going (SIGTERM, KeyboardInterrupt): stop the
            # child as kojid would, so that it does not outlive the task.
            proc.send_signal(signal.SIGTERM)
            proc.wait()
            raise
        finally:
            signal.signal(signal.SIGUSR2, previous)
        relay.join(timeout=5)
        return self.outcome(out, proc.returncode, log)

    def relay_log_and_keep(self, stream, log):
        """The child's log lines go to kojid's log; the last is kept for
        a failure without an outcome."""
        for line in stream:
            line = line.rstrip("\n")
            log.append(line)
            del log[:-1]
            self.logger.info("%s", line)

    def outcome(self, out, returncode, log):
        doc = None
        for line in reversed(out.splitlines()):
            try:
                doc = json.loads(line)
                break
            except ValueError:
                continue
        if not isinstance(doc, dict) or "callnum" not in doc:
            self.session.callnum += CALLNUM_GAP
            last = log[-1] if log else "no message"
            raise koji.BuildError(
                f"{BUILDER} run-task ended without an outcome (exit status {returncode}): {last}")
        self.session.callnum = max(self.session.callnum, doc["callnum"])
        if "result" in doc:
            return doc["result"]
        if "fault" in doc:
            fault = koji.xmlrpcplus.Fault(doc["fault"]["code"], doc["fault"]["message"])
            raise koji.convertFault(fault)
        # Stopped by kojid (cancel, shutdown): neither close nor fail the
        # task; kojid frees it or has canceled it.
        raise SystemExit(0)
