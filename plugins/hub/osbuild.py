"""Koji hub plugin for koji-osbuild: the osbuildImage call.

Checks the caller and the arguments, then queues an osbuildImage task in
the `image` channel; a koji-osbuild builder host does the rest.  The
arguments are checked against the same schema file the Rust CLI and
builder use (schemas/osbuild-image.schema.json), so all three agree on
what a valid request is.
"""

import json
import logging
import os

import jsonschema
import koji
import koji.tasks
from koji.context import context
from koji.plugin import export

import kojihub  # pylint: disable=import-error


logger = logging.getLogger("koji.plugin.osbuild")

SCHEMA_ENV = "KOJI_OSBUILD_SCHEMA"
SCHEMA_NAME = "osbuild-image.schema.json"


def _schema_path():
    # An explicit path wins and must exist: falling back silently would let
    # a test or an admin check against a schema they did not mean.
    override = os.environ.get(SCHEMA_ENV)
    if override:
        if not os.path.isfile(override):
            raise RuntimeError(
                f"koji-osbuild: {SCHEMA_ENV}={override} does not exist")
        return override
    candidates = [
        # where the koji-osbuild-hub RPM installs it
        os.path.join("/usr/share/koji-osbuild", SCHEMA_NAME),
        # running from a source tree: plugins/hub/ -> schemas/
        os.path.join(os.path.dirname(os.path.abspath(__file__)),
                     "..", "..", "schemas", SCHEMA_NAME),
    ]
    for path in candidates:
        if os.path.isfile(path):
            return os.path.normpath(path)
    raise RuntimeError(
        "koji-osbuild: osbuildImage schema not found; looked in "
        + ", ".join(candidates) + f" (set {SCHEMA_ENV} to its path)")


def _load_schema():
    path = _schema_path()
    with open(path, encoding="utf-8") as f:
        schema = json.load(f)
    # A broken schema should stop the hub from loading the plugin, not
    # turn every osbuildImage call into a confusing error.
    jsonschema.Draft4Validator.check_schema(schema)
    return schema


# Upstream's tests read the schema from this name.
OSBUILD_IMAGE_SCHEMA = _load_schema()
_VALIDATOR = jsonschema.Draft4Validator(OSBUILD_IMAGE_SCHEMA)

# Koji derives policy data (build target, build tag) for make_task from a
# task's argument names; without a signature it logs "not a standard koji
# task" and channel/priority policies cannot match on the target.  Same
# registration as Koji's own kiwi plugin; setdefault leaves a Koji that
# already knows osbuildImage alone.
koji.tasks.LEGACY_SIGNATURES.setdefault("osbuildImage", [
    [["name", "version", "distro", "image_type", "target", "arches", "opts"],
     None, None, (None,)]])


@export
def osbuildImage(name, version, distro, image_type, target, arches,
                 opts=None, priority=None):
    """Create an osbuildImage task; returns its id."""
    context.session.assertPerm("image")

    # Upstream rejects opts=None (ParameterError, see capture
    # 17-osbuildImage-opts-none), although None is the signature's default
    # and clients that send no options omit it; "no options" it is.
    if opts is None:
        opts = {}

    args = [name, version, distro, image_type, target, arches, opts]
    try:
        _VALIDATOR.validate(args)
    except jsonschema.exceptions.ValidationError as err:
        # The validator's message names the failing item; the traceback
        # would only name this file.
        raise koji.ParameterError(str(err)) from None

    # Checks on top of the schema, which stays exactly what upstream
    # accepts: an empty name, version or distro can only fail later.
    for what, value in (("name", name), ("version", version), ("distro", distro)):
        if not value.strip():
            raise koji.ParameterError(
                f"the image {what} is empty: give the {what} of the build")

    # A one-element list is the deprecated form; the schema has already
    # made sure it has exactly one element.  Tasks always store a string.
    if isinstance(image_type, list):
        image_type = image_type[0]
        args[3] = image_type

    task_opts = {"channel": "image"}
    # As Koji's kiwi plugin: a negative priority jumps the queue, so only
    # admins may ask for it.  Upstream checks it but never passes it on.
    if priority:
        priority = kojihub.convert_value(priority, cast=int)
        if priority < 0 and not context.session.hasPerm("admin"):
            raise koji.ActionNotAllowed(
                "only admins may create high-priority tasks")
        task_opts["priority"] = koji.PRIO_DEFAULT + priority

    # Upstream only finds a bad target, or arches its build tag lacks, when
    # the builder runs the task; refuse them now so that nothing is queued
    # that can only fail.
    target_info = kojihub.get_build_target(target, strict=True)
    _check_arches(target_info, arches)

    task_id = kojihub.make_task("osbuildImage", args, **task_opts)
    logger.info("osbuildImage task %s created: %s-%s %s %s for %s",
                task_id, name, version, image_type, target, arches)
    return task_id


def _check_arches(target_info, arches):
    """Refuse arches the target's build tag lacks (by koji.canonArch, as
    the builder compares them)."""
    build_config = kojihub.RootExports().getBuildConfig(target_info["build_tag"])
    tag_arches = (build_config.get("arches") or "").split()
    canonical = {koji.canonArch(arch) for arch in tag_arches}
    missing = []
    for arch in arches:
        if arch not in canonical and arch not in missing:
            missing.append(arch)
    if missing:
        raise koji.ParameterError(
            f"build tag {target_info['build_tag_name']} has no {', '.join(missing)} "
            f"(it has {', '.join(tag_arches) or 'none'}): request only its arches, "
            "or ask a Koji admin to add them (koji edit-tag --arches)")
