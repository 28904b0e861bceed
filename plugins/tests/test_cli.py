"""Tests of the koji CLI plugin (plugins/cli/osbuild.py).

Counterparts of upstream's test/unit/test_cli.py: a stand-in hub session,
handle_osbuild_image called as the koji CLI calls it, and checks of the
osbuildImage call and of what is printed; plus what we add (--priority,
the schema check before anything is created, one-line errors). The real
koji CLI runs the plugin against the test hub in the end-to-end tests
(tests/submit.rs).
"""

import importlib.util
import json
import pathlib
import types

import koji
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "plugins" / "cli" / "osbuild.py"
WEBURL = "https://koji.example/koji"
TASK_ID = 4711
RESULT = {"composer": {"server": "https://composer.example", "id": "c-1"},
          "koji": {"build": 23}}
ARGV = ["name", "version", "distro", "target", "arch1"]
POSITIONAL = ["name", "version", "distro", "guest-image", "target", ["arch1"]]


class FakeSession:
    """The parts of koji.ClientSession the plugin uses; records the calls."""

    def __init__(self, target=True, dest_tag=True):
        self.calls = []
        self.target = {"build_tag": 23, "build_tag_name": "target-build",
                       "dest_tag": 42, "dest_tag_name": "target-dest"} if target else None
        self.dest_tag = {"id": 42, "name": "target-dest", "locked": False} if dest_tag else None

    def getBuildTarget(self, name):  # pylint: disable=invalid-name
        self.calls.append(("getBuildTarget", name))
        return self.target

    def getTag(self, tag):  # pylint: disable=invalid-name
        self.calls.append(("getTag", tag))
        return self.dest_tag

    def osbuildImage(self, *args, **kwargs):  # pylint: disable=invalid-name
        self.calls.append(("osbuildImage", args, kwargs))
        return TASK_ID

    def logout(self):
        self.calls.append(("logout",))

    def getTaskResult(self, task_id):  # pylint: disable=invalid-name
        self.calls.append(("getTaskResult", task_id))
        return RESULT

    def names(self):
        return [call[0] for call in self.calls]

    def osbuild_image_call(self):
        (call,) = [c for c in self.calls if c[0] == "osbuildImage"]
        return list(call[1]), call[2]


class Cli:
    """The koji CLI around the plugin: options, koji_cli.lib's session
    and watch functions, and a run() that captures the output."""

    def __init__(self, plugin, monkeypatch, capsys):
        self.plugin = plugin
        self.capsys = capsys
        self.events = []
        self.in_background = False
        self.watch_result = 0
        monkeypatch.setattr(plugin.kl, "activate_session",
                            lambda session, options: self.events.append("login"))
        monkeypatch.setattr(plugin.kl, "_running_in_bg", lambda: self.in_background)
        monkeypatch.setattr(plugin.kl, "watch_tasks", self.watch_tasks)

    def watch_tasks(self, session, tasks, quiet=False, poll_interval=60, **_):
        self.events.append(("watch", tasks, quiet, poll_interval, session.names()[-1]))
        return self.watch_result

    def run(self, argv, session=None, quiet=False):
        session = session or FakeSession()
        options = types.SimpleNamespace(quiet=quiet, weburl=WEBURL, poll_interval=6)
        rc = self.plugin.handle_osbuild_image(options, session, argv)
        out = self.capsys.readouterr()
        return types.SimpleNamespace(rc=rc, session=session, out=out.out, err=out.err)

    def fails(self, argv, session=None):
        """Run what must stop before the hub is asked to do anything."""
        session = session or FakeSession()
        with pytest.raises(SystemExit) as exc:
            self.run(argv, session)
        out = self.capsys.readouterr()
        assert "osbuildImage" not in session.names()
        return types.SimpleNamespace(code=exc.value.code, session=session,
                                     out=out.out, err=out.err)


@pytest.fixture(name="plugin")
def fixture_plugin(monkeypatch):
    monkeypatch.delenv("KOJI_OSBUILD_SCHEMA", raising=False)
    spec = importlib.util.spec_from_file_location("osbuild_cli_plugin", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(name="cli")
def fixture_cli(plugin, monkeypatch, capsys):
    return Cli(plugin, monkeypatch, capsys)


def write_json(tmp_path, name, value):
    path = tmp_path / name
    path.write_text(json.dumps(value) if not isinstance(value, str) else value)
    return str(path)


# --- the command line -----------------------------------------------------------

def test_missing_arch_is_a_usage_error(cli):
    res = cli.fails(["name", "version", "distro", "target"])
    assert res.code == 2
    assert "Usage: " in res.err and "osbuild-image [options] <name> <version>" in res.err
    assert "At least five arguments are required" in res.err
    assert res.session.calls == []


def test_package_sets_need_a_repo(cli):
    res = cli.fails(["--repo-package-sets", "a", *ARGV])
    assert res.code == 2
    assert "Need '--repo' for --repo-package-sets" in res.err


# --- upstream's scenarios -----------------------------------------------------------

def test_basic_invocation(cli):
    res = cli.run(ARGV + ["--repo", "https://first.repo", "--repo", "https://second.repo",
                          "--release", "20200202.n2", "--skip-tag"])

    assert res.rc == 0
    args, kwargs = res.session.osbuild_image_call()
    assert args == POSITIONAL
    assert kwargs == {"opts": {"release": "20200202.n2",
                               "repo": ["https://first.repo", "https://second.repo"],
                               "skip_tag": True}}
    assert res.out == (
        "name: name\n"
        "version: version\n"
        "distro: distro\n"
        "arches: arch1\n"
        "target: target\n"
        "image type: guest-image\n"
        "{'release': '20200202.n2',\n"
        " 'repo': ['https://first.repo', 'https://second.repo'],\n"
        " 'skip_tag': True}\n"
        f"Created task: {TASK_ID}\n"
        f"Task info: {WEBURL}/taskinfo?taskID={TASK_ID}\n"
        f"{RESULT}\n"
    )
    assert res.err == ""


def test_the_order_of_things(cli):
    # target check anonymously, then login, the task, logout, watch, result
    res = cli.run(ARGV)
    assert res.session.names() == ["getBuildTarget", "getTag", "osbuildImage",
                                   "logout", "getTaskResult"]
    assert res.session.calls[:2] == [("getBuildTarget", "target"), ("getTag", 42)]
    assert cli.events == ["login", ("watch", [TASK_ID], False, 6, "logout")]


def test_every_option(cli, tmp_path):
    customizations = {"packages": ["emacs"], "user": [{"name": "me"}]}
    upload = {"region": "eu-west-1", "share_with_accounts": ["123456789012"]}
    res = cli.run([
        "name", "version", "distro", "target", "x86_64", "aarch64",
        "--image-type", "aws",
        "--repo", "https://first.repo/$arch",
        "--repo-package-sets", "a; b; c",
        "--repo-package-sets", "d",
        "--repo", "https://second.repo",
        "--repo-package-sets", "alpha",
        "--repo", "https://third.repo",
        "--release", "20200202.n2",
        "--skip-tag",
        "--ostree-parent", "ostree/$arch/staging",
        "--ostree-ref", "ostree/$arch/production",
        "--ostree-url", "https://osbuild.org/repo",
        "--customizations", write_json(tmp_path, "c.json", customizations),
        "--upload-options", write_json(tmp_path, "u.json", upload),
        "--priority", "-3",
        "--nowait",
    ])

    assert res.rc is None
    args, kwargs = res.session.osbuild_image_call()
    assert args == ["name", "version", "distro", "aws", "target", ["x86_64", "aarch64"]]
    assert kwargs == {
        "opts": {
            "release": "20200202.n2",
            "repo": [
                {"baseurl": "https://first.repo/$arch", "package_sets": ["a", "b", "c", "d"]},
                {"baseurl": "https://second.repo", "package_sets": ["alpha"]},
                {"baseurl": "https://third.repo"},
            ],
            "skip_tag": True,
            "ostree": {"parent": "ostree/$arch/staging",
                       "ref": "ostree/$arch/production",
                       "url": "https://osbuild.org/repo"},
            "customizations": customizations,
            "upload_options": upload,
        },
        "priority": -3,
    }
    assert "arches: x86_64, aarch64\n" in res.out
    assert "image type: aws\n" in res.out


def test_no_priority_is_not_sent(cli):
    _, kwargs = cli.run(ARGV + ["--nowait"]).session.osbuild_image_call()
    assert kwargs == {"opts": {}}


def test_priority_must_be_a_number(cli):
    res = cli.fails(ARGV + ["--priority", "urgent"])
    assert res.code == 2
    assert "--priority" in res.err


def test_quiet_prints_only_the_result(cli):
    res = cli.run(ARGV, quiet=True)
    assert res.out == f"{RESULT}\n"
    assert cli.events[-1] == ("watch", [TASK_ID], True, 6, "logout")


def test_quiet_nowait_prints_nothing(cli):
    res = cli.run(ARGV + ["--nowait"], quiet=True)
    assert (res.rc, res.out, res.err) == (None, "", "")
    assert "osbuildImage" in res.session.names()


# --- waiting -----------------------------------------------------------------

@pytest.mark.parametrize("flags, in_background, waits", [
    ([], False, True),
    ([], True, False),
    (["--wait"], True, True),
    (["--nowait"], False, False),
], ids=["foreground", "background", "wait-in-background", "nowait"])
def test_when_to_wait(cli, flags, in_background, waits):
    cli.in_background = in_background
    res = cli.run(ARGV + flags)
    waited = ["logout", "getTaskResult"]
    assert (res.session.names()[3:] == waited) is waits
    assert (len(cli.events) == 2) is waits
    assert res.out.endswith(f"{RESULT}\n") is waits


def test_nowait_ends_after_the_task_lines(cli):
    res = cli.run(ARGV + ["--nowait"])
    assert res.rc is None
    assert res.out.endswith(f"Task info: {WEBURL}/taskinfo?taskID={TASK_ID}\n")
    assert res.session.names() == ["getBuildTarget", "getTag", "osbuildImage"]


def test_a_failed_task_prints_no_result(cli):
    cli.watch_result = 1
    res = cli.run(ARGV)
    assert res.rc == 1
    assert "getTaskResult" not in res.session.names()
    assert res.out.endswith(f"Task info: {WEBURL}/taskinfo?taskID={TASK_ID}\n")


# --- the target check -------------------------------------------------------

def test_unknown_build_target(cli):
    session = FakeSession(target=False)
    with pytest.raises(koji.GenericError, match="^Unknown build target: target$"):
        cli.run(ARGV, session)
    assert session.names() == ["getBuildTarget"]
    assert cli.events == [], "nothing is printed or logged in for a bad target"


def test_unknown_destination_tag(cli):
    session = FakeSession(dest_tag=False)
    with pytest.raises(koji.GenericError, match="^Unknown destination tag: target-dest$"):
        cli.run(ARGV, session)
    assert session.names() == ["getBuildTarget", "getTag"]
    assert cli.events == []


# --- bad input: one line, nothing created -------------------------------------

def one_line(res):
    assert res.code == 1
    assert res.out == ""
    lines = res.err.splitlines()
    assert len(lines) == 1, res.err
    return lines[0]


def test_missing_customizations_file(cli, tmp_path):
    missing = tmp_path / "no-such-file.json"
    res = cli.fails(ARGV + ["--customizations", str(missing)])
    assert one_line(res) == (
        f"--customizations {missing}: cannot read the file: No such file or directory")
    assert res.session.calls == [], "the hub is not even asked about the target"


def test_customizations_that_are_not_json(cli, tmp_path):
    path = write_json(tmp_path, "bad.json", '{"packages": ["vim",]}')
    line = one_line(cli.fails(ARGV + ["--customizations", path]))
    assert line.startswith(f"--customizations {path}: not valid JSON: Expecting value: line 1")


def test_upload_options_that_are_not_utf8(cli, tmp_path):
    path = tmp_path / "u.json"
    path.write_bytes(b'{"region": "\xff"}')
    line = one_line(cli.fails(ARGV + ["--upload-options", str(path)]))
    assert line.startswith(f"--upload-options {path}: not valid JSON: ")


def test_upload_options_against_the_schema(cli, tmp_path):
    path = write_json(tmp_path, "upload.json", {"region": 1})
    res = cli.fails(ARGV + ["--upload-options", path])
    line = one_line(res)
    assert line.startswith(f"--upload-options {path}: {{'region': 1}} is not valid under any")
    assert line.endswith(f"(the rules are in {ROOT / 'schemas' / 'osbuild-image.schema.json'})")
    assert res.session.calls == []


def test_customizations_must_be_an_object(cli, tmp_path):
    path = write_json(tmp_path, "c.json", ["emacs"])
    line = one_line(cli.fails(ARGV + ["--customizations", path]))
    assert line.startswith(f"--customizations {path}: ['emacs'] is not of type 'object'")


def test_a_violation_inside_a_file_says_where(cli, tmp_path):
    path = write_json(tmp_path, "upload.json", {
        "region": "eu-west-1", "share_with_accounts": ["123456789012", 7]})
    line = one_line(cli.fails(ARGV + ["--upload-options", path]))
    assert line.startswith(f"--upload-options {path}: ")
    assert "is not valid under any" in line or " at share_with_accounts/1: " in line


def test_violation_outside_a_file(cli, plugin, monkeypatch):
    # the command line cannot produce one today; should it ever, it names the argument
    monkeypatch.setattr(plugin, "build_opts", lambda args: {"release": 1})
    line = one_line(cli.fails(ARGV))
    assert line.startswith("osbuildImage arguments at 6/release: 1 is not of type 'string'")


# --- where the schema comes from ----------------------------------------------

def test_schema_from_the_environment(cli, tmp_path, monkeypatch):
    schema = json.loads((ROOT / "schemas" / "osbuild-image.schema.json").read_text())
    schema["definitions"]["options"]["properties"]["release"]["pattern"] = "^[0-9]+$"
    path = write_json(tmp_path, "schema.json", schema)
    monkeypatch.setenv("KOJI_OSBUILD_SCHEMA", path)
    line = one_line(cli.fails(ARGV + ["--release", "beta"]))
    assert line.endswith(f"(the rules are in {path})")


def test_schema_from_the_environment_must_exist(cli, tmp_path, monkeypatch):
    missing = tmp_path / "missing.json"
    monkeypatch.setenv("KOJI_OSBUILD_SCHEMA", str(missing))
    line = one_line(cli.fails(ARGV))
    assert line.startswith(f"KOJI_OSBUILD_SCHEMA={missing}: no such file")


def test_installed_schema_comes_first(plugin):
    assert plugin.SCHEMA_PATHS[0] == "/usr/share/koji-osbuild/osbuild-image.schema.json"
    assert pathlib.Path(plugin.SCHEMA_PATHS[1]).resolve() == \
        ROOT / "schemas" / "osbuild-image.schema.json"


def test_without_jsonschema_the_hub_checks(cli, plugin, monkeypatch, tmp_path):
    monkeypatch.setattr(plugin, "jsonschema", None)
    path = write_json(tmp_path, "upload.json", {"region": 1})
    res = cli.run(ARGV + ["--upload-options", path, "--nowait"])
    _, kwargs = res.session.osbuild_image_call()
    assert kwargs["opts"]["upload_options"] == {"region": 1}


def test_without_a_schema_the_hub_checks(cli, plugin, monkeypatch, tmp_path):
    monkeypatch.setattr(plugin, "SCHEMA_PATHS", [str(tmp_path / "nowhere.json")])
    path = write_json(tmp_path, "upload.json", {"region": 1})
    res = cli.run(ARGV + ["--upload-options", path, "--nowait"])
    assert "osbuildImage" in res.session.names()


def test_the_schema_and_the_hub_agree(plugin):
    # the shared accept/reject table, through the plugin's own check
    cases = json.loads((ROOT / "schemas" / "tests" / "osbuild-image-cases.json")
                       .read_text())["cases"]
    for case in cases:
        args = types.SimpleNamespace(customizations="c.json", upload_options="u.json")
        try:
            plugin.validate(case["args"], args)
            valid = True
        except SystemExit:
            valid = False
        assert valid == case["valid"], case["name"]
