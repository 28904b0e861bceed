"""Koji osbuild integration - koji client plugin

Adds the 'osbuild-image' command to the koji command line tool, with the
same options, usage text and output as upstream koji-osbuild's plugin.

The work itself is done by the `koji-osbuild` binary (`koji-osbuild image`):
this plugin checks the arguments with upstream's option parser, logs in
with whatever authentication the koji CLI is configured for (password,
certificate, Kerberos, ...), and hands that logged-in session to the binary
through a pipe, so every koji authtype works without the binary having to
implement it.
"""

import json
import optparse  # pylint: disable=deprecated-module
import os
import shutil
import signal
import subprocess
import sys

import koji_cli.lib as kl
from koji.plugin import export_cli


# Where the binary is looked up; KOJI_OSBUILD_BIN overrides (tests, odd installs).
DEFAULT_BINARY = "/usr/bin/koji-osbuild"


def parse_repo(_option, _opt, value, parser):
    repo = parser.values.repo
    if repo and isinstance(repo[0], dict):
        repo.append({"baseurl": value})
        return

    if not repo:
        parser.values.repo = repo = []
    repo.append(value)


def parse_repo_package_set(_option, opt, value, parser):
    if not parser.values.repo:
        raise optparse.OptionValueError(f"Need '--repo' for {opt}")

    repo = parser.values.repo.pop()
    if not isinstance(repo, dict):
        repo = {"baseurl": repo}
    sets = set(repo.get("package_sets", []))
    sets |= {item.strip() for item in value.split(";")}
    repo["package_sets"] = sorted(sets)
    parser.values.repo.append(repo)


def parse_args(argv):
    """Parse exactly as upstream does, for the same usage text and errors.

    The parsed values are only used to reject bad input early; the binary
    receives the original argv and applies the same rules itself.
    """
    usage = ("usage: %prog osbuild-image [options] <name> <version> "
             "<distro> <target> <arch> [<arch> ...]")

    parser = kl.OptionParser(usage=kl.get_usage_str(usage))

    parser.add_option("--customizations", type=str, default=None, dest="customizations",
                      help="Additional customizations to pass to Composer (json file)")
    parser.add_option("--upload-options", type=str, default=None, dest="upload_options",
                      help="Cloud target upload options (json file)")
    parser.add_option("--nowait", action="store_false", dest="wait",
                      help="Don't wait on image creation")
    parser.add_option("--ostree-parent", type=str, dest="ostree_parent",
                      help="The OSTree commit parent for OSTree commit image types")
    parser.add_option("--ostree-ref", type=str, dest="ostree_ref",
                      help="The OSTree commit ref for OSTree commit image types")
    parser.add_option("--ostree-url", type=str, dest="ostree_url",
                      help="URL to the OSTree repo for OSTree commit image types")
    parser.add_option("--release", help="Forcibly set the release field")
    parser.add_option("--repo", action="callback", callback=parse_repo, nargs=1, type=str,
                      help=("Specify a repo that will override the repo used to install "
                            "RPMs in the image. May be used multiple times. The "
                            "build tag repo associated with the target is the default."))
    parser.add_option("--repo-package-sets", dest="repo", nargs=1, type=str,
                      action="callback", callback=parse_repo_package_set,
                      help=("Specify the package sets for the last repository. "
                            "Individual set items are separated by ';'. "
                            "Maybe be used multiple times"))
    parser.add_option("--image-type", metavar="TYPE",
                      help='Request an image-type [default: guest-image]',
                      type=str, default="guest-image")
    parser.add_option("--skip-tag", action="store_true",
                      help="Do not attempt to tag package")
    parser.add_option("--wait", action="store_true",
                      help="Wait on the image creation, even if running in the background")
    parser.add_option("--priority", type=int,
                      help="Task priority relative to the default (negative is higher; "
                           "admins only)")

    opts, args = parser.parse_args(argv)
    if len(args) < 5:
        parser.error("At least five arguments are required: a name, "
                     "a version, a distribution, a build target, "
                     "and 1 or more architectures.")

    for i, arg in enumerate(("name", "version", "distro", "target")):
        setattr(opts, arg, args[i])
    setattr(opts, "arch", args[4:])

    return opts


def find_binary():
    return (os.environ.get("KOJI_OSBUILD_BIN")
            or shutil.which("koji-osbuild")
            or DEFAULT_BINARY)


def global_args(options):
    """The koji CLI's resolved settings, as koji-osbuild global options."""
    args = ["--server", options.server]
    if getattr(options, "weburl", None):
        args += ["--weburl", options.weburl]
    if getattr(options, "topurl", None):
        args += ["--topurl", options.topurl]
    if getattr(options, "serverca", None):
        args += ["--serverca", options.serverca]
    if getattr(options, "poll_interval", None):
        args += ["--poll-interval", str(options.poll_interval)]
    if getattr(options, "quiet", False):
        args.append("--quiet")
    return args


def hand_over_session(session):
    """Write the logged-in session to a pipe; return its read end.

    The session key is a secret: a pipe keeps it off the command line and
    out of the environment. The koji CLI then forgets the session so that
    its own logout at exit does not race the binary's calls.
    """
    sinfo = session.sinfo
    payload = json.dumps({
        "session-id": sinfo["session-id"],
        "session-key": sinfo["session-key"],
        "callnum": session.callnum,
        "header-auth": bool(sinfo.get("header-auth")),
    }).encode("utf-8")
    read_fd, write_fd = os.pipe()
    # The payload is far below the pipe buffer, so this cannot block.
    os.write(write_fd, payload)
    os.close(write_fd)
    session._forget()  # pylint: disable=protected-access
    return read_fd


@export_cli
def handle_osbuild_image(options, session, argv):
    "[build] Build images via osbuild"
    parse_args(argv)

    cmd = [find_binary()] + global_args(options)

    kl.activate_session(session, options)
    pass_fds = ()
    if session.logged_in:
        read_fd = hand_over_session(session)
        pass_fds = (read_fd,)
        cmd += ["--session-fd", str(read_fd)]
    else:
        cmd.append("--noauth")
    cmd += ["image"] + list(argv)

    sys.stdout.flush()
    sys.stderr.flush()
    # Ctrl-C reaches the binary too (same process group); it prints how to
    # keep watching and exits, so the plugin only waits for it.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        proc = subprocess.run(cmd, pass_fds=pass_fds, check=False)
    except OSError as err:
        print(f"koji osbuild-image: cannot run {cmd[0]}: {err.strerror}; "
              "install koji-osbuild or set KOJI_OSBUILD_BIN", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, previous)
        for fd in pass_fds:
            os.close(fd)
    return proc.returncode
