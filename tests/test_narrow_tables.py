"""Tables on narrow terminals: a shown number is never a different number.

Each command's view is rendered at several console widths and held against the
same view rendered wide (where nothing is cut) and against its JSON document:
every number in a narrow table is whole or ends in "…", and every computed
number of a column still shown appears in full.
"""

import json

import pytest
from narrow import TOKEN, WIDE, assert_nothing_cut, dropped, render
from rich.table import Table

from gdcli import emit
from gdcli.tables import FitTable

WIDTHS = (40, 56, 80, 120)


def assert_shown(narrow: str, column: str, expected: list[str]) -> None:
    """A column's numbers appear in full, unless a note says the column was left out."""
    if column in dropped(narrow):
        return
    found = set(TOKEN.findall(narrow))
    missing = [e for e in expected if e not in found]
    assert not missing, (column, missing, narrow)


@pytest.fixture
def view_of(monkeypatch, run_cli):
    """Run a command in-process and return the view it emitted (its table, and its JSON as data)."""
    def run(*args):
        seen = []
        real = emit.emit
        monkeypatch.setattr(emit, "emit", lambda view, fmt, console=None, **kw: (seen.append(view), real(view, fmt, console, **kw)))
        result = run_cli(*args)
        monkeypatch.setattr(emit, "emit", real)
        assert result.exit_code == 0, result.output
        (view,) = seen
        return view, json.loads(emit.dumps(view.document()))
    return run


def loss_text(x: float) -> str:
    """A loss as the tables print it: six decimals in the usual range, else four in scientific."""
    return f"{x:.6f}" if x == 0 or 1e-3 <= abs(x) < 1e9 else f"{x:.4e}"


def grad_text(x: float) -> str:
    """A gradient as the agreement table prints it: four decimals in the usual range."""
    return f"{x:.4f}" if x == 0 or 1e-3 <= abs(x) < 1e9 else f"{x:.2e}"


def each_width(view):
    """(width, text) at every tested width, after checking that nothing was cut against the wide text."""
    wide = render(view.table(), WIDE)
    for width in WIDTHS:
        narrow = render(view.table(), width)
        assert_nothing_cut(wide, narrow, width)
        yield width, narrow


# ---------------------------------------------------------------- the helper


def _both(rows, **kw):
    """The same table as a plain Rich Table and as a FitTable."""
    plain, fitted = Table(**kw), FitTable(**kw)
    for t in (plain, fitted):
        t.add_column("method", no_wrap=True)
        t.add_column("loss", justify="right", no_wrap=True)
        t.add_column("params", overflow="fold", min_width=12)
        for row in rows:
            t.add_row(*row)
    return plain, fitted


ROWS = [("finite-diff", "148.2227", "w=[5.3677] b=[-17.3048]"), ("gram", "2.927645", "w=[5.3677] b=[-17.3048]")]


def test_a_table_that_fits_is_the_rich_table_it_describes():
    plain, fitted = _both(ROWS, title="runs", title_justify="left")
    for width in (54, 80, WIDE):
        assert render([fitted], width) == render([plain], width)


def test_a_narrow_table_drops_its_least_important_column_and_says_so():
    table = FitTable()
    table.add_column("epoch", justify="right", keep=True)
    table.add_column("loss", justify="right", keep=True)
    table.add_column("grad norm", justify="right", priority=1)
    table.add_column("params", text=True)
    table.add_row("1", "148.2227", "12672.2070", "w=[5.3677] b=[-17.3048]")
    text = render([table], 40)
    assert "148.2227" in text and "12672.2070" in text
    assert "w=[5.3677]" not in text and dropped(text) == "params"
    text = render([table], 20)
    assert "148.2227" in text and "12672.2070" not in text and dropped(text) == "grad norm, params"


def test_kept_columns_that_cannot_fit_end_in_an_ellipsis():
    table = FitTable()
    table.add_column("method", keep=True)
    table.add_column("loss", justify="right", keep=True)
    table.add_row("finite-diff", "148.2227")
    text = render([table], 16)
    assert_nothing_cut(render([table], WIDE), text, 16)
    assert "…" in text


def test_text_columns_wrap_at_spaces_and_headers_fold_only_where_cells_are_narrower():
    table = FitTable()
    table.add_column("dL/dw_apples_temperature", justify="right")
    table.add_column("params", text=True)
    table.add_row("12672.2070", "w=[5.3677] b=[-17.3048]")
    text = render([table], 32)
    assert "12672.2070" in text and "w=[5.3677]" in text and "b=[-17.3048]" in text


# ---------------------------------------------------------------- the commands


def test_grad_on_crops_shows_every_gradient_whole(view_of):
    view, data = view_of("grad", "--dataset", "crops")
    for width, text in each_width(view):
        # Every row still says which method it is.
        assert all(m["method"] in text for m in data["methods"]), text
        for m in data["methods"]:
            assert_shown(text, "loss", [loss_text(m["loss"])])
            for name, g in zip(data["params"], m["grad"]):
                assert_shown(text, f"dL/d{name}", [grad_text(g)])
    assert "148.2227" in render(view.table(), 120)  # dL/db_apples, once cropped to "14"


def test_compare_on_crops_keeps_methods_and_whole_numbers(view_of):
    view, data = view_of("compare", "--dataset", "crops", "--epochs", "50", "--curves", "--log-every", "10")
    for width, text in each_width(view):
        for run in data["runs"]:
            assert run["method"] in text
            assert_shown(text, "final loss", [loss_text(run["final"]["loss"])])
            assert_shown(text, "gap", [f"{run['gap']:.2e}"])
            label = f"{run['method']}:{run['config']['optim']}"
            losses = [loss_text(h["train_loss"]) for h in run["history"] if h["epoch"] % 10 == 0]
            assert_shown(text, label, losses)
        assert "epoch" in text  # the curves table keeps its epochs


def test_compare_on_losses_near_1e10_never_shows_a_shorter_number(view_of, tmp_path):
    path = tmp_path / "big.csv"
    rows = [(1e4 * (1 + i), 2e4 * (1 + i) + 3e4 * ((i * 7) % 5)) for i in range(10)]
    path.write_text("x,y\n" + "".join(f"{x:g},{y:g}\n" for x, y in rows))
    view, data = view_of("compare", "--dataset", path, "--scale", "1e-3", "--dtype", "float64", "--epochs", "20")
    for width, text in each_width(view):
        for run in data["runs"]:
            assert run["method"] in text
            gap = run["gap"]
            assert_shown(text, "gap", [f"{gap:.2e}"])
            assert_shown(text, "final loss", [loss_text(run["final"]["loss"])])


def test_fit_keeps_epoch_and_loss_at_every_width(view_of):
    view, data = view_of("fit", "--epochs", "30", "--log-every", "3", "--val-fraction", "0.2", "--quiet")
    epochs = {r.epoch for r in view.result.records}
    logged = [h for h in data["history"] if h["epoch"] in epochs]
    assert len(logged) >= 10
    for width, text in each_width(view):
        assert "epoch" in text and "train loss" in text
        assert_shown(text, "train loss", [loss_text(h["train_loss"]) for h in logged])
        assert_shown(text, "val loss", [loss_text(h["val_loss"]) for h in logged])
        if width == 40:
            # Columns give way with a note, the least important first.
            assert "params" in dropped(text)


def test_sweep_keeps_rank_lr_and_final_loss_at_40_columns(view_of):
    view, data = view_of("sweep", "--lr", "1e-3:3e-2", "--num", "3", "--epochs", "50", "--seeds", "1,2", "--quiet")
    for width, text in each_width(view):
        assert "#" in text and "lr" in text and "final" in text
        for rank, run in enumerate(data["runs"], start=1):
            assert_shown(text, "lr", [f"{run['lr']:.3e}"])
            assert_shown(text, "final loss", [loss_text(run["final"]["loss"])])
        assert not {"#", "lr", "final loss", "seed"} & set(dropped(text).split(", "))


def test_predict_tells_large_inputs_apart(view_of, run_cli, tmp_path):
    saved = tmp_path / "run.json"
    assert run_cli("fit", "--epochs", "5", "--save", saved, "--quiet").exit_code == 0
    view, data = view_of("predict", saved, "100000000", "100000100", "100000199")
    for width, text in each_width(view):
        for value in ("100000000", "100000100", "100000199"):
            assert value in TOKEN.findall(text), text


def test_predict_shows_the_inputs_exactly_as_typed(view_of, run_cli, tmp_path):
    saved = tmp_path / "run.json"
    assert run_cli("fit", "--epochs", "5", "--save", saved, "--quiet").exit_code == 0
    typed = ("100000000.25", "123456789.123456", "35.7")
    view, data = view_of("predict", saved, *typed)
    # Each value reads back as the float the user typed, to the last digit.
    assert [row["t_u"] for row in data] == [float(v) for v in typed]
    for width, text in each_width(view):
        for value in typed:
            assert value in TOKEN.findall(text), text


def test_datasets_and_one_dataset_keep_their_names_and_values(view_of):
    view, data = view_of("datasets")
    for width, text in each_width(view):
        assert all(d["name"] in text for d in data)
    view, data = view_of("datasets", "crops")
    for width, text in each_width(view):
        for column in data["features"] + data["targets"]:
            assert_shown(text, column, [f"{row[column]:g}" for row in data["rows"]])


def test_sample_shows_its_draws_whole(view_of):
    view, data = view_of("sample", "normal", "--shape", "3,12", "--seed", "1")
    for width, text in each_width(view):
        shown = [f"{v:.6g}" for row in data["values"] for v in row[:10]]
        if not dropped(text):
            assert set(shown) <= set(TOKEN.findall(text))
        assert max(len(line) for line in text.splitlines()) <= width
