"""gdcli.data: the built-in datasets, CSV loading and validation, the split, the transform."""

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from book import T_C, T_U
from gdcli.data import BUILTINS, Transform, load_csv, load_dataset, prepare, split_rows
from gdcli.errors import GdcliError

# The thermometer of "Deep Learning with PyTorch", chapter 5, as the book types it, is in tests/book.py.
WEIGHT_LB = [115, 117, 120, 123, 126, 129, 132, 135, 139, 142, 146, 150, 154, 159, 164]
HEIGHT_IN = list(range(58, 73))
IPHONE_X = [[70, 0.1, 0.043], [90, 0.8, 0.064], [80, 0.13, 0.058], [100, 0.4, 0.037], [60, 0.9, 0.7]]
IPHONE_Y = [5, 8, 12, 2, 1]
CROPS_X = [[73, 67, 43], [91, 88, 64], [87, 134, 58], [102, 43, 37], [69, 96, 70]]
CROPS_Y = [[56, 70], [81, 101], [119, 133], [22, 37], [103, 119]]


def column(rows, i=0):
    return [r[i] for r in rows]


# --- built-in datasets -------------------------------------------------------------------


def test_the_registry_holds_the_five_builtins():
    assert set(BUILTINS) == {"celsius", "height-weight", "iphone", "crops", "synthetic"}
    for name, entry in BUILTINS.items():
        assert entry.description, f"{name} has no description"


def test_celsius_is_the_books_thermometer_exactly():
    ds = load_dataset("celsius")
    assert ds.features == ("t_u",) and ds.targets == ("t_c",)
    assert column(ds.X) == T_U  # exact: the CSV holds the book's decimals
    assert column(ds.y) == T_C
    assert ds.n_rows == 11
    assert ds.preset == {"scale": 0.1, "lr": 1e-2, "epochs": 5000}


def test_height_weight():
    ds = load_dataset("height-weight")
    assert len(ds.features) == 1 and len(ds.targets) == 1
    assert column(ds.X) == [float(v) for v in WEIGHT_LB]
    assert column(ds.y) == [float(v) for v in HEIGHT_IN]


def test_iphone_has_three_features():
    ds = load_dataset("iphone")
    assert ds.features == ("income", "price", "tax") and ds.targets == ("sales",)
    assert [list(r) for r in ds.X] == IPHONE_X  # float('0.1') == 0.1: exact
    assert column(ds.y) == IPHONE_Y


def test_crops_has_two_targets():
    ds = load_dataset("crops")
    assert ds.features == ("temperature", "rainfall", "humidity")
    assert ds.targets == ("apples", "oranges")
    assert [list(r) for r in ds.X] == CROPS_X
    assert [list(r) for r in ds.y] == CROPS_Y


def test_synthetic_is_seeded_sized_and_close_to_1_plus_2x():
    ds = load_dataset("synthetic", seed=7, rows=200)
    assert ds.n_rows == 200 and ds.features == ("x",) and ds.targets == ("y",)
    x = torch.tensor(column(ds.X), dtype=torch.float64)
    y = torch.tensor(column(ds.y), dtype=torch.float64)
    assert bool(((x >= 0) & (x < 1)).all())
    A = torch.stack([torch.ones_like(x), x], 1)
    b0, b1 = torch.linalg.lstsq(A, y.unsqueeze(1)).solution.flatten().tolist()
    assert b0 == pytest.approx(1.0, abs=0.1) and b1 == pytest.approx(2.0, abs=0.1)
    residual = y - (1 + 2 * x)
    assert 0.05 < float(residual.std()) < 0.2  # the 0.1 * noise
    assert np.array_equal(load_dataset("synthetic", seed=7, rows=200).X, ds.X)
    assert not np.array_equal(load_dataset("synthetic", seed=8, rows=200).X, ds.X)
    assert load_dataset("synthetic", seed=7, rows=5).n_rows == 5


def test_synthetic_rejects_zero_rows():
    with pytest.raises(GdcliError, match="--rows"):
        load_dataset("synthetic", rows=0)


def test_target_is_for_csv_files_only():
    with pytest.raises(GdcliError, match="--target") as err:
        load_dataset("celsius", targets=("t_u",))
    assert err.value.hint and "--dataset" in str(err.value)


def test_unknown_dataset_names_the_choices():
    with pytest.raises(GdcliError, match="unknown dataset 'nope'") as err:
        load_dataset("nope")
    for name in BUILTINS:
        assert name in err.value.hint


# --- CSV files ---------------------------------------------------------------------------


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


GOOD = "x1,x2,x3,t1,t2\n1,2,3,4,5\n2,1,0,3,1\n0,0,1,2,2\n"


def test_csv_default_target_is_the_last_column(tmp_path):
    ds = load_csv(write(tmp_path, GOOD))
    assert ds.features == ("x1", "x2", "x3", "t1") and ds.targets == ("t2",)
    assert ds.X.tolist() == [[1, 2, 3, 4], [2, 1, 0, 3], [0, 0, 1, 2]]
    assert ds.y.tolist() == [[5], [1], [2]]
    assert ds.name == "data"


def test_csv_repeated_target_picks_several_and_the_rest_are_features(tmp_path):
    ds = load_csv(write(tmp_path, GOOD), ("t1", "t2"))
    assert ds.features == ("x1", "x2", "x3") and ds.targets == ("t1", "t2")
    assert ds.X.tolist() == [[1, 2, 3], [2, 1, 0], [0, 0, 1]]
    assert ds.y.tolist() == [[4, 5], [3, 1], [2, 2]]


def test_csv_target_in_the_middle_keeps_the_others_in_order(tmp_path):
    ds = load_dataset(str(write(tmp_path, GOOD)), targets=("x2",))
    assert ds.features == ("x1", "x3", "t1", "t2") and ds.targets == ("x2",)
    assert ds.X[0].tolist() == [1, 3, 4, 5] and ds.y[0].tolist() == [2]


def test_csv_with_spaces_blank_lines_and_a_bom(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffa, b\n 1 , 2\n\n3,4\n".encode("utf-8"))
    ds = load_csv(path)
    assert ds.features == ("a",) and ds.targets == ("b",)
    assert ds.X.tolist() == [[1.0], [3.0]] and ds.y.tolist() == [[2.0], [4.0]]


@pytest.mark.parametrize(
    "text, phrases",
    [
        ("", ["empty"]),
        ("\n\n", ["empty"]),
        ("a,b\n", ["header", "no data rows"]),
        ("1,2\n3,4\n", ["no header"]),
        ("a,b\n1,2\n3\n", ["line 3", "1 value", "2 columns"]),
        ("a,b\n1,2\n3,4,5\n", ["line 3", "3 value(s)"]),
        ("a,b\n1,x\n", ["line 2", "'b'", "'x'", "not a number"]),
        ("a,b\n1,nan\n2,3\n", ["line 2", "'b'", "nan", "the value is missing", "1 of 2 data rows have a gap"]),
        ("a,b\n1,2\ninf,3\n", ["line 3", "'a'", "inf", "not a finite number"]),
        ("a,b\n1,-inf\n", ["-inf", "not a finite number"]),
        ("a\n1\n", ["single column"]),
    ],
    ids=["empty", "blank", "header-only", "no-header", "ragged-short", "ragged-long",
         "non-numeric", "nan", "inf", "minus-inf", "one-column"],
)
def test_bad_csv_is_a_user_error_naming_the_file_and_the_problem(tmp_path, text, phrases):
    path = write(tmp_path, text)
    with pytest.raises(GdcliError) as err:
        load_dataset(str(path))
    assert str(path) in err.value.message
    for phrase in phrases:
        assert phrase in err.value.message
    assert err.value.hint, "every user error carries a hint"


def test_missing_csv(tmp_path):
    path = tmp_path / "missing.csv"
    with pytest.raises(GdcliError, match="not found") as err:
        load_dataset(str(path))
    assert str(path) in err.value.message and "--dataset" in err.value.render()


def test_unknown_target_column_lists_the_columns(tmp_path):
    with pytest.raises(GdcliError, match="'nope'") as err:
        load_csv(write(tmp_path, GOOD), ("nope",))
    assert "x1, x2, x3, t1, t2" in err.value.hint


def test_every_column_a_target_leaves_no_feature(tmp_path):
    with pytest.raises(GdcliError, match="no feature") as err:
        load_csv(write(tmp_path, "a,b\n1,2\n"), ("a", "b"))
    assert "--target" in err.value.render()


# --- split -------------------------------------------------------------------------------


@pytest.mark.parametrize("n, fraction, seed", [(11, 0.2, 42), (15, 0.5, 0), (100, 0.25, 3)])
def test_split_is_the_books_recipe(n, fraction, seed):
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    n_val = int(fraction * n)
    train, val = (v.tolist() for v in split_rows(n, fraction, seed))
    assert train == perm[:-n_val] and val == perm[-n_val:]
    assert sorted([*train, *val]) == list(range(n))


def test_split_without_validation_keeps_every_row_in_order():
    assert split_rows(11, 0.0, 42) == (None, None)  # every row trains, in file order


def test_split_depends_on_the_seed():
    assert torch.equal(split_rows(100, 0.2, 1)[1], split_rows(100, 0.2, 1)[1])
    assert not torch.equal(split_rows(100, 0.2, 1)[1], split_rows(100, 0.2, 2)[1])


@pytest.mark.parametrize(
    "n, fraction, phrase",
    [(11, 1.5, "[0, 1)"), (11, 1.0, "[0, 1)"), (11, -0.1, "[0, 1)"), (11, 0.01, "no validation row"),
     (1, 0.5, "no validation row")],
)
def test_split_rejects_fractions_that_leave_a_side_empty(n, fraction, phrase):
    with pytest.raises(GdcliError) as err:
        split_rows(n, fraction, 42)
    assert phrase in err.value.message and "--val-fraction" in err.value.render().splitlines()[0]
    assert err.value.hint


# --- transform ---------------------------------------------------------------------------


def test_transform_scale_only():
    X = torch.tensor([[35.7], [81.9]], dtype=torch.float64)
    torch.testing.assert_close(Transform(0.1).apply(X), X * 0.1)
    torch.testing.assert_close(Transform().apply(X), X)


def test_transform_scales_then_standardizes_per_feature():
    X = torch.tensor([[1.0, 10.0], [3.0, 30.0]], dtype=torch.float64)
    t = Transform(2.0, (4.0, 40.0), (2.0, 20.0))
    expected = torch.tensor([[-1.0, -1.0], [1.0, 1.0]], dtype=torch.float64)
    torch.testing.assert_close(t.apply(X), expected)
    assert t.apply(X.float()).dtype == torch.float32  # keeps the caller's dtype


@pytest.mark.parametrize("t", [Transform(), Transform(0.1), Transform(0.5, (5.18, -1.0), (1.6048619311896644, 3.0))])
def test_transform_round_trips_through_json(t):
    back = Transform.from_dict(json.loads(json.dumps(t.to_dict())), 2)
    assert back == t
    X = torch.tensor([[35.7, 2.0], [81.9, -4.0]], dtype=torch.float64)
    torch.testing.assert_close(back.apply(X), t.apply(X), rtol=0, atol=0)


# --- prepare -----------------------------------------------------------------------------


def test_prepare_scales_like_the_book_in_float32():
    prep = prepare(load_dataset("celsius"), scale=0.1, dtype=torch.float32)
    expected = torch.tensor(T_U) * 0.1  # the book: t_un = 0.1 * t_u, float32
    assert prep.X_train.dtype == torch.float32
    torch.testing.assert_close(prep.X_train[:, 0], expected, rtol=0, atol=0)
    assert prep.X_train.shape == (11, 1)  # no column of ones: the bias is added
    torch.testing.assert_close(prep.y_train[:, 0], torch.tensor(T_C), rtol=0, atol=0)
    assert prep.X_val is None and prep.y_val is None and prep.val_index is None
    assert prep.transform == Transform(0.1)


def test_prepare_standardizes_with_training_rows_only():
    t_u = torch.tensor(T_U, dtype=torch.float64)
    t_c = torch.tensor(T_C, dtype=torch.float64)
    perm = torch.randperm(11, generator=torch.Generator().manual_seed(42)).tolist()
    train, val = perm[:-2], perm[-2:]
    mean = float((0.1 * t_u[train]).mean())
    std = float((0.1 * t_u[train]).std(unbiased=False))
    # Otherwise the test could not tell training statistics from all-row ones.
    assert abs(mean - float((0.1 * t_u).mean())) > 1e-3

    prep = prepare(load_dataset("celsius"), scale=0.1, normalize=True, val_fraction=0.2, seed=42, dtype=torch.float64)
    assert prep.train_index.tolist() == train and prep.val_index.tolist() == val
    assert prep.transform.scale == 0.1
    assert prep.transform.mean == pytest.approx((mean,), rel=1e-12)
    assert prep.transform.std == pytest.approx((std,), rel=1e-12)
    x_train = prep.X_train[:, 0]
    assert float(x_train.mean()) == pytest.approx(0.0, abs=1e-12)
    assert float(x_train.std(unbiased=False)) == pytest.approx(1.0, rel=1e-12)
    torch.testing.assert_close(prep.X_val[:, 0], (0.1 * t_u[val] - mean) / std)
    torch.testing.assert_close(prep.y_train[:, 0], t_c[train])
    torch.testing.assert_close(prep.y_val[:, 0], t_c[val])
    assert prep.X_train.shape[1] == prep.X_val.shape[1] == 1


def test_prepare_leaves_a_constant_column_centred_not_divided_by_zero(tmp_path):
    path = write(tmp_path, "a,c,y\n1,5,1\n2,5,2\n3,5,4\n")
    prep = prepare(load_csv(path), normalize=True, dtype=torch.float64)
    assert torch.isfinite(prep.X_train).all()
    torch.testing.assert_close(prep.X_train[:, 1], torch.zeros(3, dtype=torch.float64))
    assert not math.isnan(prep.transform.std[1])


def test_ragged_row_is_named_by_its_line_in_the_file(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("a,b\n\n1,2\n3\n")
    with pytest.raises(GdcliError, match="line 4: 1 value"):
        load_csv(path)


# --- where the built-in CSVs live --------------------------------------------------------


def test_builtin_csvs_are_read_from_the_gdcli_builtin_data_package():
    from importlib import resources

    from gdcli.data import Builtin

    files = resources.files("gdcli.builtin_data")
    packaged = {n for n, e in BUILTINS.items() if e.default_rows is None}
    for name in packaged:
        assert files.joinpath(f"{name}.csv").is_file(), name
    assert isinstance(BUILTINS["celsius"], Builtin)


# --- normalization in float64 ------------------------------------------------------------


def test_normalize_standardizes_in_float64_before_the_cast(tmp_path):
    # 1e8 + i needs 27 bits: float32 would round it to steps of 8 before the mean is taken.
    noise = torch.randn(50, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 0.01
    t = [1e8 + i for i in range(50)]
    y = [0.5 * i + float(e) for i, e in enumerate(noise)]
    path = write(tmp_path, "t,y\n" + "".join(f"{a!r},{b!r}\n" for a, b in zip(t, y)))
    prep = prepare(load_csv(path), normalize=True, dtype=torch.float32)
    t64 = torch.tensor(t, dtype=torch.float64)
    expected = ((t64 - t64.mean()) / t64.std(unbiased=False)).to(torch.float32)
    assert prep.X_train.dtype == torch.float32
    torch.testing.assert_close(prep.X_train[:, 0], expected)
    assert len(set(prep.X_train[:, 0].tolist())) == 50  # every row still distinct


def test_scale_only_stays_the_books_float32_product():
    # Cast first, then multiply: bit-identical to the book's 0.1 * t_u in float32.
    prep = prepare(load_dataset("celsius"), scale=0.1, dtype=torch.float32)
    assert torch.equal(prep.X_train[:, 0], 0.1 * torch.tensor(T_U, dtype=torch.float32))


# --- values the training dtype cannot hold -----------------------------------------------


@pytest.mark.parametrize(
    "text, dtype, where",
    [
        ("x,y\n1,2\n\n1e39,3\n", torch.float32, "line 4, column 'x': 1e+39 is too large for float32"),
        ("x,y\n1,2\n3,1e308\n", torch.float64, "line 3, column 'y': 1e+308 is too large for float64"),
        ("x,y\n1,2\n3,2e19\n", torch.float32, "line 3, column 'y': 2e+19 is too large for float32"),
        ("y,x,z\n1,2,3\n5e20,6e20,4\n", torch.float32, "line 3, column 'y': 5e+20"),  # file order
        ("x,y,z\n1,2,3\n4,5e20,6e20\n", torch.float32, "line 3, column 'y': 5e+20"),
    ],
    ids=["inf-in-float32", "square-overflows-float64", "square-overflows-float32", "target-first", "feature-first"],
)
def test_values_the_dtype_cannot_square_are_refused_at_their_first_cell(tmp_path, text, dtype, where):
    path = write(tmp_path, text)
    targets = ("y",) if text.startswith(("y,", "x,y,z")) else ()
    with pytest.raises(GdcliError) as err:
        prepare(load_csv(path, targets), dtype=dtype)
    assert f"{path}, {where}" in err.value.message
    hint = err.value.render().splitlines()[-1]
    assert "--scale" in hint and "--normalize" in hint
    assert ("--dtype float64" in hint) == (dtype == torch.float32)
    # --scale and --normalize transform the inputs only: a target must be rescaled in the file.
    assert ("in the file" in hint) == ("column 'y'" in where)


def test_a_scale_that_overflows_names_the_cell_and_the_scaled_value(tmp_path):
    path = write(tmp_path, "x,y\n1,2\n3e10,4\n")
    with pytest.raises(GdcliError, match=r"line 3, column 'x': 3e\+10 scaled to 3e\+20 is too large for float32"):
        prepare(load_csv(path), scale=1e10, dtype=torch.float32)
    prep = prepare(load_csv(path), scale=1e-5, dtype=torch.float32)  # rescaling is the way out
    assert bool(torch.isfinite(prep.X_train).all())


def test_normalize_rescues_values_too_large_to_square_in_float32(tmp_path):
    path = write(tmp_path, "x,y\n1e20,1\n2e20,2\n3e20,3\n")
    with pytest.raises(GdcliError, match="1e\\+20 is too large for float32"):
        prepare(load_csv(path), dtype=torch.float32)
    prep = prepare(load_csv(path), normalize=True, dtype=torch.float32)
    torch.testing.assert_close(prep.X_train[:, 0], torch.tensor([-1.224745, 0.0, 1.224745]))


def test_a_column_too_large_to_standardize_is_refused(tmp_path):
    path = write(tmp_path, "x,y\n1e200,1\n-1e200,2\n")
    with pytest.raises(GdcliError, match="'x'.*standardize") as err:
        prepare(load_csv(path), normalize=True, dtype=torch.float64)
    assert "--scale" in err.value.render()


# --- CSV reader hardening ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text, phrases",
    [
        ('a,b\n3,"6\n7"\n', ["line 2", "spans"]),
        ('a,b\n1,2\n3,"4\n', ["line 3", "quote"]),
        ('a,b\n1,"2"x\n', ["line 2"]),
        ("a,b\n1_000,2\n", ["line 2", "'a'", "'1_000'", "not a number"]),
        ("a,b\n\u0661\u0662,2\n", ["line 2", "'a'", "not a number"]),
        ("a,b\n1,\uff13\n", ["line 2", "'b'", "not a number"]),
        ("a,b\n1,0x10\n", ["line 2", "'b'", "not a number"]),
        ("a,b\n1,2\u00a0\n", ["line 2", "'b'", "not a number"]),
        ("a,,b\n1,2,3\n", ["column 2", "no name"]),
        ("a,b,\n1,2,\n", ["column 3", "no name"]),
        ("a,b,a\n1,2,3\n", ["'a'", "twice"]),
        ("# temperatures\na,b\n1,2\n", ["line 1", "#", "comment"]),
        ("a,b\n1,2\n# the end\n", ["line 3", "#", "comment"]),
    ],
    ids=["multiline-quote", "unclosed-quote", "junk-after-quote", "underscore", "arabic-indic", "fullwidth",
         "hex", "nbsp", "empty-name", "trailing-comma", "duplicate-name", "comment-first", "comment-later"],
)
def test_malformed_csv_is_refused_at_its_line(tmp_path, text, phrases):
    path = write(tmp_path, text)
    with pytest.raises(GdcliError) as err:
        load_csv(path)
    assert str(path) in err.value.message
    for phrase in phrases:
        assert phrase in err.value.message
    assert err.value.hint


def test_csv_rows_keep_their_file_lines(tmp_path):
    ds = load_csv(write(tmp_path, "\na,b\n1,2\n\n\n3,4\n,\n5,6\n"))
    assert [ds.where(row).rsplit(", ", 1)[1] for row in range(3)] == ["line 3", "line 6", "line 8"]
    assert load_dataset("celsius").where(10) == "built-in dataset celsius, line 12"


@pytest.mark.parametrize("cell", ["1", "-2.5", "+.5", "5.", "1e3", "1E-3", "-1.5e+10", " 7 ", '"8"'])
def test_plain_numbers_are_accepted(tmp_path, cell):
    ds = load_csv(write(tmp_path, f"a,b\n{cell},1\n"))
    assert ds.X[0, 0] == float(cell.strip().strip('"'))


@pytest.mark.parametrize("special", ["/dev/null", "fifo"])
def test_not_a_regular_file(tmp_path, special):
    import os

    if special == "fifo":
        if not hasattr(os, "mkfifo"):
            pytest.skip("no FIFOs here")
        path = tmp_path / "pipe.csv"
        os.mkfifo(path)  # opening it would block: the check must not open it
    else:
        path = Path(special)
        if not path.exists():
            pytest.skip("no /dev/null here")
    with pytest.raises(GdcliError, match="not a regular file") as err:
        load_dataset(str(path))
    assert str(path) in err.value.message and "--dataset" in err.value.render()


# --- the --val-fraction hint -------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3, 7, 9, 11, 13, 17, 29, 49, 99, 101, 333, 999, 1001, 12345, 65537])
def test_the_suggested_val_fraction_works(n):
    with pytest.raises(GdcliError, match="no validation row") as err:
        split_rows(n, 0.5 / n, 42)
    hint = err.value.render().splitlines()[-1]
    suggested = float(re.search(r"at least (\S+?),", hint).group(1))
    assert len(f"{suggested:e}".split("e")[0].rstrip("0").replace(".", "").lstrip("-")) <= 3  # 3 digits
    train, val = split_rows(n, suggested, 42)
    assert len(val) >= 1 and len(train) >= 1
    assert suggested >= 1 / n and suggested - 1 / n < 1e-3 / n * 10  # rounded up, not far


def test_split_of_11_rows_suggests_a_fraction_that_leaves_a_validation_row():
    with pytest.raises(GdcliError) as err:
        split_rows(11, 0.01, 42)
    assert "0.0909" not in err.value.render() and "0.091" in err.value.render()


def test_one_row_cannot_be_split():
    with pytest.raises(GdcliError) as err:
        split_rows(1, 0.5, 42)
    assert err.value.render() == (
        "--val-fraction 0.5 of 1 rows leaves no validation row\n"
        "a dataset of 1 row cannot be split: use --val-fraction 0"
    )


# --- listing and loading without torch ----------------------------------------------------


def test_shapes_describe_every_builtin_without_loading_rows():
    from gdcli.data import shapes

    got = shapes()
    assert set(got) == set(BUILTINS)
    for name, entry in BUILTINS.items():
        if entry.default_rows is None:
            ds = load_dataset(name)
            assert (got[name].features, got[name].targets, got[name].n_rows) == (ds.features, ds.targets, ds.n_rows)
        assert got[name].description == entry.description
    ds = load_dataset("synthetic", rows=3)
    assert (got["synthetic"].features, got["synthetic"].targets) == (ds.features, ds.targets)
    assert got["synthetic"].n_rows == BUILTINS["synthetic"].default_rows


def test_listing_and_loading_csvs_do_not_import_torch(tmp_path):
    good = write(tmp_path, GOOD, "good.csv")
    bad = write(tmp_path, "a,b\n1,x\n", "bad.csv")
    code = f"""
import sys
from gdcli import data
from gdcli.errors import GdcliError
shapes = data.shapes()
assert shapes["synthetic"].features == ("x",), shapes
data.load_dataset("celsius")
data.load_dataset({str(good)!r})
try:
    data.load_dataset({str(bad)!r})
except GdcliError:
    pass
else:
    raise SystemExit("bad.csv loaded")
assert "torch" not in sys.modules, "torch was imported"
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# --- messages name parameters, not flags -------------------------------------------------


def test_data_messages_name_parameters_not_flags():
    import ast

    import gdcli.data
    import gdcli.readers

    # Every module of both packages.
    folders = (Path(gdcli.data.__file__).parent, Path(gdcli.readers.__file__).parent)
    source = "\n".join(p.read_text() for folder in folders for p in sorted(folder.glob("*.py")))
    tree = ast.parse(source)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "GdcliError"]
    assert len(calls) > 20
    for call in calls:
        for node in ast.walk(call):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert not re.search(r"--[a-z]", node.value), f"line {node.lineno}: write param(...), not a flag"


def test_two_targets_written_as_one_name_are_told_to_be_named_one_by_one(tmp_path, run_cli):
    data = tmp_path / "two.csv"
    data.write_text("x,y1,y2\n1,2,3\n2,4,5\n3,6,8\n")
    result = run_cli("fit", "--dataset", str(data), "--target", "y1,y2")
    assert result.exit_code == 2 and "name the 2 targets one by one (y1, y2)" in result.plain
    other = run_cli("fit", "--dataset", str(data), "--target", "y3")
    assert other.exit_code == 2 and "from its columns: x, y1, y2" in other.plain
