"""Installing gdcli: the built-in datasets ship inside the package, wherever the user stands.

The CSVs live in the top-level datasets/ folder of the source tree and are installed as
the package gdcli.builtin_data. These tests build and install a copy of this checkout into a
throwaway virtual environment and load a built-in from an unrelated working directory.

The throwaway environment borrows torch and the rest from the environment running the
tests (its site-packages folders, listed in a .pth file), not from the base interpreter:
a venv made with --system-site-packages would see the base Python's packages, which in a
user's venv are not the ones pytest runs with (no pyarrow, an old setuptools).
"""

import os
import shutil
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT / "datasets"

# Slow (a venv and a wheel build each): `pytest -m "not slow"` leaves them out of a quick loop.
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (ROOT / "pyproject.toml").is_file(), reason="needs the source checkout")]

# What a build must not pick up from the checkout: another build's leftovers, caches.
JUNK = shutil.ignore_patterns(
    ".git", "build", "dist", "*.egg-info", "__pycache__", ".venv", ".pytest_cache", ".hypothesis", ".benchmarks"
)

# Load a built-in and say where gdcli was imported from; the rows prove the CSV was found.
PROBE = (
    "import gdcli.data as d; ds = d.load_dataset('celsius'); "
    "print(d.__file__); print(ds.n_rows, ds.X[0][0], ds.y[-1][0])"
)


def _source_copy(tmp_path: Path) -> Path:
    """This checkout as it is now (uncommitted edits included), without build leftovers."""
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=JUNK)
    return src


def _running_site_dirs() -> list[str]:
    """The site-packages folders of the environment running the tests, in their import order."""
    dirs = site.getsitepackages() + ([site.getusersitepackages()] if site.ENABLE_USER_SITE else [])
    return [d for d in dict.fromkeys(dirs) if os.path.isdir(d)]


def _venv(tmp_path: Path) -> Path:
    """A virtual environment that sees the running environment's packages; returns its python.

    The folders are appended to sys.path by a .pth file, after the new environment's own
    site-packages, so what gets installed into it comes first. Their own .pth files are not
    run, so the running environment's editable gdcli (if any) does not leak in.
    """
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=False, with_pip=False)
    python = env_dir / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    assert python.exists()
    own = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path).strip())
    (own / "_gdcli_test_borrowed.pth").write_text("\n".join(_running_site_dirs()) + "\n")
    return python


def _run(*args, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PIP_REQUIRE_VIRTUALENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    out = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"{' '.join(map(str, args))} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout


def _probe(python: Path, tmp_path: Path) -> tuple[Path, str]:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    lines = _run(python, "-c", PROBE, cwd=elsewhere).splitlines()
    return Path(lines[0]).resolve(), lines[1]


def test_the_builtin_csvs_live_in_the_top_level_datasets_folder():
    names = {p.stem for p in DATASETS.glob("*.csv")}
    assert names == {"celsius", "height-weight", "iphone", "crops"}
    assert not (ROOT / "gdcli" / "datasets").exists(), "the CSVs moved to datasets/"


def test_the_wheel_ships_the_datasets_and_loads_them_from_anywhere(tmp_path):
    src = _source_copy(tmp_path)
    wheels = tmp_path / "wheels"
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-q", "-w", wheels, src, cwd=tmp_path)
    (wheel,) = wheels.glob("gdcli-*.whl")

    csvs = sorted(DATASETS.glob("*.csv"))
    assert csvs
    with zipfile.ZipFile(wheel) as zf:
        shipped = set(zf.namelist())
        for csv in csvs:
            assert zf.read(f"gdcli/builtin_data/{csv.name}") == csv.read_bytes()
    # Packages are listed by hand in pyproject.toml: every module of the checkout must be in.
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "gdcli").rglob("*.py")}
    assert modules <= shipped, f"missing from the wheel: {sorted(modules - shipped)}"

    python = _venv(tmp_path)
    _run(python, "-m", "pip", "install", "--no-deps", "--no-index", "--force-reinstall", "-q", wheel, cwd=tmp_path)
    where, rows = _probe(python, tmp_path)
    assert where.is_relative_to((tmp_path / "venv").resolve()), f"imported {where}, not the installed wheel"
    assert rows == "11 35.7 21.0"


def test_an_editable_install_finds_the_datasets_from_anywhere(tmp_path):
    src = _source_copy(tmp_path)
    python = _venv(tmp_path)
    _run(python, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-e", src,
         cwd=tmp_path)
    where, rows = _probe(python, tmp_path)
    assert where == (src / "gdcli" / "data" / "__init__.py").resolve(), f"imported {where}, not the editable copy"
    assert rows == "11 35.7 21.0"
