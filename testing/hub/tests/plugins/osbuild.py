"""A stand-in for the hub plugin (plugins/hub/osbuild.py) in the hub's own tests:
the same call signature, permission and task shape, without the JSON schema."""
import koji
from koji.context import context

import kojihub


@koji.plugin.export
def osbuildImage(name, version, distro, image_type, target, arches, opts=None, priority=None):
    context.session.assertPerm("image")
    if not isinstance(arches, list) or not arches:
        raise koji.ParameterError("arches must be a non-empty list")
    if opts is None or not isinstance(opts, dict):
        raise koji.ParameterError("None is not of type 'object'")
    if isinstance(image_type, list):
        image_type = image_type[0]
    kojihub.get_build_target(target, strict=True)
    task = {"channel": "image"}
    if priority is not None:
        task["priority"] = koji.PRIO_DEFAULT + kojihub.convert_value(priority, cast=int)
    args = [name, version, distro, image_type, target, arches, opts]
    return kojihub.make_task('osbuildImage', args, **task)
