"""compare: the same problem under several gradient methods and optimizers.

Runs share every data option and the seed, so they start from the same
parameters on the same split with the same batch order; only the strategy
differs. A run that diverges is a result here, not an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from gdcli import errors
from gdcli.errors import GdcliError, param

if TYPE_CHECKING:
    from gdcli.train import RunResult, Trainer


def check_one_way(pairs_given: bool, lists_given: bool) -> None:
    """Refuse explicit (method, optim) pairs together with lists of methods or optimizers."""
    if pairs_given and lists_given:
        raise GdcliError(f"{param('run')} lists the strategies itself",
                         f"use either {param('run')} METHOD:OPTIM ... or {param('methods')}/{param('optims')}")


def strategies(methods: list[str], optims: list[str], pairs: list[tuple[str, str]], mini_batch: bool = False,
               linear: bool = True) -> list[tuple[str, str]]:
    """(method, optim) pairs: the explicit `pairs`, else methods x optims.

    Without methods every method runs, except gram where it cannot: with mini-batches
    (it needs the full batch) or for a model not `linear` in its parameters.
    """
    from gdcli.gradients import METHODS
    from gdcli.optimizers import OPTIMIZERS

    def check(name: str, kind: str, registry, where: str) -> str:
        if name not in registry:
            raise GdcliError(f"{where}unknown {kind} {name!r}" + _near(name, registry),
                             f"choose from {', '.join(registry)}")
        return name

    check_one_way(bool(pairs), bool(methods or optims))
    if pairs:
        # An explicit pair is named as given: --run autograd:nope.
        found = [(check(m, "method", METHODS, f"{param('run')} {m}:{o}: "),
                  check(o, "optim", OPTIMIZERS, f"{param('run')} {m}:{o}: ")) for m, o in pairs]
        _once([f"{m}:{o}" for m, o in found], "run")
        return found
    methods = [check(m, "method", METHODS, f"{param('methods')}: ") for m in methods]
    optims = [check(o, "optim", OPTIMIZERS, f"{param('optims')}: ") for o in optims]
    _once(methods, "methods")
    _once(optims, "optims")
    every = [m for m, entry in METHODS.items() if not ((mini_batch or not linear) and entry.needs_gram)]
    return [(m, o) for m in methods or every for o in optims or ["gd"]]


def _once(names: list[str], setting: str) -> None:
    """Refuse a name listed twice, saying which and where."""
    twice = [n for i, n in enumerate(names) if n in names[:i]]
    if twice:
        raise GdcliError(f"{param(setting)} lists {twice[0]} twice", "list each strategy once")


def _near(name: str, names) -> str:
    """ " (did you mean X?)" for a near miss of a registered name, else nothing."""
    from gdcli.text import near

    meant = near(name, names)
    return f" (did you mean {meant}?)" if meant else ""


def plan(run: dict, methods: list[str], optims: list[str], pairs: list[tuple[str, str]],
         log_every: int | None) -> Plan:
    """A comparison's runs from the shared settings and the strategies asked for, every strategy that
    cannot run on this problem left out or refused (trainers_for)."""
    from gdcli import models, train

    chosen = strategies(methods, optims, pairs, mini_batch=run.get("batch_size") is not None,
                        linear=models.linear_in_params(run.get("model")))
    configs = [train.resolve(log_every=log_every, **options_for(run, o, chosen), method=m, optim=o)
               for m, o in chosen]
    named = param("run") if pairs else param("methods") if methods else None
    return trainers_for(configs, chosen, named)


def compared(configs: list, trainers: list, agreement: tuple, listen, curves: bool,
             reader_left=None) -> tuple[list, list, object]:
    """Train a comparison's trainers (plan), told by `listen` (runner.train_with), and make its view:
    (the trainers that ran, their results, report.compare.CompareView). The one body of `gdcli compare`
    and gdcli.compare."""
    from gdcli import runner
    from gdcli.report.compare import CompareView

    ran = runner.train_with(trainers, listen, reader_left=reader_left)
    results = [t.result() for t in ran]
    within_tol, within = within_all(configs, results)
    view = CompareView(results, agreement, within, within_tol, curves, str(trainers[0].device), configs)
    return ran, results, view


class Plan(NamedTuple):
    """A comparison's runs as planned: their settings, strategies and trainers, and a note for each
    method left out (its settings named with errors.param)."""

    configs: list
    strategies: list[tuple[str, str]]
    trainers: list
    notes: list[str]


def trainers_for(configs: list, strategies: list[tuple[str, str]], named: str | None) -> Plan:
    """The runs that can be set up on this data.

    A method that cannot run here (finite differences of too many parameters, gram's matrices beyond
    memory) is left out of the default list with a note; where the user named it in `named`
    (methods or run, marked with errors.param), it is refused with a hint about that setting.
    """
    from gdcli import train

    kept, noted = [], {}
    for cfg, (method, optim) in zip(configs, strategies):
        try:
            kept.append((cfg, (method, optim), train.fit(cfg)))
        except GdcliError as err:
            reason = _method_refusal(err, method)
            if reason is None:
                raise
            if named:
                raise GdcliError(
                    f"{method} {reason}",
                    f"leave {method} out of {named}: analytic and autograd work on the rows",
                ) from None
            noted.setdefault(method, f"{method} is left out: it {reason}")
    return Plan([k[0] for k in kept], [k[1] for k in kept], [k[2] for k in kept], list(noted.values()))


def _method_refusal(err: GdcliError, method: str) -> str | None:
    """Why the trainer refused `method` itself on this data ("evaluates the loss twice ..."), or None
    for any other error."""
    prefix = f"{errors.param('method')} {method} "
    if method in ("finite-diff", "gram") and err.message.startswith(prefix):
        return err.message[len(prefix):]
    return None


def options_for(run: dict, optim: str, pairs: list[tuple[str, str]]) -> dict:
    """The shared options as one strategy takes them: momentum and weight decay go to the
    optimizers that use them, and are an error only when no listed optimizer does."""
    from gdcli.optimizers import OPTIMIZERS

    options = dict(run)
    for name in ("momentum", "weight_decay"):
        if options.get(name) and name not in OPTIMIZERS[optim].takes:
            if not any(name in OPTIMIZERS[o].takes for _, o in pairs):
                users = ", ".join(k for k, v in OPTIMIZERS.items() if name in v.takes)
                raise GdcliError(f"{param(name)} applies to none of the optimizers compared", f"compare one of {users}")
            options[name] = None
    return options


WITHIN = 0.01  # compare's "within" column without --within: 1% of the optimum


def within_all(configs: list, results: list) -> tuple[float, list[int | None]]:
    """The tolerance "within" is judged at (--within when given, which also stops each run there; else
    1% of the optimum), and each run's first epoch within it."""
    tol = configs[0].within if configs[0].within is not None else WITHIN
    return tol, [first_within(r, tol) for r in results]


def first_within(result: RunResult, tol: float) -> int | None:
    """The first epoch whose training loss is within `tol` (relative) of the optimum, or None.

    When the optimum fits the rows exactly (its loss is rounding noise), "relative
    to it" would divide by noise; the tolerance is then taken relative to the
    targets' own size (the loss of predicting zero), times 1e-6, as --within does.
    """
    from gdcli.train.stopping import within_threshold

    if result.optimum_loss is None:  # too large to solve: nothing to be within
        return None
    threshold = within_threshold(result.optimum_loss, result.exact_fit, result.zero_loss, tol)
    hits = (result.train_history <= threshold).nonzero()
    return int(result.epoch_numbers[hits[0, 0]]) if len(hits) else None


@dataclass(frozen=True)
class Agreement:
    """One method's loss and gradient at the start, and how far it is from autograd's."""

    method: str
    loss: float
    grad: list[float]
    max_abs: float
    max_diff_over_norm: float  # max |difference| / ||autograd's gradient|| (gdcli.numerics)


def agreement(trainer: Trainer, methods=None, named: bool = False) -> tuple[list[Agreement], dict[str, str]]:
    """Each of `methods`' loss and gradient at the trainer's starting parameters, against autograd's
    (computed as the reference whether compared or not), and why each method that cannot run here
    was left out (method -> reason). `methods` None: every registered method (gdcli grad). `named`:
    the user chose `methods`, so a method left out that they did not ask for goes unmentioned.

    A method not compared is never run: finite differences on a large file cost a whole epoch."""
    from gdcli.gradients import FD_MAX_PARAMS, METHODS, check_step, gradient_at
    from gdcli.models import default_delta
    from gdcli.numerics import differences

    wanted = [m for m in METHODS if methods is None or m in methods or m == "autograd"]
    theta, model = trainer.theta[:1].detach(), trainer.model
    rows, left_out = full_rows(trainer, any(METHODS[m].needs_gram for m in wanted))
    # finite differences only for a few parameters.
    if model.size > FD_MAX_PARAMS:
        left_out["finite-diff"] = (f"{model.size:,} parameters would take {2 * model.size + 1:,} loss evaluations")
    usable = [m for m in wanted if m not in left_out]
    streaming = getattr(trainer.prepared[0], "streamed", False)  # rows read again: a pass per method
    if "finite-diff" in usable and not streaming:
        check_step(theta, trainer.spec.delta, default_delta(model.name, trainer.base.dtype), rows, trainer.spec)
    if streaming:
        from gdcli.train.streamed import method_at

        found = {m: method_at(trainer, m, theta, rows) for m in usable}
    else:
        found = {m: gradient_at(m, theta, rows, trainer.spec) for m in usable}
    ref = found["autograd"][1]
    table = []
    for method, (loss, grad) in found.items():
        max_abs, over_norm = differences(grad, ref)
        table.append(Agreement(method, float(loss), flat_params(grad[0]), max_abs, over_norm))
    if named:
        left_out = {m: why for m, why in left_out.items() if m in methods}
    return table, left_out


def full_rows(trainer: Trainer, gram_wanted: bool = True):
    """The first run's whole training set, with its Gram statistics where the gram method can have them
    and is `gram_wanted`, as every method takes it; and why gram was left out where it was ({"gram": reason})."""
    from gdcli import data, gradients
    from gdcli.stats import gram_method_misfit

    prep, model = trainer.prepared[0], trainer.model
    # gram exists only for a model linear in its parameters, and whose matrices fit in memory.
    why = None if model.linear_in_params else f"the {model.name} model is not linear in its parameters"
    why = why or gram_method_misfit(model.inputs, data.available_memory())
    gram = None if why or not gram_wanted else prep.gram("training")
    X, y = prep.stand_in() if getattr(prep, "streamed", False) else (prep.X_train, prep.y_train)
    return gradients.shared(X, y, gram, trainer.base.reduction), ({"gram": why} if why else {})


def flat_params(theta) -> list[float]:
    """One run's parameters (P,) as floats, in the --init order (torch.nn's)."""
    return theta.double().flatten().tolist()


@dataclass(frozen=True)
class GradientReport:
    """The loss and gradient of one problem at fixed parameters, by every method (gdcli grad --dataset)."""

    config: object
    dataset: object
    names: list[str]  # parameter names in --init order
    at: list[float]  # the parameters, in that order
    rows: list[Agreement]
    left_out: dict[str, str]  # method -> why it is not among the rows
    steps: object  # gradients.ChainRule (a line) or models.Backprop (an MLP): the analytic gradient factor by factor
    X: object  # (rows, k) inputs as the model sees them
    y: object  # (rows, targets)
    model: object  # models.Model


def gradients_at(cfg) -> GradientReport:
    """Every method's loss and gradient at `cfg`'s starting parameters (`init`), with the chain rule."""
    from gdcli import gradients
    from gdcli.train import Trainer

    trainer = Trainer([cfg])
    ds, theta, prep, model = trainer.dataset, trainer.theta[0].detach(), trainer.prepared[0], trainer.model
    if model.linear_in_params:
        steps = gradients.chain_rule(theta, prep.X_train, prep.y_train, cfg.reduction)
    else:
        steps = model.backprop(prep.X_train, prep.y_train, theta[None], cfg.reduction)
    names = model.labels(trainer.features, ds.targets)
    rows, left_out = agreement(trainer)
    return GradientReport(
        cfg, ds, names, flat_params(theta), rows, left_out, steps, prep.X_train, prep.y_train, model
    )
