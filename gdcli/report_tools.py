"""Rich renderables and json-ready dicts for `sample` and `grad`; returns things, prints nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.text import Text

from gdcli.emit import clean
from gdcli.report import fmt, fmt_values, value_rows
from gdcli.tables import FitTable
from gdcli.text import plural

if TYPE_CHECKING:
    import torch

    from gdcli.expressions import GradientCheck
    from gdcli.sampling import Histogram, Sample

MAX_ROWS, MAX_COLUMNS = 20, 10
BAR_WIDTH = 40


def fmt_g(value: float | int | None) -> str:
    """A number in at most 6 significant digits (ints as they are, None as a dash)."""
    if value is None:
        return "-"
    return str(value) if isinstance(value, int) else f"{value:.6g}"


def format_tensor(t: "torch.Tensor") -> str:
    """One line: a scalar, a constant tensor, a small tensor in full, or a larger one's range."""
    if t.dim() == 0:
        return fmt_g(t.item())
    flat = t.detach().flatten().double()
    if t.numel() == 0:
        return f"no elements (shape {list(t.shape)})"
    low, high = flat.min().item(), flat.max().item()
    # Rounding is monotone: when the extremes print alike, so does every element between them.
    if fmt_g(low) == fmt_g(high) and not bool(flat.isnan().any()):
        return f"{fmt_g(low)} (every element, shape {list(t.shape)})"
    if t.numel() <= 8:
        return _nested(t.tolist())
    return f"shape {list(t.shape)}, min {fmt_g(low)}, max {fmt_g(high)}, mean {fmt_g(flat.mean().item())}"


def _nested(values: list | float) -> str:
    """A nested list written with fmt_g: [[3, 5], [3, 5]]."""
    if isinstance(values, list):
        return "[" + ", ".join(_nested(v) for v in values) + "]"
    return fmt_g(values)


def tensor_table(t: "torch.Tensor", title: str) -> RenderableType:
    """A table for a 1-D or 2-D tensor (cut to MAX_ROWS x MAX_COLUMNS), a line for anything else."""
    if t.dim() == 0:
        return Text(f"{title}: {fmt_g(t.item())}")
    if t.dim() > 2:
        return Text(f"{title}: {format_tensor(t)}")
    rows = t.reshape(1, -1) if t.dim() == 1 else t
    n_rows, n_cols = rows.shape
    table = FitTable()
    table.add_column("", style="dim", justify="right", keep=True)
    for j in range(min(n_cols, MAX_COLUMNS)):
        table.add_column(str(j), justify="right")
    if n_cols > MAX_COLUMNS:
        table.add_column("...", keep=True)
    shown = rows[:MAX_ROWS, :MAX_COLUMNS]
    # Integers as they are; floats a column at a time, with the digits that tell its values apart.
    columns = [[fmt_g(v) for v in c] if not shown.is_floating_point() else fmt_values(c) for c in shown.T.tolist()]
    for i, cells in enumerate(zip(*columns) if columns else [()] * len(shown)):
        table.add_row("" if t.dim() == 1 else str(i), *cells, *(["..."] if n_cols > MAX_COLUMNS else []))
    cut = n_rows > MAX_ROWS or n_cols > MAX_COLUMNS
    caption = (
        f"showing {min(n_rows, MAX_ROWS)} of {plural(n_rows, 'row')}, "
        f"{min(n_cols, MAX_COLUMNS)} of {plural(n_cols, 'column')}"
        if t.dim() == 2
        else f"showing {MAX_COLUMNS} of {plural(n_cols, 'value')}"
    )
    return titled(title, table, caption if cut else None)


def titled(title: str, table: FitTable, caption: str | None = None) -> Group:
    """A table under its title (and over its caption) as plain lines, so neither wraps to the table's width."""
    return Group(Text(title), table, *([Text(caption, style="dim")] if caption else []))


def histogram_text(hist: "Histogram", title: str = "histogram", room: int | None = None) -> Text:
    """Horizontal text bars, one line per bin, scaled to the largest count; shorter than BAR_WIDTH
    where `room` (the terminal's width) is too narrow for a line of full bars."""
    top = max(hist.counts) or 1
    labels = _aligned(hist.labels)
    width = max(len(label) for label in labels)
    bar = BAR_WIDTH
    if room is not None:
        bar = max(1, min(BAR_WIDTH, room - width - 4 - max(len(str(c)) for c in hist.counts)))
    lines = [title]
    for label, count in zip(labels, hist.counts):
        lines.append(f"  {label:>{width}} {'█' * round(bar * count / top):<{bar}} {count}")
    return Text("\n".join(lines))


class HistogramBars:
    """histogram_text as a renderable: its bars fit the console it is printed on."""

    def __init__(self, hist: "Histogram", title: str):
        self.hist, self.title = hist, title

    def __rich_console__(self, console, options):
        yield histogram_text(self.hist, self.title, options.max_width)


def _aligned(labels: list[str]) -> list[str]:
    """Interval labels [a, b) padded so that their commas line up; other labels as they are."""
    parts = [label[1:-1].split(", ") for label in labels]
    if not all(label[:1] == "[" and len(p) == 2 for label, p in zip(labels, parts)):
        return labels
    low = max(len(p[0]) for p in parts)
    high = max(len(p[1]) for p in parts)
    return [f"[{p[0]:>{low}}, {p[1] + label[-1]:<{high + 1}}" for label, p in zip(labels, parts)]


# ---------------------------------------------------------------- sample


def sample_renderables(sample: "Sample") -> list[RenderableType]:
    """What `gdcli sample` shows: the draw, the statistics against what was asked, the histogram, notes."""
    n_draws = sample.draws.shape[0]
    shown = "draw 1 of " + str(n_draws) if n_draws > 1 else "drawn"
    parts: list[RenderableType] = [Text(f"{sample.distribution}, seed {sample.seed}, {_asked(sample)}", style="bold")]
    if sample.distribution == "multinomial":
        parts.append(_picks_table(sample, shown))
        parts.append(_categories_table(sample))
    else:
        parts.append(tensor_table(sample.first, f"{shown} (shape {list(sample.first.shape)})"))
        parts.append(_moments_table(sample))
    if sample.histogram:
        parts.append(HistogramBars(sample.histogram, f"histogram of {plural(sample.draws.numel(), 'value')}"))
    parts.extend(Text(f"note: {note}", style="dim") for note in sample.notes)
    return parts


def _asked(sample: "Sample") -> str:
    described = []
    for key, value in sample.asked.items():
        text = value if isinstance(value, str) else format_tensor_like(value)
        described.append(f"{key} {text}")
    return ", ".join(described)


def format_tensor_like(value: object) -> str:
    """A parameter as asked: a number, a short list, or a long list's length and ends."""
    if isinstance(value, list) and len(value) > 8:
        return f"[{fmt_g(value[0])}, {fmt_g(value[1])}, ..., {fmt_g(value[-1])}] ({plural(len(value), 'value')})"
    if isinstance(value, list):
        return "[" + ", ".join(fmt_g(v) if not isinstance(v, list) else format_tensor_like(v) for v in value) + "]"
    return fmt_g(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


# Which of the statistics a narrow terminal keeps longest (n gives way first).
MOMENTS = {"element": 9, "mean": 6, "expected mean": 5, "z": 4, "variance": 3, "expected variance": 2, "n": 0}


def _moments_table(sample: "Sample") -> Group:
    table = FitTable()
    for name in ("element", "n", "mean", "expected mean", "z", "variance", "expected variance"):
        table.add_column(name, justify="left" if name == "element" else "right", keep=name == "element",
                         priority=MOMENTS[name])
    for row in sample.moments:
        z = "-" if row.z is None else f"{row.z:+.2f}"
        table.add_row(
            row.label, fmt_g(row.n), fmt_g(row.mean), fmt_g(row.expected_mean), z, fmt_g(row.variance), fmt_g(row.expected_variance)
        )
    caption = "z: the mean's distance from its expectation in standard errors; |z| above 3 is unusual"
    return titled("drawn vs asked", table, caption)


def _picks_table(sample: "Sample", title: str) -> Group:
    weights = sample.asked["weights"]
    table = FitTable()
    for name in ("pick", "index", "weight"):
        table.add_column(name, justify="right", keep=name != "weight")
    picks = sample.first.tolist()
    for i, index in enumerate(picks[:MAX_ROWS]):
        table.add_row(str(i), str(index), fmt_g(weights[index]))
    cut = len(picks) > MAX_ROWS
    return titled(title, table, f"showing {MAX_ROWS} of {plural(len(picks), 'pick')}" if cut else None)


def _categories_table(sample: "Sample") -> Group:
    table = FitTable()
    for name, priority in (("index", 9), ("weight", 4), ("count", 3), ("share", 2), ("weight share", 1)):
        table.add_column(name, justify="right", keep=name == "index", priority=priority)
    for row in sample.categories:
        table.add_row(str(row.index), fmt_g(row.weight), str(row.count), f"{row.share:.3f}", f"{row.weight_share:.3f}")
    return titled("drawn vs asked", table)


def sample_json(sample: "Sample") -> dict:
    """One json object: the drawn values, the asked parameters and the statistics."""
    out = {
        "distribution": sample.distribution,
        "seed": sample.seed,
        "asked": sample.asked,
        "draws": sample.draws.shape[0],
        "shape": list(sample.first.shape),
        "values": sample.first,
    }
    if sample.draws.shape[0] > 1:
        out["all_values"] = sample.draws
    out["statistics"] = [{**vars(row), "z": row.z} for row in sample.moments]
    out["categories"] = [vars(row) for row in sample.categories]
    out["histogram"] = vars(sample.histogram) if sample.histogram else None
    out["notes"] = sample.notes
    return clean(out)


# ---------------------------------------------------------------- grad

# What "max diff / norm" means: against the whole gradient's norm, a component whose true value is
# near 0 (a saturated unit) does not turn a tiny absolute error into a huge relative one.
GRAD_DIFF_NOTE = "max diff / norm: largest |finite difference - autograd| over the norm of autograd's gradient"


def grad_renderables(check: "GradientCheck") -> list[RenderableType]:
    """What `gdcli grad` shows: the value, then autograd beside finite differences for each variable."""
    parts: list[RenderableType] = [
        Text(f"value of {check.expression} ({check.dtype}): {format_tensor(check.value)}", style="bold")
    ]
    if check.rows:
        table = FitTable()
        # A narrow terminal keeps the variable and both gradients longest; "at" gives way first.
        for name, priority in (("variable", 9), ("at", 0), ("autograd", 4), ("finite difference", 3),
                               ("max abs diff", 1), ("max diff / norm", 2)):
            table.add_column(name, justify="left" if name in ("variable", "at") else "right", keep=name == "variable",
                             priority=priority, text=name in ("at", "autograd", "finite difference"))
        for row in check.rows:
            table.add_row(
                f"d/d{row.name}",
                format_tensor(check.inputs[row.name]),
                format_tensor(row.autograd),
                format_tensor(row.finite_difference),
                f"{row.max_abs_diff:.2e}",
                f"{row.max_diff_over_norm:.2e}",
            )
        title = f"gradient check: autograd vs central difference (delta {check.delta:g})"
        parts.append(titled(title, table, GRAD_DIFF_NOTE))
    parts.extend(Text(f"note: {note}", style="dim") for note in check.notes)
    return parts


def grad_json(check: "GradientCheck") -> dict:
    """One json object: value, inputs and for each variable both gradients and their differences."""
    return clean(
        {
            "expression": check.expression,
            "dtype": check.dtype,
            "delta": check.delta,
            "value": check.value,
            "shape": list(check.value.shape),
            "summed": check.summed,
            "inputs": check.inputs,
            "gradients": {
                row.name: {
                    "autograd": row.autograd,
                    "finite_difference": row.finite_difference,
                    "max_abs_diff": row.max_abs_diff,
                    "max_diff_over_norm": row.max_diff_over_norm,
                }
                for row in check.rows
            },
            "notes": check.notes,
        }
    )


# --explain shows this many rows of the chain rule (its sums are over every row).
EXPLAIN_ROWS = 20


def chain_rule_parts(steps, X, y, features, targets, reduction: str) -> list:
    """The chain rule for the linear model, step by step, with the numbers: text, then a table per target."""
    n = X.shape[0]
    dims = plural(n, "row") + (f" x {len(targets)} targets" if len(targets) > 1 else "")
    mean = reduction == "mean"
    parts = [
        Text(
            "chain rule for y_hat = w . x + b and "
            + (f"L = mean over {dims} of (y_hat - y)^2" if mean else "L = sum of (y_hat - y)^2")
            + f" = {fmt(steps.loss)}\n"
            + f"  dL/dy_hat_i = {'2/' + str(n * len(targets)) if mean else '2'} * (y_hat_i - y_i)"
            + f"   (= {steps.scale:.6g} * residual)\n"
            + "  dy_hat_i/dw = x_i,  dy_hat_i/db = 1\n"
            + "  dL/dw = sum_i dL/dy_hat_i * x_i,  dL/db = sum_i dL/dy_hat_i * 1"
        )
    ]
    X = X[:EXPLAIN_ROWS].tolist()
    for t, target in enumerate(targets):
        table = FitTable(title=f"target {target}" if len(targets) > 1 else None)
        # A narrow terminal keeps the products (their sums are the gradient) and dL/dy_hat longest.
        table.add_column("row", justify="right", keep=True)
        for f in features:
            table.add_column(f, justify="right", priority=2)
        for col, priority in (("y", 1), ("y_hat", 1), ("dL/dy_hat", 3)):
            table.add_column(col, justify="right", priority=priority)
        for f in features:
            table.add_column(f"dL/dy_hat * {f}", justify="right", priority=4)
        table.add_column("dL/dy_hat * 1", justify="right", priority=4)
        d = steps.dL_dyhat[:EXPLAIN_ROWS, t].tolist()
        data = value_rows([[*X[i], float(y[i, t])] for i in range(min(n, EXPLAIN_ROWS))])
        for i in range(min(n, EXPLAIN_ROWS)):
            contributions = [d[i] * x for x in X[i]] + [d[i]]
            table.add_row(
                str(i + 1),
                *data[i],
                fmt(float(steps.y_hat[i, t]), 4),
                fmt(d[i], 4),
                *(fmt(c, 4) for c in contributions),
            )
        grad = steps.grad[:, t].tolist()
        if n > EXPLAIN_ROWS:
            table.add_row("...", *[""] * (len(features) + 3), *[""] * (len(features) + 1))
        table.add_section()
        names = [f"dL/dw_{f}" for f in features] + ["dL/db"]
        table.add_row(f"sum of {n:,}" if n > EXPLAIN_ROWS else "sum", *[""] * (len(features) + 3), *(fmt(g, 4) for g in grad))
        parts.append(table)
        parts.append(Text("  " + ",  ".join(f"{nm} = {fmt(g, 4)}" for nm, g in zip(names, grad))))
    return parts


EXPLAIN_JSON_ROWS = 10_000  # rows of per-row factors in --explain's JSON


def chain_rule_dict(steps, X, y) -> dict:
    """The chain rule's factors as JSON-ready data (dy_hat/dtheta of a row: its inputs, then 1)."""
    import torch

    shown = min(X.shape[0], EXPLAIN_JSON_ROWS)
    Xa = torch.cat([X[:shown], torch.ones(shown, 1, dtype=X.dtype)], 1)
    return {
        "loss": steps.loss,
        "rows": X.shape[0],
        "rows_shown": shown,
        "y_hat": steps.y_hat[:shown].tolist(),
        "dL_dyhat": steps.dL_dyhat[:shown].tolist(),
        "dyhat_dtheta": Xa.tolist(),
        "grad": steps.grad.T.tolist(),
    }


EXPLAIN_UNITS = 8  # hidden units shown per table of --explain for an MLP (the sums cover all)


def backprop_parts(bp, model, X, y, features, targets, reduction: str) -> list:
    """Backpropagation through the MLP, layer by layer, with the numbers for the first rows and the sums."""
    n, t, H = X.shape[0], len(targets), model.hidden
    from gdcli.models import activation

    act = activation(model.activation)
    units = min(H, EXPLAIN_UNITS)
    mean = reduction == "mean"
    dims = plural(n, "row") + (f" x {t} targets" if t > 1 else "")
    parts = [
        Text(
            f"backpropagation for y_hat = W2 {model.activation}(W1 x + b1) + b2 and "
            + (f"L = mean over {dims} of (y_hat - y)^2" if mean else "L = sum of (y_hat - y)^2")
            + f" = {fmt(float(bp.loss[0]))}\n"
            + f"  forward:       z = W1 x + b1 ({plural(H, 'hidden unit')}),  h = {model.activation}(z),  y_hat = W2 h + b2\n"
            + f"  output:        dL/dy_hat_i = {'2/' + str(n * t) if mean else '2'} * (y_hat_i - y_i)"
            + f"   (= {bp.scale:.6g} * residual)\n"
            + "  output layer:  dL/dW2 = sum_i dL/dy_hat_i h_i,  dL/db2 = sum_i dL/dy_hat_i\n"
            + "  back to h:     dL/dh_i = dL/dy_hat_i W2\n"
            + f"  activation:    dL/dz_i = dL/dh_i * f'(z_i),  f'(z) = {act.formula}\n"
            + "  hidden layer:  dL/dW1 = sum_i dL/dz_i x_i,  dL/db1 = sum_i dL/dz_i"
        )
    ]
    shown = min(n, EXPLAIN_ROWS)
    rows = range(shown)
    more = n > shown
    unit_note = f" (the first {units} of {H} units)" if units < H else ""

    def per_row(title: str, values) -> FitTable:
        table = FitTable(title=title, title_justify="left")
        table.add_column("row", justify="right", keep=True)
        for j in range(units):
            table.add_column(f"unit {j + 1}", justify="right")
        for i in rows:
            table.add_row(str(i + 1), *(fmt(float(values[i, j]), 4) for j in range(units)))
        if more:
            table.add_row("...", *[""] * units)
        return table

    out = FitTable(title="forward and output, per row", title_justify="left")
    out.add_column("row", justify="right", keep=True)
    for f in features:
        out.add_column(Text(f), justify="right")
    for target in targets:
        suffix = f" {target}" if t > 1 else ""
        for col in ("y", "y_hat", "dL/dy_hat"):
            out.add_column(Text(col + suffix), justify="right")
    Xs, ys = value_rows(X[:shown].tolist()), value_rows(y[:shown].tolist())
    for i in rows:
        cells = [str(i + 1), *Xs[i]]
        for j in range(t):
            cells += [ys[i][j], fmt(float(bp.y_hat[0, i, j]), 4), fmt(float(bp.d_yhat[0, i, j]), 4)]
        out.add_row(*cells)
    if more:
        out.add_row("...", *[""] * (len(features) + 3 * t))
    parts.append(out)
    parts.append(per_row(f"h = {model.activation}(z), per row{unit_note}", bp.h[0]))
    parts.append(per_row(f"dL/dh = dL/dy_hat W2, per row{unit_note}", bp.d_h[0]))
    parts.append(per_row(f"dL/dz = dL/dh * f'(z), per row{unit_note}", bp.d_z[0]))

    sums = FitTable(title=f"the sums over {n:,} rows: the gradient, unit by unit", title_justify="left")
    sums.add_column("unit", justify="right", keep=True)
    for f in features:
        sums.add_column(Text(f"dL/dW1[., {f}]"), justify="right")
    sums.add_column("dL/db1", justify="right")
    for target in targets:
        sums.add_column(Text(f"dL/dW2[{target}, .]" if t > 1 else "dL/dW2"), justify="right")
    for j in range(H):
        sums.add_row(
            str(j + 1),
            *(fmt(float(bp.d_w1[0, j, f]), 4) for f in range(len(features))),
            fmt(float(bp.d_b1[0, j]), 4),
            *(fmt(float(bp.d_w2[0, o, j]), 4) for o in range(t)),
        )
    parts.append(sums)
    parts.append(Text("  dL/db2 = " + ", ".join(fmt(float(v), 4) for v in bp.d_b2[0])))
    return parts


def backprop_dict(bp, model, X) -> dict:
    """Backpropagation's factors as JSON-ready data: per row (the first rows), then the gradient by name."""
    shown = min(X.shape[0], EXPLAIN_JSON_ROWS)
    return {
        "loss": float(bp.loss[0]),
        "rows": X.shape[0],
        "rows_shown": shown,
        "z": bp.z[0, :shown].tolist(),
        "h": bp.h[0, :shown].tolist(),
        "y_hat": bp.y_hat[0, :shown].tolist(),
        "dL_dyhat": bp.d_yhat[0, :shown].tolist(),
        "dL_dh": bp.d_h[0, :shown].tolist(),
        "dL_dz": bp.d_z[0, :shown].tolist(),
        "grad": model.named(bp.grad[0]),
    }


def dataset_gradient_parts(found, explain: bool) -> list:
    """`gdcli grad --dataset`: the setting, each method's loss and gradient, and the chain rule if asked."""
    from gdcli.report_many import agreement_table

    cfg, ds = found.config, found.dataset
    from gdcli.report import SHOWN_PARAMS

    at = ", ".join(f"{n}={v:g}" for n, v in zip(found.names, found.at))
    if len(found.at) > SHOWN_PARAMS:
        how = "--params" if cfg.init not in ("ones", "zeros", "randn", "uniform") else f"{cfg.init} start, --seed {cfg.seed}"
        at = f"{plural(len(found.at), 'parameter')} ({how}; --output json lists them)"
    parts = [
        Text(
            f"{ds.name}: {plural(found.X.shape[0], 'row')}, scale {cfg.scale:g}, normalize {cfg.normalize}, "
            f"{cfg.reduction} squared error, {cfg.dtype}, finite-diff delta {cfg.delta:g}; at {at}"
        ),
        agreement_table(found.rows, found.names, "loss and gradient by each method, against autograd"),
    ]
    parts += [Text(f"{method}: left out, {why}", style="dim") for method, why in found.left_out.items()]
    if explain and found.model.linear_in_params:
        parts += chain_rule_parts(found.steps, found.X, found.y, ds.features, ds.targets, cfg.reduction)
    elif explain:
        parts += backprop_parts(found.steps, found.model, found.X, found.y, ds.features, ds.targets, cfg.reduction)
    return parts


def dataset_gradient_json(found, explain: bool) -> dict:
    """`gdcli grad --dataset --output json`: the same as data."""
    data = {
        "dataset": found.dataset.name,
        "params": dict(zip(found.names, found.at)),
        "config": found.config.to_dict(),
        "methods": [vars(r) for r in found.rows],
    }
    if explain:
        data["explain"] = (
            chain_rule_dict(found.steps, found.X, found.y)
            if found.model.linear_in_params
            else backprop_dict(found.steps, found.model, found.X)
        )
    return clean(data)
