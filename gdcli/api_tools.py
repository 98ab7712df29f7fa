"""`gdcli.grad` and `gdcli.sample`: the CLI's grad and sample commands from Python (see gdcli.api)."""

from __future__ import annotations

import numbers

from gdcli import settings as st
from gdcli.errors import GdcliError
from gdcli.runs import Report

# grad's data settings: fit's, less those that train (cli.tools.NOT_FOR_GRAD).
GRAD_DATA = ("dataset", "target", "rows", "features", "scale", "normalize", "val_fraction", "model", "hidden",
             "activation", "reduction", "dtype", "device", "seed")
GRAD = GRAD_DATA + ("expr", "at", "shape", "wrt", "delta", "params", "explain")
EXAMPLE = 'for example: gdcli.grad("w*x + b", at={"x": 2, "w": 3, "b": 4})'


def _values(name: str, value) -> str:
    """A number or a flat list of numbers (a tensor of at most one dimension) as the CLI's text."""
    if hasattr(value, "tolist") and not isinstance(value, (list, tuple)):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        if any(isinstance(v, (list, tuple)) for v in value):
            raise GdcliError(f"{name} must be a number or a flat list of numbers", "give the values of a 1-D tensor; "
                             "fill a larger one with shape=")
        return st.as_text([st.number(name, v, False) for v in value])
    return st.as_text([st.number(name, value, False)])


def _shape(name: str, value) -> str:
    dims = [value] if isinstance(value, numbers.Integral) else value
    if not isinstance(dims, (list, tuple)):
        raise GdcliError(f"{name} must be a tuple of whole numbers, got {value!r}", f"for example {name}=(4, 4)")
    return ",".join(str(st.number(name, d, True)) for d in dims)


def _bindings(kind: str, values) -> list[str]:
    """at= and shape= dicts as the CLI's NAME=VALUE items."""
    if values is None:
        return []
    if not isinstance(values, dict):
        raise GdcliError(f"{kind} must be a dict of variable names, got {values!r}", EXAMPLE)
    text = _values if kind == "at" else _shape
    return [f"{name}={text(f'{kind}[{name!r}]', v)}" for name, v in values.items()]


def grad(expr: str | None = None, *, at: dict | None = None, shape: dict | None = None, wrt=None,
         delta: float | None = None, params=None, explain: bool = False, **settings) -> Report:
    """Check a gradient, as `gdcli grad` does: an expression's value and gradient by autograd against
    central finite differences; or, with dataset=, a model's loss and gradient at `params` by every method.

    at: {name: number or list}; shape: {name: (4, 4)}; wrt: the variables (default all); delta: the
    finite-difference step. With dataset: params (numbers, weights row by row then biases), explain
    (the chain rule or backpropagation), and the data settings dataset, target, rows, features, scale,
    normalize, val_fraction, model, hidden, activation, reduction, dtype, device, seed.
    Returns a Report: `data` (what --output json writes) and, for an expression, `value` and `gradients`.
    """
    with st.api_call(GRAD, {"init": "params"}):
        st.check_names(settings, GRAD, "grad")
        explain = st.boolean("explain", explain)
        delta = st.typed("delta", delta)
        run = st.run_dict(settings)
        if expr is None:
            return _grad_dataset(run, params, delta, explain, at, shape, wrt)
        if not isinstance(expr, str):
            raise GdcliError(f"expr must be a string, got {expr!r}", EXAMPLE)
        used = [k for k, v in settings.items() if v is not None] + [k for k, v in (("params", params), ("explain", explain)) if v]
        if used:
            raise GdcliError(f"{' and '.join(used)} {'is' if len(used) == 1 else 'are'} for a dataset's loss, not for an "
                             "expression", "drop the expression, or drop " + " and ".join(used))
        from gdcli import expressions, report_tools

        values = expressions.parse_bindings(_bindings("at", at), _bindings("shape", shape))
        names = [wrt] if isinstance(wrt, str) else list(wrt) if wrt is not None else None
        if names is not None and len(names) == 1 and "," in names[0]:
            names = [n.strip() for n in names[0].split(",") if n.strip()]
        check = expressions.check_gradient(expressions.parse_expression(expr), values, names,
                                           1e-6 if delta is None else delta)
        return Report("grad", report_tools.grad_json(check), lambda: report_tools.grad_renderables(check),
                      value=check.value, gradients={row.name: row.autograd for row in check.rows})


def _grad_dataset(run: dict, params, delta, explain: bool, at, shape, wrt) -> Report:
    """A model's loss and gradient at fixed parameters, by every gradient method (cli.tools._grad_dataset)."""
    given = {k: v for k, v in run.items() if v is not None}
    if not given and params is None and not explain:
        raise GdcliError("give an expression to differentiate, or dataset=",
                         EXAMPLE + '; or: gdcli.grad(dataset="celsius", params=[1, 0], explain=True)')
    extra = [n for n, v in (("at", at), ("shape", shape), ("wrt", wrt)) if v]
    if extra:
        raise GdcliError(f"{' and '.join(extra)} {'is' if len(extra) == 1 else 'are'} for an expression, not for a "
                         "dataset's loss", "drop " + " and ".join(extra) + ", or give an expression instead of dataset")
    from gdcli import comparison, report_tools, train

    init = params if params is None or isinstance(params, str) else st.typed("init", list(params))
    options = {"scale": 1.0, "normalize": False, **given, "init": init, "epochs": 1}
    found = comparison.gradients_at(train.resolve(**options, delta=delta))
    explain = bool(explain)
    return Report("grad", report_tools.dataset_gradient_json(found, explain),
                  lambda: report_tools.dataset_gradient_parts(found, explain))


DISTRIBUTIONS = ("bernoulli", "multinomial", "normal", "uniform")
OWNERS = {"p": "bernoulli", "weights": "multinomial", "num_samples": "multinomial", "replacement": "multinomial",
          "mean": "normal", "std": "normal", "low": "uniform", "high": "uniform"}
SAMPLE = ("distribution", "shape", "draws", "seed") + tuple(OWNERS)


def _spec(name: str, value) -> str:
    """A distribution's parameter: the CLI's text (a range "a:b", "uniform") or numbers."""
    return value if isinstance(value, str) else _values(name, value)


def sample(distribution: str, *, p=None, weights=None, num_samples: int | None = None, replacement: bool = False,
           mean=None, std=None, low: float | None = None, high: float | None = None, shape=None, draws: int = 1,
           seed: int = 42, **unknown) -> Report:
    """Draw from a distribution, seeded, as `gdcli sample` does, and compare what was drawn with what was asked.

    distribution: bernoulli (p: a number, a list, a range "a:b[:step]" or "uniform"), normal (mean,
    std: the same), uniform (low, high) or multinomial (weights, num_samples, replacement); shape of
    one draw (a tuple), draws (repeats, for the statistics), seed. Returns a Report with `values`
    (the first draw, a tensor), `draws` (every draw) and `data` (what --output json writes).
    """
    given = {"p": p, "weights": weights, "num_samples": num_samples, "replacement": replacement or None,
             "mean": mean, "std": std, "low": low, "high": high}
    with st.api_call(SAMPLE):
        st.check_names(unknown, SAMPLE, "sample")
        if distribution not in DISTRIBUTIONS:
            raise GdcliError(f"unknown distribution {distribution!r}", f"choose one of {', '.join(DISTRIBUTIONS)}")
        for name, value in given.items():
            if value is not None and OWNERS[name] != distribution:
                raise GdcliError(f"{name} applies to {OWNERS[name]} only, not {distribution}",
                                 f"drop {name}, or sample {OWNERS[name]}")
        if shape is not None and distribution == "multinomial":
            raise GdcliError("shape does not apply to multinomial", "set how many indices each draw has with num_samples")
        draws, seed = st.number("draws", draws, True), st.number("seed", seed, True)
        if draws < 1:
            raise GdcliError(f"draws must be at least 1, got {draws}", "for example draws=100")
        if not 0 <= seed <= 2**64 - 1:
            raise GdcliError(f"seed must be in [0, {2**64 - 1}], got {seed}", "for example seed=42")
        from gdcli import report_tools, sampling

        size = sampling.parse_shape(_shape("shape", shape)) if shape is not None else None
        if distribution == "bernoulli":
            result = sampling.draw_bernoulli(_spec("p", p if p is not None else 0.5), size, draws, seed)
        elif distribution == "normal":
            result = sampling.draw_normal(_spec("mean", 0 if mean is None else mean),
                                          _spec("std", 1 if std is None else std), size, draws, seed)
        elif distribution == "uniform":
            lo = 0.0 if low is None else st.number("low", low, False)
            result = sampling.draw_uniform(lo, 1.0 if high is None else st.number("high", high, False), size, draws, seed)
        else:
            result = _multinomial(weights, num_samples, replacement, draws, seed)
        return Report("sample", report_tools.sample_json(result), lambda: report_tools.sample_renderables(result),
                      values=result.first, draws=result.draws)


def _multinomial(weights, num_samples, replacement, draws: int, seed: int):
    from gdcli import sampling

    if weights is None:
        raise GdcliError("multinomial needs weights", hint="for example: weights=[10, 10, 13, 10, 34], num_samples=3")
    count = 1 if num_samples is None else st.number("num_samples", num_samples, True)
    if count < 1:
        raise GdcliError(f"num_samples must be at least 1, got {count}", "for example num_samples=3")
    if not isinstance(replacement, bool):
        raise GdcliError(f"replacement must be True or False, got {replacement!r}", "for example replacement=True")
    return sampling.draw_multinomial(_spec("weights", weights), count, replacement, draws, seed)
