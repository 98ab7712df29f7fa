"""compare and sweep: strategies side by side, grids trained as one tensor program."""

import json

import book
import pytest
import torch
from conftest import trained

from gdcli import comparison as cmp
from gdcli import grid as sw
from gdcli.config import resolve
from gdcli.errors import GdcliError
from gdcli.gradients import METHODS
from gdcli.optimizers import OPTIMIZERS, BatchedAdam, BatchedSGD
from gdcli.train import Trainer


def test_compare_methods_agree_on_the_book_problem(book_run):
    results = [book_run(m)[1] for m in METHODS]  # scale 0.1, lr 1e-2, 5000 epochs
    ref = book_run("autograd")[1]
    for r in results:
        assert r.final_loss == pytest.approx(ref.final_loss, rel=1e-4)
        assert r.weight[0] + r.bias == pytest.approx(ref.weight[0] + ref.bias, rel=1e-4)


def test_agreement_table_puts_finite_diff_within_1e3_of_autograd():
    rows = {a.method: a for a in cmp.agreement(Trainer([resolve("celsius")]))[0]}
    assert rows["autograd"].max_abs == 0
    assert rows["finite-diff"].max_diff_over_norm < 1e-3
    assert rows["analytic"].max_diff_over_norm < 1e-5


def test_agreement_at_the_book_start_unscaled():
    rows = {a.method: a for a in cmp.agreement(Trainer([resolve("celsius", scale=1.0, device="cpu")]))[0]}
    for row in rows.values():
        assert row.loss == pytest.approx(book.START_LOSS, rel=book.REL)
        assert row.grad == pytest.approx(book.START_GRAD, rel=book.REL)


def test_pairs():
    assert cmp.parse_pairs([], [], []) == [(m, "gd") for m in METHODS]
    assert cmp.parse_pairs(["autograd,analytic"], ["gd", "adam"], []) == [
        ("autograd", "gd"), ("autograd", "adam"), ("analytic", "gd"), ("analytic", "adam")
    ]
    assert cmp.parse_pairs([], [], ["autograd:adam", "finite-diff:gd"]) == [("autograd", "adam"), ("finite-diff", "gd")]
    for bad in (["autograd"], ["nope:gd"], ["autograd:nope"]):
        with pytest.raises(GdcliError):
            cmp.parse_pairs([], [], bad)


def test_first_within_is_the_first_epoch_within_tol_of_the_optimum(book_run):
    _, result = book_run()  # celsius's preset: 5000 epochs
    for tol in (0.5, 0.01, 1e-5):
        expected = next((e for e, loss in zip(result.epochs, result.train_loss)
                         if loss <= result.optimum_loss * (1 + tol)), None)
        assert cmp.first_within(result, tol) == expected
    assert cmp.first_within(result, 0.5) < cmp.first_within(result, 0.01) < cmp.first_within(result, 1e-5)
    assert cmp.first_within(run_fit(epochs=10), 0.01) is None


def run_fit(**options):
    (trainer,) = trained([Trainer([resolve("celsius", **options)])])
    return trainer.result()


def test_lr_grid_is_log_spaced_and_inclusive():
    lrs = sw.parse_lrs("1e-4:1e-1", 4)
    assert lrs == [1e-4, 1e-3, 1e-2, 1e-1]
    assert sw.parse_lrs("0.1,0.01", None) == [0.1, 0.01]
    assert len(sw.parse_lrs("1e-3:1e-1", None)) == 10
    assert sw.parse_seeds("0:3") == [0, 1, 2, 3]
    assert sw.parse_seeds("5,7") == [5, 7]


@pytest.mark.parametrize(
    "text, needle",
    [("", "empty entry"), ("0:1e-2", "must be positive"), ("-1,0.1", "must be positive"), ("1e-1:1e-4", "reversed"),
     ("abc", "not a number"), ("1e-3:x", "not a number"), ("0.1,,0.2", "empty entry")],
)
def test_bad_lr_grids(text, needle):
    with pytest.raises(GdcliError, match=needle):
        sw.parse_lrs(text, None)


def test_bad_seed_grids():
    for text in ("9:0", "a:b", "", "1.5"):
        with pytest.raises(GdcliError):
            sw.parse_seeds(text)


def values(base, lrs=None, momenta=None, seeds=None, sizes=None):
    return {"lr": lrs or [base.lr], "momentum": momenta or [base.momentum], "seed": seeds or [base.seed],
            "batch_size": sizes or [base.batch_size]}


def sweep(base, **grid):
    trainers, notes = sw.plan(sw.expand(base, values(base, **grid)))
    return [r for t in trained(trainers) for r in t.results()], trainers, notes


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("optim, lrs, momenta", [
    ("gd", [1e-3, 3e-3, 1e-2], [0.0]),
    ("sgd", [1e-3, 1e-2], [0.0, 0.9]),
    ("adam", [1e-2, 1e-1, 3e-1], [0.0]),
])
def test_sweep_run_i_equals_a_fit_with_the_same_setting(method, optim, lrs, momenta):
    base = resolve("celsius", method=method, optim=optim, epochs=300)
    runs, trainers, notes = sweep(base, lrs=lrs, momenta=momenta)
    assert len(trainers) == 1 and not notes  # vectorized: one tensor program
    for run in runs:
        single = Trainer([run.config])
        records = [r for r in single.records() if r.weight is not None]
        assert run.epochs == [r.epoch for r in records]
        assert run.train_loss == pytest.approx([r.train_loss for r in records], rel=1e-5)
        assert run.final_loss == pytest.approx(single.result().final_loss, rel=1e-5)


@pytest.mark.parametrize("optim", ["sgd", "adam"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_batched_optimizers_follow_torch_optim_per_run(optim, dtype, weight_decay):
    """Each run of the batched update follows torch.optim's own trajectory to 1e-6 relative."""
    gen = torch.Generator().manual_seed(0)
    lrs = torch.tensor([1e-3, 1e-2, 5e-2], dtype=dtype)
    momenta = torch.tensor([0.0, 0.5, 0.9], dtype=dtype)
    start = torch.randn(3, 4, 2, generator=gen, dtype=dtype)
    grads = [torch.randn(3, 4, 2, generator=gen, dtype=dtype) for _ in range(50)]
    batched_theta = start.clone().requires_grad_(True)
    if optim == "sgd":
        batched = BatchedSGD(
            [batched_theta], lr=lrs.view(-1, 1, 1), momentum=momenta.view(-1, 1, 1), weight_decay=weight_decay
        )
    else:
        batched = BatchedAdam([batched_theta], lr=lrs.view(-1, 1, 1), weight_decay=weight_decay)
    singles = []
    for run in range(3):
        p = start[run].clone().requires_grad_(True)
        if optim == "sgd":
            opt = torch.optim.SGD([p], lr=float(lrs[run]), momentum=float(momenta[run]), weight_decay=weight_decay)
        else:
            opt = torch.optim.Adam([p], lr=float(lrs[run]), weight_decay=weight_decay)
        singles.append((p, opt))
    for g in grads:
        batched_theta.grad = g.clone()
        batched.step()
        for run, (p, opt) in enumerate(singles):
            p.grad = g[run].clone()
            opt.step()
        for run, (p, _) in enumerate(singles):
            torch.testing.assert_close(batched_theta.detach()[run], p.detach(), rtol=1e-6, atol=1e-7)


def test_gd_sweep_marks_exactly_the_lrs_above_the_stable_bound():
    base = resolve("celsius", scale=1.0, epochs=3000)
    lrs = sw.parse_lrs("1e-4:1e-3", 24)
    runs, _, _ = sweep(base, lrs=lrs)
    bound = runs[0].stable_lr
    assert bound == pytest.approx(3.40e-4, rel=1e-2)
    assert any(r.config.lr > bound for r in runs) and any(r.config.lr < bound for r in runs)
    for r in runs:
        # Above the bound a run has diverged (its loss rose), or is unstable: it will, given time.
        assert (r.verdict.kind != "converging") is (r.config.lr > bound), r.config.lr


def test_ranking_puts_diverged_runs_last():
    runs, _, _ = sweep(resolve("celsius", scale=1.0, epochs=200), lrs=[1e-4, 1e-2, 3.401e-4, 2e-4, 3.45e-4, 5e-4])
    ranked = sw.ranked(runs)
    assert [r.verdict.label for r in ranked] == ["no", "no", "rose", "rose", "epoch 61", "epoch 11"]
    assert [r.config.lr for r in ranked[2:4]] == [3.401e-4, 3.45e-4]  # the one that rose less first
    assert ranked[0].final_loss <= ranked[1].final_loss
    assert ranked[-1].config.lr == 1e-2  # diverged first, listed last


def test_unstable_runs_rank_after_converging_ones_and_before_diverged_ones():
    runs, _, _ = sweep(resolve("celsius", epochs=200), lrs=[0.01, 0.03299, 0.02, 1.0])
    assert [r.verdict.kind for r in sw.ranked(runs)] == ["converging", "converging", "unstable", "diverged"]


def test_seed_sweep_changes_the_split_and_matches_single_fits():
    base = resolve("celsius", val_fraction=0.2, init="randn", epochs=50)
    runs, trainers, _ = sweep(base, seeds=[0, 1, 2])
    assert len(trainers) == 1
    assert len({r.final_val_loss for r in runs}) == 3  # each seed holds out other rows
    for run in runs:
        single = Trainer([run.config])
        for _ in single.chunks():
            pass
        assert run.final_loss == pytest.approx(single.result().final_loss, rel=1e-5)


def test_batch_size_grid_trains_one_group_per_size():
    base = resolve("synthetic", epochs=20)
    runs, trainers, _ = sweep(base, lrs=[0.1, 0.3], sizes=[10, 25])
    assert len(trainers) == 2 and len(runs) == 4
    assert sw.varying([r.config for r in runs]) == ["lr", "batch_size"]


def test_optimizer_without_batched_form_falls_back_and_says_so():
    runs, trainers, notes = sweep(resolve("celsius", optim="rmsprop", epochs=20), lrs=[1e-3, 1e-2])
    assert len(trainers) == 2 and notes and "one at a time" in notes[0]
    # With a shared learning rate, any elementwise optimizer still batches over seeds.
    _, trainers, notes = sweep(resolve("celsius", optim="rmsprop", epochs=20, init="randn"), seeds=[1, 2, 3])
    assert len(trainers) == 1 and not notes


def test_momentum_grid_needs_an_optimizer_with_momentum():
    with pytest.raises(GdcliError, match="--momentum does not apply"):
        base = resolve("celsius")
        sw.expand(base, values(base, momenta=[0.0, 0.9]))


# ---- through the CLI ----


def test_cli_compare_default(run_cli):
    result = run_cli("compare", "--epochs", "200", "--curves")
    assert result.exit_code == 0, result.output
    for method in METHODS:
        assert method in result.stdout
    assert "gradient at the start" in result.stdout and "loss curves" in result.stdout


def test_cli_compare_explicit_runs_with_a_divergent_one_is_exit_0(run_cli):
    result = run_cli("compare", "--scale", "1", "--epochs", "50", "--run", "autograd:gd", "--run", "autograd:adam",
                     "--output", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    by = {(r["method"], r["optim"]): r for r in data["runs"]}
    assert by[("autograd", "gd")]["diverged"] and by[("autograd", "gd")]["diverged_at"] == 11
    assert by[("autograd", "gd")]["verdict"] == "diverged" and "non-finite" in by[("autograd", "gd")]["reason"]
    assert not by[("autograd", "adam")]["diverged"]
    assert len(by[("autograd", "adam")]["history"]) == 50


def test_cli_compare_csv_has_a_column_per_run(run_cli):
    result = run_cli("compare", "--epochs", "5", "--output", "csv")
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "epoch,finite-diff:gd,analytic:gd,autograd:gd,gram:gd"
    assert len(lines) == 6


def test_an_interrupted_compare_csv_keeps_a_cell_per_planned_run(run_cli, monkeypatch):
    """The header goes out before training; runs that Ctrl-C left unstarted get empty cells."""
    import importlib

    command = importlib.import_module("gdcli.cli.compare")
    real = command.train_with_progress
    monkeypatch.setattr(command, "train_with_progress", lambda trainers, *a, **k: real(trainers[:2], *a, **k))  # two of four ran
    result = run_cli("compare", "--epochs", "5", "--output", "csv")
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "epoch,finite-diff:gd,analytic:gd,autograd:gd,gram:gd"
    assert len(lines) == 6 and all(line.count(",") == 4 and line.endswith(",,") for line in lines[1:])


def test_cli_sweep_table_json_and_bad_grids(run_cli):
    result = run_cli("sweep", "--scale", "1", "--lr", "1e-4:1e-3", "--num", "5", "--epochs", "500")
    assert result.exit_code == 0, result.output
    assert "best: lr" in result.stdout and "largest stable lr" in result.stdout and "3.3994e-04" in result.stdout
    result = run_cli("sweep", "--lr", "0.001,0.01", "--seeds", "0:1", "--epochs", "20", "--output", "json")
    data = json.loads(result.stdout)
    assert len(data["runs"]) == 4 and data["runs"][0]["final"]["loss"] <= data["runs"][1]["final"]["loss"]
    for bad in (["--lr", "1e-1:1e-4"], ["--lr", "0,1"], ["--lr", "x"], ["--lr", ""], ["--seeds", "3:1"], ["--num", "0", "--lr", "1e-3:1e-2"]):
        result = run_cli("sweep", "--epochs", "5", *bad)
        assert result.exit_code == 2, (bad, result.output)
        assert "Traceback" not in result.output


def test_cli_sweep_rmsprop_grid_notes_the_fallback(run_cli):
    result = run_cli("sweep", "--optim", "rmsprop", "--lr", "0.001,0.01", "--epochs", "10")
    assert result.exit_code == 0
    assert "one at a time" in result.stderr


@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9])
def test_the_momentum_bound_separates_convergence_from_divergence(momentum):
    """By experiment: sgd just under the reported bound converges, just over it diverges."""
    base = resolve("celsius", scale=1.0, optim="sgd", momentum=momentum, epochs=4000, dtype="float64")
    bound = Trainer([base]).result().stable_lr
    runs, _, _ = sweep(base, lrs=[0.98 * bound, 1.02 * bound])
    below, above = sorted(runs, key=lambda r: r.config.lr)
    assert below.verdict.kind == "converging" and below.final_loss < below.start_loss
    assert above.verdict.diverged


def test_every_batched_optimizer_is_registered():
    assert {name for name, entry in OPTIMIZERS.items() if entry.batched} == {"gd", "sgd", "adam"}


def test_seed_sweep_with_mini_batches_matches_single_fits_every_epoch():
    # 80 training rows in batches of 16: every run's DataLoader must be run to its end
    # each epoch, or the next epoch's order comes from a different generator state.
    base = resolve("synthetic", epochs=20, batch_size=16, val_fraction=0.2, init="randn")
    configs = sw.expand(base, values(base, lrs=[0.1, 0.3], seeds=[1, 2, 3], sizes=[16]))
    (trainer,) = trained([Trainer(configs)])
    _, history, _, _ = trainer.history()
    for run, cfg in enumerate(configs):
        (single,) = trained([Trainer([cfg])])
        torch.testing.assert_close(history[:, run], single.history()[1][:, 0], rtol=1e-6, atol=0)


@pytest.mark.parametrize("optim, lrs", [("gd", [1e-3, 1e-2]), ("sgd", [1e-2, 3e-2]), ("adam", [0.3, 3.0, 10.0])])
def test_a_run_does_not_depend_on_the_rest_of_its_grid(optim, lrs):
    """Bit for bit with the gram method: each run of a batched sweep rounds exactly as the same fit alone
    (its small matrix products run once per run, whatever the batch)."""
    # On the CPU: on a GPU torch.optim.Adam's fused path rounds otherwise than the batched rule.
    base = resolve("celsius", optim=optim, epochs=2000, method="gram", device="cpu")
    (trainer,) = trained([Trainer(sw.expand(base, values(base, lrs=lrs)))])
    _, history, _, _ = trainer.history()
    for run, cfg in enumerate(trainer.configs):
        (single,) = trained([Trainer([cfg])])
        assert torch.equal(history[:, run], single.history()[1][:, 0]), cfg.lr


@pytest.mark.parametrize("method", ["autograd", "analytic"])
@pytest.mark.parametrize("optim, lrs", [("gd", [1e-3, 1e-2]), ("sgd", [1e-2, 3e-2])])
def test_runs_over_shared_rows_agree_with_the_fit_alone(optim, lrs, method):
    """A sweep's runs share one matmul over the rows, which sums in another order than a lone
    fit's dot products: the same run, to rounding."""
    base = resolve("celsius", optim=optim, epochs=2000, method=method)
    (trainer,) = trained([Trainer(sw.expand(base, values(base, lrs=lrs)))])
    _, history, _, _ = trainer.history()
    for run, cfg in enumerate(trainer.configs):
        (single,) = trained([Trainer([cfg])])
        torch.testing.assert_close(history[:, run], single.history()[1][:, 0], rtol=1e-5, atol=0)


def _same_run(a, b) -> bool:
    """Every number a report shows of a run, bit for bit."""
    return (torch.equal(a.train_history, b.train_history) and a.params == b.params and a.final_loss == b.final_loss
            and a.final_val_loss == b.final_val_loss and a.start_loss == b.start_loss
            and a.stable_lr == b.stable_lr and a.epochs_run == b.epochs_run
            and (a.val_history is None or torch.equal(a.val_history, b.val_history)))


@pytest.mark.parametrize("settings", [
    dict(dataset="celsius", val_fraction=0.3, epochs=60),  # a split of its own per seed
    dict(dataset="synthetic", rows=500, epochs=20),  # rows drawn per seed
    dict(dataset="height-weight", batch_size=8, epochs=5, init="randn"),  # a batch order per seed
    dict(dataset="celsius", model="mlp", val_fraction=0.3, epochs=30),
])
@pytest.mark.parametrize("method, optim, lrs", [
    ("analytic", "gd", [1e-3, 3e-3]), ("autograd", "adam", [0.01, 0.03]), ("finite-diff", "gd", [1e-3]),
])
def test_slices_cut_between_seeds_and_keep_every_bit(settings, method, optim, lrs):
    """The pieces a ray sweep trains round exactly as the whole group (a lone seed of one lr is paired)."""
    base = resolve(device="cpu", method=method, optim=optim, **settings)
    configs = sw.expand(base, values(base, lrs=lrs, seeds=[1, 2, 3, 4, 5]))
    (whole,) = trained([Trainer(configs, history="logged")])
    pieces = sw.slices(configs, 3, whole.n_train)
    assert 2 <= len(pieces) <= 3 and all(len(p) >= 2 for p in pieces)
    assert sorted(id(c) for p in pieces for c in p) == sorted(id(c) for c in configs)
    got = {}
    for piece in pieces:
        (trainer,) = trained([Trainer(piece, history="logged")])
        got.update({id(c): r for c, r in zip(piece, trainer.results())})
    assert all(_same_run(r, got[id(c)]) for c, r in zip(configs, whole.results()))


def test_runs_that_share_their_rows_are_not_cut():
    base = resolve("celsius", device="cpu")
    configs = sw.expand(base, values(base, lrs=[1e-3, 2e-3, 3e-3], seeds=[1, 2]))
    assert sw.slices(configs, 8, 10) == [configs]
    mini = resolve("celsius", device="cpu", batch_size=4)  # mini-batches, but of one seed: one part
    configs = sw.expand(mini, values(mini, lrs=[1e-3, 2e-3, 3e-3, 4e-3]))
    assert sw.slices(configs, 8, 11) == [configs]
