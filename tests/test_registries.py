"""Activations, schedules, optimizers and gradient methods are registry entries: a new activation
(softplus) and a new schedule (linear decay), registered from this file alone, train through
`gdcli fit`, checked against torch.autograd on a torch.nn network and against
torch.optim.lr_scheduler.LinearLR built here.

gdcli's command line lists its choices as it is built, so the `gdcli fit` runs happen in a
child process that registers the two entries (as a plugin would) before it imports the CLI.
"""

import json
import os
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import book
from gdcli import activations, gradients, models, optimizers, schedules
from gdcli.errors import GdcliError

F64 = torch.float64
EPOCHS = 40
# softplus(z) = log(1 + e^z); its derivative is the sigmoid of its input.
SOFTPLUS = activations.Activation(
    "softplus", torch.nn.functional.softplus, lambda h, z: torch.sigmoid(z), "sigmoid(z)", torch.nn.Softplus,
    "log(1 + e^z) (torch.nn.Softplus)",
)
END_FACTOR = 0.1
LINEAR = schedules.LrSchedule(
    "linear", "lr down in a straight line to a tenth of it over the run (LinearLR)",
    lambda cfg, optimizer, max_lr: torch.optim.lr_scheduler.LinearLR(
        optimizer, start_factor=1.0, end_factor=END_FACTOR, total_iters=cfg.epochs),
)


def register_all() -> None:
    """What a plugin does: register the new entries through gdcli's public functions."""
    activations.register(SOFTPLUS)
    schedules.register(LINEAR)


@pytest.fixture
def softplus():
    activations.register(SOFTPLUS)
    yield SOFTPLUS
    activations.unregister(SOFTPLUS.name)


@pytest.fixture
def linear_schedule():
    schedules.register(LINEAR)
    yield LINEAR
    schedules.unregister(LINEAR.name)


# The child: register, then build the CLI and run each command line in it (CliRunner keeps stdout apart).
CHILD = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("registrations", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
module.register_all()
from typer.testing import CliRunner
from gdcli.cli import app
runner = CliRunner()
results = [runner.invoke(app, args) for args in json.loads(sys.argv[2])]
print(json.dumps([[r.exit_code, r.stdout, r.stderr] for r in results]))
"""
SOFTPLUS_FIT = ["fit", "--model", "mlp", "--activation", "softplus", "--method", "analytic", "--dtype", "float64",
                "--epochs", str(EPOCHS), "--val-fraction", "0", "--output", "json"]
LINEAR_FIT = ["fit", "--schedule", "linear", "--epochs", str(EPOCHS), "--lr", "0.02", "--output", "json"]


@pytest.fixture(scope="module")
def fits():
    """Both fits, run once in a child process with the two entries registered."""
    tests = str(Path(__file__).resolve().parent)  # where `book` is, for the child's import of this file
    done = subprocess.run(
        [sys.executable, "-c", CHILD, __file__, json.dumps([SOFTPLUS_FIT, LINEAR_FIT])],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": tests},
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.strip().splitlines()[-1])
    for code, stdout, stderr in results:
        assert code == 0, stderr
    return [json.loads(stdout) for _, stdout, _ in results]


def softplus_net(params: dict) -> torch.nn.Sequential:
    """The book's network with torch.nn.Softplus, holding `params` (by torch.nn name), float64."""
    net = torch.nn.Sequential(OrderedDict([
        ("hidden_linear", torch.nn.Linear(1, 8, dtype=F64)),
        ("hidden_activation", torch.nn.Softplus()),
        ("output_linear", torch.nn.Linear(8, 1, dtype=F64)),
    ]))
    net.load_state_dict({name: torch.tensor(value, dtype=F64) for name, value in params.items()})
    return net


def test_a_registered_activations_hand_gradient_is_autograds(softplus):
    """The MLP's backpropagation composes the entry's derivative: equal to autograd through torch.nn."""
    model = models.build("mlp", 2, 1, hidden=5, activation="softplus")
    gen = torch.Generator().manual_seed(7)
    X, y = torch.randn(9, 2, dtype=F64, generator=gen), torch.randn(9, 1, dtype=F64, generator=gen)
    theta = torch.randn(3, model.size, dtype=F64, generator=gen)
    loss, grad = gradients.gradient_at("analytic", theta, gradients.shared(X, y), gradients.LossSpec("mean", 1e-5, model))
    for run in range(3):
        net = torch.nn.Sequential(torch.nn.Linear(2, 5, dtype=F64), torch.nn.Softplus(), torch.nn.Linear(5, 1, dtype=F64))
        sizes = [10, 5, 5, 1]
        for p, part in zip(net.parameters(), theta[run].split(sizes)):
            p.data.copy_(part.view_as(p))
        ref = torch.nn.functional.mse_loss(net(X), y)
        ref.backward()
        torch.testing.assert_close(grad[run], torch.cat([p.grad.reshape(-1) for p in net.parameters()]),
                                   rtol=0, atol=1e-12)
        assert float(loss[run]) == pytest.approx(ref.item(), rel=1e-12)
    assert isinstance(model.module()[1], torch.nn.Softplus)


def test_fit_trains_a_registered_activation_as_a_torch_loop_does(fits):
    """`fit --activation softplus --method analytic` follows torch.optim.SGD on the torch.nn network."""
    data = fits[0]
    config = data["config"]
    assert config["activation"] == "softplus" and config["optim"] == "sgd"
    net = softplus_net(data["initial"]["params"])
    t_u, t_c = book.columns(config["scale"], F64)
    opt = torch.optim.SGD(net.parameters(), lr=config["lr"])
    losses = []
    for _ in range(EPOCHS):
        loss = torch.nn.functional.mse_loss(net(t_u), t_c)
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert [h["train_loss"] for h in data["history"]] == pytest.approx(losses, rel=1e-10)
    for name, value in net.state_dict().items():
        torch.testing.assert_close(torch.tensor(data["final"]["params"][name], dtype=F64), value, rtol=1e-9, atol=0)


def test_fit_steps_a_registered_schedule_as_linear_lr_does(fits):
    """`fit --schedule linear`: each epoch's lr is LinearLR's own, built here on a torch.optim.SGD."""
    data = fits[1]
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.02)
    sched = torch.optim.lr_scheduler.LinearLR(opt, start_factor=1.0, end_factor=END_FACTOR, total_iters=EPOCHS)
    expected = []
    for _ in range(EPOCHS):
        expected.append(opt.param_groups[0]["lr"])
        p.grad = torch.zeros(1)
        opt.step()
        sched.step()
    assert [h["lr"] for h in data["history"]] == expected
    assert data["config"]["schedule"] == "linear"


def test_registered_entries_are_choices_of_the_library_and_go_away(softplus, linear_schedule):
    from gdcli.config import ACTIVATION_NAMES, resolve, validate

    assert "softplus" in ACTIVATION_NAMES and ACTIVATION_NAMES[-1] == "softplus"
    assert "linear" in schedules.SCHEDULES and schedules.TAKES["linear"] == ()
    validate(resolve("celsius", model="mlp", activation="softplus", schedule="linear"))
    activations.unregister("softplus")
    schedules.unregister("linear")
    assert "softplus" not in ACTIVATION_NAMES and "linear" not in schedules.TAKES
    with pytest.raises(GdcliError, match="choose one of tanh, relu, sigmoid"):
        validate(resolve("celsius", model="mlp", activation="softplus"))


@pytest.mark.parametrize("module, registry, kind", [
    (activations, activations.ACTIVATIONS, "activation"),
    (schedules, schedules.SCHEDULES, "schedule"),
    (optimizers, optimizers.OPTIMIZERS, "optim"),
    (gradients, gradients.METHODS, "method"),
])
def test_every_lookup_refuses_an_unknown_name_with_the_registered_ones(module, registry, kind):
    with pytest.raises(GdcliError) as caught:
        module.get("newton")
    assert caught.value.message == f"unknown {kind} 'newton'"
    assert caught.value.hint == "choose one of " + ", ".join(registry)


@pytest.mark.parametrize("module, entry", [
    (activations, SOFTPLUS),
    (schedules, LINEAR),
    (optimizers, optimizers.Optimizer("asgd", "torch.optim.ASGD", ("lr", "weight_decay"), "ASGD")),
    (gradients, gradients.Method("again", gradients.autograd, "autograd once more", needs_autograd=True)),
])
def test_a_name_registers_once_and_unregisters(module, entry):
    module.register(entry)
    try:
        with pytest.raises(ValueError, match="new name"):
            module.register(entry)
        assert module.get(entry.name) is entry
    finally:
        module.unregister(entry.name)
    with pytest.raises(GdcliError):
        module.get(entry.name)


def test_entries_that_cannot_run_are_refused_at_registration():
    with pytest.raises(ValueError, match="no default"):
        schedules.register(schedules.LrSchedule("halving", "halves", takes=("gamma",)))
    with pytest.raises(ValueError, match="takes only"):
        schedules.register(schedules.LrSchedule("warm", "warms", takes=("warmup",)))
    with pytest.raises(ValueError, match="class or a rule"):
        optimizers.register(optimizers.Optimizer("none", "nothing"))
    with pytest.raises(ValueError, match="needs_linear"):
        gradients.register(gradients.Method("g2", gradients.gram, "gram again", needs_gram=True))
    assert "halving" not in schedules.SCHEDULES and "none" not in optimizers.OPTIMIZERS


def test_a_registered_optimizer_trains_through_the_library():
    """An update rule registered by its torch.optim class trains a run as that class does."""
    from gdcli.train import fit, resolve

    optimizers.register(optimizers.Optimizer("asgd", "torch.optim.ASGD", ("lr", "weight_decay"), torch.optim.ASGD))
    try:
        trainer = fit(resolve("celsius", optim="asgd", lr=0.01, epochs=5, dtype="float64", device="cpu"))
        list(trainer.records())
        result = trainer.result()
    finally:
        optimizers.unregister("asgd")
    t_u, t_c = book.columns(0.1, F64)
    params = torch.tensor([1.0, 0.0], dtype=F64, requires_grad=True)
    opt = torch.optim.ASGD([params], lr=0.01)
    for _ in range(5):
        loss = ((params[0] * t_u + params[1] - t_c) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert [result.params["weight"][0][0], result.params["bias"][0]] == pytest.approx(params.tolist(), rel=1e-12)


def maybe(values):
    """One of `values`, or the option left out (None)."""
    return st.one_of(st.none(), st.sampled_from(values))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    model=maybe(["linear", "mlp"]),
    activation=maybe([*activations.ACTIVATIONS, "gelu", ""]),
    method=maybe([*gradients.METHODS, "newton"]),
    optim=maybe([*optimizers.OPTIMIZERS, "lbfgs"]),
    momentum=maybe(["0", "0.9", "1.5"]),
    weight_decay=maybe(["0", "0.01", "-1"]),
    schedule=maybe([*schedules.SCHEDULES, "linear"]),
    step_size=maybe(["1", "3", "0"]),
    gamma=maybe(["0.5", "2", "0", "nan"]),
    max_lr=maybe(["0.05", "-1", "inf"]),
)
def test_any_mix_of_registry_options_ends_in_0_2_or_3(run_cli, **options):
    """Every combination of the registries' options trains, diverges or is refused with a message."""
    args = ["fit", "--epochs", "6", "--output", "json"]
    for name, value in options.items():
        if value is not None:
            args += [f"--{name.replace('_', '-')}", value]
    result = run_cli(*args)
    assert "Traceback" not in result.output
    assert result.exit_code in (0, 2, 3), result.output
    if result.exit_code == 2:
        assert "error" in result.plain.lower()


def test_the_registries_are_reached_from_import_gdcli_alone():
    code = ("import gdcli, sys\n"
            "assert all(callable(getattr(gdcli, n).register) for n in ('models', 'activations', 'schedules', "
            "'optimizers', 'gradients', 'readers'))\n"
            "assert 'torch' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_name_the_command_line_could_not_give_is_refused():
    with pytest.raises(ValueError, match="without commas"):
        optimizers.register(optimizers.Optimizer("sgd:nesterov", "sgd with nesterov", ("lr",), "SGD"))


def test_unregister_takes_the_entry_or_its_name_and_models_are_checked_like_the_rest():
    entry = optimizers.register(optimizers.Optimizer("asgd2", "torch.optim.ASGD again", ("lr",), "ASGD"))
    optimizers.unregister(entry)
    assert "asgd2" not in optimizers.OPTIMIZERS
    with pytest.raises(ValueError, match="subclass of gdcli.models.Model"):
        models.register(type("X", (object,), {"name": "x"}))
    with pytest.raises(ValueError, match="without commas"):
        models.register(type("Odd", (models.MODELS["linear"],), {"name": "lin ear"}))
