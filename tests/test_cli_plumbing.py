"""How gdcli's command line is built: Typer's public API only, no import cycles, and the shared
options, config files and --print-config working together for every command that takes them."""

from __future__ import annotations

import ast
import functools
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PACKAGE = Path(__file__).resolve().parent.parent / "gdcli"

# Import cycles allowed for now, each a pair of modules whose imports of each other are not counted.
ALLOWED_CYCLES: list[set[str]] = []  # none: every cycle is a failure


@functools.lru_cache(maxsize=1)
def _modules() -> dict[str, Path]:
    """Every module of the gdcli package by its dotted name (a package by its own name)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


@functools.lru_cache(maxsize=None)
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imported(node: ast.AST, module: str, is_package: bool) -> list[str]:
    """The dotted names one import statement brings in (`from gdcli import a, b`: gdcli.a, gdcli.b;
    `from typer._click import x`: typer._click)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        # A relative import, from this module's package upwards.
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join(package + ([base] if base else []))
    # `from gdcli.train import hooks` ties this module to the submodule; `from gdcli.config import resolve`
    # to the module that defines the name.
    modules = _modules()
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]


def import_graph() -> dict[str, set[str]]:
    """Which gdcli modules each gdcli module imports, at module level or inside functions alike
    (an import inside a function still ties the two modules together). Imports under
    `if TYPE_CHECKING:` are left out: they name types for annotations and never run."""
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        tree = _tree(path)
        is_package = path.name == "__init__.py"
        typing_only = {id(n) for block in ast.walk(tree) if _is_type_checking(block) for n in ast.walk(block)}
        targets = set()
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            for dotted in _imported(node, name, is_package):
                if dotted in modules and dotted not in (name, "gdcli"):
                    targets.add(dotted)
        graph[name] = targets
    return graph


def _is_type_checking(node: ast.AST) -> bool:
    """`if TYPE_CHECKING:` (or `typing.TYPE_CHECKING`)."""
    test = getattr(node, "test", None) if isinstance(node, ast.If) else None
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING" or \
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (a, b, ..., a) in the graph, or None: a depth-first search for a back edge."""
    state, stack = {}, []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle_and_none_where_there_is_none():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"a2"}, "a2": {"a2x"}, "a2x": {"a2"}}) == ["a2", "a2x", "a2"]


def test_the_import_graph_reads_imports_inside_functions():
    graph = import_graph()
    # cli imports the compare module only inside the compare command.
    assert "gdcli.comparison" in graph["gdcli.cli.compare"]
    assert "gdcli.schedules" in graph["gdcli.config"]


def test_no_import_cycle_among_gdclis_modules():
    graph = import_graph()
    kept = {a: {b for b in targets if not any({a, b} == pair for pair in ALLOWED_CYCLES)} for a, targets in graph.items()}
    assert find_cycle(kept) is None, " -> ".join(find_cycle(kept))


def test_no_module_imports_typers_private_click():
    offenders = []
    for name, path in _modules().items():
        for node in ast.walk(_tree(path)):
            for dotted in _imported(node, name, path.name == "__init__.py"):
                if dotted == "typer._click" or dotted.startswith("typer._click.") or dotted.startswith("click"):
                    offenders.append(f"{path.name}:{node.lineno} imports {dotted}")
        if "typer._click" in path.read_text(encoding="utf-8"):
            offenders.append(f"{path.name} names typer._click")
    assert not offenders, offenders


def test_no_command_rewrites_a_signature_or_swaps_a_class():
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "__signature__" not in text, path.name
        assert ".__class__ =" not in text, path.name


# --- the shared options, --config and --print-config, together -------------------------------------

# Settings a config file or the command line may give, with good and bad values.
VALUES = {
    "lr": st.sampled_from(["0.02", "0.001", "0", "-1", "abc"]),
    "epochs": st.sampled_from(["1", "2", "0", "1.5"]),
    "seed": st.sampled_from(["0", "7", "-1"]),
    "model": st.sampled_from(["linear", "quadratic", "mlp", "tree"]),
    "hidden": st.sampled_from(["2", "0"]),
    "optim": st.sampled_from(["gd", "adam", "nope"]),
    "val_fraction": st.sampled_from(["0.2", "1.5"]),
    "patience": st.sampled_from(["3", "-1"]),
    "tol": st.sampled_from(["0.1"]),
    "schedule": st.sampled_from(["step", "cosine"]),
    "dataset": st.sampled_from(["celsius", "synthetic", "missing.csv"]),
}
# What each command takes of them: compare chooses --optim itself, grad takes no training settings.
TAKES = {
    "fit": set(VALUES),
    "compare": set(VALUES) - {"optim"},
    "sweep": set(VALUES),
    "grad": {"seed", "model", "hidden", "val_fraction", "dataset"},
}


def _toml(key: str, text: str) -> str:
    """A value typed on the command line, as a TOML line (numbers as numbers)."""
    for number in (int, float):
        try:
            return f"{key} = {number(text)!r}"
        except ValueError:
            pass
    return f'{key} = "{text}"'


@st.composite
def invocations(draw):
    """A command, the settings a config file gives it, those typed, and whether it prints its config."""
    command = draw(st.sampled_from(sorted(TAKES)))
    keys = sorted(TAKES[command])
    in_file = {}
    for key in draw(st.lists(st.sampled_from(keys), unique=True, max_size=4)):
        in_file[key] = draw(VALUES[key])
    typed = {key: draw(VALUES[key]) for key in draw(st.lists(st.sampled_from(keys), unique=True, max_size=3))}
    printing = command != "grad" and draw(st.booleans())
    return command, in_file, typed, printing


@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(invocations())
def test_config_files_and_typed_options_together(run_cli, tmp_path_factory, invocation):
    command, in_file, typed, printing = invocation
    folder = tmp_path_factory.mktemp("cfg")
    args = [command]
    if in_file and command != "grad":
        path = folder / "run.toml"
        path.write_text("\n".join(_toml(k, v) for k, v in in_file.items()) + "\n", encoding="utf-8")
        args += ["--config", path]
    for key, value in typed.items():
        args += [f"--{key.replace('_', '-')}", value]
    if "epochs" not in typed and "epochs" not in in_file and command != "grad":
        args += ["--epochs", "1"]
    if command == "grad" and "dataset" not in typed:
        args += ["--dataset", "celsius"]
    if printing:
        args.append("--print-config")
    elif command != "grad":
        args.append("--quiet")
    result = run_cli(*args)
    assert "Traceback" not in result.plain
    assert result.exit_code in (0, 2, 3), (args, result.plain)
    if result.exit_code == 2:
        lines = result.plain.strip().splitlines()
        last = max(i for i, line in enumerate(lines) if line.startswith("error: "))
        assert len(lines) - last <= 2, result.plain  # the problem, then at most its hint
    if printing and result.exit_code == 0:
        printed = tomllib.loads(result.stdout)
        for key in ("lr", "epochs", "seed"):
            if key in typed:  # the command line wins over the file
                assert printed[key] == pytest.approx(float(typed[key])), (key, printed)
        again = folder / "printed.toml"
        again.write_text(result.stdout, encoding="utf-8")
        # A printed config, read back, prints itself.
        assert run_cli(command, "--config", again, "--print-config").stdout == result.stdout


@pytest.mark.parametrize("grid, error", [
    (["--lr", "abc"], "error: --lr 'abc' is not a number"),
    (["--seeds", "3:1"], "error: --seeds '3:1' is a reversed range"),
    (["--batch-size", "1.5"], "error: --batch-size '1.5' must hold whole numbers"),
])
def test_print_config_refuses_a_grid_it_could_not_run(run_cli, grid, error):
    """A printed config is one that runs: sweep's grid texts are parsed before they are printed."""
    result = run_cli("sweep", *grid, "--print-config")
    assert result.exit_code == 2 and result.stdout == "" and error in result.plain, result.plain


# --- training with a listener ----------------------------------------------------------------------


class Recorder:
    """A runner.Listener that keeps what it hears."""

    def __init__(self):
        self.heard = []

    def note(self, text):
        self.heard.append(("note", text))

    def progress(self, done):
        self.heard.append(("progress", done))

    def finished(self):
        self.heard.append(("finished",))

    def interrupted(self, epoch, not_started):
        self.heard.append(("interrupted", epoch, not_started))


def test_the_runner_trains_to_the_end_telling_its_listener_and_printing_nothing(capsys):
    from gdcli import runner, train

    trainers = [train.fit(train.resolve(epochs=30, log_every=10)), train.fit(train.resolve(epochs=20, lr=0.02))]
    listener = Recorder()
    ran = runner.train(trainers, listener)
    assert ran == trainers and not runner.interrupted(ran)
    assert capsys.readouterr() == ("", "")
    done = [h[1] for h in listener.heard if h[0] == "progress"]
    assert done == sorted(done) and done[-1] == 30 + 20  # the second trainer counts on from the first's 30
    assert listener.heard[-1] == ("finished",) and ("finished",) not in listener.heard[:-1]
    assert runner.totals(trainers) == (50, "run-epochs") and runner.totals(trainers[:1]) == (30, "epochs")


def test_every_sweep_backend_is_a_choice_of_sweep():
    from gdcli import backends
    from gdcli.cli import Backend

    assert [b.value for b in Backend] == list(backends.BACKENDS) == ["local", "ray"]
    assert all(name == entry.name for name, entry in backends.BACKENDS.items())
