"""Koji osbuild integration - koji client plugin

Adds the 'osbuild-image' command to the koji command line tool. It calls
the 'osbuildImage' hub call of the koji-osbuild hub plugin, with the same
options, usage text and output as upstream koji-osbuild's plugin, plus
--priority and a check of the request against the osbuildImage schema
before anything is created.
"""

import json
import optparse  # pylint: disable=deprecated-module
import os
from pprint import pprint

import koji
import koji_cli.lib as kl
from koji.plugin import export_cli

try:
    import jsonschema
except ImportError:  # the hub checks the request anyway
    jsonschema = None


SCHEMA_ENV = "KOJI_OSBUILD_SCHEMA"
SCHEMA_NAME = "osbuild-image.schema.json"
# Where the RPM installs the schema, then the source tree (plugins/cli/ ->
# schemas/). The hub plugin looks in the same places; the two plugins are
# installed apart, so neither imports the other.
SCHEMA_PATHS = [
    os.path.join("/usr/share/koji-osbuild", SCHEMA_NAME),
    os.path.join(os.path.dirname(os.path.abspath(__file__)),
                 "..", "..", "schemas", SCHEMA_NAME),
]

# The options that read a file, by their key in opts: a schema violation
# inside one is reported against the option and the file.
FILE_OPTIONS = {"customizations": "--customizations",
                "upload_options": "--upload-options"}


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


def load_json(flag, path):
    """The JSON document in a file given on the command line."""
    try:
        with open(path, "r", encoding="utf-8") as f:
            return json.load(f)
    except OSError as err:
        return kl.error(f"{flag} {path}: cannot read the file: {err.strerror}")
    except ValueError as err:  # JSONDecodeError, or bytes that are not UTF-8
        return kl.error(f"{flag} {path}: not valid JSON: {err}")


def schema_path():
    """The osbuildImage schema file, or None when none is installed."""
    override = os.environ.get(SCHEMA_ENV)
    if override:
        # Named explicitly: checking against nothing would hide the mistake.
        if not os.path.isfile(override):
            kl.error(f"{SCHEMA_ENV}={override}: no such file; "
                     "point it at osbuild-image.schema.json or unset it")
        return override
    return next((os.path.normpath(p) for p in SCHEMA_PATHS if os.path.isfile(p)), None)


def validate(call_args, args):
    """Check the hub call's arguments against the schema the hub uses.

    A violation ends the command with one line naming the option (and the
    file) it came from; without jsonschema or a schema the hub's own check
    is the only one.
    """
    path = schema_path() if jsonschema else None
    if path is None:
        return
    with open(path, "r", encoding="utf-8") as f:
        validator = jsonschema.Draft4Validator(json.load(f))
    err = jsonschema.exceptions.best_match(validator.iter_errors(call_args))
    if err is None:
        return
    where = list(err.absolute_path)
    if len(where) >= 2 and where[0] == 6 and where[1] in FILE_OPTIONS:
        thing = f"{FILE_OPTIONS[where[1]]} {getattr(args, where[1])}"
        where = where[2:]
    else:
        thing = "osbuildImage arguments"
    at = f" at {'/'.join(map(str, where))}" if where else ""
    kl.error(f"{thing}{at}: {err.message} (the rules are in {path})")


def check_target(session, name):
    """Check the target with name exists and has a destination tag"""

    target = session.getBuildTarget(name)
    if not target:
        raise koji.GenericError(f"Unknown build target: {name}")

    tag = session.getTag(target['dest_tag'])
    if not tag:
        raise koji.GenericError(f"Unknown destination tag: {target['dest_tag_name']}")


def build_opts(args):
    """The opts argument of osbuildImage, with upstream's keys and rules."""
    opts = {}
    if args.release:
        opts["release"] = args.release
    if args.repo:
        opts["repo"] = args.repo
    if args.skip_tag:
        opts["skip_tag"] = True

    ostree = {key: value for key, value in (("parent", args.ostree_parent),
                                            ("ref", args.ostree_ref),
                                            ("url", args.ostree_url)) if value}
    if ostree:
        opts["ostree"] = ostree

    for key, flag in FILE_OPTIONS.items():
        if getattr(args, key):
            opts[key] = load_json(flag, getattr(args, key))
    return opts


@export_cli
def handle_osbuild_image(options, session, argv):
    "[build] Build images via osbuild"
    args = parse_args(argv)

    name, version, arch, target = args.name, args.version, args.arch, args.target
    distro, image_type = args.distro, args.image_type

    opts = build_opts(args)
    validate([name, version, distro, image_type, target, arch, opts], args)

    # Do some early checks to be able to give quick feedback
    check_target(session, target)

    if not options.quiet:
        print("name:", name)
        print("version:", version)
        print("distro:", distro)
        print("arches:", ", ".join(arch))
        print("target:", target)
        print("image type:", image_type)
        pprint(opts)

    kl.activate_session(session, options)

    # Sent only when given: without --priority the call is upstream's own.
    extra = {} if args.priority is None else {"priority": args.priority}
    task_id = session.osbuildImage(name, version, distro, image_type, target, arch,
                                   opts=opts, **extra)

    if not options.quiet:
        print(f"Created task: {task_id}")
        print(f"Task info: {options.weburl}/taskinfo?taskID={task_id}")

    # pylint: disable=protected-access
    if (args.wait is None and kl._running_in_bg()) or args.wait is False:
        # either running in the background or must not wait by user's
        # request. All done.
        return None

    session.logout()
    # poll_interval as koji's own commands (koji.conf / --poll-interval)
    # instead of watch_tasks' 60 s default, which upstream left in place.
    res = kl.watch_tasks(session, [task_id], quiet=options.quiet,
                         poll_interval=options.poll_interval)

    if res == 0:
        result = session.getTaskResult(task_id)
        print(result)
    return res
