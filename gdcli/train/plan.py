"""What a Trainer will run, resolved and checked before anything is allocated.

A plan reads the rows (one dataset per seed), builds the model, groups the runs by
the rows they share, draws the starting parameters and settles the optimizer's
settings; on the way it refuses what cannot train (a wrong --init count, a hidden
layer or a Gram method beyond memory, a history too long to keep). The loop then
never calls back into config, store or data.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from gdcli import data as datamod
from gdcli import models
from gdcli.config import RunConfig, init_values, resolve_device, validate
from gdcli.errors import GdcliError, param
from gdcli.store import columns, design, generated_rows, keep_freed_memory, load, prepared
from gdcli.text import plural
from gdcli.train import budget, derived_lr

if TYPE_CHECKING:
    from torch import Tensor

# Keep "all" epochs' losses (fit, compare), or only the "logged" ones (sweep; --history logged).
HISTORY = ("all", "logged")
# Loss history a run may hold in memory (float64 on the CPU); beyond it, --history logged.
MAX_HISTORY_BYTES = 2 * 1024**3
# Parameter snapshots one chunk may hold: the loop keeps every epoch's parameters
# until the chunk's divergence check, so chunks shrink for very large sweeps.
MAX_CHUNK_ELEMENTS = 2**24
# Configuration fields a batch of runs may vary in; everything else must agree.
PER_RUN = ("lr", "momentum", "seed")


@dataclass
class Plan:
    """Everything a batch of runs needs to train, decided and checked."""

    configs: list[RunConfig]
    base: RunConfig  # the first run's settings: every field but PER_RUN is the same for all
    keep: str  # which epochs' losses to keep: one of HISTORY
    features: tuple[str, ...]  # the raw inputs, as the user gives them to predict
    dataset: datamod.Dataset  # the columns the model reads (of the first run's seed)
    model: models.Model
    notes: list[str]  # worth printing before training
    solve_plan: object  # how the optimum and the stability bound will be solved (stats.solve_plan)
    device: object
    dtype: object
    prepared: list  # each run's prepared rows (datamod.Prepared), shared between runs of one seed
    batch_size: int | None  # None: full batch
    method: object  # the gradient method's entry (gradients.METHODS)
    spec: object  # gradients.LossSpec
    groups: list[tuple[list[int], Tensor | None]]  # runs that read the same rows, and their index
    rows: object  # gradients.Rows: the training rows, one part per group
    val_rows: object | None
    start: Tensor  # (runs, P) starting parameters, on the device in the training dtype
    hyper: dict  # the optimizer's settings: one value for all runs, or a (runs, 1) column
    chunk: int  # the most epochs a chunk holds
    decision: object = None  # whether the rows are held or streamed, and why (train/budget.py Decision)

    @property
    def streamed(self) -> bool:
        """Whether the rows are streamed, read again for every pass (else held)."""
        return bool(self.decision is not None and self.decision.streamed)

    @property
    def runs(self) -> int:
        """How many runs train together."""
        return len(self.configs)

    @property
    def n_train(self) -> int:
        """Training rows of each run."""
        return self.prepared[0].n_train


def make(configs: list[RunConfig], chunk: int = 4096, history: str = "all", source=None) -> Plan:
    """The plan for a batch of runs that may differ only in PER_RUN; raises GdcliError for what
    cannot train. Data is read (and checked) before torch loads. `source` (rayfit.OnRay): where the
    rows of a lone run are read and prepared instead of here."""
    keep_freed_memory()
    base, runs = _checked_configs(configs, history), len(configs)
    seeds = list(dict.fromkeys(c.seed for c in configs))
    generated = generated_rows(base)
    rows = generated if generated is not None else base.rows  # a file given --rows is refused by the loader
    # Data first, without torch: a bad file is reported before torch loads. Generated
    # data is sized before a row is drawn, one dataset per seed.
    # A model that derives columns (the quadratic's squares) holds them beside the raw ones.
    widen = models.get(base.model).load_width()
    decision = source.decision() if source is not None else budget.decide(base, runs)
    if source is not None:  # read where the source reads them (rayfit.OnRay: Ray's workers, part by part)
        raw = {s: source.dataset(base) for s in seeds}
    elif decision.streamed:  # too many rows to hold: read again block by block for every pass
        budget.refuse(base, decision, len(seeds))
        raw = {s: budget.load(base, s, decision.limit) for s in seeds}
    else:
        raw = {s: load(base.dataset, tuple(base.targets), s, rows, base.features, base.dtype, widen, columns(base))
               for s in seeds}
    model = models.of(base, len(raw[base.seed].features), len(raw[base.seed].targets))
    # The columns the model reads (the quadratic adds each feature's square, before any scaling).
    datasets = {s: (budget.design if decision.streamed else design)(raw[s], model) for s in seeds}
    values = init_values(base.init)
    n_rows = raw[base.seed].n_rows
    check_model(base, model, datasets[base.seed], values)
    # Streamed rows are worked on a block at a time.
    check_work_memory(base, model, runs, min(n_rows, budget.BLOCK_ROWS) if decision.streamed else n_rows)
    solve_plan = check_solve(base, model, runs, n_rows)
    check_history_size(base, history, runs)
    placed = _placed(configs, datasets, model, decision.streamed, source)
    # A preset's lr rule (the synthetic dataset's) becomes a number once the rows are known.
    configs = derived_lr.derive(configs, placed["prepared"], model, solve_plan)
    base = configs[0]
    start = _start(configs, model, values, placed["device"], placed["dtype"])
    if base.method == "finite-diff":
        from gdcli import gradients

        default = models.default_delta(base.model, base.dtype)
        # Streamed rows are not held to try the step on: only the parameters' own spacing is checked.
        gradients.check_step(start, base.delta, default, None if decision.streamed else placed["rows"], placed["spec"])
    return Plan(
        configs=configs,
        base=base,
        keep=history,
        features=raw[base.seed].features,
        # Streamed rows' gaps are counted in their first pass: its dataset says how many were left out.
        dataset=placed["prepared"][0].dataset if decision.streamed else datasets[base.seed],
        model=model,
        notes=symmetry_notes(base, model),
        solve_plan=solve_plan,
        start=start,
        hyper=_hyper(configs),
        chunk=max(1, min(chunk, MAX_CHUNK_ELEMENTS // (runs * model.size))),
        decision=decision,
        **placed,
    )


def _checked_configs(configs: list[RunConfig], history: str) -> RunConfig:
    """The batch's shared settings, once every run is valid and differs from the first only in PER_RUN."""
    base = configs[0]
    for cfg in configs:
        validate(cfg)
        if replace(cfg, lr=base.lr, momentum=base.momentum, seed=base.seed) != base:
            raise ValueError("runs of one Trainer may differ only in " + ", ".join(PER_RUN))
    if history not in HISTORY:
        raise ValueError(f"history must be one of {HISTORY}")
    return base


def _placed(configs: list[RunConfig], datasets: dict, model: models.Model, stream: bool = False,
            source=None) -> dict:
    """The device, every run's prepared rows (streamed ones, or the `source`'s), and the rows grouped as the
    gradient methods read them."""
    import torch

    from gdcli import gradients

    base = configs[0]
    device = resolve_device(base.device)
    dtype = getattr(torch, base.dtype)
    if device.type == "mps" and dtype == torch.float64:
        raise GdcliError("Apple's MPS device has no float64", f"use {param('dtype')} float32, or {param('device')} cpu")
    # The split depends on the seed only when there is one; without, every seed shares the tensors.
    prep_of = source.prepared if source is not None else budget.prepared if stream else prepared
    preps = {
        s: prep_of(ds, base.scale, base.normalize, base.val_fraction, s if base.val_fraction > 0 else 0, dtype, device)
        for s, ds in datasets.items()
    }
    runs_prep = [preps[c.seed] for c in configs]
    n = runs_prep[0].n_train
    batch_size = base.batch_size if base.batch_size and base.batch_size < n else None
    method = gradients.METHODS[base.method]
    # Runs group by the rows they see: by their prepared tensors for a full batch, by
    # seed (each has its own batch order) for mini-batches.
    key = (lambda c: c.seed) if batch_size else (lambda c: id(preps[c.seed]))
    groups = _groups([key(c) for c in configs], device)
    group_prep = [runs_prep[members[0]] for members, _ in groups]

    def rows(part: str):
        return _rows(base, method, groups, group_prep, part, runs_prep, dtype, device)

    return dict(
        device=device,
        dtype=dtype,
        prepared=runs_prep,
        batch_size=batch_size,
        method=method,
        spec=gradients.LossSpec(base.reduction, base.delta, model),
        groups=groups,
        rows=rows("train"),
        val_rows=rows("val") if runs_prep[0].n_val else None,
    )


def _rows(base: RunConfig, method, groups: list, group_prep: list, part: str, prepared: list, dtype, device):
    """The training (or validation) rows as the methods take them: one part per group of runs."""
    from gdcli import gradients

    parts, grams = [], []
    for (members, runs), prep in zip(groups, group_prep):
        if getattr(prep, "streamed", False):  # no rows held: the passes read them (train/streamed.py)
            X, y = prep.stand_in()
        else:
            X, y = (prep.X_train, prep.y_train) if part == "train" else (prep.X_val, prep.y_val)
        parts.append(gradients.Part(runs, X, y))
        if method.needs_gram:
            grams.append((members, prep.gram("training" if part == "train" else "validation")))
    stats = None
    if grams:
        per_run = [None] * len(prepared)
        for members, gram in grams:
            for run in members:
                per_run[run] = gram
        # One set of (k + 1)-square matrices per run, so that every epoch is plain bmm calls.
        stats = gradients.GramTensors.stack(per_run, base.reduction, device, gradients.gram_dtype(device, dtype))
    return gradients.Rows(tuple(parts), stats)


def _start(configs: list[RunConfig], model: models.Model, values: tuple, device, dtype) -> Tensor:
    """Every run's starting parameters (runs, P), drawn from its own seed, on the device."""
    import torch

    kind = "values" if values else configs[0].init
    theta0 = torch.stack([model.initial(kind, seed=c.seed, values=values) for c in configs])
    return theta0.to(device, dtype)


def _hyper(configs: list[RunConfig]) -> dict:
    """The optimizer's settings: one value for all runs, or (when lr or momentum varies) a value per run for both."""
    import torch

    from gdcli import optimizers

    base = configs[0]
    entry = optimizers.OPTIMIZERS[base.optim]
    names = [name for name in ("lr", "momentum", "weight_decay") if name in entry.takes]
    varies = any(len({getattr(c, name) for c in configs}) > 1 for name in PER_RUN if name in names)
    # float64 like the Python floats torch.optim takes; the batched rules cast
    # them to the device once, as torch.optim would round them.
    return {
        name: torch.tensor([getattr(c, name) for c in configs], dtype=torch.float64).view(-1, 1)
        if varies and name in PER_RUN
        else getattr(base, name)
        for name in names
    }


def _members(keys: list) -> list[list[int]]:
    """The runs of each distinct key, in order of first appearance."""
    members: dict = {}
    for run, key in enumerate(keys):
        members.setdefault(key, []).append(run)
    return list(members.values())


def _groups(keys: list, device) -> list[tuple[list[int], Tensor | None]]:
    """Runs grouped by key: (members, their index on the device, or None when one group holds every run)."""
    import torch

    groups = _members(keys)
    if len(groups) == 1:
        return [(groups[0], None)]
    return [(runs, torch.tensor(runs, device=device)) for runs in groups]


def by_prep(prepared: list) -> list[tuple[list[int], datamod.Prepared]]:
    """Runs grouped by the prepared rows they share."""
    return [(runs, prepared[runs[0]]) for runs in _members([id(p) for p in prepared])]


# ---- checks: what cannot train is refused before anything is allocated --------------------------


def check_model(base: RunConfig, model: models.Model, dataset: datamod.Dataset, values: tuple[float, ...]) -> None:
    """Refuse what the model cannot train: a wrong --init count, finite differences of too many parameters."""
    from gdcli.gradients import FD_MAX_PARAMS

    if values and len(values) != model.size:
        raise GdcliError(
            f"{param('init')} {base.init!r} gives {len(values)} numbers; "
            + ("" if base.model == models.DEFAULT else f"the {base.model} model of ")
            + f"{dataset.name} needs {model.size}",
            _init_hint(model, dataset),
        )
    if base.method == "finite-diff" and model.size > FD_MAX_PARAMS:
        raise GdcliError(
            f"{param('method')} finite-diff evaluates the loss twice per parameter every step: "
            f"{2 * model.size + 1:,} times for the {model.size:,} parameters of this "
            f"{base.model} model (at most {FD_MAX_PARAMS:,} parameters)",
            f"use {param('method')} analytic or autograd"
            + (f", or a smaller {param(model.smaller)}" if model.smaller else ""),
        )


def symmetry_notes(base: RunConfig, model: models.Model) -> list[str]:
    """The note worth printing when --init starts every hidden unit alike (none otherwise)."""
    if not model.symmetric(base.init):
        return []
    return [
        f"{param('init')} {base.init} gives every hidden unit the same weights, so every unit gets the same "
        f"gradient and they stay identical: the {model.hidden} units train as one. "
        f"Break the symmetry with {param('init')} uniform (the default) or randn"
    ]


def check_work_memory(base: RunConfig, model: models.Model, runs: int, n_rows: int) -> None:
    """Refuse a network whose hidden layer for every row of a batch and every run would not fit in memory."""
    if model.linear_in_params:
        return
    rows = min(n_rows, base.batch_size or n_rows)
    itemsize = 8 if base.dtype == "float64" else 4
    need = rows * runs * model.row_width() * itemsize
    have = datamod.available_memory()
    if have is None or need <= datamod.HEADROOM * have:
        return
    raise GdcliError(
        f"the {model.hidden}-unit hidden layer of {plural(runs, 'run')} on {rows:,} rows needs about "
        f"{need / 1024**3:.1f} GiB of memory per step; {have / 1024**3:.1f} GiB is available",
        f"use a smaller {param('hidden')}, a {param('batch_size')}, or fewer {param('rows')}",
    )


def check_solve(base: RunConfig, model: models.Model, runs: int, n_rows: int):
    """Decide how the optimum and the stability bound will be solved (their k^2 memory and k^3 work
    counted now, before training), and refuse what needs a Gram matrix that cannot be had."""
    from gdcli import stats

    k = model.inputs
    n_train = n_rows - int(base.val_fraction * n_rows)
    have = datamod.available_memory()
    solve_plan = stats.solve_plan(n_train, k, have)
    if base.within is not None and solve_plan.side is None:
        raise GdcliError(
            f"{param('within')} stops at a distance from the least-squares optimum, which is not computed here: "
            + solve_plan.reason,
            f"use {param('tol')} and {param('patience')} instead, or fewer features",
        )
    if base.method == "gram":
        # The gram method steps on (k + 1)-square matrices: three per run, besides the Gram matrix itself.
        need = stats.gram_method_bytes(k, runs)
        if have is not None and need > datamod.HEADROOM * have:
            raise GdcliError(
                f"{param('method')} gram steps on {(k + 1):,} x {(k + 1):,} matrices for {plural(runs, 'run')}: "
                f"about {need / 1024**3:.1f} GiB of memory; {have / 1024**3:.1f} GiB is available",
                f"use {param('method')} analytic or autograd, which work on the rows",
            )
    return solve_plan


def check_history_size(base: RunConfig, keep: str, runs: int) -> None:
    """Refuse keeping every epoch's loss where it would not fit in memory (--history logged keeps less)."""
    if keep != "all":
        return
    size = base.epochs * runs * 8 * (2 if base.val_fraction > 0 else 1)
    if size > MAX_HISTORY_BYTES:
        raise GdcliError(
            f"keeping the loss of all {plural(base.epochs, 'epoch')} of {plural(runs, 'run')} would take "
            f"{size / 1024**3:.1f} GiB of memory",
            f"train fewer {param('epochs')}, or keep only the logged epochs ({param('history')} logged on fit)",
        )


def _init_hint(model: models.Model, ds: datamod.Dataset) -> str:
    """How --init numbers are ordered for a model."""
    if model.linear_in_params:
        t, k = len(ds.targets), model.inputs
        return f"give {t}x{k} weights row by row, then {plural(t, 'bias', 'biases')}"
    shapes = ", ".join(f"{p.name} {'x'.join(map(str, p.shape))}" for p in model.parameters())
    return f"give the values in torch.nn order, each row by row: {shapes}"
