"""Regenerate every example output in README.md from a real run, so the README cannot drift.

Each example block in the README follows a marker line `<!-- example: NAME -->`
and is a ```text fence. This script runs the example's commands with this
checkout's gdcli as a pipe would (no colour, Rich's wide page), and writes their output
into the fence: `$ command` lines, then what the command printed (stdout and
stderr interleaved, as in a terminal). Long outputs are cut to the lines an
example names, with `...` where lines were left out.

    python docs/readme_examples.py           # rewrite README.md in place
    python docs/readme_examples.py --check   # exit 1 if README.md differs (timings aside)
    python docs/readme_examples.py --benchmarks  # also rerun benchmarks/ (minutes)
    python docs/readme_examples.py --only scale  # rerun the examples named
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MARKER = re.compile(r"^<!-- example: ([\w-]+) -->$")


@dataclass
class Example:
    """Commands to run, and which lines of their output to show (all, by default)."""

    commands: list[str]
    # Show from the first line matching `start` (inclusive); None: from the top.
    start: str | None = None
    # Show only lines matching one of these patterns (after `start`), with "..." for gaps.
    keep: list[str] = field(default_factory=list)
    # Commands (by index) whose output is left out: only their command line shows.
    quiet: list[int] = field(default_factory=list)
    # Python statements run as an interactive session shows them (docs/session.py), instead of commands.
    session: str | None = None


EXAMPLES: dict[str, Example] = {
    "fit": Example(["gdcli fit"]),
    "fit-diverged": Example(
        ["gdcli fit --scale 1"],
        keep=[r"│     [23] │", r"│    11 │", r"^error:", r"^The ", r"^Lower"],
    ),
    "fit-unstable": Example(["gdcli fit --lr 0.03299 --epochs 200"], keep=[r"^verdict", r"^warning:", r"^The ", r"^Lower"]),
    "stop-tol": Example(
        ["gdcli fit --epochs 20000 --tol 1e-6 --patience 100"],
        keep=[r"stop when", r"^result", r"^final", r"^in original", r"^optimum", r"^stopped", r"^time"],
    ),
    "stop-sweep": Example(["gdcli sweep --lr 1e-3:3e-2 --num 4 --tol 1e-5 --patience 50 --epochs 20000"],
                          start="sweep:", keep=[r"^ +(#|\d) ", r"^best"]),
    "schedule": Example(
        ["gdcli fit --schedule cosine --lr 0.03 --epochs 2000 --log-every 500"],
        keep=[r"schedule ", r"epoch ┃", r"│ +(1|2|3|500|1000|1500|2000) │", r"^final", r"^stable", r"^verdict"],
    ),
    "python": Example([], session="""
import gdcli
run = gdcli.fit("celsius")
run
run.loss, run.optimum, run.gap
run.params
run.predict([[35.7], [81.9]])
run.save("run.json")
gdcli.load_run("run.json").predict([[35.7]])
gdcli.sweep(lr=[1e-3, 1e-2, 3e-2], seeds=[0, 1], epochs=500).best
gdcli.fit(lr=-1)
gdcli.fit(learning_rate=0.01)
"""),
    "interrupt": Example(["timeout --preserve-status -s INT 8 gdcli fit --epochs 100000000 --log-every 50000000 --quiet; echo \"exit $?\""]),
    "predict": Example(["gdcli fit --save run.json", "gdcli predict run.json 35.7 81.9"], quiet=[0]),
    "predict-input": Example(
        [
            "gdcli fit --save run.json",
            "printf 'id,t_u\\nmorning,35.7\\nnoon,81.9\\n' > rows.csv",
            "gdcli predict run.json --input rows.csv --keep id",
            "gdcli datasets celsius --output csv | gdcli predict run.json --input - --output csv",
        ],
        quiet=[0, 1],
    ),
    "workflow-fit": Example(
        ["python docs/houses.py", "head -4 houses.csv", "gdcli fit --dataset houses.csv --target price",
         "gdcli fit --dataset houses.csv --target price --missing drop --normalize --method gram --lr 0.5 "
         "--epochs 200 --val-fraction 0.1 --save houses.json"],
        keep=[r"^wrote", r"^[a-z_]+(,[a-z_]+)+$", r"^\d+,", r"^error:", r"^fill in", r"│ (dataset|left out|dropped) ",
              r"^result", r"^final", r"^in original", r"^optimum", r"^gap", r"^val loss", r"^validation", r"^  ", r"^saved"],
    ),
    "workflow-score": Example(
        ["python docs/houses.py", "gdcli fit --dataset houses.csv --target price --missing drop --normalize "
         "--method gram --lr 0.5 --epochs 200 --val-fraction 0.1 --save houses.json",
         "gdcli evaluate houses.json --input houses_test.csv",
         "gdcli predict houses.json --input houses_test.csv --keep id --output csv > predictions.csv",
         "head -4 predictions.csv", "gdcli export houses.json houses.pt"],
        quiet=[0, 1],
    ),
    "compare": Example(["gdcli compare --optims gd,adam"], start="gradient at the start"),
    "sweep": Example(["gdcli sweep --scale 1 --lr 1e-5:1e-3 --num 8"], start="sweep:"),
    "surface-sweep": Example(["gdcli sweep --lr 5e-3,3e-2,3.4e-2 --epochs 60 --surface"], start="sweep:"),
    "surface-mlp": Example(["gdcli fit --model mlp --surface"], start="celsius: loss surface"),
    "edge": Example(["gdcli fit --model mlp --sharpness 50"], start="training", keep=[r"^training", r"┃|┏|┡|└", r"│ +(1|2|3|500|1000|1500|2000|3000|5000) │", r"^sharpness:", r"^2/lr", r"^final"]),
    "edge-sweep": Example(["gdcli sweep --model mlp --lr 2e-4,5e-4,1e-3,2e-3 --sharpness 50"], start="sweep:"),
    "ray": Example(
        [
            "gdcli sweep --backend ray --optim rmsprop --lr 1e-3:1e-1 --num 6 --epochs 2000",
            "gdcli sweep --backend ray --address 127.0.0.1:6399",
        ],
        start="note:",
    ),
    "grad": Example(['gdcli grad "w*x + b" --at x=2 --at w=3 --at b=4']),
    "grad-explain": Example(
        ["gdcli grad --dataset celsius --params 1,0 --explain"], keep=[r"^│  11 │", r"^├", r"^│ sum │", r"^└", r"dL/dw_t_u ="]
    ),
    "sample": Example(["gdcli sample normal --mean 0 --std 1 --shape 3 --draws 1000"]),
    "quadratic": Example(
        ["gdcli fit --model quadratic"],
        keep=[r"dataset ", r"model ", r"^result", r"^final", r"^in original", r"^optimum", r"^gap", r"^stable"],
    ),
    "mlp": Example(["gdcli fit --model mlp"], start="training"),
    "compare-mlp": Example(
        ["gdcli compare --model mlp --optims sgd --lr 1e-3"], start="gradient at the start"
    ),
    "export": Example(
        ["gdcli fit --model mlp --save net.json", "gdcli export net.json net.pt",
         "gdcli predict net.json 35.7 81.9"],
        quiet=[0],
    ),
    "datasets-output": Example(
        [
            "gdcli datasets --output csv",
            "gdcli datasets iphone --output csv",
            "gdcli datasets iphone --output csv | gdcli fit --dataset - --normalize --lr 0.1 --epochs 3000",
        ],
        keep=[r"^(name|celsius|iphone),", r"^[a-z_]+(,[a-z_]+)+$|^[0-9.]+(,[0-9.]+)+$", r"dataset ", r"^final", r"^optimum"],
    ),
    "scale": Example(
        ["gdcli fit --dataset synthetic --rows 10000000 --features 3 --method gram --lr 0.3 --epochs 20000"],
        keep=[r"dataset ", r"method ", r"│ +(1|2|3|20000) │", r"^result", r"^final", r"^optimum", r"^gap", r"^time"],
    ),
    "streamed": Example(
        ["python docs/parts.py",
         "gdcli fit --dataset readings/ --scale 0.1 --method gram --epochs 5000 --memory-limit 100MB",
         "gdcli fit --dataset readings/ --scale 0.1 --method analytic --epochs 3 --memory-limit 100MB"],
        keep=[r"^wrote", r"dataset ", r"method ", r"data ", r"^final", r"^optimum", r"^in original", r"^time"],
    ),
    "ray-fit": Example(
        ["python docs/parts.py", "gdcli fit --dataset readings/ --scale 0.1 --method gram --epochs 5000 --backend ray",
         "gdcli fit --dataset readings/ --scale 0.1 --backend ray"],
        keep=[r"^wrote", r"dataset ", r"Gram pass", r"^final", r"^optimum", r"^time", r"^error", r"^use "],
    ),
    "config": Example(
        ["gdcli fit --model mlp --epochs 2000 --print-config > net.toml", "cat net.toml",
         "gdcli fit --config net.toml --lr 3e-3"],
        keep=[r"^[a-z_]+ = ", r"^# ", r"^final", r"^optimum"],
    ),
    "config-rerun": Example(
        ["gdcli fit --val-fraction 0.2 --batch-size 4 --optim adam --lr 0.1 --epochs 300 --save run.json",
         "gdcli fit --config run.json"],
        keep=[r"^final", r"^saved"],
    ),
    "config-error": Example(
        ["printf 'lr = 0.01\\nepoch = 100\\n' > bad.toml", "gdcli fit --config bad.toml",
         "printf 'lr = \"fast\"\\n' > bad.toml", "gdcli fit --config bad.toml"],
    ),
}

BENCHMARKS: dict[str, Example] = {
    "benchmarks": Example(
        [
            "PYTHONPATH=.:benchmarks python benchmarks/bench_fit.py",
            "PYTHONPATH=.:benchmarks python benchmarks/bench_sweep.py",
            "python benchmarks/bench_cli.py",
        ]
    ),
    # About seven minutes on 2 cores; one torch thread, since two wait on each other there.
    "benchmarks-ray": Example(["PYTHONPATH=. python benchmarks/bench_sweep.py --backends"]),
    "benchmarks-scale": Example(["PYTHONPATH=.:benchmarks python benchmarks/bench_scale.py --threads 1"]),
    "benchmarks-scoring": Example(["PYTHONPATH=. python benchmarks/bench_scoring.py"]),
    "benchmarks-pictures": Example(["PYTHONPATH=. python benchmarks/bench_surface.py",
                                    "PYTHONPATH=. python benchmarks/bench_sharpness.py"]),
}

# Numbers that change from run to run: masked when checking for drift.
TIMING = re.compile(r"\d+(\.\d+)?\s*(us/epoch|s\b|us\b)|\b\d+\.\d+\b(?=\s*$)")


def run(command: str, cwd: Path) -> str:
    """One command's output as a terminal would show it (stdout and stderr interleaved)."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "PY_COLORS")}
    # Piped output: no colour, and Rich's wide page for pipes (tables keep their own width).
    env.pop("COLUMNS", None)
    env.update(NO_COLOR="1", TERM="dumb", PYTHONPATH=str(ROOT))
    argv = command
    if command.startswith("gdcli "):
        # Every gdcli of a pipeline (gdcli datasets ... | gdcli fit --dataset -) runs this checkout.
        argv = re.sub(r"(^|\| )gdcli ", lambda m: f"{m[1]}{sys.executable} -m gdcli ", command)
    elif command.startswith("timeout "):  # gdcli run under timeout (Ctrl-C's example)
        argv = command.replace(" gdcli ", f" {sys.executable} -m gdcli ", 1)
    elif command.startswith("PYTHONPATH=.:benchmarks python "):
        argv = f"PYTHONPATH={ROOT}:{ROOT / 'benchmarks'} {sys.executable} {command.split('python ', 1)[1]}"
    elif command.startswith("python "):  # a script of this checkout, run where the example runs
        argv = f"{sys.executable} {ROOT}/{command[len('python '):]}"
    # The benchmarks run in the checkout (they read benchmarks/); everything else in the example's folder.
    done = subprocess.run(argv, shell=True, cwd=ROOT if "benchmarks/" in command else cwd,
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return "\n".join(line.rstrip() for line in done.stdout.splitlines())


def select(example: Example, text: str) -> list[str]:
    lines = text.splitlines()
    if example.start is not None:
        first = next((i for i, line in enumerate(lines) if re.search(example.start, line)), 0)
        lines = lines[first:]
    if not example.keep:
        return lines
    shown, last = [], -1
    for i, line in enumerate(lines):
        if any(re.search(p, line) for p in example.keep):
            if i != last + 1 and (shown or i > 0):
                shown.append("...")
            shown.append(line)
            last = i
    if last != len(lines) - 1:
        shown.append("...")
    return shown


def session(code: str, cwd: Path) -> str:
    """Python statements and what they show, as an interactive session prints them."""
    env = {**os.environ, "NO_COLOR": "1", "TERM": "dumb", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(ROOT / "docs" / "session.py")], input=code, cwd=cwd, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return "\n".join(line.rstrip() for line in done.stdout.splitlines())


def render(example: Example) -> str:
    if example.session is not None:
        with tempfile.TemporaryDirectory() as tmp:
            return "\n".join(select(example, session(example.session, Path(tmp))))
    with tempfile.TemporaryDirectory() as tmp:
        out = []
        for i, command in enumerate(example.commands):
            text = run(command, Path(tmp))
            out.append(f"$ {command}")
            if i not in example.quiet:
                out += select(example, text)
        return "\n".join(out)


def rewrite(readme: str, examples: dict[str, Example]) -> str:
    lines, out, i = readme.splitlines(), [], 0
    while i < len(lines):
        out.append(lines[i])
        found = MARKER.match(lines[i])
        if found and found[1] in examples and i + 1 < len(lines) and lines[i + 1] == "```text":
            end = lines.index("```", i + 2)
            out += ["```text", render(examples[found[1]]), "```"]
            i = end
        i += 1
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md's examples have drifted")
    parser.add_argument("--benchmarks", action="store_true", help="also rerun the benchmarks (minutes)")
    parser.add_argument("--only", help="comma list of example names: rerun just these")
    args = parser.parse_args()
    examples = {**EXAMPLES, **(BENCHMARKS if args.benchmarks else {})}
    if args.only:
        names = [n.strip() for n in args.only.split(",")]
        unknown = [n for n in names if n not in {**EXAMPLES, **BENCHMARKS}]
        if unknown:
            sys.exit(f"no example named {', '.join(unknown)}")
        examples = {n: {**EXAMPLES, **BENCHMARKS}[n] for n in names}
    old = README.read_text()
    missing = [name for name in {**EXAMPLES, **BENCHMARKS} if f"<!-- example: {name} -->" not in old]
    if missing:
        sys.exit(f"README.md has no marker for: {', '.join(missing)}")
    new = rewrite(old, examples)
    if args.check:
        if TIMING.sub("T", old) != TIMING.sub("T", new):
            sys.exit("README.md's examples differ from a real run: run python docs/readme_examples.py")
        print("README.md's examples match a real run")
        return
    README.write_text(new)
    print(f"rewrote {len(examples)} examples in README.md")


if __name__ == "__main__":
    main()
