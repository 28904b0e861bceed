"""Tests of the kojid plugin (plugins/builder/osbuild.py).

Its contract with kojid (upstream's method, weight and handler signature)
and with `koji-osbuild-builder run-task` (the session on an inherited
pipe, the outcome line, the callnum carried on). The real binary under
Koji's own TaskManager is in the end-to-end tests (tests/kojid.rs).
"""

import importlib.util
import inspect
import json
import os
import pathlib
import sys
import types

import koji
import koji.tasks
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "plugins" / "builder" / "osbuild.py"
SINFO = {"session-id": 7, "session-key": "7-secret-key", "header-auth": True}


def load_plugin():
    spec = importlib.util.spec_from_file_location("osbuild_builder_plugin", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(name="plugin")
def fixture_plugin():
    return load_plugin()


def handler(plugin, tmp_path, callnum=3, config_file=None):
    session = types.SimpleNamespace(sinfo=dict(SINFO), callnum=callnum,
                                    baseurl="https://koji.example/kojihub")
    options = types.SimpleNamespace(workdir=str(tmp_path), configFile=config_file)
    return plugin.OSBuildImage(4711, "osbuildImage", ["n", "v", "d", "t", "tgt", ["x86_64"], {}],
                               session, options)


def test_upstreams_method_weight_and_arguments(plugin):
    assert plugin.OSBuildImage.Methods == ["osbuildImage"]
    assert plugin.OSBuildImage._taskWeight == 0.2  # pylint: disable=protected-access
    assert issubclass(plugin.OSBuildImage, koji.tasks.BaseTaskHandler)
    params = list(inspect.signature(plugin.OSBuildImage.handler).parameters)
    assert params == ["self", "name", "version", "distro", "image_type", "target", "arches",
                      "opts"]


def test_the_session_goes_through_an_inherited_pipe_only(plugin, tmp_path, monkeypatch):
    """A stand-in binary reports what it got: the session on the pipe,
    nothing secret on its command line or in its environment."""
    fake = tmp_path / "fake-builder"
    fake.write_text(f"""#!{sys.executable}
import json, os, sys
fd = int(sys.argv[sys.argv.index("--session-fd") + 1])
session = json.load(open(f"/dev/fd/{{fd}}"))
print("a log line", file=sys.stderr)
print("not the outcome")
print(json.dumps({{"result": {{"session": session, "argv": sys.argv,
                              "env": "7-secret-key" in str(os.environ)}},
                  "callnum": session["callnum"] + 5}}))
""")
    fake.chmod(0o755)
    monkeypatch.setattr(plugin, "BUILDER", str(fake))
    monkeypatch.setattr(plugin, "CONFIG_FILES", ["/etc/b.conf"])
    kojid_conf = tmp_path / "kojid.conf"
    kojid_conf.write_text("[kojid]\n")
    h = handler(plugin, tmp_path, config_file=str(kojid_conf))
    got = h.run()
    assert got["session"] == {**SINFO, "callnum": 3, "hub": "https://koji.example/kojihub"}
    assert got["argv"][1:] == ["run-task", "4711", "--session-fd", got["argv"][4],
                               "--config", "/etc/b.conf", "--kojid-config", str(kojid_conf)]
    assert "7-secret-key" not in " ".join(got["argv"])
    assert got["env"] is False
    # kojid's closeTask goes on after the child's calls.
    assert h.session.callnum == 8


def outcome(plugin, tmp_path, line, returncode=0, callnum=3):
    h = handler(plugin, tmp_path, callnum=callnum)
    return h, h.outcome(line + "\n", returncode, ["last log line"])


def test_a_fault_is_raised_as_kojid_stores_it(plugin, tmp_path):
    line = json.dumps({"fault": {"code": 1005, "message": "Compose failed (id: c-1)"},
                       "callnum": 9})
    with pytest.raises(koji.BuildError, match=r"Compose failed \(id: c-1\)"):
        outcome(plugin, tmp_path, line)
    # not a Koji fault class: the fault itself, code and text kept
    line = json.dumps({"fault": {"code": 1, "message": "boom"}, "callnum": 9})
    with pytest.raises(koji.xmlrpcplus.Fault) as e:
        outcome(plugin, tmp_path, line)
    assert (e.value.faultCode, e.value.faultString) == (1, "boom")


def test_stopped_by_kojid_neither_closes_nor_fails(plugin, tmp_path):
    with pytest.raises(SystemExit):
        outcome(plugin, tmp_path, json.dumps({"stopped": True, "callnum": 4}))


def test_no_outcome_is_a_build_error_and_the_callnum_moves_past_the_childs(plugin, tmp_path):
    h = handler(plugin, tmp_path)
    with pytest.raises(koji.BuildError, match="exit status 101.*last log line"):
        h.outcome("", 101, ["last log line"])
    assert h.session.callnum == 3 + plugin.CALLNUM_GAP


def test_a_missing_binary_is_a_build_error(plugin, tmp_path, monkeypatch):
    monkeypatch.setattr(plugin, "BUILDER", str(tmp_path / "missing"))
    before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(koji.BuildError, match="cannot run"):
        handler(plugin, tmp_path).run()
    assert len(os.listdir("/proc/self/fd")) == before, "the session pipe is closed"
