"""Run files: what save_run writes, load_run reads back, and every damage is a clear exit 2."""

import copy
import json
import os
import stat
from types import SimpleNamespace

import pytest

from gdcli import models, runfile
from gdcli.data import Transform
from gdcli.errors import GdcliError


def fake_result(**overrides):
    """The attributes save_run reads from a fit's result, and nothing else."""
    config = {"dataset": "iphone", "lr": 0.01, "epochs": 10, "targets": ["sales", "share"]}
    fields = dict(
        config=SimpleNamespace(to_dict=lambda: config),
        features=("income", "price", "tax"),
        targets=("sales", "share"),
        transform=Transform(scale=1.0, mean=(70.0, 0.5, 0.05), std=(10.0, 0.2, 0.01)),
        weight=[[1.5, -2.0, 0.25], [0.0, 3.0, -1.0]],
        bias=[0.5, -0.125],
        final_loss=0.75,
        optimum_loss=0.5,
        model=models.Linear(3, 2),
        epochs_run=10,
        stop=None,
        interrupted=False,
        n_val=0,
    )
    fields.update(overrides)
    fields["params"] = {"weight": fields["weight"], "bias": fields["bias"]}
    return SimpleNamespace(**fields)


@pytest.fixture
def good(tmp_path):
    """A run file written by save_run, as a dict to damage."""
    path = tmp_path / "run.json"
    runfile.save_run(fake_result(), path)
    return json.loads(path.read_text())


def test_save_then_load_round_trips(tmp_path):
    path = tmp_path / "run.json"
    result = fake_result()
    runfile.save_run(result, path)
    run = runfile.load_run(path)
    assert run.features == result.features and run.targets == result.targets
    assert run.weight == result.weight and run.bias == result.bias
    assert run.transform == result.transform
    data = json.loads(path.read_text())
    assert data["format"] == runfile.FORMAT and data["config"]["dataset"] == "iphone"
    assert data["final_loss"] == 0.75 and data["optimum_loss"] == 0.5
    assert os.listdir(tmp_path) == ["run.json"]


def test_a_saved_run_is_readable_like_any_new_file(tmp_path):
    old = os.umask(0o022)
    try:
        runfile.save_run(fake_result(), tmp_path / "run.json")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "run.json").st_mode) == 0o644  # not mkstemp's 0600


def test_non_finite_losses_are_saved_as_null(tmp_path):
    path = tmp_path / "run.json"
    runfile.save_run(fake_result(final_loss=float("nan"), optimum_loss=None), path)
    data = json.loads(path.read_text())  # strict JSON: no NaN literal
    assert data["final_loss"] is None and data["optimum_loss"] is None
    runfile.load_run(path)


def test_a_round_trip_without_normalization(tmp_path):
    path = tmp_path / "run.json"
    runfile.save_run(fake_result(transform=Transform(scale=0.1)), path)
    assert runfile.load_run(path).transform == Transform(scale=0.1)


def damage(data, where, value):
    """A copy of data with the field at where (a key path) set to value, or removed when value is DELETE."""
    data = copy.deepcopy(data)
    *parents, last = where
    node = data
    for key in parents:
        node = node[key]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return data


class _Delete:
    """Marks a field to remove from the run file (a stable repr, so test ids are the same in every process)."""

    def __repr__(self) -> str:
        return "<deleted>"


DELETE = _Delete()

DAMAGE = [
    (("features",), [1], "features[0] must be a non-empty string, got 1"),
    (("features",), ["income", "", "tax"], "features[1] must be a non-empty string"),
    (("features",), ["income", "price", "income"], "features[2] repeats the name \"income\""),
    (("features",), [], "features must not be empty"),
    (("features",), "income", 'features must be a list, got "income"'),
    (("features",), DELETE, "features is missing"),
    (("targets",), [], "targets must not be empty"),
    (("targets",), [None, "share"], "targets[0] must be a non-empty string, got null"),
    (("params", "weight", 0, 0), "5", 'params.weight[0][0] must be a number, got "5"'),
    (("params", "weight", 0, 0), True, "params.weight[0][0] must be a number, got true"),
    (("params", "weight", 1, 2), None, "params.weight[1][2] must be a number, got null"),
    (("params", "weight", 0, 1), [1.0], "params.weight[0][1] must be a number, got a list"),
    (("params", "weight", 0), [], "params.weight[0] must not be empty"),
    (("params", "weight", 1), [1.0, 2.0], "params.weight[1] must hold one value per feature (3), got 2"),
    (("params", "weight"), [[1.0, 2.0, 3.0]], "params.weight must hold one row per target (2), got 1"),
    (("params", "weight"), {"a": 1}, "params.weight must be a list, got an object"),
    (("params", "weight"), DELETE, "params.weight is missing"),
    (("params", "bias", 1), "-0.1", 'params.bias[1] must be a number, got "-0.1"'),
    (("params", "bias", 0), False, "params.bias[0] must be a number, got false"),
    (("params", "bias"), [0.5], "params.bias must hold one value per target (2), got 1"),
    (("params",), [1, 2], "params must be an object, got a list"),
    (("transform", "scale"), "0.1", 'transform.scale must be a number, got "0.1"'),
    (("transform", "scale"), "inf", 'transform.scale must be a number, got "inf"'),
    (("transform", "scale"), 0, "scale must be a non-zero finite number"),
    (("transform", "scale"), DELETE, "transform.scale is missing"),
    (("transform", "mean"), ["x", 0.5, 0.05], 'transform.mean[0] must be a number, got "x"'),
    (("transform", "mean"), [1.0, 2.0], "transform.mean must hold one value per feature (3), got 2"),
    (("transform", "std"), 1.0, "transform.std must be a list, got 1.0"),
    (("transform", "std", 2), 0.0, "std positive"),
    (("transform", "std"), None, "mean and std come together"),
    (("transform",), "scaled", 'transform must be an object, got "scaled"'),
]


@pytest.mark.parametrize("where, value, needle", DAMAGE, ids=[f"{'.'.join(map(str, w))}={v!r}"[:60] for w, v, _ in DAMAGE])
def test_a_damaged_run_file_names_the_field(tmp_path, good, where, value, needle):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(damage(good, where, value)))
    with pytest.raises(GdcliError) as err:
        runfile.load_run(path)
    assert err.value.message.startswith(f"{str(path)!r} is damaged: ")
    assert needle in err.value.message, err.value.message
    assert "gdcli fit --save" in err.value.hint


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", "1" + "0" * 400])
def test_non_finite_and_huge_numbers_are_damage(tmp_path, good, literal):
    text = json.dumps(damage(good, ("params", "bias", 1), 12345.5)).replace("12345.5", literal)
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(GdcliError, match=r"params\.bias\[1\] must be finite"):
        runfile.load_run(path)


def test_an_integer_longer_than_python_parses_is_not_a_traceback(tmp_path, good):
    text = json.dumps(damage(good, ("params", "bias", 1), 12345.5)).replace("12345.5", "9" * 5000)
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(GdcliError, match="bad.json"):
        runfile.load_run(path)


def test_deeply_nested_json_is_damage_not_a_recursion_error(tmp_path):
    path = tmp_path / "deep.json"
    depth = 100_000
    path.write_text('{"format": "gdcli-run/1", "features": ' + "[" * depth + "]" * depth + "}")
    with pytest.raises(GdcliError, match="nested too deeply"):
        runfile.load_run(path)


def test_nesting_that_json_accepts_is_still_a_named_field(tmp_path, good):
    nested = 1.0
    for _ in range(500):
        nested = [nested]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(damage(good, ("params", "weight", 0, 0), nested)))
    with pytest.raises(GdcliError, match=r"params\.weight\[0\]\[0\] must be a number, got a list"):
        runfile.load_run(path)


def test_a_long_bad_value_is_shortened_in_the_message(tmp_path, good):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(damage(good, ("params", "bias", 0), "x" * 10_000)))
    with pytest.raises(GdcliError) as err:
        runfile.load_run(path)
    assert len(err.value.message) < 200 + len(str(path)) and "..." in err.value.message


@pytest.mark.parametrize("text, needle", [
    ("[1, 2]", "not a gdcli run file"),
    ('{"format": "gdcli-run/9"}', "not a gdcli run file"),
    ("not json", "not a readable JSON file"),
    ("", "not a readable JSON file"),
])
def test_files_that_are_not_run_files(tmp_path, text, needle):
    path = tmp_path / "x.json"
    path.write_text(text)
    with pytest.raises(GdcliError, match=needle):
        runfile.load_run(path)


def test_bytes_that_are_not_utf8(tmp_path):
    path = tmp_path / "x.json"
    path.write_bytes(b"\xff\xfe{}")
    with pytest.raises(GdcliError, match="not a readable JSON file"):
        runfile.load_run(path)


def test_a_fifo_or_device_as_run_file_is_refused_without_reading(tmp_path):
    fifo = tmp_path / "run.json"
    os.mkfifo(fifo)  # reading it would block until a writer came
    with pytest.raises(GdcliError, match="not a regular file"):
        runfile.load_run(fifo)
    if os.path.exists("/dev/zero"):  # reading it would never end
        with pytest.raises(GdcliError, match="not a regular file"):
            runfile.load_run(__import__("pathlib").Path("/dev/zero"))


def test_missing_and_folder(tmp_path):
    with pytest.raises(GdcliError, match="not found"):
        runfile.load_run(tmp_path / "none.json")
    with pytest.raises(GdcliError, match="not found"):
        runfile.load_run(tmp_path / "none" / "run.json")
    with pytest.raises(GdcliError, match="is a folder"):
        runfile.load_run(tmp_path)


# --- through the CLI: the target is checked before any training ---------------------------


@pytest.fixture
def no_training(monkeypatch):
    """Make any training attempt fail loudly: the checks under test must come first."""
    from gdcli import train

    def refuse(*args, **kwargs):
        raise AssertionError("training started before the --save target was checked")

    monkeypatch.setattr(train, "fit", refuse)


def test_fit_refuses_to_save_over_a_symlink(run_cli, tmp_path, no_training):
    target = tmp_path / "real.json"
    target.write_text("keep")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    result = run_cli("fit", "--epochs", "5", "--save", link)
    assert result.exit_code == 2, result.output
    assert "symbolic link" in result.plain and "Traceback" not in result.plain
    assert result.stdout == ""
    assert link.is_symlink() and os.readlink(link) == str(target) and target.read_text() == "keep"
    assert sorted(os.listdir(tmp_path)) == ["link.json", "real.json"]


@pytest.mark.skipif(not os.path.exists("/proc/version"), reason="needs Linux /proc")
def test_fit_refuses_proc_before_training(run_cli, no_training):
    result = run_cli("fit", "--epochs", "5", "--save", "/proc/version")
    assert result.exit_code == 2, result.output
    assert "/proc" in result.plain and "Traceback" not in result.plain and result.stdout == ""


@pytest.mark.parametrize("target", ["/dev/null", "/dev/full"])
def test_fit_refuses_a_device(run_cli, no_training, target):
    if not os.path.exists(target):
        pytest.skip(f"no {target}")
    result = run_cli("fit", "--epochs", "5", "--save", target)
    assert result.exit_code == 2 and "is a device" in result.plain, result.output


def test_fit_saves_a_readable_file_that_predict_takes(run_cli, tmp_path):
    old = os.umask(0o022)
    try:
        result = run_cli("fit", "--epochs", "5", "--save", tmp_path / "run.json")
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(os.stat(tmp_path / "run.json").st_mode) == 0o644
    assert run_cli("predict", tmp_path / "run.json", "35.7").exit_code == 0


def test_predict_with_a_damaged_file_is_exit_2(run_cli, tmp_path, good):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(damage(good, ("params", "weight", 0, 0), "5")))
    result = run_cli("predict", path, "1,2,3")
    assert result.exit_code == 2 and "Traceback" not in result.plain
    assert 'params.weight[0][0] must be a number, got "5"' in result.plain
