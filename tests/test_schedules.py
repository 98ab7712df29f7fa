"""--schedule: every rule's lr matches torch.optim.lr_scheduler's to the bit, alone and in a batched sweep."""

import json

import pytest
import torch
from conftest import trained

import book
from gdcli import schedules
from gdcli import grid as sw
from gdcli.config import resolve
from gdcli.optimizers import GD, BatchedAdam, BatchedSGD
from gdcli.train import Trainer

EPOCHS = 60
SETTINGS = {
    "step": {"step_size": 7, "gamma": 0.37},
    "exponential": {"gamma": 0.971},
    "cosine": {},
    "onecycle": {},
}


def torch_scheduler(schedule: str, optimizer, lr: float, epochs: int, **settings):
    """The lr_scheduler each --schedule names in gdcli's help, with its documented settings."""
    lrs = torch.optim.lr_scheduler
    if schedule == "step":
        return lrs.StepLR(optimizer, step_size=settings["step_size"], gamma=settings["gamma"])
    if schedule == "exponential":
        return lrs.ExponentialLR(optimizer, gamma=settings["gamma"])
    if schedule == "cosine":
        return lrs.CosineAnnealingLR(optimizer, T_max=epochs)
    # Up from max_lr / 25 to max_lr (the lr, unless --max-lr), then down to max_lr / 25e4; momentum not cycled.
    return lrs.OneCycleLR(optimizer, max_lr=settings.get("max_lr", lr), total_steps=epochs, cycle_momentum=False,
                          div_factor=25.0, final_div_factor=1e4)


def reference_lrs(schedule: str, lr: float, epochs: int, **settings) -> list[float]:
    """lr_scheduler on a real torch.optim.SGD: the lr of each epoch."""
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr)
    sched = torch_scheduler(schedule, opt, lr, epochs, **settings)
    lrs = []
    for _ in range(epochs):
        lrs.append(opt.param_groups[0]["lr"])
        p.grad = torch.zeros(1)
        opt.step()
        if len(lrs) < epochs:
            sched.step()
    return lrs


@pytest.mark.parametrize("schedule", SETTINGS)
def test_the_shadow_scheduler_gives_every_run_lr_schedulers_own_values(schedule):
    """gd and the batched rules take their lrs from one scheduler over a NumPy array of every run's lr."""
    lrs = [1e-3, 3.3e-3, 0.01, 0.0123456789, 0.7]
    configs = [resolve("celsius", lr=lr, epochs=EPOCHS, schedule=schedule, **SETTINGS[schedule]) for lr in lrs]
    theta = torch.zeros(len(lrs), 2, requires_grad=True)
    rule = GD([theta], torch.tensor(lrs, dtype=torch.float64).view(-1, 1))
    shadow = schedules.Schedule(configs, rule)
    seen = []
    for epoch in range(EPOCHS):
        seen.append(shadow.current.copy())
        if epoch < EPOCHS - 1:
            shadow.advance()
    for run, lr in enumerate(lrs):
        assert [float(s[run]) for s in seen] == reference_lrs(schedule, lr, EPOCHS, **SETTINGS[schedule])


@pytest.mark.parametrize("schedule", SETTINGS)
def test_fit_reports_each_epochs_lr_exactly(run_cli, schedule):
    extra = [f"--{k.replace('_', '-')}={v}" for k, v in SETTINGS[schedule].items()]
    result = run_cli("fit", "--epochs", EPOCHS, "--schedule", schedule, *extra, "--output", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [h["lr"] for h in data["history"]] == reference_lrs(schedule, 1e-2, EPOCHS, **SETTINGS[schedule])
    assert data["config"]["schedule"] == schedule


def test_gd_under_a_schedule_is_the_books_loop_under_lr_scheduler():
    """The book's loop with torch.optim.SGD and StepLR, against gdcli's gd (its own update rule): bit for bit."""
    t_u, t_c = torch.tensor(book.T_U) * 0.1, torch.tensor(book.T_C)
    params = torch.tensor([1.0, 0.0], requires_grad=True)
    opt = torch.optim.SGD([params], lr=1e-2)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=50, gamma=0.5)
    for _ in range(200):
        loss = ((params[0] * t_u + params[1] - t_c) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    cfg = resolve("celsius", epochs=200, schedule="step", step_size=50, gamma=0.5)
    result = trained(Trainer([cfg])).result()
    assert [result.params["weight"][0][0], result.params["bias"][0]] == params.detach().double().tolist()


def book_loop_params(schedule: str, lr: float, epochs: int, **settings) -> list[float]:
    """The book's loop (float32, scale 0.1) under torch.optim.SGD and lr_scheduler: the final (w, b)."""
    t_u, t_c = torch.tensor(book.T_U) * 0.1, torch.tensor(book.T_C)
    params = torch.tensor([1.0, 0.0], requires_grad=True)
    opt = torch.optim.SGD([params], lr=lr)
    sched = torch_scheduler(schedule, opt, lr, epochs, **settings)
    for _ in range(epochs):
        loss = ((params[0] * t_u + params[1] - t_c) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return params.detach().double().tolist()


@pytest.mark.parametrize("schedule", SETTINGS)
@pytest.mark.parametrize("lr", [1e-3, 0.0123456789])
def test_gd_under_every_schedule_trains_as_the_books_loop(run_cli, schedule, lr):
    """gd steps each epoch with that epoch's lr: the parameters are the plain loop's under lr_scheduler, to
    float32 rounding (the two sum the gradient in another order; a sweep's runs equal these lone fits bit for
    bit: test_a_scheduled_sweep_is_each_run_alone_bit_for_bit)."""
    extra = [f"--{k.replace('_', '-')}={v}" for k, v in SETTINGS[schedule].items()]
    result = run_cli("fit", "--lr", lr, "--epochs", EPOCHS, "--schedule", schedule, *extra, "--output", "json")
    assert result.exit_code == 0, result.output
    params = json.loads(result.stdout)["final"]["params"]
    expected = book_loop_params(schedule, lr, EPOCHS, **SETTINGS[schedule])
    assert [params["weight"][0][0], params["bias"][0]] == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("optim, lrs, momentum", [("gd", [1e-3, 1e-2, 3e-2], 0.0), ("sgd", [1e-2, 2e-2], 0.9),
                                                  ("adam", [0.3, 1.0, 3.0], 0.0)])
@pytest.mark.parametrize("schedule", ["step", "cosine", "onecycle"])
def test_a_scheduled_sweep_is_each_run_alone_bit_for_bit(optim, lrs, momentum, schedule):
    """The batched rules (a per-run lr) against torch.optim's own optimizers with lr_scheduler, run by run.

    The gram method's products run once per run, so any difference is the schedule's. On the CPU:
    on a GPU torch.optim.Adam takes its fused multi-tensor path, which rounds otherwise.
    """
    base = resolve("celsius", optim=optim, epochs=300, method="gram", schedule=schedule, momentum=momentum,
                   device="cpu", **SETTINGS[schedule])
    grid = {"lr": lrs, "momentum": [momentum], "seed": [42], "batch_size": [None]}
    sweep = trained(Trainer(sw.expand(base, grid)))
    assert isinstance(sweep.optimizer, (GD, BatchedSGD, BatchedAdam))
    _, history, _, lr_history = sweep.history()
    for run, cfg in enumerate(sweep.configs):
        alone = trained(Trainer([cfg]))
        assert torch.equal(history[:, run], alone.history()[1][:, 0]), cfg.lr
        assert torch.equal(lr_history[:, run], alone.history()[3][:, 0]), cfg.lr


def test_the_table_shows_the_lr_and_the_header_the_schedule(run_cli):
    result = run_cli("fit", "--epochs", "100", "--schedule", "step", "--step-size", "40", "--gamma", "0.5")
    assert result.exit_code == 0, result.output
    assert "step: x0.5 every 40 epochs" in result.plain
    rows = {line.split("│")[1].strip(): line for line in result.plain.splitlines() if line.startswith("│")}
    assert rows["1"].rstrip(" │").endswith("0.01") and rows["100"].rstrip(" │").endswith("0.0025")
    plain = run_cli("fit", "--epochs", "100").plain
    assert " lr " not in plain.split("training")[1].splitlines()[2]  # no lr column without a schedule


def test_the_stability_bound_is_held_against_the_schedules_peak(run_cli):
    """celsius's bound is 0.033: onecycle peaking at 0.05 is unstable though it starts at 0.002."""
    result = run_cli("fit", "--epochs", "100", "--schedule", "onecycle", "--max-lr", "0.05", "--output", "json")
    data = json.loads(result.stdout)
    assert data["verdict"] == "unstable" or data["diverged"]
    calm = json.loads(run_cli("fit", "--epochs", "100", "--schedule", "onecycle", "--max-lr", "0.02",
                              "--output", "json").stdout)
    assert calm["verdict"] == "converging"
    # Decay from 0.05: its peak is its start.
    assert schedules.peak_lr(resolve("celsius", lr=0.05, schedule="cosine")) == 0.05
    assert schedules.peak_lr(resolve("celsius", lr=0.01, epochs=11, schedule="exponential", gamma=2.0)) == 0.01 * 2**10


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--schedule", "cosine", "--gamma", "0.5"], "--gamma applies to --schedule step or exponential"),
        (["--schedule", "step", "--max-lr", "0.1"], "--max-lr applies to --schedule onecycle"),
        (["--step-size", "5"], "--step-size applies to --schedule step, not to --schedule constant"),
        (["--schedule", "step", "--step-size", "0"], "--step-size must be at least 1"),
        (["--schedule", "exponential", "--gamma", "0"], "--gamma must be a positive finite number"),
        (["--schedule", "onecycle", "--max-lr", "nan"], "--max-lr must be a positive finite number"),
        (["--schedule", "cosine", "--compile"], "--compile bakes the lr into the compiled step"),
        (["--schedule", "warmup"], "is not one of"),
    ],
)
def test_bad_schedules_exit_2_with_the_fix(run_cli, args, needle):
    result = run_cli("fit", "--epochs", "5", *args)
    assert result.exit_code == 2 and needle in result.plain, result.output
    assert "Traceback" not in result.output


def test_a_sweep_refuses_one_max_lr_for_many_lrs(run_cli):
    result = run_cli("sweep", "--lr", "1e-3:1e-2", "--schedule", "onecycle", "--max-lr", "0.1", "--epochs", "5")
    assert result.exit_code == 2 and "gives every run the same lr" in result.plain
    ok = run_cli("sweep", "--lr", "1e-3:1e-2", "--num", "3", "--schedule", "onecycle", "--epochs", "20",
                 "--output", "json")
    runs = json.loads(ok.stdout)["runs"]
    # Each run peaks at its own lr: onecycle starts at lr / 25.
    assert sorted(r["history"][0]["lr"] for r in runs) == pytest.approx([1e-3 / 25, 10**-2.5 / 25, 1e-2 / 25])
