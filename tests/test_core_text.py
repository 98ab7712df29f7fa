"""The core speaks in parameter names; only the command line (gdcli/cli/) writes flags.

The core's messages name a setting through gdcli.errors.param, which the CLI shows as its flag
(`--lr`) and the Python API as its parameter (`lr`). A flag written into a core string would
reach Python users as a flag: this test reads every string literal of the core (through `ast`,
docstrings aside) and refuses one.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "gdcli"
FLAG = re.compile(r"(?<![\w-])--[A-Za-z]")

# Text that holds "--" followed by a letter and is not one of gdcli's flags in a message.
ALLOWED = (
    "ray start --head",  # Ray's own command line, shown in a hint about joining a cluster
    "gdcli fit --save run.json",  # a whole command line: how to make a run file
    "gdcli fit --dataset -",  # a whole command line: data on stdin
)

# The views (gdcli/report/, and tables.py that fits them to the terminal) are the command line's
# output: their notes under a table say what to type next ("use --output csv"), and the Python API
# rewords what it shows of them into parameter names (runs.py). A verdict's reason is such a text
# too: it is shown as it is by both fronts.
PRESENTATION = ("report",)
SHOWN_AS_IS = ("outcome.py", "tables.py")


def _docstrings(tree: ast.Module) -> set[int]:
    """The ids of the docstring constants: they describe code to its readers, and no user sees them."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def flags_written(path: Path, root: Path = PACKAGE.parent) -> list[str]:
    """The string literals of one module (f-strings' literal parts included) that hold a flag."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    docs = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            text = node.value
            for allowed in ALLOWED:
                text = text.replace(allowed, "")
            if FLAG.search(text):
                found.append(f"{path.relative_to(root)}:{node.lineno}: {node.value!r}")
    return found


def core_files() -> list[Path]:
    """Every module of gdcli but the command line's own package."""
    return sorted(p for p in PACKAGE.rglob("*.py") if "cli" not in p.relative_to(PACKAGE).parts[:-1])


def test_the_scan_sees_a_flag_in_an_f_string_and_not_in_a_docstring(tmp_path):
    module = tmp_path / "m.py"
    module.write_text('"""Uses --lr."""\ndef f(x):\n    """--lr too."""\n    return f"--seeds {x}", "lr", "a -- b"\n')
    assert flags_written(module, tmp_path) == ["m.py:4: '--seeds '"]


def test_the_core_writes_no_flag():
    core = [p for p in core_files() if p.relative_to(PACKAGE).parts[0] not in PRESENTATION and p.name not in SHOWN_AS_IS]
    assert len(core) > 50  # the scan reads the whole core, its packages too
    assert [hit for p in core for hit in flags_written(p)] == []


def _flag_calls(path: Path) -> list[str]:
    """Calls of errors.flag (which writes `--name`) in one module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [f"{path.relative_to(PACKAGE.parent)}:{node.lineno}" for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "flag"]


def test_the_core_builds_no_flag_either():
    """A flag built by errors.flag() is one too: the core names a setting with errors.param."""
    core = [p for p in core_files() if p.relative_to(PACKAGE).parts[0] not in PRESENTATION and p.name != "errors.py"]
    assert [hit for p in core for hit in _flag_calls(p)] == []


def test_every_message_written_here_comes_with_a_hint():
    """A GdcliError whose message is written where it is raised also says the way out (its hint);
    one that re-words another error's text (err.render, a note) carries that error's hint along."""
    bare = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "GdcliError" and node.args:
                written = isinstance(node.args[0], (ast.Constant, ast.JoinedStr))
                if written and len(node.args) < 2 and not any(k.arg == "hint" for k in node.keywords):
                    bare.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert bare == []
