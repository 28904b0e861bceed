"""`import kojihub` for hub plugins loaded by the test hub.

A hub plugin runs inside kojihub and calls its module-level functions. This
shim gives the ones koji-osbuild's plugin (and similar small plugins) use,
backed by the test hub's state: make_task, get_build_target, get_tag,
get_user, get_build, convert_value, RootExports().getBuildConfig, ...
Anything else raises AttributeError,
so a plugin that needs more fails loudly instead of silently misbehaving.
"""
from testhub.builds import get_build, get_next_release  # noqa: F401
from testhub.catalog import (get_build_target, get_build_targets, get_host,  # noqa: F401
                             get_tag, get_tag_id, get_user, getBuildConfig)
from testhub.convert import convert_value  # noqa: F401
from testhub.tasks import Task, make_task  # noqa: F401


class RootExports:  # pylint: disable=too-few-public-methods
    """The hub's exported calls, as kojihub.RootExports; only those plugins use."""
    getBuildConfig = staticmethod(getBuildConfig)
