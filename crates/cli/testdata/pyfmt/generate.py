#!/usr/bin/env python3
"""Generate the Python-formatting fixtures for koji-osbuild's `pyfmt` module.

The CLI prints the osbuildImage opts with `pprint(opts)` and the task result
with `print(result)`, exactly as upstream's koji plugin does in Python. This
script records what CPython actually prints, so the Rust port is tested
against the real thing, and writes the table of characters that
`str.isprintable()` rejects (which `repr()` escapes).

Run from the crate directory with any Python 3 (the project uses the venv's):
    .venv/bin/python crates/cli/testdata/pyfmt/generate.py
It rewrites testdata/pyfmt/cases.json and src/pyfmt/nonprintable.rs.
"""

import json
import os
import pprint
import sys
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
CRATE = os.path.dirname(os.path.dirname(HERE))

LONG = "https://download.fedoraproject.org/pub/fedora/linux/releases/42/Everything/x86_64/os/"
WORDS = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod "
         "tempor incididunt ut labore et dolore magna aliqua " * 3).strip()

CASES = [
    None, True, False, 0, 1, -17, 2**63 - 1, 2**63, -2**63, 0.0, -0.0, 1.0, 1.5, 0.1,
    1e16, 1e15, 1.2345678901234567e-5, 0.0001, 0.00001, 123456789.125,
    1e300, 5e-324,
    "", "plain", "it's", 'say "hi"', "both ' and \"", "back\\slash",
    "tab\there", "new\nline", "cr\rlf\r\n", "bell\x07 del\x7f nul\x00",
    "caf\u00e9", "\u00a0nbsp", "soft\u00adhyphen", "zero\u200bwidth",
    "line\u2028sep", "next\u0085line", "bidi\u202emark", "bom\ufeff",
    "private\ue000use", "unassigned\u0378x", "emoji \U0001F600", "cjk \u4e2d\u6587",
    "combining e\u0301", "astral unassigned \U000E0080", "\udcff"[:0] + "tag \U000E0041",
    "c1\x85\x9f", "fs\x1cgs\x1drs\x1eus\x1f",
    [], {}, [1, 2, 3], ["a", "b"], {"b": 1, "a": 2},
    {"release": "20200202.n2", "repo": ["https://first.repo", "https://second.repo"],
     "skip_tag": True},
    {"repo": [{"baseurl": "https://first.repo", "package_sets": ["a", "b", "c", "d"]},
              {"baseurl": "https://second.repo", "package_sets": ["alpha"]},
              {"baseurl": "https://third.repo"}],
     "release": "20200202.n2"},
    {"ostree": {"parent": "ostree/$arch/staging", "ref": "ostree/$arch/production",
                "url": "https://osbuild.org/repo"},
     "release": "20200202.n2",
     "repo": ["https://first.repo", "https://second.repo"]},
    {"customizations": {"packages": ["emacs", "vim-enhanced", "tmux", "git", "htop",
                                     "strace", "ltrace", "gdb"],
                        "user": [{"name": "admin", "key": "ssh-ed25519 " + "A" * 68 + " admin@example.com",
                                  "groups": ["wheel"]}],
                        "services": {"enabled": ["sshd"], "disabled": []}},
     "upload_options": {"region": "us-east-1", "share_with_accounts": ["123456789012"]}},
    {"repo": [LONG, LONG + "updates/", LONG + "extra/very/long/path/" * 3]},
    {"k": WORDS},
    WORDS,
    "a" * 200,
    "word " * 40,
    "first line\nsecond line is a bit longer " + "x " * 40 + "\nthird",
    ["x" * 30, "y" * 30, "z" * 30],
    [[1, 2, [3, 4, [5, 6, ["deep" * 10, "deeper" * 10]]]]],
    {"unicode": "\u00fcber-lange Zeichenkette mit Umlauten \u00e4\u00f6\u00fc " * 3,
     "quotes": "it's \"quoted\" " * 8},
    {"nested": {"level2": {"level3": {"level4": {"level5": "v" * 60}}}}},
    {"composer": {"server": "https://composer.example.com", "id": "4b5f8a1c-2c44-4b7c-9c4e-2d5f6a7b8c9d"},
     "koji": {"build": 1}},
    {"z": 1.5, "y": None, "x": [True, False], "w": -3, "v": {}},
    {"empty list": [], "empty dict": {}, "empty str": ""},
    ["short", {"key": "value " * 20}, ["inner " * 15]],
    {"key_" * 20: "v " * 50, "multi": "one\ntwo " * 12 + "\n"},
    [[["deep string " * 8]]],
    {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": {"j": "w " * 30}}}}}}}}}},
    " leading and trailing spaces " * 4,
    "tabs\tand\ttabs " * 10,
    {"it's": ["don't " * 15]},
    [1.5, 2.25, -1e-7, 1e22, 3.141592653589793, 100.0, 1e16 - 2],
]


def nonprintable_ranges():
    """Maximal ranges of code points that str.isprintable() rejects."""
    ranges = []
    start = None
    for cp in range(sys.maxunicode + 1):
        bad = not chr(cp).isprintable()
        if bad and start is None:
            start = cp
        elif not bad and start is not None:
            ranges.append((start, cp - 1))
            start = None
    if start is not None:
        ranges.append((start, sys.maxunicode))
    return ranges


def main():
    cases = [{"input": c, "repr": repr(c), "pprint": pprint.pformat(c)} for c in CASES]
    with open(os.path.join(HERE, "cases.json"), "w", encoding="utf-8") as f:
        json.dump({"python": sys.version.split()[0], "cases": cases}, f,
                  indent=1, ensure_ascii=True)
        f.write("\n")

    ranges = nonprintable_ranges()
    out = os.path.join(CRATE, "src", "pyfmt", "nonprintable.rs")
    with open(out, "w", encoding="utf-8") as f:
        f.write("// @generated by testdata/pyfmt/generate.py from Python %s "
                "(Unicode %s); do not edit.\n" % (sys.version.split()[0], unicodedata.unidata_version))
        f.write("//\n// Inclusive ranges of code points for which Python's "
                "`str.isprintable()` is false.\n")
        f.write("pub(super) const NONPRINTABLE: &[(u32, u32)] = &[\n")
        for lo, hi in ranges:
            f.write("    (0x%04X, 0x%04X),\n" % (lo, hi))
        f.write("];\n")


if __name__ == "__main__":
    main()
