"""How every run of a Trainer ended: final losses, the optimum, the stability bound, the verdict.

The optimum and the stability bound come from one Gram matrix per set of rows (per
seed with a split), computed once, not once per run. A model that is not linear in
its parameters has no closed-form optimum: it is measured against the best straight
line on the same inputs, and its stability bound is a local estimate at the start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gdcli import data as datamod
from gdcli import models, outcome
from gdcli.result import EpochRecord, RunResult, record_at
from gdcli.train import stopping
from gdcli.train.plan import by_prep

if TYPE_CHECKING:
    from torch import Tensor

    from gdcli.config import RunConfig
    from gdcli.train.plan import Plan
    from gdcli.train.trainer import Trainer


class Optima:
    """The least-squares optimum of each set of training rows, solved once per set."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self._found: dict[int, tuple] = {}  # id(prepared rows) -> the optimum on them

    def of(self, prep: datamod.Prepared) -> tuple:
        """(parameters, loss, exact fit, loss of predicting zero, why not computed) of the optimum on a
        run's training rows: the model's own, or the best straight line for a network. Parameters and
        loss are None where the optimum was not computed."""
        from gdcli import stats

        if id(prep) not in self._found:
            plan = self.plan
            t, model, reduction = len(plan.dataset.targets), plan.model, plan.base.reduction
            line = model if model.linear_in_params else models.Linear(model.inputs, t)
            held = prep.dataset.held
            # Rows not held: the sum the one pass of `prepare` took, not another pass.
            sum_y2 = stats.sum_squares(prep.reference("train")) if held else prep.gram().sum_y2
            power = sum_y2 / (prep.n_train * t) if reduction == "mean" else sum_y2
            solution = prep.solution(plan.solve_plan)
            if solution.theta is None:
                self._found[id(prep)] = (None, None, False, power, solution.reason)
            else:
                best = solution.theta
                # The optimum's loss from its residuals (a second pass), not from the Gram
                # matrix's quadratic form, which cancels when the fit is nearly exact.
                if held:
                    best_loss = float(stats.losses(prep.reference("train"), best[None], reduction)[0])
                else:
                    best_loss = _optimum_loss(prep, plan.solve_plan, best, reduction)
                best_params = line.named(line.from_columns(best[None])[0])
                self._found[id(prep)] = (best_params, best_loss, outcome.exact_fit(best_loss, power), power, None)
        return self._found[id(prep)]


def _optimum_loss(prep: datamod.Prepared, solve_plan, best: Tensor, reduction: str) -> float:
    """The optimum's loss on training rows not held: the residual pass that anchors every later loss."""
    from gdcli.train import anchor

    _, train_sum, _ = anchor.anchor_of(prep, solve_plan)
    return train_sum / (prep.n_train * best.shape[1]) if reduction == "mean" else train_sum


def within_thresholds(trainer: Trainer):
    """Each run's training loss at which --within is met (None without --within)."""
    import numpy as np

    within = trainer.plan.base.within
    if within is None:
        return None
    values = []
    for prep in trainer.plan.prepared:
        _, best_loss, exact, power, _ = trainer.optima.of(prep)
        values.append(stopping.within_threshold(best_loss, exact, power, within))
    return np.array(values, dtype=np.float64)


def full_losses(trainer: Trainer, theta: Tensor) -> tuple[list[float], list[float] | None]:
    """Full-batch training (and validation) loss of every run at `theta`, in float64 on the CPU.

    Measured in chunks on the rows as they are before rounding to the training dtype,
    in float64 like the least-squares optimum they are compared with: a float32 loss
    can round below it and show a negative gap, and float32 data would hide its own
    rounding damage. Runs that share their rows are measured in one pass over them.
    """
    import torch

    plan = trainer.plan
    theta = theta.detach().to("cpu", torch.float64)
    train = torch.empty(plan.runs, dtype=torch.float64)
    val = torch.empty(plan.runs, dtype=torch.float64) if plan.val_rows is not None else None
    for members, prep in by_prep(plan.prepared):
        if val is not None and not prep.dataset.held and not plan.model.linear_in_params:
            # Rows not held: both parts in one read of the rows, not a read for each.
            from gdcli.train import anchor

            sums = anchor.both_sums(prep, theta[members], plan.model)
            mean = plan.base.reduction == "mean"
            t = len(plan.dataset.targets)
            train[members], val[members] = (s / (n * t) if mean else s for s, n in zip(sums, (prep.n_train, prep.n_val)))
            continue
        for part, found in (("train", train), ("val", val)):
            if found is not None:
                found[members] = _losses(plan, prep, theta[members], part)
    return train.tolist(), val.tolist() if val is not None else None


def _losses(plan: Plan, prep: datamod.Prepared, theta: Tensor, part: str) -> Tensor:
    """The loss of each of the runs `theta` on `part` of their rows: a pass over held rows; for rows not
    held and a model linear in its parameters, from the Gram statistics about the optimum (no pass)."""
    from gdcli import stats

    reduction, model = plan.base.reduction, plan.model
    if not prep.dataset.held and model.linear_in_params:
        from gdcli.train import anchor

        found = anchor.losses(prep, plan.solve_plan, model.columns(theta), part, reduction)
        if found is not None:
            values, trusted = found
            # A run so near the optimum that the Gram form would round its loss away: measure it.
            if not bool(trusted.all()):
                values[~trusted] = stats.losses(prep.reference(part), theta[~trusted], reduction, model)
            return values
    return stats.losses(prep.reference(part), theta, reduction, model)


def history(trainer: Trainer) -> tuple[list[int], Tensor, Tensor | None, Tensor | None]:
    """(epochs, train, val, lrs): the kept epochs' numbers, losses and (with a schedule) lrs,
    each (epochs, runs) float64 on the CPU."""
    import torch

    seen = [c for c in trainer.chunks_seen if c.epochs]
    if not seen:
        return [], torch.empty(0, trainer.plan.runs, dtype=torch.float64), None, None
    train = torch.cat([c.train_loss for c in seen])
    val = torch.cat([c.val_loss for c in seen]) if trainer.plan.val_rows is not None else None
    lrs = torch.cat([c.lrs for c in seen]) if trainer.schedule is not None else None
    return [e for c in seen for e in c.epochs], train, val, lrs


def final_theta(trainer: Trainer) -> Tensor:
    """Parameters (runs, P) at the end: a run that diverged (or stopped early) keeps those of that epoch."""
    theta = trainer.theta.detach().clone()
    ends = trainer.ends
    for run in range(trainer.plan.runs):
        stop = ends.end(run)
        if stop is not None and not (ends.stops[run] and ends.stops[run].rule == stopping.INTERRUPTED):
            snap = next(c.snapshots[stop] for c in trainer.chunks_seen if stop in c.snapshots)
            theta[run] = snap[0][run]
    return theta


def logged_records(trainer: Trainer, run: int) -> list[EpochRecord]:
    """The records of one run's logged epochs (with parameters and gradient norm), up to its divergence."""
    stop = trainer.ends.end(run) or trainer.plan.base.epochs
    return [
        record_at(chunk, epoch, run) for chunk in trainer.chunks_seen for epoch in sorted(chunk.snapshots) if epoch <= stop
    ]


def results(trainer: Trainer) -> list[RunResult]:
    """How every run ended, in run order."""
    import torch

    theta = final_theta(trainer)
    finals, final_vals = full_losses(trainer, theta)
    epochs, train, val, lrs = history(trainer)
    from gdcli.train.validation import validation_metrics

    theta64 = theta.to("cpu", torch.float64)
    ended = Ended(trainer, theta64, finals, final_vals, epochs)
    scored = validation_metrics(trainer, theta64)
    done = [ended.result(run, train, val, lrs) for run in range(trainer.plan.runs)]
    for result, metrics in zip(done, scored):
        result.val_metrics = metrics
    from gdcli.train.budget import record

    for result in done:
        result.data = record(trainer.plan)
    return done


class Ended:
    """What every run's result reads: the final parameters and losses, the kept epochs, and the
    stability bounds and step errors shared by runs on the same rows."""

    def __init__(self, trainer: Trainer, theta64: Tensor, finals: list, final_vals: list | None, epochs: list[int]):
        import torch

        self.trainer, self.theta64, self.finals, self.final_vals = trainer, theta64, finals, final_vals
        self.epoch_numbers = torch.tensor(epochs, dtype=torch.int64)
        # With --history logged the trainer keeps every run's end (a stop, a divergence) beside
        # the logged epochs; each run reports its own, whatever else it trained with.
        plan = trainer.plan
        self.logged = None
        if plan.keep == "logged":
            self.logged = torch.tensor([plan.base.logged(e) for e in epochs], dtype=torch.bool)
        self.bounds: dict = {}
        self.steps: dict = {}

    def kept(self, end: int | None):
        """The rows of the kept epochs a run reports: those up to its end (and its end, when logged only)."""
        numbers = self.epoch_numbers
        kept = slice(None) if end is None else slice(0, int((numbers <= end).sum()))
        if self.logged is not None:
            mine = self.logged if end is None else (self.logged | (numbers == end)) & (numbers <= end)
            kept = mine.nonzero().flatten()
        return kept

    def stable_lr(self, run: int) -> float | None:
        """The run's stability bound; it depends on the rows, momentum and weight decay (and for a
        network on where it starts)."""
        plan, cfg = self.trainer.plan, self.trainer.plan.configs[run]
        start, prep = self.trainer.theta0[run], plan.prepared[run]
        key = (id(prep), cfg.momentum, cfg.weight_decay, tuple(start.tolist()) if not plan.model.linear_in_params else None)
        if key not in self.bounds:
            self.bounds[key] = stable_lr_for(cfg, prep, plan.model, start, plan.solve_plan)
        return self.bounds[key]

    def verdict(self, run: int, stable: float | None) -> outcome.Verdict:
        """The run's verdict, before any blame on the finite-difference step."""
        from gdcli.schedules import peak_lr

        trainer, plan, cfg = self.trainer, self.trainer.plan, self.trainer.plan.configs[run]
        start = trainer.theta0[run]
        # Weight decay descends loss + (wd/2)|theta|^2: judge the run on that objective.
        decay = cfg.weight_decay / 2
        return outcome.judge(
            start_loss=trainer.start_loss[run],
            final_loss=self.finals[run],
            dtype=cfg.dtype,
            diverged_at=trainer.ends.diverged_at[run],
            nonfinite=trainer.ends.nonfinite[run] or "the training loss",
            # A schedule is judged by the largest lr it reaches.
            lr=peak_lr(cfg),
            # Only an exact bound makes a run "unstable"; a local estimate is shown, not judged by.
            stable_lr=stable if plan.batch_size is None and plan.model.linear_in_params else None,
            start_penalty=decay * float(start.square().sum()) if decay else 0.0,
            final_penalty=decay * float(self.theta64[run].square().sum()) if decay else 0.0,
        )

    def result(self, run: int, train: Tensor, val: Tensor | None, lrs: Tensor | None) -> RunResult:
        """One run's RunResult."""
        trainer, plan, cfg = self.trainer, self.trainer.plan, self.trainer.plan.configs[run]
        prep, start, model = plan.prepared[run], trainer.theta0[run], plan.model
        best_params, best_loss, exact, power, unsolved = trainer.optima.of(prep)
        end = trainer.ends.end(run)
        kept = self.kept(end)
        stable = self.stable_lr(run)
        verdict = self.verdict(run, stable)
        # Streamed rows are not held to probe the step on (the verdict stands without the figure).
        probe = verdict.diverged and cfg.method == "finite-diff" and not plan.streamed
        step_error = self.step_error(run) if probe else None
        epochs_run = min(trainer.epochs_done, end or trainer.epochs_done)
        ran = epochs_run >= 1 and not verdict.diverged
        losses = [trainer.start_loss[run], self.finals[run]]
        unmoved = stood_still(self.theta64[run], start, losses, train[kept, run]) if ran else None
        path_epochs, path = trainer.path_hook.of(run, end)
        sharp = trainer.sharpness_hook.of(run) if trainer.sharpness_hook is not None else (None, None, None)
        return RunResult(
            config=cfg,
            features=plan.features,
            targets=plan.dataset.targets,
            left_out=dict(plan.dataset.left_out),
            dropped_rows=plan.dataset.dropped,
            transform=prep.transform,
            epoch_numbers=self.epoch_numbers[kept],
            train_history=train[kept, run],
            val_history=val[kept, run] if val is not None else None,
            lr_history=lrs[kept, run] if lrs is not None else None,
            records=[],
            model=model,
            params=model.named(self.theta64[run]),
            initial_params=model.named(start),
            start_loss=trainer.start_loss[run],
            final_loss=self.finals[run],
            final_val_loss=self.final_vals[run] if self.final_vals else None,
            optimum_params=best_params,
            optimum_loss=best_loss,
            exact_fit=exact,
            zero_loss=power,
            optimum_reason=unsolved,
            stable_lr=stable,
            verdict=outcome.blame_step(verdict, step_error, cfg.delta),
            epochs_run=epochs_run,
            stop=trainer.ends.stops[run],
            seconds=trainer.seconds,
            n_train=prep.n_train,
            n_val=prep.n_val,
            epochs_computed=trainer.epochs_computed,
            compile_seconds=trainer.compile_seconds,
            step_error=step_error,
            unmoved=unmoved,
            path_epochs=path_epochs,
            path=path,
            sharpness_epochs=sharp[0],
            sharpness=sharp[1],
            sharpness_edge=sharp[2],
        )

    def step_error(self, run: int) -> float:
        """The finite-difference gradient at a run's start against autograd's (max diff / norm), in the
        training dtype: how far --delta broke it. Runs sharing rows and start share the figure."""
        from gdcli import gradients
        from gdcli.numerics import differences

        plan = self.trainer.plan
        prep, start = plan.prepared[run], self.trainer.theta0[run]
        key = (id(prep), tuple(start.tolist()))
        if key not in self.steps:
            theta = start[None].to(plan.device, plan.dtype)
            rows = gradients.shared(prep.X_train, prep.y_train)
            found = [gradients.gradient_at(m, theta, rows, plan.spec)[1] for m in ("finite-diff", "autograd")]
            self.steps[key] = differences(*found)[1]
        return self.steps[key]


def stood_still(final: Tensor, start: Tensor, losses: list[float], history: Tensor) -> str | None:
    """How a run that trained stood still, or None: it ended exactly at its start, or its loss never
    changed: the full-batch loss at its end and start (`losses`, float64), or every kept epoch's loss
    in the training dtype (`history`), where its steps fell below the spacing of the parameters."""
    import torch

    if torch.equal(final, start):
        return "its parameters ended exactly where they started"
    if losses[0] == losses[1] or (len(history) >= 2 and bool((history == history[0]).all())):
        return "its training loss never changed"
    return None


def stable_lr_for(
    cfg: RunConfig, prep: datamod.Prepared, model: models.Model | None = None, start=None, plan=None
) -> float | None:
    """The full-batch stability bound on lr for gd and sgd (None for adaptive optimizers, and where
    the optimum's solve was not possible).

    Exact for a model linear in its parameters (from the one decomposition that also gives
    the optimum, on the side `plan` chose); for any other, a local estimate from the
    Hessian's largest eigenvalue at the starting parameters.
    """
    if cfg.optim not in ("gd", "sgd"):
        return None
    if model is None or model.linear_in_params:
        if plan is None:
            from gdcli import stats

            plan = stats.solve_plan(prep.n_train, prep.X_train.shape[1], datamod.available_memory())
        solution = prep.solution(plan)
        return solution.stable_lr(prep.n_train, len(prep.dataset.targets), cfg.reduction, cfg.momentum, cfg.weight_decay)
    from gdcli import curvature

    # Rows not held: the power iteration reads the rows once a step, so it reads the training tensors
    # (a local estimate, shown and not judged by, needs no more than the rows as trained on).
    # Streamed rows hold no training tensors: each step reads them again.
    held = prep.dataset.held or getattr(prep, "streamed", False)
    rows = (lambda: prep.reference("train")) if held else (lambda: _trained_rows(prep))
    rows, m = curvature.spread(rows, prep.n_train)
    lam = curvature.sharpness(model, start, rows, m, cfg.reduction)
    if cfg.reduction == "sum":  # the Hessian of the sum over m rows, for the sum over n_train
        lam *= prep.n_train / m
    lam += cfg.weight_decay
    return 2.0 * (1.0 + cfg.momentum) / lam if lam > 0 else float("inf")


def _trained_rows(prep: datamod.Prepared):
    """The training tensors in float64 chunks on the CPU."""
    import torch

    from gdcli import stats

    for start in range(0, prep.n_train, stats.CHUNK_ROWS):
        stop = start + stats.CHUNK_ROWS
        yield prep.X_train[start:stop].to("cpu", torch.float64), prep.y_train[start:stop].to("cpu", torch.float64)
