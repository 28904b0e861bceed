"""Tests of the koji CLI plugin (plugins/cli/osbuild.py).

Counterparts of upstream's test/unit/test_cli.py for argument parsing, plus
the hand-over to the koji-osbuild binary, checked with a stand-in binary
that records what it received. The real binary and the real koji CLI are
tested together against the test hub in the end-to-end tests (tests/).
"""

import contextlib
import importlib.util
import io
import json
import pathlib
import sys
import textwrap
import types

import pytest

PLUGIN = pathlib.Path(__file__).resolve().parents[1] / "cli" / "osbuild.py"


@pytest.fixture(name="plugin")
def fixture_plugin():
    spec = importlib.util.spec_from_file_location("osbuild_cli_plugin", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_missing_arch_is_a_usage_error(plugin):
    err = io.StringIO()
    with pytest.raises(SystemExit) as exc, contextlib.redirect_stderr(err):
        plugin.parse_args(["name", "version", "distro", "target"])
    assert exc.value.code == 2
    assert "osbuild-image" in err.getvalue()
    assert "At least five arguments are required" in err.getvalue()


def test_basic_invocation(plugin):
    args = plugin.parse_args([
        "name", "version", "distro", "target", "arch1",
        "--repo", "https://first.repo",
        "--repo", "https://second.repo",
        "--release", "20200202.n2",
        "--skip-tag",
    ])
    assert (args.name, args.version, args.distro, args.target) == \
        ("name", "version", "distro", "target")
    assert args.arch == ["arch1"]
    assert args.image_type == "guest-image"
    assert args.repo == ["https://first.repo", "https://second.repo"]
    assert args.release == "20200202.n2"
    assert args.skip_tag is True
    assert args.wait is None


def test_ostree_options(plugin):
    args = plugin.parse_args([
        "name", "version", "distro", "target", "arch1",
        "--ostree-parent", "ostree/$arch/staging",
        "--ostree-ref", "ostree/$arch/production",
        "--ostree-url", "https://osbuild.org/repo",
    ])
    assert args.ostree_parent == "ostree/$arch/staging"
    assert args.ostree_ref == "ostree/$arch/production"
    assert args.ostree_url == "https://osbuild.org/repo"


def test_repo_package_sets(plugin):
    args = plugin.parse_args([
        "name", "version", "distro", "target", "arch1",
        "--repo", "https://first.repo",
        "--repo-package-sets", "a; b; c",
        "--repo-package-sets", "d",
        "--repo", "https://second.repo",
        "--repo-package-sets", "alpha",
        "--repo", "https://third.repo",
    ])
    assert args.repo == [
        {"baseurl": "https://first.repo", "package_sets": ["a", "b", "c", "d"]},
        {"baseurl": "https://second.repo", "package_sets": ["alpha"]},
        {"baseurl": "https://third.repo"},
    ]


def test_package_sets_need_a_repo(plugin):
    err = io.StringIO()
    with pytest.raises(SystemExit) as exc, contextlib.redirect_stderr(err):
        plugin.parse_args(["--repo-package-sets", "a", "n", "v", "d", "t", "x86_64"])
    assert exc.value.code == 2
    assert "Need '--repo' for --repo-package-sets" in err.getvalue()


class FakeSession:
    """Just the parts of koji.ClientSession the plugin touches."""

    def __init__(self, logged_in=True):
        self.logged_in = logged_in
        self.sinfo = {"session-id": 42, "session-key": "3-secretkey", "header-auth": True}
        self.callnum = 7
        self.forgotten = False

    def _forget(self):
        self.forgotten = True
        self.logged_in = False


@pytest.fixture(name="stand_in_binary")
def fixture_stand_in_binary(tmp_path, monkeypatch):
    """A fake koji-osbuild that records its argv and the handed-over session."""
    record = tmp_path / "record.json"
    script = tmp_path / "koji-osbuild"
    script.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import json, sys
        argv = sys.argv[1:]
        session = None
        if "--session-fd" in argv:
            fd = argv[argv.index("--session-fd") + 1]
            with open("/dev/fd/" + fd, encoding="utf-8") as f:
                session = json.load(f)
        with open({str(record)!r}, "w", encoding="utf-8") as f:
            json.dump({{"argv": argv, "session": session}}, f)
        sys.exit(3)
        """))
    script.chmod(0o755)
    monkeypatch.setenv("KOJI_OSBUILD_BIN", str(script))
    return record


def options(**overrides):
    values = {"server": "https://hub.example/kojihub", "weburl": "https://hub.example/koji",
              "topurl": None, "serverca": None, "poll_interval": 6, "quiet": False}
    values.update(overrides)
    return types.SimpleNamespace(**values)


def test_hands_the_logged_in_session_to_the_binary(plugin, stand_in_binary):
    session = FakeSession()
    argv = ["name", "version", "distro", "target", "x86_64", "--release", "1"]
    rc = plugin.handle_osbuild_image(options(quiet=True), session, argv)

    assert rc == 3, "the binary's exit status is the command's"
    got = json.loads(stand_in_binary.read_text())
    fd = got["argv"][got["argv"].index("--session-fd") + 1]
    assert got["argv"] == [
        "--server", "https://hub.example/kojihub",
        "--weburl", "https://hub.example/koji",
        "--poll-interval", "6",
        "--quiet",
        "--session-fd", fd,
        "image", *argv,
    ]
    assert got["session"] == {"session-id": 42, "session-key": "3-secretkey",
                              "callnum": 7, "header-auth": True}
    assert session.forgotten, "the koji CLI must not log out under the binary"
    assert "3-secretkey" not in " ".join(got["argv"])


def test_anonymous_session_runs_with_noauth(plugin, stand_in_binary, monkeypatch):
    monkeypatch.setattr(plugin.kl, "activate_session", lambda session, opts: None)
    session = FakeSession(logged_in=False)
    plugin.handle_osbuild_image(options(), session, ["n", "v", "d", "t", "x86_64"])
    got = json.loads(stand_in_binary.read_text())
    assert "--noauth" in got["argv"]
    assert "--session-fd" not in got["argv"]
    assert got["session"] is None


def test_missing_binary_is_one_clear_line(plugin, monkeypatch, tmp_path):
    monkeypatch.setenv("KOJI_OSBUILD_BIN", str(tmp_path / "nope"))
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = plugin.handle_osbuild_image(options(), FakeSession(), ["n", "v", "d", "t", "a"])
    assert rc == 1
    lines = err.getvalue().splitlines()
    assert len(lines) == 1 and "KOJI_OSBUILD_BIN" in lines[0]
