"""Tests of the hub plugin (plugins/hub/osbuild.py).

Counterparts of upstream's test/unit/test_hub.py, plus what we do beyond
upstream (opts=None, priority, build target check).  The plugin is loaded
as kojihub would load it, with a stand-in `kojihub` module and a stand-in
session; the test hub in testing/hub/ runs it against Koji's own code.

The accept/reject cases live in schemas/tests/osbuild-image-cases.json and
are shared with the osbuild-task crate's tests, so that the hub and the
Rust CLI and builder give the same verdicts.
"""

import copy
import importlib.util
import json
import pathlib
import sys
import types
from unittest import mock

import jsonschema
import koji
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "plugins" / "hub" / "osbuild.py"
SCHEMA = ROOT / "schemas" / "osbuild-image.schema.json"
CASES = json.loads(
    (ROOT / "schemas" / "tests" / "osbuild-image-cases.json").read_text())["cases"]

TARGETS = {"target": {"id": 1, "name": "target", "build_tag": 10,
                      "build_tag_name": "target-build"}}
# The build tag's arches as kojihub's getBuildConfig gives them; i686 and
# armv7hl are matched by their koji.canonArch names, i386 and armhfp.
BUILD_TAG_ARCHES = {10: "x86_64 aarch64 s390x arches i686 armv7hl"}
TASK_ID = 4711


class FakeSession:
    """The parts of kojihub's session (kojihub/auth.py) the plugin may use.

    It records what the plugin asks and has no permission rules of its
    own: assertPerm passes for the permissions in `granted` (by default the
    user's own), so each test says what kojihub would decide.
    """

    def __init__(self, perms, granted=None):
        self.perms = set(perms)
        self.granted = self.perms if granted is None else set(granted)
        self.asserted = []
        self.queried = []

    def hasPerm(self, perm):  # pylint: disable=invalid-name
        self.queried.append(perm)
        return perm in self.perms

    def assertPerm(self, perm):  # pylint: disable=invalid-name
        self.asserted.append(perm)
        if perm not in self.granted:
            # kojihub's wording, see capture 13-osbuildImage-no-perm
            raise koji.ActionNotAllowed(
                f"{perm} permission required (logged in as someone)")


def fake_kojihub():
    hub = types.ModuleType("kojihub")

    def get_build_target(info, event=None, strict=False):
        if info in TARGETS:
            return TARGETS[info]
        if strict:
            raise koji.GenericError(f"No such build target: {info}")
        return None

    def convert_value(value, cast=None, message=None,
                      exc_type=koji.ParameterError, none_allowed=False,
                      check_only=False):
        # same contract as kojihub.convert_value for the calls the plugin makes
        if value is None and none_allowed:
            return None
        try:
            return cast(value)
        except (ValueError, TypeError):
            raise exc_type(message or f"Invalid type for value '{value}'") from None

    class RootExports:  # pylint: disable=too-few-public-methods
        @staticmethod
        def getBuildConfig(tag):  # pylint: disable=invalid-name
            return {"id": tag, "arches": BUILD_TAG_ARCHES.get(tag)}

    hub.RootExports = RootExports
    hub.get_build_target = mock.Mock(side_effect=get_build_target)
    hub.convert_value = mock.Mock(side_effect=convert_value)
    hub.make_task = mock.Mock(return_value=TASK_ID)
    return hub


def load_plugin(monkeypatch, hub):
    monkeypatch.setitem(sys.modules, "kojihub", hub)
    spec = importlib.util.spec_from_file_location("osbuild_hub_plugin", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(name="hub")
def fixture_hub():
    return fake_kojihub()


@pytest.fixture(name="plugin")
def fixture_plugin(monkeypatch, hub):
    monkeypatch.delenv("KOJI_OSBUILD_SCHEMA", raising=False)
    module = load_plugin(monkeypatch, hub)
    module.context = types.SimpleNamespace(session=FakeSession(["image"]))
    return module


def as_user(plugin, *perms):
    plugin.context.session = FakeSession(perms)
    return plugin.context.session


def as_admin(plugin):
    # kojihub's assertPerm lets an admin through for any permission, while
    # hasPerm answers only for the user's own; test_real_plugin.py in
    # testing/hub/tests checks the plugin against the test hub's sessions.
    plugin.context.session = FakeSession(["admin"], granted=["admin", "image"])
    return plugin.context.session


def args_with(opts=None, **over):
    args = ["name", "version", "distro", "image_type", "target", ["arches"], opts]
    names = ["name", "version", "distro", "image_type", "target", "arches"]
    for key, value in over.items():
        args[names.index(key)] = value
    return args


def assert_one_task(hub, args, **task_opts):
    hub.make_task.assert_called_once_with(
        "osbuildImage", args, channel="image", **task_opts)


# --- upstream's scenarios ---------------------------------------------------

def test_schema_is_valid_draft4(plugin):
    jsonschema.Draft4Validator.check_schema(plugin.OSBUILD_IMAGE_SCHEMA)
    assert plugin.OSBUILD_IMAGE_SCHEMA == json.loads(SCHEMA.read_text())


def test_basic(plugin, hub):
    opts = {"repo": ["repo1", "repo2"], "release": "1.2.3", "skip_tag": True}
    args = args_with(opts)

    assert plugin.osbuildImage(*args) == TASK_ID

    assert plugin.context.session.asserted == ["image"]
    assert_one_task(hub, args)
    assert hub.make_task.call_args.kwargs == {"channel": "image"}


def test_image_types_array_becomes_string(plugin, hub):
    opts = {"repo": ["repo1", "repo2"], "release": "1.2.3", "skip_tag": True}

    plugin.osbuildImage(*args_with(opts, image_type=["image_type"]))

    assert_one_task(hub, args_with(opts, image_type="image_type"))


@pytest.mark.parametrize("args", [
    args_with({}, image_type=["image_type", "image_type2"]),
    args_with({"repo": [{"package_sets": ["set1", "set2"]}]}),
], ids=["two-image-types", "repo-without-baseurl"])
def test_input_validation(plugin, hub, args):
    with pytest.raises(koji.ParameterError):
        plugin.osbuildImage(*args)
    assert plugin.context.session.asserted == ["image"]
    hub.make_task.assert_not_called()


# --- the shared accept/reject table -----------------------------------------

# Argument lists the schema rejects but the hub call accepts, because the
# plugin fills in opts=None / a missing opts as {} before validating.
HUB_FILLS_IN_OPTS = {"opts-null", "too-few-arguments"}


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_shared_cases(plugin, hub, case):
    args = copy.deepcopy(case["args"])
    if case["name"] in HUB_FILLS_IN_OPTS:
        assert plugin.osbuildImage(*args) == TASK_ID
        assert_one_task(hub, args[:6] + [{}])
        return

    if case["valid"]:
        assert plugin.osbuildImage(*args) == TASK_ID
        stored = hub.make_task.call_args.args[1]
        expected = copy.deepcopy(case["args"])
        if isinstance(expected[3], list):
            expected[3] = expected[3][0]
        # options reach the task exactly as given (upload options and
        # customizations go to composer verbatim)
        assert stored == expected
    else:
        with pytest.raises(koji.ParameterError):
            plugin.osbuildImage(*args)
        hub.make_task.assert_not_called()


def test_schema_file_gives_the_shared_verdicts():
    # the same table against the file alone, without the plugin around it
    validator = jsonschema.Draft4Validator(json.loads(SCHEMA.read_text()))
    for case in CASES:
        assert validator.is_valid(case["args"]) == case["valid"], case["name"]


def test_error_is_the_validators_message(plugin):
    # what a user of upstream saw, see capture 16-osbuildImage-bad-args
    with pytest.raises(koji.ParameterError) as exc:
        plugin.osbuildImage(*args_with({}, arches=[]))
    message = str(exc.value)
    # jsonschema's wording changes between releases ("is too short",
    # "should be non-empty"); the location does not
    assert message.startswith("[] ")
    assert "Failed validating 'minItems' in schema['items'][5]" in message
    assert exc.value.faultCode == 1019
    # raised "from None": no jsonschema traceback chained onto the fault
    assert exc.value.__cause__ is None
    assert exc.value.__suppress_context__


# --- beyond upstream ----------------------------------------------------------

def test_opts_none_means_no_options(plugin, hub):
    plugin.osbuildImage(*args_with(None))
    assert_one_task(hub, args_with({}))


def test_opts_omitted_means_no_options(plugin, hub):
    plugin.osbuildImage(*args_with()[:6])
    assert_one_task(hub, args_with({}))


@pytest.mark.parametrize("priority, expected", [
    (5, koji.PRIO_DEFAULT + 5),
    ("5", koji.PRIO_DEFAULT + 5),
])
def test_priority_is_applied(plugin, hub, priority, expected):
    plugin.osbuildImage(*args_with({}), priority=priority)
    assert_one_task(hub, args_with({}), priority=expected)


@pytest.mark.parametrize("priority", [None, 0])
def test_no_priority_keeps_koji_default(plugin, hub, priority):
    plugin.osbuildImage(*args_with({}), priority=priority)
    assert_one_task(hub, args_with({}))


def test_negative_priority_needs_admin(plugin, hub):
    session = as_user(plugin, "image")
    with pytest.raises(koji.ActionNotAllowed,
                       match="only admins may create high-priority tasks"):
        plugin.osbuildImage(*args_with({}), priority=-5)
    assert session.queried == ["admin"]
    hub.make_task.assert_not_called()


def test_negative_priority_as_admin(plugin, hub):
    session = as_admin(plugin)
    plugin.osbuildImage(*args_with({}), priority=-5)
    assert session.queried == ["admin"]
    assert_one_task(hub, args_with({}), priority=koji.PRIO_DEFAULT - 5)


@pytest.mark.parametrize("priority", [None, 0, 5])
def test_only_a_negative_priority_asks_for_admin(plugin, hub, priority):
    session = as_user(plugin, "image")
    plugin.osbuildImage(*args_with({}), priority=priority)
    assert session.queried == []
    hub.make_task.assert_called_once()


def test_priority_that_is_not_a_number(plugin, hub):
    with pytest.raises(koji.ParameterError):
        plugin.osbuildImage(*args_with({}), priority="urgent")
    hub.make_task.assert_not_called()


def test_unknown_target_is_refused_before_the_task(plugin, hub):
    with pytest.raises(koji.GenericError, match="No such build target: nope"):
        plugin.osbuildImage(*args_with({}, target="nope"))
    hub.get_build_target.assert_called_once_with("nope", strict=True)
    hub.make_task.assert_not_called()


@pytest.mark.parametrize("what", ["name", "version", "distro"])
@pytest.mark.parametrize("value", ["", "  "])
def test_empty_name_version_or_distro_is_refused(plugin, hub, what, value):
    with pytest.raises(koji.ParameterError, match=f"the image {what} is empty"):
        plugin.osbuildImage(*args_with({}, **{what: value}))
    hub.make_task.assert_not_called()


def test_arches_the_build_tag_lacks_are_refused(plugin, hub):
    message = (r"build tag target-build has no sparc, ppc64le \(it has x86_64, aarch64, "
               r"s390x, arches, i686, armv7hl\): request only its arches")
    with pytest.raises(koji.ParameterError, match=message):
        plugin.osbuildImage(*args_with({}, arches=["x86_64", "sparc", "ppc64le", "sparc"]))
    hub.make_task.assert_not_called()


def test_arches_match_by_their_canonical_names(plugin, hub):
    assert plugin.osbuildImage(*args_with({}, arches=["i386", "armhfp"])) == TASK_ID


def test_a_build_tag_without_arches_takes_none(plugin, hub, monkeypatch):
    monkeypatch.setitem(BUILD_TAG_ARCHES, 10, None)
    with pytest.raises(koji.ParameterError, match=r"has no arches \(it has none\)"):
        plugin.osbuildImage(*args_with({}))
    hub.make_task.assert_not_called()


def test_known_target_is_looked_up_strictly(plugin, hub):
    plugin.osbuildImage(*args_with({}))
    hub.get_build_target.assert_called_once_with("target", strict=True)


def test_missing_permission(plugin, hub):
    session = as_user(plugin)
    with pytest.raises(koji.ActionNotAllowed, match="image permission required"):
        plugin.osbuildImage(*args_with({}))
    assert session.asserted == ["image"]
    hub.make_task.assert_not_called()


def test_permission_is_checked_before_the_arguments(plugin, hub):
    # someone without the permission learns nothing about the schema
    as_user(plugin)
    with pytest.raises(koji.ActionNotAllowed):
        plugin.osbuildImage(*args_with({"bogus": 1}, arches=[]))
    hub.get_build_target.assert_not_called()
    hub.make_task.assert_not_called()


def test_the_image_permission_is_left_to_assert_perm(plugin, hub):
    # An admin without the image permission gets in through kojihub's
    # assertPerm; a plugin that checked hasPerm("image") itself (or asked
    # for a permission of its own) would lock admins out.
    session = as_admin(plugin)
    assert plugin.osbuildImage(*args_with({})) == TASK_ID
    assert session.asserted == ["image"]
    assert session.queried == []
    assert_one_task(hub, args_with({}))


def test_legacy_signature_lets_koji_read_the_task(plugin):
    # kojihub derives policy data (the build target) from the argument names
    params = koji.tasks.parse_task_params(
        "osbuildImage", args_with({"release": "1"}))
    assert params["target"] == "target"
    assert params["opts"] == {"release": "1"}


# --- finding the schema file --------------------------------------------------

def test_schema_from_environment(monkeypatch, hub, tmp_path):
    schema = json.loads(SCHEMA.read_text())
    schema["title"] = "from the environment"
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema))
    monkeypatch.setenv("KOJI_OSBUILD_SCHEMA", str(path))

    plugin = load_plugin(monkeypatch, hub)

    assert plugin.OSBUILD_IMAGE_SCHEMA["title"] == "from the environment"


def test_schema_from_environment_must_exist(monkeypatch, hub, tmp_path):
    missing = tmp_path / "missing.json"
    monkeypatch.setenv("KOJI_OSBUILD_SCHEMA", str(missing))
    with pytest.raises(RuntimeError, match=str(missing)):
        load_plugin(monkeypatch, hub)


def test_missing_schema_fails_at_import(monkeypatch, hub, tmp_path):
    # a copy of the plugin with no schema beside it and none installed
    lonely = tmp_path / "plugins" / "hub" / "osbuild.py"
    lonely.parent.mkdir(parents=True)
    lonely.write_text(PLUGIN.read_text())
    monkeypatch.delenv("KOJI_OSBUILD_SCHEMA", raising=False)
    monkeypatch.setitem(sys.modules, "kojihub", hub)
    real_isfile = __import__("os").path.isfile
    monkeypatch.setattr(
        "os.path.isfile",
        lambda p: False if str(p).startswith("/usr/share/koji-osbuild") else real_isfile(p))
    spec = importlib.util.spec_from_file_location("lonely_plugin", lonely)
    module = importlib.util.module_from_spec(spec)
    with pytest.raises(RuntimeError, match="schema not found.*KOJI_OSBUILD_SCHEMA"):
        spec.loader.exec_module(module)


def test_broken_schema_fails_at_import(monkeypatch, hub, tmp_path):
    path = tmp_path / "schema.json"
    path.write_text(json.dumps({"type": "no-such-type"}))
    monkeypatch.setenv("KOJI_OSBUILD_SCHEMA", str(path))
    with pytest.raises(jsonschema.exceptions.SchemaError):
        load_plugin(monkeypatch, hub)
