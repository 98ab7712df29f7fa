"""`gdcli.grad` and `gdcli.sample`: the CLI's grad and sample commands from Python (see gdcli.api).

Each types its keyword values and calls the core function the CLI calls (gdcli.gradcheck,
gdcli.sampling.draw); the core's messages then name the parameters (`mean`), not the flags.
"""

from __future__ import annotations

import numbers

from gdcli import settings as st
from gdcli.errors import GdcliError
from gdcli.runs import Report

# grad's data settings: fit's, less those that train (the data options gdcli grad declares).
GRAD_DATA = ("dataset", "target", "inputs", "drop", "missing", "rows", "features", "scale", "normalize", "val_fraction", "model", "hidden",
             "activation", "reduction", "dtype", "device", "seed")
GRAD = GRAD_DATA + ("expr", "at", "shape", "wrt", "delta", "params", "explain")
EXAMPLE = 'for example: gdcli.grad("w*x + b", at={"x": 2, "w": 3, "b": 4})'


def _numbers(name: str, value) -> list[float]:
    """A number or a flat list of numbers (a tensor of at most one dimension)."""
    if hasattr(value, "tolist") and not isinstance(value, (list, tuple)):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        if any(isinstance(v, (list, tuple)) for v in value):
            raise GdcliError(f"{name} must be a number or a flat list of numbers", "give the values of a 1-D tensor; "
                             "fill a larger one with shape=")
        return [st.number(name, v, False) for v in value]
    return [st.number(name, value, False)]


def _shape(name: str, value) -> tuple[int, ...]:
    dims = [value] if isinstance(value, numbers.Integral) else value
    if not isinstance(dims, (list, tuple)):
        raise GdcliError(f"{name} must be a tuple of whole numbers, got {value!r}", f"for example {name}=(4, 4)")
    return tuple(st.number(name, d, True) for d in dims)


def _bindings(kind: str, values) -> dict:
    """at= ({name: numbers}) and shape= ({name: a tuple}) dicts, typed."""
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise GdcliError(f"{kind} must be a dict of variable names, got {values!r}", EXAMPLE)
    typed = _numbers if kind == "at" else _shape
    return {name: typed(f"{kind}[{name!r}]", v) for name, v in values.items()}


def _wrt(wrt) -> list[str] | None:
    """The variables to differentiate by: a name, a list of names, or "x, w"."""
    names = [wrt] if isinstance(wrt, str) else list(wrt) if wrt is not None else None
    if names is not None and len(names) == 1 and "," in names[0]:
        names = [n.strip() for n in names[0].split(",") if n.strip()]
    return names


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
    from gdcli import gradcheck

    with st.api_call(GRAD, {"init": "params"}):
        st.check_names(settings, GRAD, "grad")
        explain = st.boolean("explain", explain)
        delta = st.typed("delta", delta)
        run = st.run_dict(settings)
        if expr is None and all(v is None for v in run.values()) and params is None and not explain:
            raise GdcliError("give an expression to differentiate, or dataset=",
                             EXAMPLE + '; or: gdcli.grad(dataset="celsius", params=[1, 0], explain=True)')
        if expr is not None and not isinstance(expr, str):
            raise GdcliError(f"expr must be a string, got {expr!r}", EXAMPLE)
        gradcheck.refuse_mixed(expr is not None, run, at, shape, wrt, params, explain)
        if expr is None:
            return _grad_dataset(run, params, delta, explain)
        from gdcli.report import tools as report_tools

        check = gradcheck.expression_check(expr, _bindings("at", at), _bindings("shape", shape), _wrt(wrt), delta,
                                           EXAMPLE)
        check = check.worded(lambda note: st.named(GdcliError(note), GRAD).message)
        return Report("grad", report_tools.grad_json(check), lambda: report_tools.grad_renderables(check),
                      value=check.value, gradients={row.name: row.autograd for row in check.rows})


def _grad_dataset(run: dict, params, delta, explain: bool) -> Report:
    """A model's loss and gradient at fixed parameters, by every gradient method."""
    from gdcli import gradcheck
    from gdcli.report import tools as report_tools

    init = params if params is None or isinstance(params, str) else st.typed("init", list(params))
    found = gradcheck.dataset_gradients(run, init, delta)
    return Report("grad", report_tools.dataset_gradient_json(found, explain),
                  lambda: report_tools.dataset_gradient_parts(found, explain))


DISTRIBUTIONS = ("bernoulli", "multinomial", "normal", "uniform")
SAMPLE = ("distribution", "shape", "draws", "seed", "p", "weights", "num_samples", "replacement", "mean", "std",
          "low", "high")


def _values(name: str, value):
    """A distribution parameter's values: numbers as a list; text (a range "a:b", "uniform") as gdcli.ranges reads it."""
    from gdcli import ranges

    if not isinstance(value, str):
        return _numbers(name, value)
    return "uniform" if name == "p" and value.strip() == "uniform" else ranges.parse_values(value, name)


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
        from gdcli import sampling
        from gdcli.report import tools as report_tools

        sampling.check_parameters(distribution, [n for n, v in given.items() if v is not None], shape is not None)
        draws, seed = _repeats(draws, seed)
        size = sampling.check_shape(_shape("shape", shape)) if shape is not None else None
        if distribution == "multinomial":
            _check_multinomial(weights, num_samples, replacement)
        typed = {name: _typed(name, value) for name, value in given.items() if value is not None}
        result = sampling.draw(distribution, typed, size, draws, seed)
        return Report("sample", report_tools.sample_json(result), lambda: report_tools.sample_renderables(result),
                      values=result.first, draws=result.draws)


def _typed(name: str, value):
    """One of sample's distribution parameters as gdcli.sampling.draw takes it."""
    if name in ("low", "high"):
        return st.number(name, value, False)
    if name == "num_samples":
        return st.number(name, value, True)
    return value if name == "replacement" else _values(name, value)


def _repeats(draws, seed) -> tuple[int, int]:
    draws, seed = st.number("draws", draws, True), st.number("seed", seed, True)
    if draws < 1:
        raise GdcliError(f"draws must be at least 1, got {draws}", "for example draws=100")
    if not 0 <= seed <= 2**64 - 1:
        raise GdcliError(f"seed must be in [0, {2**64 - 1}], got {seed}", "for example seed=42")
    return draws, seed


def _check_multinomial(weights, num_samples, replacement) -> None:
    if weights is None:
        raise GdcliError("multinomial needs weights", hint="for example: weights=[10, 10, 13, 10, 34], num_samples=3")
    count = 1 if num_samples is None else st.number("num_samples", num_samples, True)
    if count < 1:
        raise GdcliError(f"num_samples must be at least 1, got {count}", "for example num_samples=3")
    if not isinstance(replacement, bool):
        raise GdcliError(f"replacement must be True or False, got {replacement!r}", "for example replacement=True")
